package agentid

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("a", MaxLocal)
	valid := []struct{ id, local, domain string }{
		{"aauth:assistant-v2@agent.example", "assistant-v2", "agent.example"},
		{"aauth:planner.7f3c@vendor.example", "planner.7f3c", "vendor.example"},
		{"aauth:planner.7f3c+search1@vendor.example", "planner.7f3c+search1", "vendor.example"},
		{"aauth:Planner_A@agent.example", "Planner_A", "agent.example"},
		{"aauth:alice@127.0.0.1", "alice", "127.0.0.1"},
		{"aauth:a@localhost", "a", "localhost"},
		{"aauth:" + long + "@x.example", long, "x.example"},
	}
	for _, tc := range valid {
		local, domain, err := Parse(tc.id)
		if err != nil || local != tc.local || domain != tc.domain {
			t.Errorf("Parse(%q) = %q, %q, %v", tc.id, local, domain, err)
		}
	}
	invalidIDs := []string{
		"",
		"My Agent@agent.example",
		"@agent.example",
		"aauth:@agent.example",
		"aauth:agent",
		"aauth:agent@",
		"aauth:a b@agent.example",
		"aauth:a@Agent.example",
		"aauth:a@agent.example:443",
		"aauth:a@agent..example",
		"aauth:a@-agent.example",
		"aauth:a@agent-.example",
		"aauth:a@[::1]",
		"aauth:a@agent.example/",
		"aauth:é@agent.example",
		"aauth:a\x00@agent.example",
		"AAUTH:a@agent.example",
		"aauth:" + long + "a@x.example",
		"aauth:a@" + strings.Repeat("a", 64) + ".example",
		"aauth:a@" + strings.Repeat("a.", 127) + "a",
	}
	for _, id := range invalidIDs {
		if _, _, err := Parse(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", id, err)
		}
	}
}

func TestTopLevel(t *testing.T) {
	if err := TopLevel("aauth:planner@agent.example"); err != nil {
		t.Error(err)
	}
	if err := TopLevel("aauth:planner+w1@agent.example"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a '+' in a top-level local part: %v", err)
	}
}

func TestSubagent(t *testing.T) {
	const parent = "aauth:planner.7f3c@vendor.example"
	if err := Subagent(parent, "aauth:planner.7f3c+search1@vendor.example"); err != nil {
		t.Error(err)
	}
	bad := map[string]string{
		"no delimiter":          "aauth:planner.7f3csearch1@vendor.example",
		"empty discriminator":   "aauth:planner.7f3c+@vendor.example",
		"other parent":          "aauth:planner+search1@vendor.example",
		"other domain":          "aauth:planner.7f3c+search1@other.example",
		"second level":          "aauth:planner.7f3c+a+b@vendor.example",
		"case differs":          "aauth:Planner.7f3c+search1@vendor.example",
		"the parent itself":     parent,
		"not an identifier":     "planner.7f3c+search1",
		"prefix of the parent":  "aauth:planner.7f+3c@vendor.example",
		"discriminator garbage": "aauth:planner.7f3c+a b@vendor.example",
	}
	for name, sub := range bad {
		if err := Subagent(parent, sub); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Subagent(%q) = %v", name, sub, err)
		}
	}
	if err := Subagent("aauth:planner+w1@vendor.example", "aauth:planner+w1+x@vendor.example"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a sub-agent as parent: %v", err)
	}
}

func TestJoin(t *testing.T) {
	got, err := Join("aauth:planner@agent.example", "w1")
	if err != nil || got != "aauth:planner+w1@agent.example" {
		t.Fatalf("Join = %q, %v", got, err)
	}
	for _, d := range []string{"", "a+b", "a@b", "a b", strings.Repeat("x", MaxLocal)} {
		if _, err := Join("aauth:planner@agent.example", d); !errors.Is(err, ErrInvalid) {
			t.Errorf("Join(%q) = %v", d, err)
		}
	}
	if _, err := Join("aauth:planner+w1@agent.example", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Join under a sub-agent: %v", err)
	}
}

func TestMessagesBounded(t *testing.T) {
	_, _, err := Parse("aauth:" + strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error %d bytes: %v", len(err.Error()), err)
	}
	if strings.Contains(err.Error(), "aauth: ") {
		t.Errorf("the message carries a prefix: %v", err)
	}
}
