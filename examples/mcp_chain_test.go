package examples

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/intermediary"
	"github.com/aauthgo/aauth/resource"
)

// The three-hop chain of AAuth -11 call chaining, over MCP: a go-sdk MCP
// client calls MCP server A, which requires AAuth and, to answer, calls
// MCP server B, which requires AAuth too. A is an intermediary
// (intermediary.New): its tool opens its MCP session to B
// with the tool call's context, so every request of that session is made
// on behalf of the client, with the auth token the client presented to A
// as upstream_token.

// errDownstream is the JSON-RPC code A answers when it cannot get B's
// tokens: an application code go-sdk v1.8.0 does not use itself.
const errDownstream = -32031

// whoami is what B's tool says about the caller it served.
type whoami struct {
	Subject, Thumbprint, Issuer, PersonServer, Token string
}

// chainWorld is the person server, the client's agent provider, the two
// MCP servers and what each served.
type chainWorld struct {
	clock *aauthtest.FakeClock
	ps    *aauthtest.PersonServer
	ap    *aauthtest.AgentProvider
	a     *resource.Resource
	b     *resource.Resource
	srA   *httptest.Server
	srB   *httptest.Server

	mu       sync.Mutex
	servedA  []string // tokens A's MCP handler was served with
	servedB  []whoami
	relayErr error
}

func newChainWorld(t *testing.T) *chainWorld {
	t.Helper()
	w := &chainWorld{clock: aauthtest.NewFakeClock(time.Now())}
	w.ps = aauthtest.NewPersonServer(aauthtest.PersonServerOptions{Now: w.clock.Now})
	t.Cleanup(w.ps.Close)
	w.ap = aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: w.ps.URL, Now: w.clock.Now})
	t.Cleanup(w.ap.Close)

	// B: an MCP server whose tool says whom it serves.
	w.b = &resource.Resource{Mode: resource.AuthToken, Scope: "read", Now: w.clock.Now}
	serverB := mcp.NewServer(&mcp.Implementation{Name: "b", Version: "v0.0.1"}, nil)
	mcp.AddTool(serverB, &mcp.Tool{Name: "whoami", Description: "Who is calling"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			c, _ := resource.FromContext(ctx)
			if c == nil {
				// A stateful go-sdk session runs tools with the context of
				// its first request; B serves them alike.
				return nil, nil, errors.New("no caller")
			}
			who := whoami{Subject: c.Subject, Thumbprint: c.Thumbprint, Issuer: c.Issuer, PersonServer: c.PersonServer}
			w.mu.Lock()
			w.servedB = append(w.servedB, who)
			w.mu.Unlock()
			b, _ := json.Marshal(who)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil, nil
		})
	w.srB = httptest.NewServer(w.b.Require(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return serverB }, nil)))
	t.Cleanup(w.srB.Close)
	w.b.Issuer = w.srB.URL

	// A: an intermediary MCP server. It must serve statelessly: a
	// stateful go-sdk session would run every tool call with the context
	// of the session's first request, so with that request's caller.
	w.a = &resource.Resource{Mode: resource.AuthToken, Scope: "read", Now: w.clock.Now}
	downstream, err := intermediary.New(w.a, intermediary.Options{Name: "mcp-a", Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	serverA := mcp.NewServer(&mcp.Implementation{Name: "a", Version: "v0.0.1"}, nil)
	mcp.AddTool(serverA, &mcp.Tool{Name: "relay", Description: "Ask B who is calling"},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			text, err := callB(ctx, w.srB.URL, downstream.Client())
			if err != nil {
				w.mu.Lock()
				w.relayErr = err
				w.mu.Unlock()
				return nil, nil, downstreamError(err, w.srB.URL)
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	handlerA := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return serverA }, &mcp.StreamableHTTPOptions{Stateless: true})
	w.srA = httptest.NewServer(w.a.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if c, ok := resource.FromContext(r.Context()); ok {
			w.mu.Lock()
			w.servedA = append(w.servedA, c.Token)
			w.mu.Unlock()
		}
		handlerA.ServeHTTP(rw, r)
	})))
	t.Cleanup(w.srA.Close)
	w.a.Issuer = w.srA.URL

	// The person server trusts the client's agent provider and A, as its
	// own agent provider; nobody is given a key: they fetch each other's
	// documents.
	w.ps.TrustAgentProvider(w.ap.URL)
	w.ps.TrustAgentProvider(w.srA.URL)
	return w
}

