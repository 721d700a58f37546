package r3

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestHostile is issue 16's hostile list as far as this package decides
// it: each case is what a peer can send and the refusal it must meet. The
// resource and the Transport add the HTTP answers around these decisions.
func TestHostile(t *testing.T) {
	class := mcpDef("Read and send", "search", "send_email")
	classEnc, err := Encode(class)
	if err != nil {
		t.Fatal(err)
	}
	args := json.RawMessage(`{"to":"mom@example.com","body":"hi"}`)
	prop, err := NewProposal(VocabularyMCP, Tool("send_email"), args, ProposalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	propEnc, _ := Encode(prop)
	narrow := &Grant{URI: "https://r.example/r3/call/1", S256: propEnc.S256, Granted: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("send_email").Operations}}
	held := &Grant{URI: "https://r.example/r3/" + classEnc.S256, S256: classEnc.S256,
		Granted: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("search").Operations},
		PerCall: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("send_email").Operations}}

	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"document-bytes-do-not-match-r3_s256", func() error {
			tampered := strings.Replace(string(classEnc.Bytes), "search", "delete", 1)
			_, err := Verify([]byte(tampered), classEnc.S256)
			return err
		}, ErrHashMismatch},
		{"r3_granted-names-operations-outside-the-document", func() error {
			wide := *held
			wide.Granted = &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("search", "delete_all").Operations}
			return wide.Within(class)
		}, ErrNotCovered},
		{"per-call-token-for-another-tool", func() error {
			return CheckPerCall(narrow, prop, Tool("search"), json.RawMessage(`{"q":"x"}`))
		}, ErrNotCovered},
		{"per-call-token-with-other-parameters", func() error {
			return CheckPerCall(narrow, prop, Tool("send_email"), json.RawMessage(`{"to":"boss@example.com","body":"hi"}`))
		}, ErrMismatch},
		{"per-call-token-with-an-extra-parameter", func() error {
			return CheckPerCall(narrow, prop, Tool("send_email"), json.RawMessage(`{"to":"mom@example.com","body":"hi","bcc":"x"}`))
		}, ErrMismatch},
		{"class-token-presented-as-per-call", func() error {
			return CheckPerCall(held, prop, Tool("send_email"), args)
		}, ErrInvalid},
		{"batch-mixing-granted-and-per-call-tools", func() error {
			r, err := ClassifyMCP([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"x"}}}]`))
			if err != nil {
				return err
			}
			// One approval cannot bind two calls: the batch needs a per-call
			// approval, which the resource refuses for a batch
			// (per_call_batch); with a refused tool it is refused outright.
			if d := held.DecideAll(VocabularyMCP, r.Operations()); d != ChallengePerCall {
				return errors.New("decision " + d.String())
			}
			if d := held.DecideAll(VocabularyMCP, append(r.Operations(), Tool("delete_all"))); d != Refuse {
				return errors.New("decision with a refused tool " + d.String())
			}
			return nil
		}, nil},
		{"body-too-large-to-classify", func() error {
			_, err := ClassifyMCP([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"` + strings.Repeat("q", DefaultMaxMCPBody) + `"}}}`))
			return err
		}, ErrTooLarge},
		{"unknown-vocabulary-in-a-document", func() error {
			_, err := Parse([]byte(`{"vocabulary":"urn:aauth:vocabulary:openapi-gateway","operations":[{"service":"a","operationId":"b"}]}`))
			return err
		}, ErrUnknownVocabulary},
		{"unknown-vocabulary-in-a-grant", func() error {
			_, err := ParseGrant([]byte(`{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_granted":{"vocabulary":"urn:aauth:vocabulary:rest","operations":[{"tool":"a"}]}}`))
			return err
		}, ErrUnknownVocabulary},
		{"unknown-vocabulary-in-r3_operations", func() error {
			_, err := Select([]*Document{class}, OperationSet{Vocabulary: "urn:aauth:vocabulary:mcp2", Operations: Tools("search").Operations})
			return err
		}, ErrUnknownVocabulary},
		{"tool-name-smuggled-in-a-case-variant-member", func() error {
			_, err := ClassifyMCP([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","Name":"send_email"}}`))
			return err
		}, ErrAmbiguousMember},
		{"tool-name-smuggled-in-a-duplicate-member", func() error {
			_, err := ClassifyMCP([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"send_email"}}`))
			return err
		}, ErrDuplicateMember},
		{"tools/call-hidden-behind-an-upper-case-method", func() error {
			_, err := ClassifyMCP([]byte(`{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","params":{"name":"send_email"},"result":{}}`))
			return err
		}, ErrAmbiguousMember},
		{"digest-object-presented-instead-of-the-value", func() error {
			long := strings.Repeat("secret ", 300)
			p, _ := NewProposal(VocabularyMCP, Tool("send_email"), json.RawMessage(`{"body":"`+long+`"}`), ProposalOptions{})
			return MatchParameters(p.Parameters, json.RawMessage(`{"body":`+string(p.Parameters["body"])+`}`))
		}, ErrMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err != nil && (strings.Contains(err.Error(), "boss@") || strings.Contains(err.Error(), "secret")) {
				t.Errorf("error quotes a value: %v", err)
			}
		})
	}
}
