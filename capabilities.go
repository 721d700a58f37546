package aauth

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
)

// FormatCapabilities returns the AAuth-Capabilities value for caps: the
// values joined by ", " in the caller's order, such as
// "interaction, clarification" (the bytes @aauth/mcp-agent sends). Values
// that are not valid RFC 9651 Tokens are left out, so a bad value can never
// break or extend the header. It returns "" when nothing is left; the
// header should then not be sent.
func FormatCapabilities(caps []Capability) string {
	var b strings.Builder
	for _, c := range caps {
		if !chalIsToken(string(c)) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(c))
	}
	return b.String()
}

// ParseCapabilities reads an AAuth-Capabilities value, an RFC 9651 List of
// Tokens. It keeps the capabilities AAuth defines (exact, case-sensitive
// match), in order and without duplicates, and drops everything else:
// unknown values, Strings and other types, Inner Lists. A value that is not
// a valid List, or is longer than 16 KiB, gives nil; it never fails.
//
// Parameters on an item are ignored, so "clarification;x" counts as
// clarification. The seed parser drops such an item, but the current draft
// (§2.13) says unknown parameters are ignored and RFC 9651 §2.2 keeps
// parameters as the extension point of an item, so dropping it would turn
// a future extension into a lost capability.
func ParseCapabilities(v string) []Capability {
	if len(v) > challengeMaxLen {
		return nil
	}
	l, err := httpsfv.UnmarshalList([]string{v})
	if err != nil {
		return nil
	}
	var caps []Capability
	for _, m := range l {
		it, ok := m.(httpsfv.Item)
		if !ok {
			continue
		}
		t, ok := it.Value.(httpsfv.Token)
		if !ok {
			continue
		}
		c := Capability(t)
		switch c {
		case CapabilityInteraction, CapabilityClarification, CapabilityPayment:
		default:
			continue
		}
		dup := false
		for _, have := range caps {
			dup = dup || have == c
		}
		if !dup {
			caps = append(caps, c)
		}
	}
	return caps
}

// ParseCapabilitiesHeader is ParseCapabilities for the AAuth-Capabilities
// field lines of h, combined as RFC 9651 prescribes. A missing header means
// no capabilities.
func ParseCapabilitiesHeader(h http.Header) []Capability {
	v, ok, tooLong := chalJoinLines(h, "AAuth-Capabilities", challengeMaxLen)
	if !ok || tooLong {
		return nil
	}
	return ParseCapabilities(v)
}

// FormatMission returns the AAuth-Mission value of the seed profile, exactly
// approver="<approver>"; s256="<s256>". Both are RFC 9651 Strings, so a
// quote or backslash is escaped (the seed does not escape; for real values,
// URLs and base64url, the bytes are the same). It returns "" when either
// field is empty or is not printable ASCII; the header should then not be
// sent.
func FormatMission(m Mission) string {
	if m.Approver == "" || m.S256 == "" {
		return ""
	}
	a, err := chalBareText(m.Approver, false)
	if err != nil {
		return ""
	}
	s, err := chalBareText(m.S256, false)
	if err != nil {
		return ""
	}
	return "approver=" + a + "; s256=" + s
}

// ParseMission reads an AAuth-Mission value. The seed sends
// approver="…"; s256="…", which is not an RFC 9651 Item but is a valid
// Dictionary (member approver with parameter s256), so the value is parsed
// as a Dictionary, then as an Item, then once more as a Dictionary after
// the AAuth-Requirement white-space leniency. approver and s256 are taken,
// as text (String or Token), from a top-level member of that name or else
// from the parameters of any member (or of the Item), in either order.
//
// Errors are *HeaderError; when approver or s256 is missing or empty the
// message is "aauth: invalid AAuth-Mission header: missing approver or
// s256".
func ParseMission(v string) (Mission, error) {
	if len(v) > challengeMaxLen {
		return Mission{}, &HeaderError{Header: "AAuth-Mission", Reason: fmt.Sprintf("longer than %d bytes", challengeMaxLen)}
	}
	found, err := chalMissionLookup(v)
	if err != nil {
		return Mission{}, &HeaderError{Header: "AAuth-Mission", Reason: "not a structured field", Err: err}
	}
	m := Mission{Approver: found("approver"), S256: found("s256")}
	if m.Approver == "" || m.S256 == "" {
		return Mission{}, &HeaderError{Header: "AAuth-Mission", Reason: "missing approver or s256"}
	}
	return m, nil
}

// chalMissionLookup parses v in the forms ParseMission accepts and returns
// a lookup of fields by name. The error is that of the strict Dictionary
// parse, which is the form the seed sends.
func chalMissionLookup(v string) (func(string) string, error) {
	d, err := httpsfv.UnmarshalDictionary([]string{v})
	if err == nil {
		return chalMissionDict(d), nil
	}
	if it, err2 := httpsfv.UnmarshalItem([]string{v}); err2 == nil {
		return func(key string) string {
			pv, _ := it.Params.Get(key)
			s, _ := chalText(pv)
			return s
		}, nil
	}
	if fixed, changed := chalLenient(v); changed {
		if d, err3 := httpsfv.UnmarshalDictionary([]string{fixed}); err3 == nil {
			return chalMissionDict(d), nil
		}
	}
	return nil, err
}

// chalMissionDict looks a mission field up in d: a top-level member first,
// then the parameters of each member in order.
func chalMissionDict(d *httpsfv.Dictionary) func(string) string {
	return func(key string) string {
		if m, ok := d.Get(key); ok {
			if it, ok := m.(httpsfv.Item); ok {
				if s, ok := chalText(it.Value); ok && s != "" {
					return s
				}
			}
		}
		for _, name := range d.Names() {
			m, _ := d.Get(name)
			var p *httpsfv.Params
			switch x := m.(type) {
			case httpsfv.Item:
				p = x.Params
			case httpsfv.InnerList:
				p = x.Params
			}
			if p == nil {
				continue
			}
			if pv, ok := p.Get(key); ok {
				if s, ok := chalText(pv); ok && s != "" {
					return s
				}
			}
		}
		return ""
	}
}
