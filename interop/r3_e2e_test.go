package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
	"github.com/aauthgo/aauth/wire"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMockinR3 is R3 end to end against @hellocoop/mockin 2.0.0 as the
// person server: a go-sdk MCP server protected by resource.Resource with
// R3 serves its R3 documents; mockin fetches them (signed jwks_uri, which
// the resource verifies with mockin's published key), checks their hash
// and issues auth tokens with r3_granted and, through its r3_grants
// setting, r3_per_call; a go-sdk MCP client over aauth.Transport calls a
// granted tool (the held token), a per-call tool (challenged, a narrow
// token used once and not kept) twice, and a tool outside the grant (a
// typed error through the SDK). The per-call challenge is delivered as a
// 401 and, in a second run, as a 202 holding the call.
func TestMockinR3(t *testing.T) {
	m := startMockin(t)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: m.URL})
	t.Cleanup(ap.Close)
	agent := agentEntity(t, ap)
	t.Run("401", func(t *testing.T) { testMockinR3(t, m, ap, agent, false) })
	t.Run("202", func(t *testing.T) { testMockinR3(t, m, ap, agent, true) })
}

// perCallHeader tells a tool that the resource let its call in on a
// per-call token.
const perCallHeader = "Example-Per-Call"

// r3Server is the MCP server under test and what it saw.
type r3Server struct {
	rs  *resource.Resource
	srv *httptest.Server

	mu      sync.Mutex
	ran     []string  // tool calls run: "tool" or "tool per-call"
	fetches []r3Fetch // R3 document fetches the resource answered
}

type r3Fetch struct {
	path, signer string
	status       int
	body         []byte
}

func newR3Server(t *testing.T, ps string, deferred bool) *r3Server {
	t.Helper()
	s := &r3Server{}
	server := mcp.NewServer(&mcp.Implementation{Name: "r3-stand-in", Version: "v0.0.1"}, nil)
	type args struct {
		Q  string `json:"q,omitempty"`
		To string `json:"to,omitempty"`
	}
	tool := func(name, desc string, access r3.Access) {
		mcp.AddTool(server, &mcp.Tool{Name: name, Description: desc, Meta: access.MCPMeta()},
			func(ctx context.Context, req *mcp.CallToolRequest, in args) (*mcp.CallToolResult, any, error) {
				rec := name
				if req.Extra != nil && req.Extra.Header.Get(perCallHeader) == "yes" {
					rec += " per-call"
				}
				s.mu.Lock()
				s.ran = append(s.ran, rec)
				s.mu.Unlock()
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " done for " + in.To + in.Q}}}, nil, nil
			})
	}
	tool("search", "Search your documents", r3.Access{})
	tool("fetch", "Fetch a document", r3.Access{})
	tool("send_email", "Send an email as you", r3.Access{Mode: r3.AccessPerCall})
	tool("delete_all", "Delete every document", r3.Access{})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{JSONResponse: true})

	s.rs = &resource.Resource{
		Mode:           resource.AuthToken,
		PersonServers:  resource.TrustIssuers(ps),
		PersonTokenJTI: true, // mockin 2.0.0 reads person_token_jti only
		PollInterval:   -1,
		R3: &resource.R3{
			Definitions: []*r3.Document{
				{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "fetch").Operations, Display: &r3.Display{Summary: "Read your documents"}},
				{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("send_email", "delete_all").Operations,
					Display: &r3.Display{Summary: "Send email and delete documents as you", Irreversible: "Sent mail cannot be unsent"}},
			},
			PerCallDeferred: deferred,
		},
	}
	// The go-sdk runs tools on the session's context, not the request's:
	// the resource's verdict reaches the tool as a header, which the
	// client cannot set (it is replaced here).
	protected := s.rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.Header.Del(perCallHeader)
		if c, ok := resource.FromContext(r.Context()); ok && c.PerCall {
			r.Header.Set(perCallHeader, "yes")
		}
		mcpHandler.ServeHTTP(w, r)
	}))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/aauth/r3/") {
			protected.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		protected.ServeHTTP(rec, r)
		signer := ""
		if sk, err := wire.ParseSignatureKey(r.Header.Get("Signature-Key")); err == nil {
			signer = string(sk.Scheme) + " " + sk.Params["id"] + " " + sk.Params["dwk"]
		}
		s.mu.Lock()
		s.fetches = append(s.fetches, r3Fetch{path: r.URL.Path, signer: signer, status: rec.Code, body: rec.Body.Bytes()})
		s.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(s.srv.Close)
	s.rs.Issuer = s.srv.URL
	return s
}

