package wire

import (
	"fmt"

	"github.com/dunglas/httpsfv"
)

// Mission names the mission a request belongs to. In the current profile only
// S256 is used, as mission_s256 in person-token requests; the seed profile
// also sends both fields in an AAuth-Mission header.
type Mission struct {
	Approver string // the person server that approved the mission (seed only)
	S256     string // base64url SHA-256 of the approved mission text
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