// callB is A's tool: an MCP session to B, opened for the tool call's
// caller (go-sdk sends initialize with the context of Connect).
func callB(ctx context.Context, endpoint string, hc *http.Client) (string, error) {
	ctx, cancel := downstreamContext(ctx)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "a-to-b", Version: "v0.0.1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		return "", err
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) == 0 {
		return "", errors.New("B's tool failed")
	}
	text, _ := res.Content[0].(*mcp.TextContent)
	if text == nil {
		return "", errors.New("B answered no text")
	}
	return text.Text, nil
}

// downstreamContext is a context for a downstream MCP session opened in a
// go-sdk tool handler: it carries the caller's upstream token and ends
// with ctx, and nothing else of ctx. go-sdk keeps the protocol version of
// the server's session in the context of its handlers, where its client
// would read it as its own and send it to the downstream server.
func downstreamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	up := context.Background()
	if c, ok := resource.FromContext(ctx); ok {
		up = aauth.WithUpstream(up, c.Token)
	}
	down, cancel := context.WithCancel(up)
	stop := context.AfterFunc(ctx, cancel)
	return down, func() { stop(); cancel() }
}

// downstreamError is the JSON-RPC error an intermediary's tool returns
// when its call on the caller's behalf failed: go-sdk hands a
// *jsonrpc.Error to the client as it is, so the AAuth code reaches it.
func downstreamError(err error, downstream string) error {
	code := "server_error"
	var ee *aauth.ExchangeError
	switch {
	case errors.As(err, &ee) && ee.Problem != nil && ee.Problem.Error != "":
		code = ee.Problem.Error
	case errors.Is(err, aauth.ErrDenied):
		code = "denied"
	}
	data, _ := json.Marshal(map[string]string{"error": code, "resource": downstream})
	return &jsonrpc.Error{Code: errDownstream, Message: "downstream authorization failed", Data: data}
}

