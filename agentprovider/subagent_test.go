package agentprovider_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
)

// A sub-agent token carries parent_agent after ps, in a payload written
// byte for byte as the claims' order says (AAuth -11 "Sub-Agents").
func TestIssueSubagentClaims(t *testing.T) {
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: rfc8032Test2(t), Now: func() time.Time { return t0 }}
	agent, _ := keys.Generate()
	token, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{
		Subject:      "aauth:planner+w1@agent.example",
		Key:          agent.Public(),
		PersonServer: "https://ps.example",
		ParentAgent:  "aauth:planner@agent.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := verifyAgentToken(t, i, token, t0)
	if p.claims["parent_agent"] != "aauth:planner@agent.example" || p.claims["sub"] != "aauth:planner+w1@agent.example" {
		t.Errorf("claims %v", p.claims)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	cnf, _ := json.Marshal(json.RawMessage(p.cnf))
	want := `{"iss":"https://agent.example","dwk":"aauth-agent.json","sub":"aauth:planner+w1@agent.example","jti":"` + p.claims["jti"].(string) +
		`","cnf":{"jwk":` + string(cnf) + `},"iat":1730217600,"exp":1730221200,"ps":"https://ps.example","parent_agent":"aauth:planner@agent.example"}`
	if string(payload) != want {
		t.Errorf("payload\n%s\nwant\n%s", payload, want)
	}
}

// The agent provider names sub-agents as the draft says and refuses a
// second level (AAuth -11 "Agent Identifiers", "Sub-Agents": SA-01, SA-02,
// SA-05, SA-14).
func TestIssueIdentifierRules(t *testing.T) {
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: rfc8032Test2(t)}
	agent, _ := keys.Generate()
	cases := []struct {
		name, subject, parent string
		ok                    bool
	}{
		{"top-level", "aauth:planner@agent.example", "", true},
		{"top-level upper case", "aauth:Planner@agent.example", "", true},
		{"top-level with +", "aauth:planner+w1@agent.example", "", false},
		{"not an identifier", "planner", "", false},
		{"space", "aauth:my agent@agent.example", "", false},
		{"domain upper case", "aauth:a@Agent.example", "", false},
		{"sub-agent", "aauth:planner+w1@agent.example", "aauth:planner@agent.example", true},
		{"sub-agent missing +", "aauth:plannerw1@agent.example", "aauth:planner@agent.example", false},
		{"sub-agent empty discriminator", "aauth:planner+@agent.example", "aauth:planner@agent.example", false},
		{"sub-agent of another parent", "aauth:other+w1@agent.example", "aauth:planner@agent.example", false},
		{"sub-agent at another domain", "aauth:planner+w1@other.example", "aauth:planner@agent.example", false},
		{"sub-agent case differs", "aauth:Planner+w1@agent.example", "aauth:planner@agent.example", false},
		{"parent is a sub-agent", "aauth:planner+w1+x@agent.example", "aauth:planner+w1@agent.example", false},
		{"parent garbage", "aauth:planner+w1@agent.example", "planner", false},
		{"parent too long", "aauth:planner+w1@agent.example", "aauth:" + strings.Repeat("p", 300) + "@agent.example", false},
	}
	for _, tc := range cases {
		_, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: tc.subject, Key: agent.Public(), ParentAgent: tc.parent})
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && strings.Count(err.Error(), "aauth: ") != 1 {
			t.Errorf("%s: the prefix repeats: %v", tc.name, err)
		}
	}
}

// Keys.Subagent gives each sub-agent its own key and a token naming its
// parent, from the same issuer; a sub-agent's Keys make no sub-agents
// (SA-09, SA-11, SA-12).
func TestKeysSubagent(t *testing.T) {
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: rfc8032Test2(t)}
	parent := &agentprovider.Keys{Issuer: i, Subject: "aauth:planner@agent.example", PersonServer: "https://ps.example"}
	w1, err := parent.Subagent("w1")
	if err != nil {
		t.Fatal(err)
	}
	w2, err := parent.Subagent("w2")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seen := map[string]bool{}
	for _, k := range []*agentprovider.Keys{parent, w1, w2} {
		m, err := k.KeyMaterial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		jkt, _ := keys.Thumbprint(m.Signer.Public())
		if seen[jkt] {
			t.Error("two agents share a key")
		}
		seen[jkt] = true
		p := verifyAgentToken(t, i, m.Key.Token, time.Now())
		if p.claims["iss"] != "https://agent.example" || p.claims["ps"] != "https://ps.example" {
			t.Errorf("%s: claims %v", k.Subject, p.claims)
		}
		wantParent := any(nil)
		if k != parent {
			wantParent = "aauth:planner@agent.example"
		}
		if p.claims["parent_agent"] != wantParent {
			t.Errorf("%s: parent_agent %v", k.Subject, p.claims["parent_agent"])
		}
	}
	if w1.Subject != "aauth:planner+w1@agent.example" || w1.ParentAgent != parent.Subject {
		t.Errorf("w1 = %q under %q", w1.Subject, w1.ParentAgent)
	}
	if _, err := w1.Subagent("x"); err == nil {
		t.Error("a sub-agent made a sub-agent")
	}
	for _, bad := range []string{"", "a+b", "a@b", "a b"} {
		if _, err := parent.Subagent(bad); err == nil {
			t.Errorf("Subagent(%q) accepted", bad)
		}
	}
	var none *agentprovider.Keys
	if _, err := none.Subagent("w"); err == nil {
		t.Error("nil Keys made a sub-agent")
	}
	// A Keys whose subject cannot have sub-agents says so on first use.
	odd := &agentprovider.Keys{Issuer: i, Subject: "aauth:planner+x@agent.example", ParentAgent: "aauth:other@agent.example"}
	if _, err := odd.KeyMaterial(ctx); err == nil {
		t.Error("a sub-agent named under another parent got a token")
	}
	var _ aauth.KeySource = w1
}
