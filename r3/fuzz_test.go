package r3

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkErr fails unless err is a coded *Error whose message carries the
// module prefix once.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code == "" {
		t.Fatalf("error %T %v is not a coded *Error", err, err)
	}
	// Quoted member names in the path come from the peer and may say
	// anything; outside them the prefix appears once.
	msg := quotedName.ReplaceAllString(err.Error(), `[…]`)
	if !strings.HasPrefix(msg, "aauth: r3: ") || strings.Count(msg, "aauth:") != 1 {
		t.Fatalf("message %q", err)
	}
}

var quotedName = regexp.MustCompile(`\["(?:[^"\\]|\\.)*"…?\]`)

// FuzzParseDocument: Parse never panics; an error is a coded *Error; a
// document it accepts and Encode can write is a fixed point (encode, parse,
// encode gives the same bytes), so a resource's r3_s256 is stable.
func FuzzParseDocument(f *testing.F) {
	for _, s := range draftDocs {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"version":"1","vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","title":"A"}],"display":{"summary":"s","icon":"i"},"x":{"k":[1,2e3]}}`))
	f.Add([]byte(`{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}],"parameters":{"x":{"s256":"` + h43 + `"}}}`))
	f.Add([]byte(`{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a","tool":"b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		if d.Vocabulary == "" || len(d.Operations) == 0 || len(d.Operations) > MaxOperations {
			t.Fatalf("accepted %+v", d)
		}
		if d.IsProposal() && len(d.Operations) != 1 {
			t.Fatalf("proposal with %d operations", len(d.Operations))
		}
		enc, err := Encode(d)
		if err != nil {
			checkErr(t, err)
			if d.Display == nil || d.Display.Summary != "" {
				if !errors.Is(err, ErrTooLarge) {
					t.Fatalf("Encode refused a parsed document: %v", err)
				}
			}
			return
		}
		d2, err := Parse(enc.Bytes)
		if err != nil {
			t.Fatalf("Parse(Encode) = %v\n%s", err, enc.Bytes)
		}
		enc2, err := Encode(d2)
		if err != nil || !bytes.Equal(enc.Bytes, enc2.Bytes) {
			t.Fatalf("not a fixed point: %v\n%s\n%s", err, enc.Bytes, enc2.Bytes)
		}
		if !json.Valid(enc.Bytes) {
			t.Fatalf("invalid JSON written")
		}
	})
}

// FuzzParseOperationSet: an accepted set (an r3_operations request, an
// r3_granted claim) writes and reads back to itself, and covers each of
// its own operations.
func FuzzParseOperationSet(f *testing.F) {
	f.Add([]byte(`{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"},{"tool":"b"}]}`))
	f.Add([]byte(`{"vocabulary":"urn:aauth:vocabulary:odata","operations":[{"operation":"E","methods":["GET","GET"]}]}`))
	f.Add([]byte(`{"vocabulary":"urn:aauth:vocabulary:asyncapi","operations":[{"operationId":"e"}]}`))
	f.Add([]byte(`{"vocabulary":"https://v.example","operations":[{"a":[1,{"b":null}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseOperationSet(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		b, err := s.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed set: %v", err)
		}
		back, err := ParseOperationSet(b)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, b)
		}
		b2, _ := back.MarshalJSON()
		if !bytes.Equal(b, b2) {
			t.Fatalf("not a fixed point:\n%s\n%s", b, b2)
		}
		for i, op := range s.Operations {
			if !s.Covers(s.Vocabulary, op) {
				t.Fatalf("set does not cover its own operation %d", i)
			}
		}
		if err := s.Within(s); err != nil {
			t.Fatalf("set not within itself: %v", err)
		}
	})
}

// FuzzParseGrant: the R3 claims of a token payload parse or fail with a
// coded error; a grant writes back to the same claims.
func FuzzParseGrant(f *testing.F) {
	f.Add([]byte(mockinPayload))
	f.Add([]byte(`{"r3_uri":"https://r.example/r3/1","r3_s256":"` + h43 + `","r3_per_call":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"a"}]}}`))
	f.Add([]byte(`{"r3_uri":"https://r.example/r3/1"}`))
	f.Add([]byte(`{"sub":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGrant(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		if g == nil {
			return
		}
		c, err := g.Claims()
		if err != nil {
			t.Fatalf("Claims of a parsed grant: %v", err)
		}
		b, _ := json.Marshal(c)
		back, err := ParseGrant(b)
		if err != nil || back.URI != g.URI || back.S256 != g.S256 || (back.Granted == nil) != (g.Granted == nil) || (back.PerCall == nil) != (g.PerCall == nil) {
			t.Fatalf("round trip: %+v %v", back, err)
		}
		if g.Granted != nil {
			for _, op := range g.Granted.Operations {
				if g.Decide(g.Granted.Vocabulary, op) != Serve {
					t.Fatalf("granted operation not served")
				}
			}
		}
	})
}

