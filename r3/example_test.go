package r3_test

import (
	"encoding/json"
	"fmt"

	"github.com/aauthgo/aauth/r3"
)

// A resource describes its MCP tools in an R3 document, serialises it once
// and serves those bytes at a URI named by its hash.
func ExampleEncode() {
	doc := &r3.Document{
		Vocabulary: r3.VocabularyMCP,
		Operations: r3.Tools("search", "fetch").Operations,
		Display:    &r3.Display{Summary: "Search and read your documents"},
	}
	enc, err := r3.Encode(doc)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(enc.Bytes))
	fmt.Println(len(enc.S256), enc.S256 == r3.S256(enc.Bytes))
	// Output:
	// {"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"search"},{"tool":"fetch"}],"display":{"summary":"Search and read your documents"}}
	// 43 true
}

// A resource classifies an MCP request body and decides, from the auth
// token's grant, whether to serve it, challenge it per call, or refuse it.
func ExampleGrant_Decide() {
	grant := &r3.Grant{
		Granted: &r3.OperationSet{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search").Operations},
		PerCall: &r3.OperationSet{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("send_email").Operations},
	}
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"r3"}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"mom@example.com"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_all"}}`,
	} {
		req, err := r3.ClassifyMCP([]byte(body))
		if err != nil {
			panic(err)
		}
		call := req.ToolCalls()[0]
		fmt.Println(call.Tool, grant.Decide(r3.VocabularyMCP, call.Operation()))
	}
	// Output:
	// search serve
	// send_email challenge-per-call
	// delete_all refuse
}

// For a per-call tool the resource builds a proposal carrying the call's
// parameters; when the agent retries with the narrow token, the call must
// match it.
func ExampleNewProposal() {
	args := json.RawMessage(`{"to":"mom@example.com","subject":"Dinner Sunday?"}`)
	p, err := r3.NewProposal(r3.VocabularyMCP, r3.Tool("send_email"), args, r3.ProposalOptions{
		Display: &r3.Display{Summary: "Send an email as you"},
	})
	if err != nil {
		panic(err)
	}
	enc, _ := r3.Encode(p)
	fmt.Println(string(enc.Bytes))
	fmt.Println(r3.MatchParameters(p.Parameters, json.RawMessage(`{"subject":"Dinner Sunday?","to":"mom@example.com"}`)))
	fmt.Println(r3.MatchParameters(p.Parameters, json.RawMessage(`{"subject":"Dinner Sunday?","to":"boss@example.com"}`)))
	// Output:
	// {"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"send_email"}],"parameters":{"subject":"Dinner Sunday?","to":"mom@example.com"},"display":{"summary":"Send an email as you"}}
	// <nil>
	// aauth: r3: parameters["to"]: parameters do not match the proposal: value differs
}

// An agent reads what a metered resource reports about the budget on the
// token it signed with.
func ExampleParseBudget() {
	b, err := r3.ParseBudget([]string{`cost=221200; remaining=1568800; unit="USD"; decimals=6`})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.Remaining, b.Cost, b.Unit, b.Decimals)
	// Output: 1568800 221200 USD 6
}
