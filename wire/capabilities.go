package wire

import (
	"net/http"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Capability is an agent capability, declared in AAuth-Capabilities and in
// person-server token requests.
type Capability string

// The capabilities AAuth defines.
const (
	CapabilityInteraction   Capability = "interaction"   // the agent can send a person to a URL
	CapabilityClarification Capability = "clarification" // the agent can answer questions
	CapabilityPayment       Capability = "payment"       // the agent can make payments

	// CapabilityBudget says the agent understands budgets (the Budgets
	// draft, §Capability Negotiation): the budget claim, AAuth-Budget
	// and the reason parameter of a requirement.
	CapabilityBudget Capability = "budget"
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
		case CapabilityInteraction, CapabilityClarification, CapabilityPayment, CapabilityBudget:
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