// goServerView is how a Go MCP server decoding the body with
// encoding/json (case-insensitive field matching, last duplicate wins)
// sees a single message.
type goServerView struct {
	Method string
	Params struct {
		Name      string
		Arguments map[string]any
	}
}

// FuzzClassifyMCP: Classify never panics or fails uncoded, and never
// disagrees with a Go server about whether a single message is a
// tools/call and which tool it names: the property a resource enforcing
// per-tool grants rests on.
func FuzzClassifyMCP(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"m"}}}`))
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},{"jsonrpc":"2.0","method":"notifications/x"}]`))
	f.Add([]byte(`{"method":"tools/list","Method":"tools/call","params":{"name":"a"}}`))
	f.Add([]byte(`{"method":"tools/call","params":{"name":"search","NAME":"delete_all"}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":3,"result":{}}`))
	f.Add([]byte(`{"METHOD":"tools/call","params":{"name":"a"},"result":1}`))
	f.Add([]byte("{\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"\u212ame\":\"b\"}}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ClassifyMCP(body)
		if err != nil {
			checkErr(t, err)
			return
		}
		if len(r.Messages) == 0 || (!r.Batch && len(r.Messages) != 1) {
			t.Fatalf("request %+v", r)
		}
		for _, m := range r.ToolCalls() {
			if m.Tool == "" {
				t.Fatalf("tools/call without a tool")
			}
			if m.Arguments != nil {
				if a := bytes.TrimSpace(m.Arguments); len(a) == 0 || a[0] != '{' {
					t.Fatalf("arguments %q", m.Arguments)
				}
			}
		}
		if r.Batch {
			return
		}
		var v goServerView
		if err := json.Unmarshal(body, &v); err != nil {
			return // a Go server would refuse it too
		}
		m := r.Messages[0]
		if (v.Method == MethodToolsCall) != m.IsToolCall() {
			t.Fatalf("Go sees method %q, we see %q", v.Method, m.Method)
		}
		if m.IsToolCall() && v.Params.Name != m.Tool {
			t.Fatalf("Go sees tool %q, we see %q", v.Params.Name, m.Tool)
		}
	})
}

