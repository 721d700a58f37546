package r3

import (
	"errors"
	"strings"
	"testing"
)

func TestClassifyMCPToolCall(t *testing.T) {
	body := []byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"mom@example.com","n":1},"_meta":{"progressToken":1}}}`)
	r, err := ClassifyMCP(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Batch || len(r.Messages) != 1 {
		t.Fatalf("request = %+v", r)
	}
	m := r.Messages[0]
	if !m.IsToolCall() || m.Tool != "send_email" || string(m.ID) != "7" || string(m.Arguments) != `{"to":"mom@example.com","n":1}` {
		t.Errorf("message = %+v (args %s)", m, m.Arguments)
	}
	if ops := r.Operations(); len(ops) != 1 || ops[0].Tool != "send_email" {
		t.Errorf("operations = %v", ops)
	}
	// The caller's bytes are untouched.
	if string(body) != `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"mom@example.com","n":1},"_meta":{"progressToken":1}}}` {
		t.Error("body modified")
	}
}

func TestClassifyMCPOtherMessages(t *testing.T) {
	cases := map[string]struct {
		body   string
		method string
		tools  int
	}{
		"initialize":         {`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`, "initialize", 0},
		"notification":       {`{"jsonrpc":"2.0","method":"notifications/initialized"}`, "notifications/initialized", 0},
		"tools/list":         {`{"jsonrpc":"2.0","id":"a","method":"tools/list"}`, "tools/list", 0},
		"response to server": {`{"jsonrpc":"2.0","id":3,"result":{"content":[]}}`, "", 0},
		"error to server":    {`{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"no"}}`, "", 0},
		"call no arguments":  {`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ping"}}`, "tools/call", 1},
		"call null args":     {`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ping","arguments":null}}`, "tools/call", 1},
		"escaped method":     {`{"jsonrpc":"2.0","id":2,"method":"tools\/call","params":{"name":"p\u0069ng"}}`, "tools/call", 1},
	}
	for name, c := range cases {
		r, err := ClassifyMCP([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.Messages[0].Method != c.method || len(r.ToolCalls()) != c.tools {
			t.Errorf("%s: %+v", name, r)
		}
		if c.tools == 1 && (r.Messages[0].Tool != "ping" || r.Messages[0].Arguments != nil) {
			t.Errorf("%s: %+v", name, r.Messages[0])
		}
	}
}

func TestClassifyMCPBatch(t *testing.T) {
	// A batch mixing a granted tool, a per-call tool and a notification.
	body := `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"x"}}},
	 {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":0}},
	 {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"a"}}}]`
	r, err := ClassifyMCP([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Batch || len(r.Messages) != 3 || len(r.ToolCalls()) != 2 {
		t.Fatalf("request = %+v", r)
	}
	g := &Grant{Granted: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("search").Operations}, PerCall: &OperationSet{Vocabulary: VocabularyMCP, Operations: Tools("send_email").Operations}}
	if d := g.DecideAll(VocabularyMCP, r.Operations()); d != ChallengePerCall {
		t.Errorf("decision = %s", d)
	}
}

func TestClassifyMCPRefuses(t *testing.T) {
	deep := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}}}`
	var batch strings.Builder
	batch.WriteString("[")
	for i := 0; i <= DefaultMaxMCPBatch; i++ {
		if i > 0 {
			batch.WriteString(",")
		}
		batch.WriteString(`{"jsonrpc":"2.0","method":"notifications/x"}`)
	}
	batch.WriteString("]")
	cases := []struct {
		name, body string
		code       Code
	}{
		{"empty body", ``, CodeSyntax},
		{"not json", `tools/call`, CodeSyntax},
		{"invalid utf-8", "{\"method\":\"tools/call\",\"params\":{\"name\":\"a\xff\"}}", CodeSyntax},
		{"trailing data", `{"method":"tools/list"}{"method":"tools/call","params":{"name":"a"}}`, CodeSyntax},
		{"scalar", `42`, CodeInvalid},
		{"empty batch", `[]`, CodeInvalid},
		{"batch of scalars", `[1]`, CodeInvalid},
		{"batch too long", batch.String(), CodeTooLarge},
		{"no method no result", `{"jsonrpc":"2.0","id":1}`, CodeInvalid},
		{"method number", `{"method":5}`, CodeInvalid},
		{"method empty", `{"method":""}`, CodeInvalid},
		{"call no params", `{"method":"tools/call"}`, CodeInvalid},
		{"call params array", `{"method":"tools/call","params":["a"]}`, CodeInvalid},
		{"call no name", `{"method":"tools/call","params":{"arguments":{}}}`, CodeInvalid},
		{"call name number", `{"method":"tools/call","params":{"name":1}}`, CodeInvalid},
		{"call name empty", `{"method":"tools/call","params":{"name":""}}`, CodeInvalid},
		{"call name too long", `{"method":"tools/call","params":{"name":"` + strings.Repeat("n", MaxIdentifierLen+1) + `"}}`, CodeTooLarge},
		{"arguments array", `{"method":"tools/call","params":{"name":"a","arguments":[1]}}`, CodeInvalid},
		{"arguments string", `{"method":"tools/call","params":{"name":"a","arguments":"x"}}`, CodeInvalid},
		// Parser differentials a Go MCP server would resolve differently.
		{"duplicate name", `{"method":"tools/call","params":{"name":"search","name":"delete_all"}}`, CodeDuplicateMember},
		{"duplicate method", `{"method":"tools/list","method":"tools/call","params":{"name":"a"}}`, CodeDuplicateMember},
		{"case-variant name", `{"method":"tools/call","params":{"name":"search","Name":"delete_all"}}`, CodeAmbiguousMember},
		{"case-variant method", `{"method":"tools/list","Method":"tools/call","params":{"name":"a"}}`, CodeAmbiguousMember},
		{"method in upper case only", `{"METHOD":"tools/call","params":{"name":"a"},"result":1}`, CodeAmbiguousMember},
		{"params in other case", `{"method":"tools/call","Params":{"name":"a"}}`, CodeAmbiguousMember},
		{"name in other case only", `{"method":"tools/call","params":{"NAME":"a"}}`, CodeAmbiguousMember},
		{"kelvin-sign key", "{\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"arguments\":{\"k\":1,\"\u212a\":2}}}", CodeAmbiguousMember},
		{"case-variant argument", `{"method":"tools/call","params":{"name":"send","arguments":{"to":"mom","To":"boss"}}}`, CodeAmbiguousMember},
		{"duplicate argument", `{"method":"tools/call","params":{"name":"send","arguments":{"to":"mom","to":"boss"}}}`, CodeDuplicateMember},
		{"too deep", deep, CodeTooLarge},
		{"too large", `{"method":"tools/call","params":{"name":"a","arguments":{"x":"` + strings.Repeat("x", DefaultMaxMCPBody) + `"}}}`, CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ClassifyMCP([]byte(c.body))
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Errorf("err = %v, want code %s", err, c.code)
			}
			if err != nil && (strings.Contains(err.Error(), "delete_all") || strings.Contains(err.Error(), "boss")) {
				t.Errorf("error quotes a value: %v", err)
			}
		})
	}
}

func TestMCPClassifierLimits(t *testing.T) {
	c := MCPClassifier{MaxBody: 64, MaxBatch: 1}
	if _, err := c.Classify([]byte(`{"method":"tools/call","params":{"name":"a","arguments":{"x":"0123456789012345678901234567890123456789"}}}`)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBody: %v", err)
	}
	if _, err := c.Classify([]byte(`[{"method":"a"},{"method":"b"}]`)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxBatch: %v", err)
	}
	if _, err := c.Classify([]byte(`[{"method":"a"}]`)); err != nil {
		t.Errorf("within limits: %v", err)
	}
}