func (w *chainWorld) client(t *testing.T, ctx context.Context) *mcp.ClientSession {
	t.Helper()
	hc := (&aauth.Transport{Keys: w.ap.AgentKeys("alice"), PersonServer: w.ps.URL, Clock: w.clock}).Client()
	c := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v0.0.1"}, nil)
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: w.srA.URL, HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (w *chainWorld) requestsFor(resource string) []aauthtest.TokenRequest {
	var out []aauthtest.TokenRequest
	for _, tr := range w.ps.TokenRequests() {
		if tr.Resource == resource {
			out = append(out, tr)
		}
	}
	return out
}

func TestMCPChain(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() { settle(t, before) }) // after every other cleanup
	w := newChainWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cs := w.client(t, ctx)

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "relay"})
	if err != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		t.Fatalf("%v (A's call to B: %v)", err, w.relayErr)
	}
	var seen whoami
	if text, ok := res.Content[0].(*mcp.TextContent); !ok || json.Unmarshal([]byte(text.Text), &seen) != nil {
		t.Fatalf("relay answered %+v", res.Content)
	}

	// B saw an auth token for the same person (its own directed subject),
	// from the person server, bound to the key A signs with.
	down := w.requestsFor(w.srB.URL)
	if len(down) != 2 || down[0].Kind != aauthtest.TokenPerson || down[1].Kind != aauthtest.TokenAuth {
		t.Fatalf("token requests for B: %+v", down)
	}
	if seen.Subject != w.ps.Subject(w.srB.URL) || seen.Issuer != w.ps.URL || seen.PersonServer != w.ps.URL || seen.Thumbprint != down[0].Thumbprint {
		t.Errorf("B saw %+v", seen)
	}
	// Obtained with the client's token at A as upstream_token, by A as its
	// own agent, with no mission of its own.
	w.mu.Lock()
	servedA := append([]string(nil), w.servedA...)
	w.mu.Unlock()
	for _, tr := range down {
		if tr.Agent != "aauth:mcp-a@127.0.0.1" || tr.AgentIssuer != w.srA.URL || tr.MissionS256 != "" {
			t.Errorf("signed by %q of %q, mission %q", tr.Agent, tr.AgentIssuer, tr.MissionS256)
		}
		if tr.Upstream == nil || tr.Upstream.Kind != aauthtest.TokenAuth || tr.UpstreamToken != servedA[len(servedA)-1] {
			t.Error("upstream_token is not the auth token the client presented to A")
		}
		if tr.Upstream.Caller != w.ap.Subject("alice") {
			t.Errorf("the upstream token's caller %q", tr.Upstream.Caller)
		}
	}
	var exp, upExp time.Time
	for _, it := range w.ps.Issued() {
		if it.Kind == aauthtest.TokenAuth && it.Upstream != "" {
			exp = it.Expiry
		}
	}
	upExp = down[0].Upstream.Expiry
	if exp.IsZero() || exp.After(upExp) {
		t.Errorf("the downstream auth token expires %v, after the upstream token's %v", exp, upExp)
	}
	var agentDoc, resDoc struct {
		Issuer string `json:"issuer"`
	}
	fetchJSON(t, w.srA.URL+"/.well-known/aauth-agent.json", &agentDoc)
	fetchJSON(t, w.srA.URL+"/.well-known/aauth-resource.json", &resDoc)
	if agentDoc.Issuer != w.srA.URL || resDoc.Issuer != w.srA.URL {
		t.Errorf("A's documents: agent %q, resource %q", agentDoc.Issuer, resDoc.Issuer)
	}

	// Another call opens another session to B under the same upstream
	// token: the downstream tokens are reused. (A second later: a new
	// session's first request is byte for byte the last one's, and B
	// refuses a signature it has seen, created the same second.)
	w.clock.Advance(2 * time.Second)
	n := len(w.ps.TokenRequests())
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "relay"}); err != nil {
		t.Fatal(err)
	}
	if got := w.ps.TokenRequests(); len(got) != n {
		for _, tr := range got[n:] {
			t.Errorf("a token request for the second call: %s for %s by %s", tr.Kind, tr.Resource, tr.Agent)
		}
	}
	cs.Close()
}

// B's person server denies the chained request: the client's CallTool
// ends with A's JSON-RPC error carrying the AAuth code, B's tool never
// runs, and nothing is left running.
func TestMCPChainDenied(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() { settle(t, before) })
	w := newChainWorld(t)
	w.ps.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
		if tr.Upstream != nil && tr.Resource == w.srB.URL {
			return aauthtest.Deny()
		}
		return aauthtest.Approve()
	})
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cs := w.client(t, ctx)
	start := time.Now()
	_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "relay"})
	var wire *jsonrpc.Error
	if !errors.As(err, &wire) || wire.Code != errDownstream {
		t.Fatalf("CallTool: %v (%T)", err, err)
	}
	var data struct{ Error, Resource string }
	if json.Unmarshal(wire.Data, &data) != nil || data.Error != "denied" || data.Resource != w.srB.URL {
		t.Errorf("error data %s", wire.Data)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	w.mu.Lock()
	relayErr, servedB := w.relayErr, len(w.servedB)
	w.mu.Unlock()
	var ce *aauth.ChainError
	if !errors.As(relayErr, &ce) || !errors.Is(relayErr, aauth.ErrDenied) {
		t.Errorf("A's error: %v", relayErr)
	}
	if servedB != 0 {
		t.Error("B's tool ran")
	}
	cs.Close()
}

func fetchJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
}

// settle waits, briefly, for the goroutines of a test to end.
func settle(t *testing.T, before int) {
	t.Helper()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines left:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
