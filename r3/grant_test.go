package r3

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var h43 = S256([]byte("x"))

// An auth token payload as @hellocoop/mockin 2.0.0 issues it with its
// r3_grants setting (claims other than R3's trimmed).
var mockinPayload = `{"iss":"http://127.0.0.1:3333","dwk":"aauth-person.json","ps":"http://127.0.0.1:3333","sub":"s","aud":"http://127.0.0.1:8080","scope":"",
"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"abc","alg":"Ed25519"}},"iat":1,"exp":2,
"r3_uri":"http://127.0.0.1:8080/r3/` + h43 + `","r3_s256":"` + h43 + `",
"r3_granted":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"search"},{"tool":"fetch"}]},
"r3_per_call":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"send_email"}]},"jti":"j"}`

func TestParseGrant(t *testing.T) {
	g, err := ParseGrant([]byte(mockinPayload))
	if err != nil {
		t.Fatal(err)
	}
	if g.S256 != h43 || !strings.HasSuffix(g.URI, h43) || g.Granted == nil || g.PerCall == nil {
		t.Fatalf("grant = %+v", g)
	}
	for tool, want := range map[string]Decision{"search": Serve, "fetch": Serve, "send_email": ChallengePerCall, "delete_all": Refuse, "Search": Refuse} {
		if got := g.Decide(VocabularyMCP, Tool(tool)); got != want {
			t.Errorf("Decide(%s) = %s, want %s", tool, got, want)
		}
	}
	if g.Decide(VocabularyOpenAPI, Operation{OperationID: "search"}) != Refuse {
		t.Error("another vocabulary's operation was served")
	}
	if (*Grant)(nil).Decide(VocabularyMCP, Tool("search")) != Refuse {
		t.Error("nil grant served")
	}
	// A batch is as strict as its strictest call.
	if d := g.DecideAll(VocabularyMCP, []Operation{Tool("search"), Tool("send_email")}); d != ChallengePerCall {
		t.Errorf("granted+per-call batch = %s", d)
	}
	if d := g.DecideAll(VocabularyMCP, []Operation{Tool("search"), Tool("send_email"), Tool("nope")}); d != Refuse {
		t.Errorf("batch with a refused call = %s", d)
	}
	if d := g.DecideAll(VocabularyMCP, []Operation{Tool("search"), Tool("fetch")}); d != Serve {
		t.Errorf("granted batch = %s", d)
	}
	if d := g.DecideAll(VocabularyMCP, nil); d != Refuse {
		t.Errorf("empty batch = %s", d)
	}
}

func TestParseGrantAbsentAndPartial(t *testing.T) {
	if g, err := ParseGrant([]byte(`{"iss":"x","scope":"a b"}`)); g != nil || err != nil {
		t.Errorf("no R3 claims: %+v %v", g, err)
	}
	// mockin with r3_grants {granted: null, per_call: …} omits r3_granted:
	// read as granting nothing outright.
	g, err := ParseGrant([]byte(`{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_per_call":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}]}}`))
	if err != nil || g.Granted != nil || g.Decide(VocabularyMCP, Tool("a")) != ChallengePerCall {
		t.Errorf("per-call only: %+v %v", g, err)
	}
	// The -01 name is not read: an operation there is refused.
	g, err = ParseGrant([]byte(`{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_conditional":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}]}}`))
	if err != nil || g.Decide(VocabularyMCP, Tool("a")) != Refuse {
		t.Errorf("r3_conditional: %+v %v", g, err)
	}
}

func TestParseGrantRefuses(t *testing.T) {
	set := `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}]}`
	cases := map[string]string{
		"uri without s256":      `{"r3_uri":"https://r.example/r3/1","r3_granted":` + set + `}`,
		"s256 without uri":      `{"r3_s256":"` + h43 + `","r3_granted":` + set + `}`,
		"granted alone":         `{"r3_granted":` + set + `}`,
		"s256 short":            `{"r3_uri":"https://r.example/r3/1","r3_s256":"abc","r3_granted":` + set + `}`,
		"s256 padded":           `{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43[:42] + `=","r3_granted":` + set + `}`,
		"uri relative":          `{"r3_uri":"/r3/1","r3_s256":"` + h43 + `","r3_granted":` + set + `}`,
		"uri number":            `{"r3_uri":1,"r3_s256":"` + h43 + `","r3_granted":` + set + `}`,
		"granted array":         `{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_granted":[` + set + `]}`,
		"granted unknown vocab": `{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_granted":{"vocabulary":"urn:aauth:vocabulary:x","operations":[{"tool":"a"}]}}`,
		"granted no ops":        `{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_granted":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[]}}`,
		"duplicate claim":       `{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_granted":` + set + `,"r3_granted":` + set + `}`,
		"not an object":         `[]`,
	}
	for name, src := range cases {
		if g, err := ParseGrant([]byte(src)); err == nil {
			t.Errorf("%s: accepted %+v", name, g)
		}
	}
}

