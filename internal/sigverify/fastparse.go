package sigverify

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// parseSignatureFast reads the form of Signature-Input and Signature that
// AAuth signers send, without the general RFC 9651 parser and its
// allocations (this runs on every request a server verifies): one field
// line and one member each,
//
//	label=("c1" "c2" …);created=N[;expires=N]
//	label=:<base64>:
//
// with lower-case component names of the characters RFC 9421 uses and no
// component parameters, integers written canonically, and canonical
// padded base64. ok is false for anything else, valid or not, and the
// general parser decides; FuzzParseSignatureFast checks that whatever this
// accepts, the general parser reads identically. label "" takes the one
// member, as the general parser does when it is the only one.
func parseSignatureFast(inputs, sigs []string, label string) (_ *signature, ok bool) {
	if len(inputs) != 1 || len(sigs) != 1 {
		return nil, false
	}
	in, sg := inputs[0], sigs[0]
	lab, rest, found := strings.Cut(in, "=")
	if !found || !isSFKey(lab) || (label != "" && lab != label) {
		return nil, false
	}
	s := &signature{label: lab, params: rest}

	// The inner list of components.
	if len(rest) < 2 || rest[0] != '(' {
		return nil, false
	}
	end := strings.IndexByte(rest, ')')
	if end < 0 {
		return nil, false
	}
	items, params := rest[1:end], rest[end+1:]
	if items != "" {
		n := strings.Count(items, " ") + 1
		if n > maxComponents {
			return nil, false
		}
		s.components = make([]component, 0, n)
		for item := range strings.SplitSeq(items, " ") {
			name, ok := fastComponentName(item)
			if !ok {
				return nil, false
			}
			for _, c := range s.components {
				if c.name == name {
					return nil, false // covered twice: the general parser says so
				}
			}
			s.components = append(s.components, component{name: name, text: name, id: item})
		}
	}

	// The parameters: created, then maybe expires.
	created, params, ok := fastIntParam(params, ";created=")
	if !ok {
		return nil, false
	}
	s.created = time.Unix(created, 0)
	if params != "" {
		expires, tail, ok := fastIntParam(params, ";expires=")
		if !ok || tail != "" {
			return nil, false
		}
		t := time.Unix(expires, 0)
		s.expires = &t
	}

	// The signature.
	slab, val, found := strings.Cut(sg, "=")
	if !found || slab != lab || len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
		return nil, false
	}
	b64 := val[1 : len(val)-1]
	for i := 0; i < len(b64); i++ {
		// The decoder skips CR and LF even in strict mode; RFC 9651 does
		// not.
		if c := b64[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, false
		}
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(sig) == 0 {
		return nil, false
	}
	s.sig = sig
	return s, true
}

// fastComponentName reads `"name"`: a plain component name of lower-case
// letters, digits and "-", "_", ".", or "@" and a derived component this
// package knows that takes no parameter.
func fastComponentName(item string) (string, bool) {
	if len(item) < 3 || item[0] != '"' || item[len(item)-1] != '"' {
		return "", false
	}
	name := item[1 : len(item)-1]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		case c == '@' && i == 0:
		default:
			return "", false
		}
	}
	if name[0] == '@' && (!derivedComponents[name] || name == "@query-param") {
		return "", false
	}
	return name, true
}

// fastIntParam reads prefix and a canonical RFC 9651 Integer (no leading
// zero, no "-0", at most 15 digits) from the start of s.
func fastIntParam(s, prefix string) (n int64, rest string, ok bool) {
	if !strings.HasPrefix(s, prefix) {
		return 0, "", false
	}
	s = s[len(prefix):]
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	digits := s[start:i]
	if len(digits) == 0 || len(digits) > 15 || (digits[0] == '0' && (len(digits) > 1 || start > 0)) {
		return 0, "", false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return n, s[i:], true
}

// isSFKey reports whether s is an RFC 9651 key.
func isSFKey(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}
