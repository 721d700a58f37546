package aauth_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/aauthgo/aauth/resource"
)

// chainEnv is a caller C (the kit's agent "alice"), an intermediary A (a
// resource.Resource, its own agent provider, whose handler calls
// downstream), and a downstream resource B (the kit's resource), with the
// kit's person server for the person.
type chainEnv struct {
	t      *testing.T
	w      *aauthtest.World
	clock  *aauthtest.FakeClock
	A      *resource.Resource
	srvA   *httptest.Server
	inter  *aauth.Transport
	client *aauth.Transport
	B      *aauthtest.Resource

	mu       sync.Mutex
	handler  http.Handler
	upstream []string // the tokens A's handler served, in order
	events   []aauth.Event
}

func newChainEnv(t *testing.T, po aauthtest.PersonServerOptions) *chainEnv {
	t.Helper()
	return newChainEnvWith(t, po, intermediary.Options{})
}

func newChainEnvWith(t *testing.T, po aauthtest.PersonServerOptions, opts intermediary.Options) *chainEnv {
	t.Helper()
	clock := aauthtest.NewFakeClock(time.Now())
	e := &chainEnv{t: t, clock: clock}
	e.w = aauthtest.NewWorld(aauthtest.WorldOptions{Now: clock.Now, PersonServer: po})
	t.Cleanup(e.w.Close)
	e.B = e.w.Resource
	e.A = &resource.Resource{Mode: resource.AuthToken, Scope: "read", Now: clock.Now, PollInterval: -1}
	opts.Name = "mcp-a"
	if opts.Clock == nil {
		opts.Clock = clock
	}
	opts.OnEvent = func(ev aauth.Event) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
	}
	inter, err := intermediary.New(e.A, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.inter = inter
	e.handler = http.HandlerFunc(e.relay)
	e.srvA = httptest.NewServer(e.A.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := resource.FromContext(r.Context()); ok {
			e.mu.Lock()
			e.upstream = append(e.upstream, c.Token)
			e.mu.Unlock()
		}
		e.mu.Lock()
		h := e.handler
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	})))
	t.Cleanup(e.srvA.Close)
	e.A.Issuer = e.srvA.URL
	// A is a resource to the person server and an agent provider to it
	// and to B; nobody is told its keys: they fetch its documents.
	e.w.PS.TrustResource(e.srvA.URL)
	e.w.PS.TrustAgentProvider(e.srvA.URL)
	e.B.TrustAgentProvider(e.srvA.URL)
	e.client = &aauth.Transport{Keys: e.w.AgentKeys("alice"), PersonServer: e.w.PS.URL, Clock: clock}
	return e
}

// relay is A's default handler: it calls B for its caller and answers
// with B's status and body, or with the chaining error's code.
func (e *chainEnv) relay(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, e.B.URL+"/data", nil)
	resp, err := e.inter.RoundTrip(req)
	if err != nil {
		e.t.Logf("A's call to B: %v", err)
		writeChainError(w, err)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// writeChainError answers a caller whose downstream call failed, as an
// intermediary might: 403 with the person server's code, 502 otherwise.
func writeChainError(w http.ResponseWriter, err error) {
	status, code := http.StatusBadGateway, "server_error"
	var ee *aauth.ExchangeError
	switch {
	case errors.As(err, &ee) && ee.Problem != nil && ee.StatusCode == http.StatusForbidden:
		status, code = ee.StatusCode, ee.Problem.Error
	case errors.Is(err, aauth.ErrInteraction):
		status, code = http.StatusForbidden, "interaction_required"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code})
}

func (e *chainEnv) setHandler(h http.HandlerFunc) {
	e.mu.Lock()
	e.handler = h
	e.mu.Unlock()
}

func (e *chainEnv) call(t *testing.T) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srvA.URL+"/data", nil)
	resp, err := e.client.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET A: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// downstreamRequests are the person server's token requests for B.
func (e *chainEnv) downstreamRequests() []aauthtest.TokenRequest {
	var out []aauthtest.TokenRequest
	for _, tr := range e.w.PS.TokenRequests() {
		if tr.Resource == e.B.URL {
			out = append(out, tr)
		}
	}
	return out
}

