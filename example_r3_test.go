package aauth_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
)

// An agent calling an MCP server's tools one by one (R3): it declares the
// tools it means to call, so that they are authorized before the first
// call, and learns from a typed error when a tool is outside the grant.
func ExampleTransport_operations() {
	// A stand-in person server and agent provider, and an MCP server
	// that authorizes its tools one by one.
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	defer ps.Close()
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: ps.URL})
	defer ap.Close()
	rs := &resource.Resource{Mode: resource.AuthToken, AuthorizationPath: "/aauth/authorize",
		R3: &resource.R3{Definitions: []*r3.Document{{Vocabulary: r3.VocabularyMCP,
			Operations: r3.Tools("search", "delete_all").Operations, Display: &r3.Display{Summary: "Your documents"}}}}}
	srv := httptest.NewServer(rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})))
	defer srv.Close()
	rs.Issuer = srv.URL

	tr := &aauth.Transport{
		Keys:         ap.AgentKeys("alice"),
		PersonServer: ps.URL,
		// Ask for search at the resource's authorization endpoint
		// before the first call.
		Operations: map[string]r3.OperationSet{srv.URL: r3.Tools("search")},
	}
	call := func(tool string) error {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `"}}`
		req, _ := http.NewRequest("POST", srv.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.Client().Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	fmt.Println("search:", call("search"))
	err := call("delete_all")
	fmt.Println("delete_all refused:", errors.Is(err, aauth.ErrOperationNotGranted))
	// Output:
	// search: <nil>
	// delete_all refused: true
}
