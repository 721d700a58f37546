package aauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
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
	"github.com/aauthgo/aauth/intermediary"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/resource"
)

// unsignedJWT is a compact JWT of typ and claims with a dummy signature:
// the intermediary reads upstream tokens without verifying them (the
// resource that served the caller did), so its local refusals are tested
// with tokens it never sends.
func unsignedJWT(typ string, claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]any{"alg": "Ed25519", "typ": typ})
	c, _ := json.Marshal(claims)
	return enc(h) + "." + enc(c) + ".c2lnbmF0dXJl"
}

// upstreamOf runs C's call to A once and returns the auth token C
// presented there.
func (e *chainEnv) upstreamOf(t *testing.T) string {
	t.Helper()
	if resp, body := e.call(t); resp.StatusCode != 200 {
		t.Fatalf("GET A: %d %s", resp.StatusCode, body)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.upstream[len(e.upstream)-1]
}

// chained sends GET url through the intermediary's Transport on behalf of
// the caller who presented upstream.
func (e *chainEnv) chained(upstream, url string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(aauth.WithUpstream(ctx, upstream), http.MethodGet, url, nil)
	resp, err := e.inter.RoundTrip(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// fresh is a downstream resource nobody has called yet.
func (e *chainEnv) fresh(t *testing.T) *aauthtest.Resource {
	t.Helper()
	d := aauthtest.NewResource(aauthtest.ResourceOptions{Now: e.clock.Now, PersonServer: e.w.PS.URL})
	t.Cleanup(d.Close)
	e.w.PS.TrustResource(d.URL)
	return d
}

func claimsOfToken(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// What the intermediary refuses before anything is sent, and what the
// person server refuses of a chained request, each as a *ChainError with
// its cause (CC-18, CC-21, CC-27, CC-33, D17, LB-01, LB-02).
func TestChainHostile(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	up := e.upstreamOf(t)
	uc := claimsOfToken(t, up)
	agentKM, _ := e.w.AgentKeys("bob").KeyMaterial(context.Background())
	interKM, _ := e.inter.Keys.KeyMaterial(context.Background())
	interJWK := claimsOfToken(t, interKM.Key.Token)["cnf"]
	forged := func(edit func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range uc {
			c[k] = v
		}
		edit(c)
		return unsignedJWT("aa-auth+jwt", c)
	}
	// C's auth token for B, presented at B by C itself.
	if _, err := e.client.Client().Get(e.B.URL + "/data"); err != nil {
		t.Fatal(err)
	}
	var atB string
	for _, r := range e.B.Requests() {
		if r.Status == 200 && r.Presented == aauthtest.TokenAuth {
			atB = r.Token
		}
	}

	cases := []struct {
		name, upstream, url string
		is                  error
	}{
		{"upstream-other-audience", atB, e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-agent-token", agentKM.Key.Token, e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-resource-token", unsignedJWT("aa-resource+jwt", uc), e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-garbage", "not a jwt", e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-huge", strings.Repeat("a", 70<<10), e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-nested-json", unsignedJWT("aa-auth+jwt", map[string]any{"aud": map[string]any{"a": []any{map[string]any{}}}}), e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-ps-not-a-server", forged(func(c map[string]any) { c["ps"] = "file:///etc/passwd" }), e.B.URL + "/data", psclient.ErrInvalidUpstreamToken},
		{"upstream-expired", forged(func(c map[string]any) { c["exp"] = e.clock.Now().Add(-time.Minute).Unix() }), e.B.URL + "/data", psclient.ErrExpiredUpstreamToken},
		{"upstream-bound-to-the-intermediary", forged(func(c map[string]any) { c["cnf"] = interJWK }), e.B.URL + "/data", psclient.ErrChainLoop},
		{"chain-self-loop", up, e.srvA.URL + "/data", psclient.ErrChainLoop},
	}
	before := len(e.w.PS.TokenRequests())
	servedA := len(e.upstream)
	for _, tc := range cases {
		_, err := e.chained(tc.upstream, tc.url)
		var ce *aauth.ChainError
		if !errors.As(err, &ce) || !errors.Is(err, tc.is) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if msg := err.Error(); strings.Count(msg, "aauth: ") != 1 || len(msg) > 1024 || strings.Contains(msg, up) {
			t.Errorf("%s: message %.200q", tc.name, msg)
		}
	}
	if n := len(e.w.PS.TokenRequests()) - before; n != 0 {
		t.Errorf("%d token requests for refused upstream tokens", n)
	}
	if len(e.upstream) != servedA {
		t.Error("the intermediary called itself")
	}

	// The person server refuses what only it can tell: a revoked upstream
	// token, or one whose caller was revoked.
	e.w.PS.Revoke(up)
	_, err := e.chained(up, e.fresh(t).URL+"/data")
	if !errors.Is(err, psclient.ErrRevokedUpstreamToken) {
		t.Errorf("revoked upstream: %v", err)
	}
}

// A downstream that answers with the resource token of the upstream call
// gets no exchange (D17).
func TestChainDownstreamReplaysUpstreamResourceToken(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	up := e.upstreamOf(t)
	var rtA string
	for _, tr := range e.w.PS.TokenRequests() {
		if tr.Kind == aauthtest.TokenAuth && tr.Resource == e.srvA.URL {
			rtA = tr.ResourceToken
		}
	}
	e.B.Queue(aauthtest.Respond(401, http.Header{"Aauth-Requirement": {`requirement=auth-token; resource-token="` + rtA + `"`}}, ""))
	before := len(e.w.PS.AuthTokenRequests())
	_, err := e.chained(up, e.B.URL+"/fresh")
	if !errors.Is(err, aauth.ErrResourceToken) {
		t.Fatalf("%v", err)
	}
	if n := len(e.w.PS.AuthTokenRequests()) - before; n != 0 {
		t.Errorf("%d exchanges", n)
	}
}

// One served request cannot fan out without bound: the person-server
// requests made on its caller's behalf are counted across goroutines
// (LB-03).
func TestChainFanOutBounded(t *testing.T) {
	e := newChainEnvWith(t, aauthtest.PersonServerOptions{}, intermediary.Options{MaxChainRequests: 4})
	up := e.upstreamOf(t)
	var downs []*aauthtest.Resource
	for range 6 {
		d := aauthtest.NewResource(aauthtest.ResourceOptions{Now: e.clock.Now, PersonServer: e.w.PS.URL})
		defer d.Close()
		e.w.PS.TrustResource(d.URL)
		downs = append(downs, d)
	}
	before := len(e.w.PS.PersonTokenRequests()) + len(e.w.PS.AuthTokenRequests())
	ctx := aauth.WithUpstream(context.Background(), up) // one served request
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, bounded := 0, 0
	for _, d := range downs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/data", nil)
			resp, err := e.inter.RoundTrip(req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				resp.Body.Close()
				ok++
			case errors.Is(err, aauth.ErrTooManySteps):
				bounded++
			default:
				t.Errorf("%v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(e.w.PS.PersonTokenRequests()) + len(e.w.PS.AuthTokenRequests()) - before; n > 4 {
		t.Errorf("%d person-server requests for one served request, bound 4", n)
	}
	if ok > 2 || bounded < 4 {
		t.Errorf("%d served, %d bounded", ok, bounded)
	}
	// The next served request has a budget of its own.
	if _, err := e.chained(up, downs[0].URL+"/data"); err != nil {
		t.Errorf("a new served request: %v", err)
	}
}

// A downstream person server that must reach the person: without Defer
// the chained call fails at once, typed, and the pending request is
// cancelled (CC-26, LB-06).
func TestChainInteractionWithoutDeferFailsFast(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	up := e.upstreamOf(t)
	e.w.PS.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
		if tr.Upstream != nil {
			return aauthtest.Defer(aauthtest.Interaction())
		}
		return aauthtest.Approve()
	})
	start := time.Now()
	_, err := e.chained(up, e.fresh(t).URL+"/data")
	var ce *aauth.ChainError
	if !errors.As(err, &ce) || !errors.Is(err, aauth.ErrInteraction) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	cancelled := false
	for _, r := range e.w.PS.Requests() {
		if r.Method == http.MethodDelete && r.Endpoint == aauthtest.EndpointPending {
			cancelled = true
		}
	}
	if !cancelled {
		t.Error("the pending request was not cancelled")
	}
}

// Interaction chaining (AAuth -11 §10.1.2): A's handler serves the call
// with resource.Defer; the downstream person server needs the person; A's
// polls tell C requirement=interaction with A's own URL and code, which
// sends the person on to the person server's page; once they approve,
// the chained call completes and C's poll gets B's answer (CC-26).
func TestChainInteraction(t *testing.T) {
	// The intermediary waits for a person in real time (a few
	// milliseconds here): on the virtual clock its 30 s would pass at
	// once.
	e := newChainEnvWith(t, aauthtest.PersonServerOptions{}, intermediary.Options{Clock: realClock{}})
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if err := resource.Defer(w, r, http.HandlerFunc(e.relay)); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	e.w.PS.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
		if tr.Upstream != nil && tr.Kind == aauthtest.TokenPerson {
			return aauthtest.Defer(aauthtest.Interaction())
		}
		return aauthtest.Approve()
	})
	var seen []string
	browser := &http.Client{}
	e.client.OnInteraction = func(ctx context.Context, u, code string) error {
		seen = append(seen, u+" "+code)
		// The person opens A's page, which sends them to the person
		// server's; there they approve.
		resp, err := browser.Get(u + "?code=" + code)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("interaction page: %d", resp.StatusCode)
		}
		return nil
	}
	resp, body := e.call(t)
	if resp.StatusCode != 200 || !strings.Contains(body, `"presented":"auth"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if len(seen) != 1 || !strings.HasPrefix(seen[0], e.srvA.URL+"/") {
		t.Fatalf("interactions %q, want one at A", seen)
	}
	ix := e.w.PS.Interactions()
	if len(ix) != 1 || !ix[0].Completed || strings.HasSuffix(seen[0], " "+ix[0].Code) {
		t.Errorf("person server interactions %+v; A handed out %q", ix, seen)
	}
}

// A pending downstream request whose upstream token expires meanwhile
// ends typed (CC-09).
func TestChainUpstreamExpiresWhilePending(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	e.w.PS.Queue(aauthtest.TokenAuth, aauthtest.Approve().Lifetime(10*time.Minute))
	up := e.upstreamOf(t)
	e.w.PS.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
		if tr.Upstream != nil {
			e.clock.Advance(11 * time.Minute) // the person takes their time
			return aauthtest.Defer(aauthtest.Approval())
		}
		return aauthtest.Approve()
	})
	_, err := e.chained(up, e.fresh(t).URL+"/data")
	if !errors.Is(err, aauth.ErrExpired) {
		t.Fatalf("%v", err)
	}
}

// Two intermediaries calling each other: A → A2 → A is refused by the
// person server's lineage check, and the error reaches C cleanly (LB-04).
func TestChainLoopThroughAnotherIntermediary(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	a2 := &resource.Resource{Mode: resource.AuthToken, Scope: "read", Now: e.clock.Now, PollInterval: -1}
	inter2, err := intermediary.New(a2, intermediary.Options{Name: "mcp-b", Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	var loopErr error
	srv2 := httptest.NewServer(a2.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, e.srvA.URL+"/again", nil)
		resp, err := inter2.RoundTrip(req)
		if err != nil {
			loopErr = err
			writeChainError(w, err)
			return
		}
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	})))
	defer srv2.Close()
	a2.Issuer = srv2.URL
	e.w.PS.TrustResource(srv2.URL)
	e.w.PS.TrustAgentProvider(srv2.URL)
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, srv2.URL+"/data", nil)
		resp, err := e.inter.RoundTrip(req)
		if err != nil {
			writeChainError(w, err)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	resp, body := e.call(t)
	if resp.StatusCode != 403 || !strings.Contains(body, "denied") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	if !errors.Is(loopErr, aauth.ErrDenied) {
		t.Errorf("A2's error: %v", loopErr)
	}
}

// realClock is the system clock, as a psclient.Clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
