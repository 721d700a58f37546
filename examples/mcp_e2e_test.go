// Package examples holds, besides the example programs in its
// subdirectories, the end-to-end test of MCP over AAuth. It lives here, in
// a directory with no importable Go code, so that the MCP SDKs are
// imported by tests and examples only: package aauth never compiles them,
// and no public package promises an MCP API.
package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/examples/internal/mcpclient"
	"github.com/aauthgo/aauth/wire"
	mcpgomcp "github.com/mark3labs/mcp-go/mcp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// runTimeout bounds one client run: connect, list, call, close.
const runTimeout = 10 * time.Second

// The MCP server under test: a go-sdk server with one tool, mounted as the
// handler of an aauthtest resource, so that it only sees requests whose
// signature and token the resource verified.

// standIn is the resource's handler: the go-sdk MCP handler, plus a note
// of what each request that got through presented.
type standIn struct {
	mcp http.Handler

	mu        sync.Mutex
	presented []aauthtest.TokenKind

	streamOnce sync.Once
	streamOpen chan struct{} // closed when a GET (an event stream) gets through
}

func newStandIn(sse bool) *standIn {
	server := mcp.NewServer(&mcp.Implementation{Name: "stand-in", Version: "v0.0.1"}, nil)
	type greetIn struct {
		Name string `json:"name"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Say hello"},
		func(ctx context.Context, req *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Hello, " + in.Name + "!"}}}, nil, nil
		})
	s := &standIn{streamOpen: make(chan struct{})}
	getServer := func(*http.Request) *mcp.Server { return server }
	if sse {
		s.mcp = mcp.NewSSEHandler(getServer, nil)
	} else {
		s.mcp = mcp.NewStreamableHTTPHandler(getServer, nil)
	}
	return s
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := aauthtest.TokenNone
	if c, ok := aauthtest.CallerFromContext(r.Context()); ok {
		kind = c.Presented
	}
	s.mu.Lock()
	s.presented = append(s.presented, kind)
	s.mu.Unlock()
	if r.Method == http.MethodGet {
		s.streamOnce.Do(func() { close(s.streamOpen) })
	}
	s.mcp.ServeHTTP(w, r)
}

func (s *standIn) served() []aauthtest.TokenKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.presented)
}

// What the SDK saw: an http.RoundTripper between the SDK and the
// aauth.Transport, keeping each request and the answer handed back.

type seen struct {
	method, target string // target: path and query
	body           string
	status         int
	header         http.Header
	err            error
}

type observer struct {
	next http.RoundTripper

	mu  sync.Mutex
	log []seen
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	s := seen{method: req.Method, target: req.URL.RequestURI()}
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			raw, _ := io.ReadAll(b)
			b.Close()
			s.body = string(raw)
		}
	}
	resp, err := o.next.RoundTrip(req)
	if err != nil {
		s.err = err
	} else {
		s.status, s.header = resp.StatusCode, resp.Header.Clone()
	}
	o.mu.Lock()
	o.log = append(o.log, s)
	o.mu.Unlock()
	return resp, err
}

func (o *observer) seen() []seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.log)
}

// The clients: each SDK and transport, behind mcpclient's interface.

type client struct {
	name    string
	sse     bool // the server speaks the 2024-11-05 HTTP+SSE transport
	stream  bool // the client keeps a GET event stream open
	deletes bool // the client ends its session with a DELETE
	connect mcpclient.Connect
}

// The go-sdk v1.8.0 server (with sessions) lists only older versions in
// its server/discover answer, but mcp-go v1.2.1 stays on 2026-07-28, which
// the server then rejects: mcp-go pins 2025-11-25.
var clients = []client{
	{name: "go-sdk/streamable", stream: true, deletes: true, connect: mcpclient.GoSDK(false)},
	{name: "go-sdk/sse", sse: true, stream: true, connect: mcpclient.GoSDK(true)},
	{name: "mcp-go/streamable", deletes: true, connect: mcpclient.MCPGo(false, mcpgomcp.ProtocolVersion20251125)},
	{name: "mcp-go/streamable+listen", stream: true, deletes: true, connect: mcpclient.MCPGo(true, mcpgomcp.ProtocolVersion20251125)},
}

// The scenarios: what happens around the first tool call.

type scenario struct {
	name string
	// beforeCall scripts the world just before the first tool call.
	beforeCall func(w *aauthtest.World)
	// interaction: the first tool call makes the person interact once.
	interaction bool
}

var scenarios = []scenario{
	{name: "direct"},
	{
		// The tool call needs a wider scope: the resource steps up, and
		// the person server asks the person before it issues the new auth
		// token.
		name: "step-up",
		beforeCall: func(w *aauthtest.World) {
			w.Resource.StepUp("greet")
			w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Interaction()))
		},
		interaction: true,
	},
	{
		// The resource holds the tool call (202 with a Location) until the
		// person has interacted, then serves it on the agent's poll.
		name: "deferred",
		beforeCall: func(w *aauthtest.World) {
			w.Resource.Queue(aauthtest.Defer(aauthtest.Interaction()))
		},
		interaction: true,
	},
}

func TestMCPOverAAuth(t *testing.T) {
	for _, c := range clients {
		for _, sc := range scenarios {
			t.Run(c.name+"/"+sc.name, func(t *testing.T) {
				t.Parallel()
				runMCP(t, c, sc)
			})
		}
	}
}

func runMCP(t *testing.T, c client, sc scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()

	srv := newStandIn(c.sse)
	w := aauthtest.NewWorld(aauthtest.WorldOptions{
		Logf:     t.Logf,
		Resource: aauthtest.ResourceOptions{Handler: srv},
	})
	worldClosed := false
	defer func() {
		if !worldClosed {
			closeWithin(t, w, 5*time.Second)
		}
	}()

	// Its own connections: the subtests run in parallel, and every
	// httptest.Server.Close drops http.DefaultTransport's idle connections,
	// which can break a POST that has just taken one.
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	person := &http.Client{Transport: base}
	var interactions []string
	var imu sync.Mutex
	agent := &aauth.Transport{
		Base:            base,
		Keys:            w.AgentKeys("alice"),
		PersonServer:    w.PS.URL,
		Capabilities:    []aauth.Capability{aauth.CapabilityInteraction},
		MaxPollDuration: runTimeout,
		OnInteraction: func(ctx context.Context, url, code string) error {
			imu.Lock()
			interactions = append(interactions, code)
			imu.Unlock()
			return visit(ctx, person, url+"?code="+code) // the person approves
		},
	}
	obs := &observer{next: agent}
	hc := &http.Client{Transport: obs}

	s, err := c.connect(ctx, w.Resource.URL+"/mcp", hc)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	names, err := s.Tools(ctx)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	if !slices.Equal(names, []string{"greet"}) {
		t.Fatalf("tools = %v", names)
	}
	if c.stream {
		// Script the tool call only once the event stream is through:
		// otherwise the GET could take what is meant for the call.
		select {
		case <-srv.streamOpen:
		case <-ctx.Done():
			t.Fatal("the event stream (GET) never reached the MCP server")
		}
	}
	if sc.beforeCall != nil {
		sc.beforeCall(w)
	}
	for i, name := range []string{"AAuth", "again"} {
		got, err := s.Greet(ctx, name)
		if err != nil {
			t.Fatalf("tools/call %d: %v", i+1, err)
		}
		if want := "Hello, " + name + "!"; got != want {
			t.Fatalf("tools/call %d = %q, want %q", i+1, got, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	closed = true
	// Close the servers: it waits for the requests in flight (the event
	// stream among them), so every record is filed.
	worldClosed = true
	if !closeWithin(t, w, 5*time.Second) {
		return
	}

	imu.Lock()
	asked := len(interactions)
	imu.Unlock()
	want := 0
	if sc.interaction {
		want = 1
	}
	if asked != want {
		t.Errorf("OnInteraction called %d times, want %d", asked, want)
	}
	checkRecords(t, c, sc, w.Resource.Requests(), obs.seen(), srv.served())
}

// servedAnswer reports whether a poll was answered with the held call's
// own answer rather than "still pending".
func servedAnswer(r aauthtest.RecordedRequest) bool {
	if r.Status == http.StatusOK {
		return true
	}
	return r.Status == http.StatusAccepted && r.ResponseHeader.Get("Location") == "" && r.ResponseHeader.Get("AAuth-Requirement") == ""
}

// checkRecords asserts, from what the resource recorded and what the SDK
// saw, that MCP went over AAuth as it should.
func checkRecords(t *testing.T, c client, sc scenario, recs []aauthtest.RecordedRequest, sdk []seen, served []aauthtest.TokenKind) {
	t.Helper()
	var mcpRecs []aauthtest.RecordedRequest
	methods := map[string]int{}
	for _, r := range recs {
		switch r.Endpoint {
		case aauthtest.EndpointResource, aauthtest.EndpointPending:
		default:
			continue // the person server fetching the resource's metadata and keys
		}
		mcpRecs = append(mcpRecs, r)
		// Every MCP request, and every poll, was signed and verified.
		if !r.Signed || r.SignatureError != "" {
			t.Errorf("%s: not verified: %s %s", r, r.SignatureError, r.Problem)
		}
		if r.Endpoint != aauthtest.EndpointResource {
			continue
		}
		methods[r.Method]++
		if len(r.Body) > 0 && !r.Covers("content-digest") {
			t.Errorf("%s: the body is not covered (%v)", r, r.Components)
		}
		// Once past the challenges, everything carries an auth token.
		if r.Status != http.StatusUnauthorized && r.Presented != aauthtest.TokenAuth {
			t.Errorf("%s: got through presenting %q, not an auth token", r, r.Presented)
		}
		if rpcMethod(r.Body) == "tools/call" && r.Presented != aauthtest.TokenAuth {
			t.Errorf("%s: a tool call presented %q", r, r.Presented)
		}
	}
	if len(mcpRecs) == 0 {
		t.Fatal("the resource recorded no MCP request")
	}
	// The POST messages, the GET event stream and the DELETE on close.
	wantMethods := []string{http.MethodPost}
	if c.stream {
		wantMethods = append(wantMethods, http.MethodGet)
	}
	if c.deletes {
		wantMethods = append(wantMethods, http.MethodDelete)
	}
	for _, m := range wantMethods {
		if methods[m] == 0 {
			t.Errorf("no %s reached the resource (saw %v)", m, methods)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		for _, r := range mcpRecs {
			if r.Endpoint == aauthtest.EndpointResource && r.Method == m && r.Status != http.StatusUnauthorized && !(r.Signed && r.Presented == aauthtest.TokenAuth) {
				t.Errorf("%s: the %s was not signed with the auth token", r, m)
			}
		}
	}
	// The MCP server itself only ever ran for auth-token requests.
	for i, k := range served {
		if k != aauthtest.TokenAuth {
			t.Errorf("MCP request %d reached the server presenting %q", i+1, k)
		}
	}

	// MCP's bare 202s (notifications; every POST on the SSE transport)
	// came back to the SDK as the server wrote them.
	bare := 0
	for _, r := range mcpRecs {
		if r.Endpoint != aauthtest.EndpointResource || r.Status != http.StatusAccepted || r.ResponseHeader.Get("Location") != "" {
			continue
		}
		bare++
		target := r.Path
		if r.RawQuery != "" {
			target += "?" + r.RawQuery
		}
		i := slices.IndexFunc(sdk, func(s seen) bool {
			return s.method == r.Method && s.target == target && s.body == string(r.Body)
		})
		if i < 0 {
			t.Errorf("%s: the SDK never got this answer", r)
			continue
		}
		got := sdk[i]
		if got.err != nil || got.status != http.StatusAccepted {
			t.Errorf("%s: the SDK got %d %v instead of the bare 202", r, got.status, got.err)
			continue
		}
		for k, v := range r.ResponseHeader {
			if !slices.Equal(got.header.Values(k), v) {
				t.Errorf("%s: the SDK got %s: %q, the server sent %q", r, k, got.header.Values(k), v)
			}
		}
	}
	if bare == 0 {
		t.Error("no bare 202 (MCP's answer to a notification) was recorded")
	}
	// And the SDK never saw AAuth: no challenge, no deferral.
	for _, s := range sdk {
		if s.err != nil {
			t.Errorf("%s %s: the SDK got an error: %v", s.method, s.target, s.err)
			continue
		}
		if s.status == http.StatusUnauthorized || s.header.Get("Location") != "" || s.header.Get("AAuth-Requirement") != "" {
			t.Errorf("%s %s: an AAuth answer reached the SDK: %d %v", s.method, s.target, s.status, s.header)
		}
	}

	// The first tool call: what happened around it.
	calls := slices.DeleteFunc(slices.Clone(mcpRecs), func(r aauthtest.RecordedRequest) bool {
		return r.Endpoint != aauthtest.EndpointResource || rpcMethod(r.Body) != "tools/call"
	})
	polls := slices.DeleteFunc(slices.Clone(mcpRecs), func(r aauthtest.RecordedRequest) bool {
		return r.Endpoint != aauthtest.EndpointPending
	})
	// Two calls, plus the step-up's retry of the first.
	wantCalls := 2
	if sc.name == "step-up" {
		wantCalls = 3
	}
	if len(calls) != wantCalls {
		t.Fatalf("%d tool calls recorded, want %d: %v", len(calls), wantCalls, calls)
	}
	switch sc.name {
	case "direct":
		if len(polls) != 0 {
			t.Errorf("polls without a deferral: %v", polls)
		}
	case "step-up":
		first := calls[0]
		if ch, err := wire.ParseRequirement(first.ResponseHeader.Get("AAuth-Requirement")); first.Status != http.StatusUnauthorized || err != nil || ch.Requirement != wire.RequirementAuthToken {
			t.Errorf("the first tool call got %s, want 401 requirement=auth-token", first)
		}
		for _, r := range calls[1:] {
			if scope, _ := r.Claims["scope"].(string); !slices.Contains(strings.Fields(scope), "greet") {
				t.Errorf("%s: the auth token's scope is %q, want greet in it", r, scope)
			}
		}
	case "deferred":
		first := calls[0]
		if ch, err := wire.ParseRequirement(first.ResponseHeader.Get("AAuth-Requirement")); first.Status != http.StatusAccepted || first.ResponseHeader.Get("Location") == "" || err != nil || ch.Requirement != wire.RequirementInteraction {
			t.Errorf("the first tool call got %s, want 202 with a Location and requirement=interaction", first)
		}
		// The held call's own answer comes back on the poll: 200 with the
		// result, or MCP's bare 202 on the SSE transport.
		if len(polls) == 0 || !servedAnswer(polls[len(polls)-1]) {
			t.Errorf("the held call was not served on a poll: %v", polls)
		}
		for _, p := range polls {
			if p.Presented != aauthtest.TokenAuth {
				t.Errorf("%s: polled presenting %q", p, p.Presented)
			}
		}
	}
}

// rpcMethod returns the JSON-RPC method of a request body ("" for none).
func rpcMethod(body []byte) string {
	var m struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	return m.Method
}

// visit fetches an interaction URL as a person's browser would.
func visit(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("consent page: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}

// closeWithin closes w and reports whether it did within d; if a request
// is still in flight after d, the test fails and w is left closing.
func closeWithin(t *testing.T, w *aauthtest.World, d time.Duration) bool {
	t.Helper()
	done := make(chan struct{})
	go func() {
		w.Close()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		t.Errorf("the servers did not close within %v: a request is still in flight", d)
		return false
	}
}
