package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/r3"
)

// mockinR3Verdict is what @hellocoop/mockin 2.0.0's own R3 checks say about
// one document (r3check.mjs).
type mockinR3Verdict struct {
	S256     string  `json:"s256"`
	Error    *string `json:"error"`
	Proposal bool    `json:"proposal"`
}

// mockinR3Check runs mockin's validateR3Document and sha256B64url on docs.
func mockinR3Check(t *testing.T, docs [][]byte) []mockinR3Verdict {
	t.Helper()
	needMockin(t)
	in := make([]string, len(docs))
	for i, d := range docs {
		in[i] = base64.StdEncoding.EncodeToString(d)
	}
	payload, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(context.Background(), harnessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, "r3check.mjs")
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdin = bytes.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("r3check.mjs: %v\n%s", err, truncate(stderr.String(), 2000))
	}
	var verdicts []mockinR3Verdict
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // mockin's config prints its issuer on import
		}
		var v mockinR3Verdict
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("r3check.mjs said %q: %v", line, err)
		}
		verdicts = append(verdicts, v)
	}
	if len(verdicts) != len(docs) {
		t.Fatalf("r3check.mjs answered %d of %d documents:\n%s", len(verdicts), len(docs), truncate(string(out), 2000))
	}
	return verdicts
}

// TestMockinAcceptsOurR3Documents: every R3 document and per-call proposal
// r3.Encode writes is one mockin 2.0.0 accepts, hashes to the same r3_s256
// and classifies the same way (class document or proposal). This is the
// check mockin makes on the bytes it fetches from a resource's r3_uri.
func TestMockinAcceptsOurR3Documents(t *testing.T) {
	var docs []*r3.Document
	docs = append(docs,
		&r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "fetch", "send_email").Operations,
			Display: &r3.Display{Summary: "Search, fetch <pages> & send \"mail\"", Implications: "Sends email\u2028as you", DataAccessed: "Your inbox — all of it", Irreversible: "Sent mail cannot be unsent"}},
		&r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("\u00e9crire_\u65e5\u672c").Operations, Account: "acct 7"},
		&r3.Document{Vocabulary: r3.VocabularyOpenAPI, Operations: []r3.Operation{{OperationID: "createEvent"}}},
		&r3.Document{Vocabulary: r3.VocabularyGRPC, Operations: []r3.Operation{{Method: "calendar.CalendarService/CreateEvent"}}},
		&r3.Document{Vocabulary: r3.VocabularyGraphQL, Operations: []r3.Operation{{Operation: "Q", Type: "query"}}},
		&r3.Document{Vocabulary: r3.VocabularyAsyncAPI, Operations: []r3.Operation{{OperationID: "e", Action: "receive"}}},
		&r3.Document{Vocabulary: r3.VocabularyWSDL, Operations: []r3.Operation{{Operation: "Op", Service: "S"}}},
		&r3.Document{Vocabulary: r3.VocabularyOData, Operations: []r3.Operation{{Operation: "Events", Methods: []string{"GET", "POST"}}}},
		&r3.Document{Vocabulary: "https://vocab.example/rpc", Operations: []r3.Operation{{Extra: map[string]json.RawMessage{"proc": json.RawMessage(`"x"`)}}}},
	)
	composed, err := r3.Compose(
		&r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("b", "a").Operations, Display: &r3.Display{Summary: "A"}},
		&r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("c", "a").Operations, Display: &r3.Display{Summary: "B"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, composed)
	for _, args := range []string{``, `{}`, `{"to":"mom@example.com","n":1.50,"opts":{"cc":["a"]}}`, `{"body":"` + strings.Repeat("long text ", 200) + `","k":{"s256":"` + r3.S256(nil) + `"}}`} {
		p, err := r3.NewProposal(r3.VocabularyMCP, r3.Tool("send_email"), json.RawMessage(args), r3.ProposalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, p)
	}
	var encoded []*r3.Encoded
	var raw [][]byte
	for _, d := range docs {
		enc, err := r3.Encode(d)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		encoded = append(encoded, enc)
		raw = append(raw, enc.Bytes)
	}
	for i, v := range mockinR3Check(t, raw) {
		enc := encoded[i]
		if v.Error != nil {
			t.Errorf("mockin refused %s: %s", enc.Bytes, *v.Error)
		}
		if v.S256 != enc.S256 {
			t.Errorf("mockin hashes %s to %s, we to %s", enc.Bytes, v.S256, enc.S256)
		}
		if v.Proposal != enc.Document.IsProposal() {
			t.Errorf("mockin reads proposal=%v for %s", v.Proposal, enc.Bytes)
		}
	}
}

// TestR3ParseAtLeastAsStrictAsMockin: a document mockin refuses, r3.Parse
// refuses too; where Parse refuses what mockin accepts, the case is one
// of the stricter checks named below (an agent-controlled value could
// otherwise mean different things to different parsers, or a -02 MUST is
// enforced that mockin leaves out).
func TestR3ParseAtLeastAsStrictAsMockin(t *testing.T) {
	cases := []struct {
		name, doc string
		stricter  bool // Parse refuses, mockin accepts
	}{
		{"not an object", `[1]`, false},
		{"no vocabulary", `{"operations":[{"tool":"a"}]}`, false},
		{"vocabulary number", `{"vocabulary":5,"operations":[{"tool":"a"}]}`, false},
		{"openapi-gateway (removed in -02)", `{"vocabulary":"urn:aauth:vocabulary:openapi-gateway","operations":[{"service":"a","operationId":"b"}]}`, false},
		{"unknown standard vocabulary", `{"vocabulary":"urn:aauth:vocabulary:soap","operations":[{"x":1}]}`, false},
		{"empty operations", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[]}`, false},
		{"operations object", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":{"tool":"a"}}`, false},
		{"parameters array", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":[]}`, false},
		{"parameters null", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":null}`, false},
		{"not JSON", `{"vocabulary":`, false},
		// Stricter than mockin, on purpose.
		{"duplicate member", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","tool":"b"}]}`, true},
		{"operation without tool", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"name":"a"}]}`, true},
		{"tool not a string", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":1}]}`, true},
		{"graphql type", `{"vocabulary":"urn:aauth:vocabulary:graphql","operations":[{"operation":"A","type":"fragment"}]}`, true},
		{"proposal of two operations", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"},{"tool":"b"}],"parameters":{}}`, true},
		{"relative vocabulary", `{"vocabulary":"mcp","operations":[{"tool":"a"}]}`, true},
		{"upper-case namespace", `{"vocabulary":"URN:AAUTH:VOCABULARY:MCP","operations":[{"tool":"a"}]}`, true},
		{"display not an object", `{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"display":"x"}`, true},
	}
	raw := make([][]byte, len(cases))
	for i, c := range cases {
		raw[i] = []byte(c.doc)
	}
	for i, v := range mockinR3Check(t, raw) {
		c := cases[i]
		_, err := r3.Parse(raw[i])
		if err == nil {
			t.Errorf("%s: Parse accepted it", c.name)
		}
		if mockinRefused := v.Error != nil; mockinRefused == c.stricter {
			t.Errorf("%s: mockin refused=%v, want %v (%v)", c.name, mockinRefused, !c.stricter, v.Error)
		}
	}
}
