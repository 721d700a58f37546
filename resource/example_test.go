package resource_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
)

// A resource that serves any verified agent: agent identity access, the
// AAuth replacement for an API key.
func ExampleResource_Require() {
	rs := &resource.Resource{Issuer: "https://api.example"}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := resource.FromContext(r.Context())
		fmt.Fprintf(w, "hello, %s\n", caller.Agent)
	})
	mux := http.NewServeMux()
	mux.Handle("/", rs.Require(handler))
	srv := &http.Server{Addr: ":8443", Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	_ = srv // srv.ListenAndServeTLS(cert, key)

	// An unsigned request is refused, and told what to present.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "https://api.example/hello", nil)
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Signature-Error"), rec.Header().Get("AAuth-Requirement"))
	// Output: 401 error=invalid_signature requirement=agent-token
}

// A resource that wants an auth token from the person's person server,
// with a scope that depends on the request: reading needs "read", writing
// "write".
func ExampleResource_authToken() {
	rs := &resource.Resource{
		Issuer: "https://files.example",
		Mode:   resource.AuthToken, // what the metadata advertises
		Policy: func(r *http.Request, c *resource.Caller) resource.Need {
			if r.Method == http.MethodGet {
				return resource.Need{Mode: resource.AuthToken, Scope: "read"}
			}
			return resource.Need{Mode: resource.AuthToken, Scope: "write"}
		},
		ScopeDescriptions: map[string]string{"read": "Read your files", "write": "Change your files"},
	}
	http.Handle("/", rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.FromContext(r.Context())
		// (c.Issuer, c.Subject) is the person; c.Scope what they granted.
		fmt.Fprintf(w, "files of %s at %s\n", c.Subject, c.Issuer)
	})))
}

// Long work answered at once with 202 and a pending URL the agent polls.
func ExampleDefer() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := resource.Defer(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			report := buildReport(r.Context()) // minutes of work
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, report)
		}))
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
	})
	rs := &resource.Resource{Issuer: "https://reports.example"}
	http.Handle("/reports", rs.Require(handler))
}

func buildReport(ctx context.Context) string { return "report\n" }

// Resource-managed access: the resource decides, after a person approved
// at its own page, and hands the agent a session token.
func ExampleResource_session() {
	approvals := map[string]bool{} // interaction code → approved (your own store)
	rs := &resource.Resource{
		Issuer: "https://app.example",
		Mode:   resource.SessionToken,
		Approve: func(ctx context.Context, req resource.ApprovalRequest) resource.Approval {
			if req.PendingID == "" {
				// First call: send the person to the consent page.
				return resource.Approval{InteractionURL: "https://app.example/consent", InteractionCode: resource.NewInteractionCode()}
			}
			if approvals[strings.ToUpper(req.InteractionCode)] {
				return resource.Approval{Decision: resource.Granted, Lifetime: 24 * time.Hour}
			}
			return resource.Approval{} // still waiting
		},
	}
	http.Handle("/", rs.Require(http.NotFoundHandler()))
}

// An MCP server whose tools are authorized one by one (R3): the person
// sees two groups, grants some tools outright and some per call, and each
// tools/call is served, challenged or refused under the auth token's
// grant.
func ExampleR3() {
	rs := &resource.Resource{
		Issuer: "https://mcp.example",
		Mode:   resource.AuthToken,
		R3: &resource.R3{
			Endpoint: "https://mcp.example/mcp", // r3_vocabularies: the MCP server
			Definitions: []*r3.Document{
				{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "fetch").Operations,
					Display: &r3.Display{Summary: "Read your documents"}},
				{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("send_email").Operations,
					Display: &r3.Display{Summary: "Send email as you", Irreversible: "Sent mail cannot be unsent"}},
			},
			// What the person sees for one send_email call.
			PerCallDisplay: func(op r3.Operation, args json.RawMessage) *r3.Display {
				return &r3.Display{Summary: "Send this one email"}
			},
		},
	}
	mcpServer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.FromContext(r.Context())
		_ = c.Grant   // the tools the auth token grants, outright and per call
		_ = c.PerCall // a per-call token: this call was approved on its own
	})
	mux := http.NewServeMux()
	mux.Handle("/", rs.Require(mcpServer))

	// The metadata tells agents the tools are named in the MCP vocabulary.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "https://mcp.example/.well-known/aauth-resource.json", nil))
	var md struct {
		Vocabularies map[string]string `json:"r3_vocabularies"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &md)
	fmt.Println(md.Vocabularies)
	// Output: map[urn:aauth:vocabulary:mcp:https://mcp.example/mcp]
}
