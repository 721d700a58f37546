package resource_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

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
