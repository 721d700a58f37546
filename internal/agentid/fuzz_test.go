package agentid

import (
	"errors"
	"strings"
	"testing"
)

// FuzzAgentID: Parse never panics, every error matches ErrInvalid and is
// bounded, and what Parse accepts round-trips and obeys the syntax.
// Subagent and Join agree with each other.
func FuzzAgentID(f *testing.F) {
	for _, s := range []string{
		"aauth:planner@agent.example", "aauth:planner+w1@agent.example",
		"aauth:a@127.0.0.1", "aauth:@x", "aauth:a@", "aauth:a+@x", "aauth:a@b@c",
		"aauth:" + strings.Repeat("a", 256) + "@x", "aauth:a@-x", "aauth:a@x..y",
	} {
		f.Add(s, "w1")
	}
	f.Fuzz(func(t *testing.T, id, disc string) {
		local, domain, err := Parse(id)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || len(err.Error()) > 600 {
				t.Fatalf("error %v", err)
			}
		} else {
			if Scheme+local+"@"+domain != id {
				t.Fatalf("Parse(%q) does not round-trip: %q %q", id, local, domain)
			}
			if local == "" || len(local) > MaxLocal || strings.Contains(domain, "@") || domain == "" {
				t.Fatalf("Parse(%q) accepted %q %q", id, local, domain)
			}
		}
		sub, err := Join(id, disc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Join error %v", err)
			}
			return
		}
		if TopLevel(id) != nil {
			t.Fatalf("Join accepted a parent that is not top-level: %q", id)
		}
		if err := Subagent(id, sub); err != nil {
			t.Fatalf("Subagent(%q, Join = %q): %v", id, sub, err)
		}
		if Subagent(sub, sub+"x") == nil {
			t.Fatalf("a sub-agent %q accepted as a parent", sub)
		}
	})
}
