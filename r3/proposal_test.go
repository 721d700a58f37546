package r3

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestNewProposalInlineAndDigest(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes of text, 82 of JSON
	args := json.RawMessage(`{"to": "mom@example.com", "count": 1.50, "body": "` + long + `", "opts": {"b": [1, 2], "a": null}}`)
	p, err := NewProposal(VocabularyMCP, Tool("send_email"), args, ProposalOptions{InlineLimit: 64, ExcerptLen: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !p.IsProposal() || len(p.Operations) != 1 || p.Display == nil || !strings.Contains(p.Display.Summary, "send_email") {
		t.Fatalf("proposal = %+v", p)
	}
	if string(p.Parameters["to"]) != `"mom@example.com"` || string(p.Parameters["count"]) != `1.50` || string(p.Parameters["opts"]) != `{"b":[1,2],"a":null}` {
		t.Errorf("inline parameters = %s %s %s", p.Parameters["to"], p.Parameters["count"], p.Parameters["opts"])
	}
	d, ok := ParseDigest(p.Parameters["body"])
	if !ok {
		t.Fatalf("body not a digest: %s", p.Parameters["body"])
	}
	if d.S256 != S256([]byte(long)) || d.MediaType != "text/plain" || d.Excerpt != "ééééé…" {
		t.Errorf("digest = %+v", d)
	}
	enc, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Verify(enc.Bytes, enc.S256)
	if err != nil || !back.IsProposal() {
		t.Fatalf("Verify: %v", err)
	}
	// The call as sent matches the proposal built from it.
	if err := MatchParameters(back.Parameters, args); err != nil {
		t.Errorf("MatchParameters(own call) = %v", err)
	}
}

func TestNewProposalChoices(t *testing.T) {
	args := json.RawMessage(`{"a":"x","b":{"s256":"` + strings.Repeat("A", 43) + `"},"c":[1,2,3]}`)
	p, err := NewProposal(VocabularyMCP, Tool("t"), args, ProposalOptions{
		InlineLimit: -1,
		ExcerptLen:  -1,
		DigestParam: func(name string, _ json.RawMessage) bool { return name == "c" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Parameters["a"]) != `"x"` {
		t.Errorf("a = %s", p.Parameters["a"])
	}
	// b looks like a digest: carried as one (of its own JSON text), so the
	// resource never compares a digest-shaped value structurally.
	db, ok := ParseDigest(p.Parameters["b"])
	if !ok || db.S256 == strings.Repeat("A", 43) || db.MediaType != "application/json" || db.Excerpt != "" {
		t.Errorf("b = %s", p.Parameters["b"])
	}
	dc, ok := ParseDigest(p.Parameters["c"])
	if !ok || dc.S256 != S256([]byte(`[1,2,3]`)) {
		t.Errorf("c = %s", p.Parameters["c"])
	}
	if err := MatchParameters(p.Parameters, args); err != nil {
		t.Errorf("MatchParameters = %v", err)
	}
	// No arguments: an empty, non-nil parameters object.
	for _, none := range []json.RawMessage{nil, json.RawMessage(`null`), json.RawMessage(` {} `)} {
		p, err := NewProposal(VocabularyMCP, Tool("t"), none, ProposalOptions{})
		if err != nil || p.Parameters == nil || len(p.Parameters) != 0 {
			t.Errorf("NewProposal(%q) = %+v, %v", none, p, err)
		}
		enc, _ := Encode(p)
		if !strings.Contains(string(enc.Bytes), `"parameters":{}`) {
			t.Errorf("encoded: %s", enc.Bytes)
		}
	}
	for name, bad := range map[string]string{"array": `[1]`, "dup": `{"a":1,"a":2}`, "syntax": `{"a":`} {
		if _, err := NewProposal(VocabularyMCP, Tool("t"), json.RawMessage(bad), ProposalOptions{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewProposal(VocabularyMCP, Operation{}, nil, ProposalOptions{}); err == nil {
		t.Error("operation without a tool accepted")
	}
}

func TestMatchParameters(t *testing.T) {
	body := "the whole message"
	proposal := map[string]json.RawMessage{
		"to":    json.RawMessage(`"mom@example.com"`),
		"n":     json.RawMessage(`10`),
		"opts":  json.RawMessage(`{"cc":["a","b"],"urgent":false}`),
		"body":  json.RawMessage(`{"s256":"` + S256([]byte(body)) + `","excerpt":"the"}`),
		"blob":  json.RawMessage(`{"s256":"` + S256([]byte(`{"k": 1}`)) + `"}`),
		"empty": json.RawMessage(`null`),
	}
	ok := []string{
		`{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		// member order, white space and number spelling do not count
		`{ "empty" : null, "blob" : {"k": 1}, "body":"the whole message", "opts":{"urgent":false,"cc":["a","b"]}, "n":1e1, "to":"mom@example.com" }`,
		`{"to":"mom@example.com","n":10.000,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		`{"to":"mom@\u0065xample.com","n":100e-1,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":  {"k": 1}  ,"empty":null}`,
	}
	for _, a := range ok {
		if err := MatchParameters(proposal, json.RawMessage(a)); err != nil {
			t.Errorf("MatchParameters(%s) = %v", a, err)
		}
	}
	bad := map[string]string{
		"other recipient":  `{"to":"boss@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		"other number":     `{"to":"mom@example.com","n":10.5,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		"string for num":   `{"to":"mom@example.com","n":"10","opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		"array order":      `{"to":"mom@example.com","n":10,"opts":{"cc":["b","a"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		"extra nested":     `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false,"bcc":"x"},"body":"the whole message","blob":{"k": 1},"empty":null}`,
		"other body":       `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message!","blob":{"k": 1},"empty":null}`,
		"blob respaced":    `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k":1},"empty":null}`,
		"missing param":    `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1}}`,
		"extra param":      `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null,"bcc":"x"}`,
		"null for empty":   `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":false}`,
		"digest presented": `{"to":"mom@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":{"s256":"` + S256([]byte(body)) + `","excerpt":"the"},"blob":{"k": 1},"empty":null}`,
		"no arguments":     ``,
		"not an object":    `["to"]`,
		"duplicate member": `{"to":"mom@example.com","to":"boss@example.com","n":10,"opts":{"cc":["a","b"],"urgent":false},"body":"the whole message","blob":{"k": 1},"empty":null}`,
	}
	for name, a := range bad {
		err := MatchParameters(proposal, json.RawMessage(a))
		if err == nil {
			t.Errorf("%s: matched", name)
			continue
		}
		if strings.Contains(err.Error(), "boss@") || strings.Contains(err.Error(), "message") {
			t.Errorf("%s: error quotes a value: %v", name, err)
		}
	}
	if err := MatchParameters(proposal, json.RawMessage(bad["other recipient"])); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), `parameters["to"]`) {
		t.Errorf("other recipient: %v", err)
	}
	// A call without arguments matches an empty proposal.
	if err := MatchParameters(map[string]json.RawMessage{}, nil); err != nil {
		t.Errorf("empty: %v", err)
	}
}

func TestNumberEqual(t *testing.T) {
	eq := [][2]string{
		{"1", "1.0"}, {"1", "1e0"}, {"10", "1e1"}, {"10", "1E+1"}, {"0.1", "1e-1"}, {"0", "-0"}, {"0", "0.000e99"},
		{"-2.50", "-25e-1"}, {"123456789012345678901234567890", "1.2345678901234567890123456789e29"},
		{"1e999999999999999999999", "10e999999999999999999998"},
	}
	for _, p := range eq {
		if !numberEqual(p[0], p[1]) || !numberEqual(p[1], p[0]) {
			t.Errorf("%s != %s", p[0], p[1])
		}
	}
	ne := [][2]string{
		{"1", "-1"}, {"1", "1.0000000000000000000001"}, {"9007199254740993", "9007199254740992"}, {"1e2", "1e3"}, {"0.1", "0.10000000000000001"},
	}
	for _, p := range ne {
		if numberEqual(p[0], p[1]) {
			t.Errorf("%s == %s", p[0], p[1])
		}
	}
}

func TestParseDigestShape(t *testing.T) {
	h := strings.Repeat("a", 43)
	yes := []string{`{"s256":"` + h + `"}`, ` {"s256":"` + h + `","excerpt":"e","media_type":"text/plain"} `}
	no := []string{`{"s256":"short"}`, `{"s256":"` + h + `","other":1}`, `{"s256":1}`, `{"excerpt":"e"}`, `"` + h + `"`, `{"s256":"` + strings.Repeat("+", 43) + `"}`, `{"s256":"` + h + `","excerpt":null}`, ``}
	for _, s := range yes {
		if _, ok := ParseDigest(json.RawMessage(s)); !ok {
			t.Errorf("not a digest: %s", s)
		}
	}
	for _, s := range no {
		if _, ok := ParseDigest(json.RawMessage(s)); ok {
			t.Errorf("a digest: %s", s)
		}
	}
	if string(DigestBytes(json.RawMessage(` "a\u00e9" `))) != "aé" || string(DigestBytes(json.RawMessage(` [1, 2] `))) != "[1, 2]" {
		t.Error("DigestBytes")
	}
}