func (s *r3Server) ranCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ran)
}

func (s *r3Server) fetched() []r3Fetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fetches)
}

// tokenTap keeps the auth tokens mockin issues, to replay one by hand.
type tokenTap struct {
	mu     sync.Mutex
	tokens []string
}

func (tt *tokenTap) wrap(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(req)
		if err != nil || !strings.HasSuffix(req.URL.Path, "/aauth/token/auth") {
			return resp, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var out struct {
			AuthToken string `json:"auth_token"`
		}
		if json.Unmarshal(b, &out) == nil && out.AuthToken != "" {
			tt.mu.Lock()
			tt.tokens = append(tt.tokens, out.AuthToken)
			tt.mu.Unlock()
		}
		return resp, nil
	})
}

func (tt *tokenTap) all() []string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return slices.Clone(tt.tokens)
}

func testMockinR3(t *testing.T, m *mockin, ap *aauthtest.AgentProvider, agent map[string]any, deferred bool) {
	ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
	defer cancel()
	m.reset(ctx, t)
	s := newR3Server(t, m.URL, deferred)
	// The agent provider is preloaded; the R3 documents are not, so
	// mockin fetches them from the resource.
	m.configure(ctx, t, map[string]any{
		"trusted_servers": map[string]any{ap.URL: agent},
		"r3_grants": map[string]any{
			"granted":  r3.Tools("search", "fetch"),
			"per_call": r3.Tools("send_email"),
		},
	})

	wl := &wireLog{names: [][2]string{{m.URL, "ps"}, {s.srv.URL, "rs"}}}
	tap := &tokenTap{}
	keys := ap.AgentKeys("alice")
	tr := &aauth.Transport{Base: tap.wrap(wl.wrap(m.http.Transport)), Keys: keys, PersonServer: m.URL}
	defer func() {
		if t.Failed() {
			t.Logf("wire:\n%s", strings.Join(wl.lines(), "\n"))
		}
	}()
	client := mcp.NewClient(&mcp.Implementation{Name: "r3-agent", Version: "v0.0.1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: s.srv.URL + "/mcp", HTTPClient: tr.Client(), DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer session.Close()
	exchanges := func() int { return len(tap.all()) }

	// The tools' annotations, as an agent plans with them.
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan := map[string]r3.AccessMode{}
	for _, tl := range tools.Tools {
		meta, _ := json.Marshal(tl.Meta)
		plan[tl.Name] = r3.EffectiveAccess(r3.AccessAuthToken, r3.MCPToolAccess(meta))
	}
	if plan["send_email"] != r3.AccessPerCall || plan["search"] != r3.AccessAuthToken {
		t.Errorf("planned access %v", plan)
	}

	call := func(name string, args map[string]any) (string, error) {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			return "", err
		}
		if res.IsError || len(res.Content) == 0 {
			return "", fmt.Errorf("%s: tool error %+v", name, res.Content)
		}
		return res.Content[0].(*mcp.TextContent).Text, nil
	}

	// Connecting took the whole flow once: mockin fetched the document of
	// every definition, signed with its own key, and granted search and
	// fetch outright, send_email per call.
	if n := exchanges(); n != 1 {
		t.Fatalf("%d exchanges to connect", n)
	}
	f := s.fetched()
	if len(f) != 1 || f[0].status != 200 || f[0].signer != "jwks_uri "+m.URL+" aauth-person.json" {
		t.Fatalf("R3 fetches %+v", f)
	}
	class := grantOf(t, tap.all()[0])
	if class == nil || !class.Granted.CoversTool("fetch") || class.PerCall == nil || !class.PerCall.CoversTool("send_email") ||
		class.S256 != r3.S256(f[0].body) {
		t.Fatalf("mockin's grant %+v", class)
	}

	if out, err := call("search", map[string]any{"q": "aauth"}); err != nil || !strings.Contains(out, "search done") {
		t.Fatalf("search: %q, %v", out, err)
	}
	if out, err := call("fetch", map[string]any{"q": "7"}); err != nil || !strings.Contains(out, "fetch done") {
		t.Fatalf("fetch: %q, %v", out, err)
	}
	if n := exchanges(); n != 1 {
		t.Errorf("granted tools cost %d exchanges", n-1)
	}

	// mockin's r3_grants replaces every grant, a per-call proposal's
	// included: without it, mockin approves the proposal's one call.
	m.control(ctx, t, http.MethodPut, "/mock/aauth", map[string]any{"r3_grants": nil})

	for i, to := range []string{"a@example.com", "b@example.com"} {
		out, err := call("send_email", map[string]any{"to": to})
		if err != nil || !strings.Contains(out, "send_email done for "+to) {
			t.Fatalf("send_email %d: %q, %v", i+1, out, err)
		}
		if n := exchanges(); n != 2+i {
			t.Fatalf("after send_email %d: %d exchanges", i+1, n)
		}
	}
	f = s.fetched()
	if len(f) != 3 {
		t.Fatalf("R3 fetches %+v", f)
	}
	for i, narrow := range tap.all()[1:] {
		g := grantOf(t, narrow)
		fetch := f[1+i]
		if !strings.HasPrefix(fetch.path, "/aauth/r3/call/") || fetch.status != 200 || g == nil || g.S256 != r3.S256(fetch.body) ||
			g.PerCall != nil || !g.Granted.CoversTool("send_email") || len(g.Granted.Operations) != 1 {
			t.Errorf("per-call %d: fetch %s %d, grant %+v", i+1, fetch.path, fetch.status, g)
		}
		doc, err := r3.Parse(fetch.body)
		if err != nil || !doc.IsProposal() {
			t.Errorf("proposal %s: %v", fetch.body, err)
		}
	}

	// Granted still: the class token is held, not a narrow one.
	if _, err := call("search", map[string]any{"q": "again"}); err != nil {
		t.Fatal(err)
	}
	if n := exchanges(); n != 3 {
		t.Errorf("search after the per-call calls: %d exchanges", n)
	}

	// Outside the grant: refused, a typed error through the SDK.
	_, err = call("delete_all", nil)
	var oe *aauth.OperationError
	if !errors.Is(err, aauth.ErrOperationNotGranted) || !errors.As(err, &oe) || oe.Operations[0].Tool != "delete_all" {
		t.Fatalf("delete_all: %v", err)
	}
	want := []string{"search", "fetch", "send_email per-call", "send_email per-call", "search"}
	if got := s.ranCalls(); !slices.Equal(got, want) {
		t.Errorf("the server ran %q, want %q", got, want)
	}

	if deferred {
		return
	}
	// The first narrow token, by hand: the call it approved again is
	// answered from the kept result without running; other arguments
	// are refused.
	narrow := tap.all()[1]
	km, err := keys.KeyMaterial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw := func(id int, to string) *http.Response {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"send_email","arguments":{"to":%q}}}`, id, to)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", session.ID())
		if err := (&aauth.Signer{}).Sign(req, aauth.KeyMaterial{Signer: km.Signer, Key: aauth.JWT(narrow)}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp
	}
	resp := raw(90, "b@example.com")
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 403 || !strings.Contains(string(b), "parameters_mismatch") {
		t.Errorf("other arguments: %d %s", resp.StatusCode, b)
	}
	resp = raw(91, "a@example.com")
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), "send_email done for a@example.com") {
		t.Errorf("the same call again: %d %s", resp.StatusCode, b)
	}
	if got := s.ranCalls(); !slices.Equal(got, want) {
		t.Errorf("a replayed narrow token ran a call: %q", got)
	}
}

// grantOf reads the R3 grant of an auth token mockin issued.
func grantOf(t *testing.T, tok string) *r3.Grant {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	g, err := r3.ParseGrant(payload)
	if err != nil {
		t.Fatalf("mockin's R3 claims: %v", err)
	}
	return g
}
