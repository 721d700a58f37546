package r3

import (
	"encoding/json"
	"testing"
)

func TestEffectiveAccess(t *testing.T) {
	cases := []struct {
		resource AccessMode
		a        Access
		want     AccessMode
	}{
		// Sparse: no annotation takes the resource's mode.
		{AccessAuthToken, Access{}, AccessAuthToken},
		{"", Access{}, AccessAgentToken},
		{"aauth-access-token", Access{}, AccessAgentToken}, // unknown value: no declaration
		// Replace, not intersect: an annotation can lower the requirement.
		{AccessAuthToken, Access{Mode: AccessPersonToken}, AccessPersonToken},
		{AccessAgentToken, Access{Mode: AccessPerCall}, AccessPerCall},
		{AccessPerCall, Access{Mode: AccessAgentToken}, AccessAgentToken},
		// session-token is not allowed in an annotation.
		{AccessAuthToken, Access{Mode: AccessSessionToken}, AccessAuthToken},
		// Budget needs an auth token at least.
		{AccessAgentToken, Access{Budget: true}, AccessAuthToken},
		{AccessPersonToken, Access{Mode: AccessPersonToken, Budget: true}, AccessAuthToken},
		{AccessAuthToken, Access{Mode: AccessAgentToken, Budget: true}, AccessAuthToken},
		{AccessAuthToken, Access{Mode: AccessPerCall, Budget: true}, AccessPerCall},
		{AccessSessionToken, Access{Budget: true}, AccessAuthToken},
	}
	for _, c := range cases {
		if got := EffectiveAccess(c.resource, c.a); got != c.want {
			t.Errorf("EffectiveAccess(%q, %+v) = %q, want %q", c.resource, c.a, got, c.want)
		}
	}
}

func TestMCPToolAccess(t *testing.T) {
	cases := map[string]Access{
		`{"aauth.dev/access-mode":"per-call","aauth.dev/budget":true}`: {Mode: AccessPerCall, Budget: true},
		`{"aauth.dev/access-mode":"person-token"}`:                     {Mode: AccessPersonToken},
		`{"aauth.dev/access-mode":"session-token"}`:                    {},
		`{"aauth.dev/access-mode":"vip"}`:                              {},
		`{"aauth.dev/access-mode":7,"aauth.dev/budget":"yes"}`:         {},
		`{"other/key":1}`: {},
		`null`:            {},
		``:                {},
		`[]`:              {},
	}
	for src, want := range cases {
		if got := MCPToolAccess(json.RawMessage(src)); got != want {
			t.Errorf("MCPToolAccess(%s) = %+v, want %+v", src, got, want)
		}
	}
}

func TestParseMCPToolsList(t *testing.T) {
	resp := `{"jsonrpc":"2.0","id":2,"result":{"tools":[
	  {"name":"search","inputSchema":{"type":"object"}},
	  {"name":"purchase_dataset","_meta":{"aauth.dev/access-mode":"per-call","aauth.dev/budget":true}},
	  {"name":"balance","_meta":{"aauth.dev/access-mode":"person-token"}},
	  {"title":"no name"}]}}`
	got, err := ParseMCPToolsList([]byte(resp))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["purchase_dataset"] != (Access{Mode: AccessPerCall, Budget: true}) || got["search"] != (Access{}) || got["balance"].Mode != AccessPersonToken {
		t.Errorf("got %+v", got)
	}
	// The result object alone reads the same.
	if got2, err := ParseMCPToolsList([]byte(`{"tools":[{"name":"a","_meta":{"aauth.dev/budget":true}}]}`)); err != nil || !got2["a"].Budget {
		t.Errorf("result only: %+v %v", got2, err)
	}
	for _, bad := range []string{`[]`, `{"result":[]}`, `{"tools":{}}`, `{"tools":[{"name":"a","name":"b"}]}`} {
		if _, err := ParseMCPToolsList([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestParseVocabularies(t *testing.T) {
	v, err := ParseVocabularies(json.RawMessage(`{
	  "urn:aauth:vocabulary:mcp": "https://calendar.example.com/mcp",
	  "urn:aauth:vocabulary:openapi": "https://calendar.example.com/openapi.json",
	  "urn:aauth:vocabulary:openapi-gateway": {"calendar": "https://x"},
	  "https://vocab.example/v1": "https://calendar.example.com/v1",
	  "urn:aauth:vocabulary:grpc": 5,
	  "not a uri": "https://x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 3 || v[VocabularyMCP] != "https://calendar.example.com/mcp" || v["https://vocab.example/v1"] == "" {
		t.Errorf("vocabularies = %v", v)
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a":1,"a":2}`} {
		if _, err := ParseVocabularies(json.RawMessage(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestAccessMCPMeta(t *testing.T) {
	a := Access{Mode: AccessPerCall, Budget: true}
	b, _ := json.Marshal(a.MCPMeta())
	if got := MCPToolAccess(b); got != a {
		t.Errorf("round trip: %s -> %+v", b, got)
	}
	if m := (Access{}).MCPMeta(); len(m) != 0 {
		t.Errorf("zero Access: %v", m)
	}
}