func TestGrantWithin(t *testing.T) {
	doc := mcpDef("d", "search", "fetch", "send_email")
	g, err := ParseGrant([]byte(mockinPayload))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Within(doc); err != nil {
		t.Errorf("Within = %v", err)
	}
	// A token whose r3_granted names an operation outside the document.
	wide := *g
	wide.Granted = &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("search", "drop_table").Operations}
	err = wide.Within(doc)
	if !errors.Is(err, ErrNotCovered) || !strings.Contains(err.Error(), "r3_granted.operations[1]") {
		t.Errorf("wider grant: %v", err)
	}
	other := *g
	other.PerCall = &OperationSet{Vocabulary: VocabularyOpenAPI, Operations: []Operation{{OperationID: "a"}}}
	if err := other.Within(doc); !errors.Is(err, ErrVocabulary) {
		t.Errorf("other vocabulary: %v", err)
	}
}

func TestGrantClaimsRoundTrip(t *testing.T) {
	g := &Grant{URI: "https://r.example/r3/" + h43, S256: h43, Granted: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("a").Operations}}
	c, err := g.Claims()
	if err != nil {
		t.Fatal(err)
	}
	c["sub"] = "x"
	b, _ := json.Marshal(c)
	back, err := ParseGrant(b)
	if err != nil || back.URI != g.URI || !back.Granted.CoversTool("a") || back.PerCall != nil {
		t.Errorf("round trip: %s -> %+v %v", b, back, err)
	}
	if _, err := (&Grant{URI: "x", S256: h43}).Claims(); err == nil {
		t.Error("relative URI accepted")
	}
}

func TestCheckPerCall(t *testing.T) {
	args := json.RawMessage(`{"to":"mom@example.com","body":"hi"}`)
	prop, err := NewProposal(VocabularyMCP, Tool("send_email"), args, ProposalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := Encode(prop)
	narrow := &Grant{URI: "https://r.example/r3/call/1", S256: enc.S256, Granted: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("send_email").Operations}}
	if err := CheckPerCall(narrow, prop, Tool("send_email"), args); err != nil {
		t.Fatalf("the approved call: %v", err)
	}
	// The same parameters, reordered: still the approved call.
	if err := CheckPerCall(narrow, prop, Tool("send_email"), json.RawMessage(`{"body":"hi","to":"mom@example.com"}`)); err != nil {
		t.Errorf("reordered: %v", err)
	}
	hostile := map[string]struct {
		g    *Grant
		op   Operation
		args string
	}{
		"another tool":            {narrow, Tool("delete_all"), `{"to":"mom@example.com","body":"hi"}`},
		"other parameters":        {narrow, Tool("send_email"), `{"to":"boss@example.com","body":"hi"}`},
		"fewer parameters":        {narrow, Tool("send_email"), `{"to":"mom@example.com"}`},
		"token grants nothing":    {&Grant{URI: narrow.URI, S256: narrow.S256}, Tool("send_email"), string(args)},
		"token still per-call":    {&Grant{URI: narrow.URI, S256: narrow.S256, Granted: narrow.Granted, PerCall: narrow.Granted}, Tool("send_email"), string(args)},
		"token grants more":       {&Grant{URI: narrow.URI, S256: narrow.S256, Granted: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("send_email", "delete_all").Operations}}, Tool("send_email"), string(args)},
		"token in other vocab":    {&Grant{URI: narrow.URI, S256: narrow.S256, Granted: &OperationSet{Vocabulary: VocabularyOpenAPI, Operations: []Operation{{OperationID: "send_email"}}}}, Tool("send_email"), string(args)},
		"nil grant":               {nil, Tool("send_email"), string(args)},
		"case-different tool":     {narrow, Tool("Send_Email"), string(args)},
		"arguments not an object": {narrow, Tool("send_email"), `"x"`},
	}
	for name, c := range hostile {
		if err := CheckPerCall(c.g, prop, c.op, json.RawMessage(c.args)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := CheckPerCall(narrow, mcpDef("class", "send_email"), Tool("send_email"), args); err == nil {
		t.Error("a class document accepted as a proposal")
	}
}
