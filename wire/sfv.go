package wire

import (
	"net/http"
	"sort"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Structured field (RFC 9651) helpers the header files share. Every parser
// goes through httpsfv; none uses regular expressions, so quoted strings,
// escapes and parameters mean what the RFC says they mean.

// Header size limits. Real values are a few hundred bytes (a resource token
// is the largest part); the caps keep a hostile server from making the agent
// parse megabytes.
const (
	challengeMaxLen = 16 << 10 // AAuth-Requirement, Signature-Error, Accept-Signature-*, AAuth-Capabilities, AAuth-Mission
	accessMaxLen    = 8 << 10  // AAuth-Access
)

// chalLenient removes SP and HTAB runs directly before ';' and one dangling
// ';' at the end of v, outside quoted strings (so "a ;b" inside a String is
// untouched). It reports whether anything changed.
func chalLenient(v string) (string, bool) {
	var b strings.Builder
	b.Grow(len(v))
	inString := false
	lastSemi := -1 // index in b of the last ';' written outside a string
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inString {
			b.WriteByte(c)
			switch c {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t':
			j := i
			for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
				j++
			}
			if j < len(v) && v[j] == ';' {
				i = j - 1 // drop the run; the ';' is written next round
				continue
			}
			b.WriteString(v[i:j])
			i = j - 1
			continue
		case ';':
			lastSemi = b.Len()
		}
		b.WriteByte(c)
	}
	out := b.String()
	trimmed := strings.TrimRight(out, " \t")
	if lastSemi >= 0 && lastSemi == len(trimmed)-1 {
		out = trimmed[:lastSemi]
	}
	return out, out != v
}

// chalText returns the text of a String or Token bare item.
func chalText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case httpsfv.Token:
		return string(x), true
	}
	return "", false
}

// chalSerializeBare returns a bare item as text: a String or Token as its
// text, anything else as its RFC 9651 serialisation.
func chalSerializeBare(v any) (string, bool) {
	if s, ok := chalText(v); ok {
		return s, true
	}
	s, err := httpsfv.Marshal(httpsfv.Item{Value: v, Params: httpsfv.NewParams()})
	return s, err == nil
}

// chalSerializeMember is chalSerializeBare for a dictionary or list member:
// a parameterless String or Token gives its text, anything else (including
// an item with parameters, which text alone would lose) its serialisation.
func chalSerializeMember(m httpsfv.Member) (string, bool) {
	switch x := m.(type) {
	case httpsfv.Item:
		if x.Params == nil || len(x.Params.Names()) == 0 {
			return chalSerializeBare(x.Value)
		}
		s, err := httpsfv.Marshal(x)
		return s, err == nil
	case httpsfv.InnerList:
		if x.Params == nil {
			x.Params = httpsfv.NewParams()
		}
		s, err := httpsfv.Marshal(x)
		return s, err == nil
	}
	return "", false
}

// chalBareText serialises text as a Token when asToken is set and text is a
// valid token, and as a String otherwise.
func chalBareText(text string, asToken bool) (string, error) {
	if asToken && chalIsToken(text) {
		return text, nil
	}
	return httpsfv.Marshal(httpsfv.Item{Value: text, Params: httpsfv.NewParams()})
}

// chalIsToken reports whether s is a valid RFC 9651 Token: ALPHA or "*",
// then tchar, ":" or "/" (§3.3.4). It is on every request's path (the
// AAuth-Capabilities header), so it checks the bytes itself rather than
// asking httpsfv to serialise an Item.
func chalIsToken(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z' || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !sfTokenChar[s[i]] {
			return false
		}
	}
	return true
}

// sfTokenChar marks the bytes an RFC 9651 Token may hold after its first:
// RFC 9110 tchar, ":" and "/".
var sfTokenChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~:/", byte(c)) >= 0
	}
	return t
}()

// chalIsKey reports whether s is a valid RFC 9651 key.
func chalIsKey(s string) bool {
	if s == "" {
		return false
	}
	p := httpsfv.NewParams()
	p.Add(s, true)
	_, err := httpsfv.Marshal(httpsfv.Item{Value: true, Params: p})
	return err == nil
}

// chalJoinLines combines the field lines of header name as RFC 9651 §4.2
// does, skipping lines that are empty or all white space. ok is false when
// the header is absent. tooLong is set, and v empty, when the combined
// value would be longer than max: it is refused before it is built.
func chalJoinLines(h http.Header, name string, max int) (v string, ok, tooLong bool) {
	lines := h.Values(name)
	if len(lines) == 0 {
		return "", false, false
	}
	n, kept := 0, make([]string, 0, len(lines))
	for _, l := range lines {
		if strings.Trim(l, " \t") == "" {
			continue
		}
		if len(kept) > 0 {
			n += len(", ")
		}
		if n += len(l); n > max {
			return "", true, true
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, ", "), true, false
}

// chalSortedKeys returns the keys of m in order, so that output is stable.
func chalSortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