// Call chaining through a resource.Resource intermediary (AAuth -11
// §10.1.1): A serves C's request, and its handler's call to B, made with
// the request's context, is made on C's behalf: A, its own agent
// provider, signs with its own agent token; the person server is the
// upstream token's; upstream_token is exactly the auth token C presented;
// B serves a token for the same person, bound to A's key, under B's own
// directed subject (CC-01, CC-02, CC-05, CC-10, CC-11, CC-12, CC-24,
// CC-30, CC-31, CC-32).
func TestChainThroughIntermediary(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	resp, body := e.call(t)
	if resp.StatusCode != 200 || !strings.Contains(body, `"presented":"auth"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	down := e.downstreamRequests()
	if len(down) != 2 || down[0].Kind != aauthtest.TokenPerson || down[1].Kind != aauthtest.TokenAuth {
		t.Fatalf("downstream token requests %+v", down)
	}
	e.mu.Lock()
	presented := e.upstream[len(e.upstream)-1]
	e.mu.Unlock()
	for _, tr := range down {
		switch {
		case tr.Agent != "aauth:mcp-a@127.0.0.1" || tr.AgentIssuer != e.srvA.URL:
			t.Errorf("signed by %q of %q", tr.Agent, tr.AgentIssuer)
		case tr.UpstreamToken != presented || tr.Upstream == nil || tr.Upstream.Kind != aauthtest.TokenAuth:
			t.Error("upstream_token is not the auth token C presented")
		case tr.MissionS256 != "":
			t.Error("a mission_s256 of the intermediary's own")
		case tr.Upstream.Caller != e.w.Agent.Subject("alice"):
			t.Errorf("caller %q", tr.Upstream.Caller)
		}
	}
	if down[1].PresentedToken == "" || down[1].PresentedKind != aauthtest.TokenPerson {
		t.Error("the exchange did not present the downstream person token")
	}
	// B served A's key, with a token for the same person at B.
	var served *aauthtest.RecordedRequest
	for _, r := range e.B.Requests() {
		if r.Endpoint == aauthtest.EndpointResource && r.Status == 200 {
			served = &r
		}
	}
	if served == nil {
		t.Fatal("B served nothing")
	}
	if served.Claims["sub"] != e.w.PS.Subject(e.B.URL) || served.Claims["iss"] != e.w.PS.URL || served.Claims["ps"] != e.w.PS.URL {
		t.Errorf("B's auth token claims %v", served.Claims)
	}
	if served.Thumbprint != down[0].Thumbprint {
		t.Error("B's caller is not the key A signs its token requests with")
	}
	// A publishes its agent provider's documents beside its resource
	// metadata, under one issuer and separate key sets.
	type doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	var agentDoc, resDoc doc
	getJSON(t, e.srvA.URL+"/.well-known/aauth-agent.json", &agentDoc)
	getJSON(t, e.srvA.URL+"/.well-known/aauth-resource.json", &resDoc)
	if agentDoc.Issuer != e.srvA.URL || resDoc.Issuer != e.srvA.URL || agentDoc.JWKSURI == resDoc.JWKSURI || agentDoc.JWKSURI == "" {
		t.Errorf("agent %+v, resource %+v", agentDoc, resDoc)
	}

	// A second call under the same upstream token reuses the downstream
	// auth token: nothing new at the person server (CC-06).
	n := len(e.w.PS.TokenRequests())
	if resp, _ := e.call(t); resp.StatusCode != 200 {
		t.Fatalf("second call: %d", resp.StatusCode)
	}
	if got := len(e.w.PS.TokenRequests()); got != n {
		t.Errorf("%d more token requests", got-n)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(v) != nil {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
}

// The downstream person server denies: A's handler gets a *ChainError
// matching ErrDenied, and C a clean answer (CC-27).
func TestChainDenied(t *testing.T) {
	e := newChainEnv(t, aauthtest.PersonServerOptions{})
	e.w.PS.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
		if tr.Upstream != nil {
			return aauthtest.Deny()
		}
		return aauthtest.Approve()
	})
	var got error
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, e.B.URL+"/data", nil)
		_, got = e.inter.RoundTrip(req)
		writeChainError(w, got)
	})
	resp, body := e.call(t)
	if resp.StatusCode != 403 || !strings.Contains(body, `"denied"`) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	var ce *aauth.ChainError
	if !errors.As(got, &ce) || !errors.Is(got, aauth.ErrDenied) || ce.Resource != e.B.URL || ce.PersonServer != e.w.PS.URL {
		t.Fatalf("%v", got)
	}
	if strings.Count(got.Error(), "aauth: ") != 1 {
		t.Errorf("message %q", got)
	}
	if e.B.Served() != 0 {
		t.Error("B served the call")
	}
}
