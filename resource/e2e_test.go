package resource_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/resource"
)

// These tests run the library's own agent, aauth.Transport, with the test
// kit's agent provider and person server, against a resource.Resource:
// every flow the agent side implements must complete against the
// resource side.

// e2e is a person server, an agent provider, a protected resource and an
// agent client.
type e2e struct {
	ps     *aauthtest.PersonServer
	ap     *aauthtest.AgentProvider
	rs     *resource.Resource
	srv    *httptest.Server
	client *http.Client

	mu      sync.Mutex
	callers []*resource.Caller
}

func newE2E(t *testing.T, configure func(rs *resource.Resource), handler func(e *e2e) http.Handler) *e2e {
	t.Helper()
	e := &e2e{}
	e.ps = aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	t.Cleanup(e.ps.Close)
	e.ap = aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: e.ps.URL})
	t.Cleanup(e.ap.Close)
	e.rs = &resource.Resource{PollInterval: -1}
	if configure != nil {
		configure(e.rs)
	}
	h := http.Handler(http.HandlerFunc(e.echo))
	if handler != nil {
		h = handler(e)
	}
	e.srv = httptest.NewServer(e.rs.Require(h))
	e.rs.Issuer = e.srv.URL
	t.Cleanup(e.srv.Close)
	tr := &aauth.Transport{Keys: e.ap.AgentKeys("alice"), PersonServer: e.ps.URL}
	e.client = tr.Client()
	return e
}

func (e *e2e) echo(w http.ResponseWriter, r *http.Request) {
	c, _ := resource.FromContext(r.Context())
	e.mu.Lock()
	e.callers = append(e.callers, c)
	e.mu.Unlock()
	fmt.Fprintf(w, `{"ok":true,"kind":%q}`, c.Kind)
}

func (e *e2e) get(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s (Signature-Error %q)", path, resp.StatusCode, body, resp.Header.Get("Signature-Error"))
	}
	return string(body)
}

// TestTransportAuthTokenFlow: agent token → person-token; person token →
// auth-token with a resource token the person server accepts (presented_jti
// and all); auth token → served. The next call is warm.
func TestTransportAuthTokenFlow(t *testing.T) {
	e := newE2E(t, func(rs *resource.Resource) { rs.Mode, rs.Scope = resource.AuthToken, "read" }, nil)
	if body := e.get(t, "/data"); body != `{"ok":true,"kind":"auth"}` {
		t.Fatalf("body %s", body)
	}
	c := e.callers[0]
	if c.Subject != e.ps.Subject(e.rs.Issuer) || c.PersonServer != e.ps.URL || !c.HasScope("read") {
		t.Errorf("caller %+v", c)
	}
	if n := len(e.ps.TokenRequests()); n != 2 {
		t.Errorf("%d token requests (person and auth), want 2", n)
	}
	e.get(t, "/data")
	if n := len(e.ps.TokenRequests()); n != 2 {
		t.Errorf("the warm call made token requests: %d", n)
	}
}

// TestTransportDeferredAuthToken: the same with the auth-token requirement
// delivered as a 202 holding the call (AAuth -11 Deferred Delivery).
func TestTransportDeferredAuthToken(t *testing.T) {
	e := newE2E(t, func(rs *resource.Resource) {
		rs.Policy = func(*http.Request, *resource.Caller) resource.Need {
			return resource.Need{Mode: resource.AuthToken, Scope: "read", Defer: true}
		}
	}, nil)
	if body := e.get(t, "/data"); body != `{"ok":true,"kind":"auth"}` {
		t.Fatalf("body %s", body)
	}
	if len(e.callers) != 1 {
		t.Errorf("the held call ran %d times", len(e.callers))
	}
}

// TestTransportSession: resource-managed access with an interaction at the
// resource: the agent is sent to the resource's page, polls, and then
// uses the session token it got.
func TestTransportSession(t *testing.T) {
	var mu sync.Mutex
	approved := map[string]bool{}
	e := newE2E(t, func(rs *resource.Resource) {
		rs.Mode = resource.SessionToken
		rs.Approve = func(_ context.Context, req resource.ApprovalRequest) resource.Approval {
			mu.Lock()
			defer mu.Unlock()
			if req.PendingID == "" {
				return resource.Approval{InteractionURL: "https://resource.example/consent", InteractionCode: resource.NewInteractionCode()}
			}
			if approved[req.InteractionCode] {
				return resource.Approval{Decision: resource.Granted, Scope: "files"}
			}
			return resource.Approval{}
		}
	}, nil)
	tr := &aauth.Transport{
		Keys: e.ap.AgentKeys("alice"), PersonServer: e.ps.URL,
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		OnInteraction: func(_ context.Context, url, code string) error {
			// The person approves at the resource's page.
			mu.Lock()
			approved[code] = url == "https://resource.example/consent"
			mu.Unlock()
			return nil
		},
	}
	e.client = tr.Client()
	e.get(t, "/files")
	e.get(t, "/files")
	if len(e.callers) != 2 || e.callers[1].Session == nil || e.callers[1].Session.Scope != "files" {
		t.Fatalf("the second call was not served on the session: %+v", e.callers)
	}
}

// TestTransportDefer: a handler defers long work; the Transport polls the
// pending URL and gets its answer.
func TestTransportDefer(t *testing.T) {
	e := newE2E(t, nil, func(e *e2e) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := resource.Defer(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(20 * time.Millisecond)
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"report":"done"}`)
			}))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		})
	})
	if body := e.get(t, "/report"); !strings.Contains(body, `"report":"done"`) {
		t.Fatalf("body %s", body)
	}
}