// FuzzParseBudget: AAuth-Budget parses or fails with a *BudgetError; an
// accepted value formats and parses back to itself.
func FuzzParseBudget(f *testing.F) {
	for _, s := range []string{
		`cost=221200; remaining=1568800; unit="USD"; decimals=6`,
		`remaining=0, unit="USD", decimals=6`,
		`remaining=150000; required=400000; unit="USD"; decimals=6`,
		`remaining=5, remaining="x"`,
		`remaining=(1 2);cost=1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		b, err := ParseBudget([]string{v})
		if err != nil {
			var be *BudgetError
			if !errors.As(err, &be) || strings.Count(err.Error(), "aauth:") != 1 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if !b.Has(BudgetRemaining) || b.Remaining < 0 || b.Cost < 0 || b.Reserved < 0 || b.Required < 0 {
			t.Fatalf("accepted %+v", b)
		}
		s, err := FormatBudget(b)
		if err != nil {
			t.Fatalf("FormatBudget(%+v): %v", b, err)
		}
		back, err := ParseBudget([]string{s})
		if err != nil || back != b {
			t.Fatalf("round trip via %q: %+v %v, want %+v", s, back, err, b)
		}
		if _, err := ParseBudgetTrailer([]string{v}); err != nil && b.Has(BudgetCost) {
			t.Fatalf("trailer refused a value with cost: %v", err)
		}
	})
}

// FuzzMatchParameters: a call always matches the proposal built from it,
// and with inline parameters matching is symmetric: if call B matches the
// proposal of call A, call A matches the proposal of call B.
func FuzzMatchParameters(f *testing.F) {
	f.Add([]byte(`{"to":"mom","n":1}`), []byte(`{"n":1.0,"to":"mom"}`))
	f.Add([]byte(`{"a":{"s256":"`+h43+`"}}`), []byte(`{"a":{"s256":"`+h43+`"}}`))
	f.Add([]byte(`{"a":[1,2,{"b":null}]}`), []byte(`{"a":[1,2,{"b":false}]}`))
	f.Add([]byte(`null`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, inline := range []int{-1, 16} {
			pa, err := NewProposal(VocabularyMCP, Tool("t"), a, ProposalOptions{InlineLimit: inline})
			if err != nil {
				checkErr(t, err)
				return
			}
			if _, err := Encode(pa); err != nil && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Encode(proposal) = %v", err)
			}
			if err := MatchParameters(pa.Parameters, a); err != nil {
				t.Fatalf("a call does not match its own proposal (inline %d): %v", inline, err)
			}
			errB := MatchParameters(pa.Parameters, b)
			if errB != nil {
				checkErr(t, errB)
			}
			if inline > 0 || errB != nil {
				continue
			}
			pb, err := NewProposal(VocabularyMCP, Tool("t"), b, ProposalOptions{InlineLimit: inline})
			if err != nil {
				t.Fatalf("b matched but has no proposal: %v", err)
			}
			if err := MatchParameters(pb.Parameters, a); err != nil {
				// A digest-shaped value is always digested, which is not
				// symmetric by design.
				if !strings.Contains(string(a)+string(b), "s256") {
					t.Fatalf("asymmetric: b matches a's proposal, a does not match b's: %v", err)
				}
			}
		}
	})
}

// FuzzParseBudgetClaim: the budget claim of a token payload parses within
// the draft's ranges or fails with a coded error.
func FuzzParseBudgetClaim(f *testing.F) {
	f.Add([]byte(`{"budget":{"amount":2000000,"unit":"USD","decimals":6}}`))
	f.Add([]byte(`{"budget":{"amount":1e3,"unit":"USD","decimals":6}}`))
	f.Add([]byte(`{"budget":{"amount":"5","unit":"USD","decimals":6}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseBudgetClaim(data)
		if err != nil {
			checkErr(t, err)
			return
		}
		if c != nil && (c.Amount < 0 || c.Amount > maxBudgetAmount || c.Decimals < 0 || c.Decimals > maxDecimals || c.Unit == "") {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzScanStrict: the strict scanner agrees with encoding/json on what is
// JSON: whatever it accepts, json.Valid accepts; whatever valid UTF-8 JSON
// it refuses, it refuses for a duplicate or case-variant member name or a
// limit, never as a syntax error.
func FuzzScanStrict(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2.5e-3,"x\u00e9",true,null]`, `{"a":{"b":[{}]}}`, `{"\u0061":1,"a":2}`, `"\ud800"`, `01`, `1.`, `-`, `{"a" 1}`, "\"\x01\""} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fold bool) {
		err := scanStrict(data, scanLimits{maxDepth: MaxDepth, maxTokens: 1 << 20, foldCheck: fold})
		valid := json.Valid(data)
		if err == nil {
			if !valid {
				t.Fatalf("scanStrict accepted what json.Valid refuses: %q", data)
			}
			return
		}
		checkErr(t, err)
		if valid && utf8.Valid(data) && errors.Is(err, ErrSyntax) {
			t.Fatalf("valid JSON refused as a syntax error: %q: %v", data, err)
		}
	})
}
