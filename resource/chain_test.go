package resource_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/chainctx"
	"github.com/aauthgo/aauth/resource"
)

// The middleware serves a request with the person or auth token it
// presented as the upstream token of call chaining, and never with an
// agent token (AAuth -11 §10.1.1: the upstream token is one a served
// request presented; CC-05).
func TestServedRequestCarriesUpstream(t *testing.T) {
	for _, mode := range []resource.Mode{resource.AgentToken, resource.PersonToken, resource.AuthToken} {
		got := make(chan string, 8)
		e := newE2E(t, func(rs *resource.Resource) { rs.Mode, rs.Scope = mode, "read" }, func(e *e2e) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, _ := resource.FromContext(r.Context())
				up := ""
				if u := chainctx.From(r.Context()); u != nil {
					up = u.Token
					if up != c.Token {
						t.Errorf("%s: the upstream token is not the token presented", mode)
					}
				}
				got <- string(c.Kind) + " " + map[bool]string{true: "upstream", false: "none"}[up != ""]
			})
		})
		resp, err := e.client.Get(e.srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[resource.Mode]string{resource.AgentToken: "agent none", resource.PersonToken: "person upstream", resource.AuthToken: "auth upstream"}[mode]
		if g := <-got; g != want {
			t.Errorf("%s: served %q, want %q", mode, g, want)
		}
		if len(got) != 0 {
			t.Errorf("%s: the handler ran %d more times (a challenged request reached it)", mode, len(got))
		}
	}
	// A Caller made by hand carries its token too, unless it is an agent's.
	ctx := resource.NewContext(context.Background(), &resource.Caller{Kind: resource.KindAuth, Token: "t"})
	if u := chainctx.From(ctx); u == nil || u.Token != "t" {
		t.Error("NewContext of an auth caller")
	}
	if chainctx.From(resource.NewContext(context.Background(), &resource.Caller{Kind: resource.KindAgent, Token: "a"})) != nil {
		t.Error("NewContext of an agent caller")
	}
}

// A poll held by Prefer: wait answers as soon as the deferred work says it
// waits for an interaction, not when the wait runs out.
func TestSetInteractionWakesAHeldPoll(t *testing.T) {
	proceed := make(chan struct{})
	e := newE2E(t, nil, func(e *e2e) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resource.Defer(w, r, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := resource.SetInteraction(r.Context(), e.srv.URL+"/consent", "ABCDE-FGHJK"); err != nil {
					t.Error(err)
				}
				select {
				case <-proceed:
				case <-r.Context().Done():
				}
				io.WriteString(w, "done")
			}))
		})
	})
	var got string
	tr := &aauth.Transport{Keys: e.ap.AgentKeys("alice"), PersonServer: e.ps.URL, OnInteraction: func(ctx context.Context, url, code string) error {
		got = code
		close(proceed)
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/x", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "done" || got != "ABCDE-FGHJK" {
		t.Errorf("%q, code %q", b, got)
	}
}
