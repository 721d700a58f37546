// Package agentid checks AAuth agent identifiers, aauth:local@domain
// (AAuth -11 "Agent Identifiers"): the syntax, the reserved sub-agent
// delimiter "+", and the one-level naming of sub-agents. Identifiers are
// compared byte for byte; nothing here case-folds. It imports nothing of
// this module.
//
// The draft forbids parsing the local part for protocol decisions: the
// parent_agent claim says who is a sub-agent. These functions check that
// identifiers are well formed and that a sub-agent's name is built from
// its parent's, as the agent provider that names them must; they never
// decide who a token's holder is.
package agentid

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scheme is the prefix of every agent identifier.
const Scheme = "aauth:"

// MaxLocal is the longest local part the draft allows.
const MaxLocal = 255

// maxDomain bounds the domain as DNS does (253 characters).
const maxDomain = 253

// Delimiter separates a sub-agent's discriminator from its parent's local
// part.
const Delimiter = "+"

// ErrInvalid is matched by every error of this package.
var ErrInvalid = errors.New("invalid agent identifier")

// Parse splits an agent identifier into its local part and domain,
// checking the syntax: the aauth: scheme; a local part of 1 to 255 ASCII
// letters, digits, "-", "_", "+" and "."; "@"; a domain of lower-case
// letters, digits and hyphens in dot-separated labels (a server
// identifier's host, without scheme or port).
func Parse(id string) (local, domain string, err error) {
	rest, ok := strings.CutPrefix(id, Scheme)
	if !ok {
		return "", "", invalid(id, "is not in the aauth scheme")
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return "", "", invalid(id, "has no @")
	}
	local, domain = rest[:at], rest[at+1:]
	switch {
	case local == "":
		return "", "", invalid(id, "has an empty local part")
	case len(local) > MaxLocal:
		return "", "", invalid(id, "has a local part longer than "+strconv.Itoa(MaxLocal)+" characters")
	}
	for i := 0; i < len(local); i++ {
		if !localByte(local[i]) {
			return "", "", invalid(id, "has a local part with a character other than letters, digits, '-', '_', '+' and '.'")
		}
	}
	if err := checkDomain(domain); err != nil {
		return "", "", invalid(id, err.Error())
	}
	return local, domain, nil
}

func localByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '_' || c == '+' || c == '.'
}

// checkDomain accepts a lower-case DNS name: labels of 1 to 63 letters,
// digits and hyphens, not starting or ending with a hyphen. An IPv4
// address passes (its labels are digits), as loopback development needs.
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("has an empty domain")
	case len(d) > maxDomain:
		return errors.New("has a domain longer than " + strconv.Itoa(maxDomain) + " characters")
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("has a domain with an empty or over-long label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("has a domain label that starts or ends with '-'")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return errors.New("has a domain that is not a lower-case host name")
			}
		}
	}
	return nil
}

// TopLevel checks that id is a valid identifier of a top-level agent: its
// local part has no "+", which the draft reserves for sub-agents.
func TopLevel(id string) error {
	local, _, err := Parse(id)
	if err != nil {
		return err
	}
	if strings.Contains(local, Delimiter) {
		return invalid(id, "has '+' in its local part, which only a sub-agent's may have")
	}
	return nil
}

// Subagent checks that sub is a valid name for a sub-agent of parent: parent
// is a valid top-level identifier, and sub is parent's local part, "+", a
// non-empty discriminator with no further "+", "@" and parent's domain.
func Subagent(parent, sub string) error {
	if err := TopLevel(parent); err != nil {
		return fmt.Errorf("parent %w", err)
	}
	local, domain, err := Parse(sub)
	if err != nil {
		return err
	}
	plocal, pdomain, _ := Parse(parent)
	disc, ok := strings.CutPrefix(local, plocal+Delimiter)
	switch {
	case domain != pdomain:
		return invalid(sub, "is not at the domain of its parent "+quote(parent))
	case !ok:
		return invalid(sub, "does not start with its parent's local part and '+'")
	case disc == "":
		return invalid(sub, "has an empty discriminator")
	case strings.Contains(disc, Delimiter):
		return invalid(sub, "has more than one '+': sub-agents have no sub-agents")
	}
	return nil
}

// Discriminator checks a sub-agent discriminator on its own: what
// Subagent would accept after the parent's local part and "+".
func Discriminator(d string) error {
	if d == "" {
		return fmt.Errorf("%w: empty sub-agent discriminator", ErrInvalid)
	}
	for i := 0; i < len(d); i++ {
		if !localByte(d[i]) || d[i] == '+' {
			return fmt.Errorf("%w: sub-agent discriminator %s may hold only letters, digits, '-', '_' and '.'", ErrInvalid, quote(d))
		}
	}
	return nil
}

// Join builds the identifier of parent's sub-agent named disc and checks
// it (see Subagent).
func Join(parent, disc string) (string, error) {
	if err := Discriminator(disc); err != nil {
		return "", err
	}
	local, domain, err := Parse(parent)
	if err != nil {
		return "", err
	}
	sub := Scheme + local + Delimiter + disc + "@" + domain
	if err := Subagent(parent, sub); err != nil {
		return "", err
	}
	return sub, nil
}

type idError struct {
	id, why string
}

func (e *idError) Error() string { return "agent identifier " + quote(e.id) + " " + e.why }

func (e *idError) Is(target error) bool { return target == ErrInvalid }

func invalid(id, why string) error { return &idError{id: id, why: why} }

// quote quotes an identifier for a message, bounded: identifiers come
// from peers.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.QuoteToASCII(s[:limit]) + "…"
	}
	return strconv.QuoteToASCII(s)
}
