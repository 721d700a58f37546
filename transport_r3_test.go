package aauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
	"github.com/aauthgo/aauth/wire"
)

// r3World is an agent provider and a person server from the kit, an MCP
// server protected by resource.Resource with R3 (tools search and fetch in
// one definition, send_email and delete_all in another), and a Transport.
type r3World struct {
	t     *testing.T
	clock *aauthtest.FakeClock
	ap    *aauthtest.AgentProvider
	ps    *aauthtest.PersonServer
	rs    *resource.Resource
	srv   *httptest.Server
	cache *sharedCache
	tr    *aauth.Transport

	mu     sync.Mutex
	ran    []string // "tool" or "tool per-call", per call the server ran
	events []aauth.Event
	budget string // AAuth-Budget the server sends, when set
	reason string // reason added to the resource's auth-token challenges, when set
	lw     *leakWatch
}

var (
	r3ReadDoc  = &r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "fetch").Operations, Display: &r3.Display{Summary: "Read your documents"}}
	r3WriteDoc = &r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("send_email", "delete_all").Operations, Display: &r3.Display{Summary: "Send email as you"}}
)

func newR3World(t *testing.T, configure func(rs *resource.Resource)) *r3World {
	t.Helper()
	w := &r3World{t: t, clock: aauthtest.NewFakeClock(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)), cache: &sharedCache{}}
	w.ps = aauthtest.NewPersonServer(aauthtest.PersonServerOptions{Now: w.clock.Now})
	t.Cleanup(w.ps.Close)
	w.ap = aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{Now: w.clock.Now, PersonServer: w.ps.URL})
	t.Cleanup(w.ap.Close)
	w.rs = &resource.Resource{
		Mode:              resource.AuthToken,
		AuthorizationPath: "/aauth/authorize",
		PollInterval:      -1,
		Now:               w.clock.Now,
		R3:                &resource.R3{Definitions: []*r3.Document{r3ReadDoc, r3WriteDoc}},
	}
	if configure != nil {
		configure(w.rs)
	}
	w.srv = httptest.NewServer(w.withReason(w.rs.Require(http.HandlerFunc(w.serveMCP))))
	t.Cleanup(w.srv.Close)
	w.rs.Issuer = w.srv.URL
	w.tr = &aauth.Transport{
		Keys: w.ap.AgentKeys("alice"), PersonServer: w.ps.URL, Clock: w.clock, Tokens: w.cache,
		OnEvent: func(ev aauth.Event) { w.mu.Lock(); w.events = append(w.events, ev); w.mu.Unlock() },
	}
	w.lw = newLeakWatch()
	w.lw.attach(w.tr)
	t.Cleanup(func() {
		// Narrow tokens never reach the cache: name every token issued.
		for _, it := range w.ps.Issued() {
			w.lw.secret("the "+string(it.Kind)+" token issued", it.Token)
		}
		w.lw.check(t)
	})
	return w
}

// serveMCP is a small MCP server: it answers each tools/call with a text
// naming the tool, and records the call.
func (w *r3World) serveMCP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := r3.ClassifyMCP(body)
	if err != nil || len(req.Messages) != 1 {
		http.Error(rw, "bad request", http.StatusBadRequest)
		return
	}
	c, _ := resource.FromContext(r.Context())
	m := req.Messages[0]
	if m.IsToolCall() {
		rec := m.Tool
		if c.PerCall {
			rec += " per-call"
		}
		w.mu.Lock()
		w.ran = append(w.ran, rec)
		w.mu.Unlock()
	}
	w.mu.Lock()
	budget := w.budget
	w.mu.Unlock()
	if budget != "" {
		rw.Header().Set("AAuth-Budget", budget)
	}
	rw.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(rw, `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"ran %s"}]}}`, m.ID, m.Tool)
}

// withReason adds w.reason, when set, to the auth-token requirements the
// resource answers with, as a resource refusing for its budget does
// (Budgets draft §The reason Parameter); the resource token is the
// resource's own.
func (w *r3World) withReason(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		reason := w.reason
		w.mu.Unlock()
		if reason != "" {
			rw = &reasonWriter{ResponseWriter: rw, reason: reason}
		}
		next.ServeHTTP(rw, r)
	})
}

type reasonWriter struct {
	http.ResponseWriter
	reason string
}

func (rw *reasonWriter) WriteHeader(status int) {
	h := rw.Header()
	if v := h.Get("AAuth-Requirement"); status == http.StatusUnauthorized && strings.HasPrefix(v, "requirement=auth-token;") {
		h.Set("AAuth-Requirement", v+"; reason="+rw.reason)
	}
	rw.ResponseWriter.WriteHeader(status)
}

// call sends a tools/call through the Transport.
func (w *r3World) call(tool, args string) (string, error) {
	w.t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, tool, args)
	req, err := http.NewRequest("POST", w.srv.URL+"/mcp", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	w.clock.Advance(time.Second) // the same call again is not a replay
	resp, err := w.tr.RoundTrip(req)
	w.lw.err(err)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}

func (w *r3World) exchanges() int { return len(w.ps.AuthTokenRequests()) }

func (w *r3World) ranCalls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.ran)
}

// heldGrant returns the R3 grant of the auth token the Transport keeps.
func (w *r3World) heldGrant() *r3.Grant {
	w.t.Helper()
	var grants []*r3.Grant
	for _, tok := range w.issuedAuthTokens() {
		if w.cached(tok) {
			grants = append(grants, grantOfToken(w.t, tok))
		}
	}
	if len(grants) != 1 {
		w.t.Fatalf("the cache holds %d of the auth tokens issued", len(grants))
	}
	return grants[0]
}

func (w *r3World) issuedAuthTokens() []string {
	var out []string
	for _, it := range w.ps.Issued() {
		if it.Kind == aauthtest.TokenAuth {
			out = append(out, it.Token)
		}
	}
	return out
}

// cached reports whether the Transport's cache holds tok.
func (w *r3World) cached(tok string) bool { return slices.Contains(w.cache.values(), tok) }

func grantOfToken(t *testing.T, tok string) *r3.Grant {
	t.Helper()
	g, err := r3.ParseGrant(payloadOf(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// payloadOf returns a JWT's payload, unverified.
func payloadOf(t *testing.T, tok string) []byte {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// TestTransportR3PerCall: a granted tool is served with the held token; a
// per-call tool is challenged, and its narrow token is used for that call
// once and never kept; a tool outside the grant is a typed error.
func TestTransportR3PerCall(t *testing.T) {
	w := newR3World(t, func(rs *resource.Resource) { rs.PersonTokenJTI = true })
	w.ps.SetR3Policy(aauthtest.GrantTools([]string{"search", "fetch"}, []string{"send_email"}))

	if _, err := w.call("search", `{"q":"x"}`); err != nil {
		t.Fatal(err)
	}
	if n := w.exchanges(); n != 1 {
		t.Fatalf("%d exchanges for the first call", n)
	}
	if f := w.ps.R3Fetches(); len(f) != 1 || f[0].Proposal || f[0].Err != nil {
		t.Fatalf("R3 fetches %+v", f)
	}
	if _, err := w.call("fetch", `{"id":"7"}`); err != nil {
		t.Fatal(err)
	}
	if n := w.exchanges(); n != 1 {
		t.Errorf("fetch, granted by the held token, cost an exchange (%d)", n)
	}
	class := w.heldGrant()
	if !class.Granted.CoversTool("fetch") || class.PerCall == nil || !class.PerCall.CoversTool("send_email") {
		t.Fatalf("held grant %+v", class)
	}

	// send_email twice, with other arguments: a narrow token each time,
	// presented once, never cached.
	for i, to := range []string{"a@example.com", "b@example.com"} {
		out, err := w.call("send_email", `{"to":"`+to+`"}`)
		if err != nil || !strings.Contains(out, "ran send_email") {
			t.Fatalf("send_email: %q, %v", out, err)
		}
		if n := w.exchanges(); n != 2+i {
			t.Errorf("after send_email %d: %d exchanges", i+1, n)
		}
	}
	issued := w.issuedAuthTokens()
	if len(issued) != 3 {
		t.Fatalf("%d auth tokens issued", len(issued))
	}
	for _, narrow := range issued[1:] {
		g := grantOfToken(t, narrow)
		if !strings.Contains(g.URI, "/aauth/r3/call/") || g.PerCall != nil || !g.Granted.CoversTool("send_email") {
			t.Errorf("narrow token grant %+v", g)
		}
		if w.cached(narrow) {
			t.Error("a narrow token is in the cache")
		}
	}
	if !w.cached(issued[0]) {
		t.Error("the class token is no longer cached")
	}
	if got := w.ps.R3Fetches(); len(got) != 3 || !got[1].Proposal || !got[2].Proposal {
		t.Errorf("fetches %+v", got)
	}

	// Granted again: no exchange.
	if _, err := w.call("search", `{"q":"y"}`); err != nil {
		t.Fatal(err)
	}
	if n := w.exchanges(); n != 3 {
		t.Errorf("search after per-call calls: %d exchanges", n)
	}

	// Outside the grant: a typed error, and nothing ran.
	_, err := w.call("delete_all", `{}`)
	var oe *aauth.OperationError
	if !errors.Is(err, aauth.ErrOperationNotGranted) || !errors.As(err, &oe) || oe.StatusCode != 403 ||
		len(oe.Operations) != 1 || oe.Operations[0].Tool != "delete_all" {
		t.Fatalf("delete_all: %v (%+v)", err, oe)
	}
	want := []string{"search", "fetch", "send_email per-call", "send_email per-call", "search"}
	if got := w.ranCalls(); !slices.Equal(got, want) {
		t.Errorf("the server ran %q, want %q", got, want)
	}
}

// A per-call invocation the person denies ends in ErrPerCallDenied (and
// ErrDenied); nothing runs and the class token stays.
func TestTransportR3PerCallDenied(t *testing.T) {
	w := newR3World(t, nil)
	p := aauthtest.GrantTools([]string{"search"}, []string{"send_email"})
	p.DenyPerCall = true
	w.ps.SetR3Policy(p)
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	_, err := w.call("send_email", `{"to":"a"}`)
	var oe *aauth.OperationError
	if !errors.Is(err, aauth.ErrPerCallDenied) || !errors.Is(err, aauth.ErrDenied) || !errors.As(err, &oe) || oe.Operations[0].Tool != "send_email" {
		t.Fatalf("err %v", err)
	}
	if got := w.ranCalls(); !slices.Equal(got, []string{"search"}) {
		t.Errorf("ran %q", got)
	}
	if _, err := w.call("search", `{}`); err != nil || w.exchanges() != 2 {
		t.Errorf("search after the denial: %v, %d exchanges", err, w.exchanges())
	}
}

// A per-call challenge delivered as a 202 (the resource holds the call):
// the narrow token polls the pending URL, and is not kept either.
func TestTransportR3PerCallDeferred(t *testing.T) {
	w := newR3World(t, func(rs *resource.Resource) { rs.R3.PerCallDeferred = true })
	w.ps.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	out, err := w.call("send_email", `{"to":"a"}`)
	if err != nil || !strings.Contains(out, "ran send_email") {
		t.Fatalf("send_email: %q, %v", out, err)
	}
	issued := w.issuedAuthTokens()
	if len(issued) != 2 || w.cached(issued[1]) || !w.cached(issued[0]) {
		t.Errorf("issued %d, narrow cached %v", len(issued), len(issued) == 2 && w.cached(issued[1]))
	}
	if got := w.ranCalls(); !slices.Equal(got, []string{"search", "send_email per-call"}) {
		t.Errorf("ran %q", got)
	}
}

// Operations declared for the origin are authorized before the first
// call: the first call already presents an auth token whose document
// covers exactly those tools.
func TestTransportR3AuthorizeFirst(t *testing.T) {
	w := newR3World(t, nil)
	w.tr.Operations = map[string]r3.OperationSet{w.srv.URL: r3.Tools("search", "send_email")}
	w.ps.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	w.mu.Lock()
	for _, ev := range w.events {
		if ev.Step == aauth.StepSigned && strings.HasSuffix(ev.URL, "/mcp") {
			kinds = append(kinds, ev.Credential)
		}
	}
	w.mu.Unlock()
	if !slices.Equal(kinds, []string{"auth"}) {
		t.Errorf("calls presented %q, want one with the auth token", kinds)
	}
	md, err := w.tr.ResourceMetadata(context.Background(), w.srv.URL+"/mcp")
	if err != nil || md.AccessMode != r3.AccessAuthToken || md.Vocabularies[r3.VocabularyMCP] != w.srv.URL || md.AuthorizationEndpoint != w.srv.URL+"/aauth/authorize" {
		t.Errorf("ResourceMetadata = %+v, %v", md, err)
	}
	f := w.ps.R3Fetches()
	if len(f) != 1 {
		t.Fatalf("fetches %+v", f)
	}
	doc, err := r3.Verify(f[0].Bytes, f[0].S256)
	if err != nil || len(doc.Operations) != 2 || !doc.OperationSet().CoversTool("send_email") || doc.OperationSet().CoversTool("fetch") {
		t.Errorf("the document authorized first: %v, %+v", err, doc)
	}
	// A tool not declared is refused, and Authorize asks for more.
	if _, err := w.call("fetch", `{}`); !errors.Is(err, aauth.ErrOperationNotGranted) {
		t.Fatalf("fetch: %v", err)
	}
	w.ps.SetR3Policy(aauthtest.GrantAll())
	if err := w.tr.Authorize(context.Background(), w.srv.URL, r3.Tools("search", "fetch")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.call("fetch", `{}`); err != nil {
		t.Fatal(err)
	}
}

// A batch mixing granted and per-call tools is refused as a whole.
func TestTransportR3Batch(t *testing.T) {
	w := newR3World(t, nil)
	w.ps.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	body := `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"a"}}}]`
	req, _ := http.NewRequest("POST", w.srv.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	_, err := w.tr.RoundTrip(req)
	var oe *aauth.OperationError
	if !errors.Is(err, r3.ErrPerCallBatch) || !errors.As(err, &oe) || len(oe.Operations) != 2 {
		t.Fatalf("err %v", err)
	}
	if w.exchanges() != 1 {
		t.Errorf("%d exchanges", w.exchanges())
	}
}

// What a resource reports in AAuth-Budget is in the events and behind
// Transport.Budget; a value that is malformed, or in another unit or
// scale than the auth token's budget claim, is ignored (Budgets draft
// §Denomination Conflict): neither kept nor put in an event.
func TestTransportBudget(t *testing.T) {
	w := newR3World(t, nil)
	// The person server grants 5 USD in millionths: the claim the
	// header's unit and decimals are checked against.
	w.ps.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
		if tr.Kind != aauthtest.TokenAuth {
			return aauthtest.Approve()
		}
		return aauthtest.Approve().Claims(map[string]any{"budget": map[string]any{"amount": 5000000, "unit": "USD", "decimals": 6}})
	})
	w.mu.Lock()
	w.budget = `remaining=1568800, cost=221200, unit="USD", decimals=6`
	w.mu.Unlock()
	if _, ok := w.tr.Budget(w.srv.URL); ok {
		t.Error("a budget before any call")
	}
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	b, ok := w.tr.Budget(w.srv.URL + "/mcp")
	if !ok || b.Remaining != 1568800 || b.Cost != 221200 || b.Unit != "USD" || b.Decimals != 6 {
		t.Fatalf("Budget = %+v, %v", b, ok)
	}
	w.mu.Lock()
	var seen *r3.Budget
	for _, ev := range w.events {
		if ev.Budget != nil {
			seen = ev.Budget
		}
	}
	w.budget = `remaining=-5`
	w.mu.Unlock()
	if seen == nil || seen.Remaining != 1568800 {
		t.Errorf("no event carried the budget: %+v", seen)
	}
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	if b, _ := w.tr.Budget(w.srv.URL); b.Remaining != 1568800 {
		t.Errorf("a malformed AAuth-Budget replaced the last one: %+v", b)
	}
	if claim := issuedBudget(t, w); claim == nil || claim.Unit != "USD" || claim.Decimals != 6 {
		t.Fatalf("the auth token presented carries budget %+v", claim)
	}

	// A header naming another unit or scale than the claim is not acted
	// on: Budget keeps the last consistent report, no event carries it,
	// and an error event says why.
	for _, conflict := range []string{
		`remaining=1000, cost=5, unit="EUR", decimals=6`,
		`remaining=1000, cost=5, unit="USD", decimals=2`,
		`remaining=1000, cost=5, unit="usd", decimals=6`,
	} {
		w.mu.Lock()
		w.budget, w.events = conflict, nil
		w.mu.Unlock()
		if _, err := w.call("search", `{}`); err != nil {
			t.Fatal(err)
		}
		if b, _ := w.tr.Budget(w.srv.URL); b.Remaining != 1568800 || b.Unit != "USD" || b.Decimals != 6 {
			t.Errorf("%s: Budget = %+v, want the last consistent report", conflict, b)
		}
		w.mu.Lock()
		ignored := false
		for _, ev := range w.events {
			if ev.Budget != nil {
				t.Errorf("%s: an event carried %+v", conflict, *ev.Budget)
			}
			ignored = ignored || (ev.Step == aauth.StepError && strings.Contains(ev.Detail, "unit or decimals"))
		}
		w.mu.Unlock()
		if !ignored {
			t.Errorf("%s: no event says the header was ignored", conflict)
		}
	}

	// Without unit and decimals the header does not conflict, and is kept.
	w.mu.Lock()
	w.budget = `remaining=900000, cost=668800`
	w.mu.Unlock()
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	if b, _ := w.tr.Budget(w.srv.URL); b.Remaining != 900000 || b.Has(r3.BudgetUnit) {
		t.Errorf("Budget = %+v after a header without unit", b)
	}
	if n := w.exchanges(); n != 1 {
		t.Errorf("%d exchanges: a budget report is no challenge", n)
	}
}

// issuedBudget returns the budget claim of the one auth token the person
// server issued.
func issuedBudget(t *testing.T, w *r3World) *r3.BudgetClaim {
	t.Helper()
	toks := w.issuedAuthTokens()
	if len(toks) != 1 {
		t.Fatalf("%d auth tokens issued", len(toks))
	}
	c, err := r3.ParseBudgetClaim(payloadOf(t, toks[0]))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A resource refusing an auth token whose budget is spent answers
// requirement=auth-token with reason=budget-exhausted (Budgets draft
// §The reason Parameter): the caller's events carry the reason, and the
// Transport answers it as any step-up, exchanging the new resource token
// presenting the spent auth token, and sends the call again.
func TestTransportBudgetExhausted(t *testing.T) {
	var (
		mu    sync.Mutex
		spent string // the jti of the auth token whose budget is spent
	)
	w := newR3World(t, func(rs *resource.Resource) {
		rs.R3 = nil // a plain auth-token resource: the refusal is the budget's
		rs.Policy = func(*http.Request, *resource.Caller) resource.Need {
			return resource.Need{Mode: resource.AuthToken, Authorized: func(c *resource.Caller) bool {
				mu.Lock()
				defer mu.Unlock()
				return c.JTI != spent
			}}
		}
	})
	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	first := w.issuedAuthTokens()
	if len(first) != 1 {
		t.Fatalf("%d auth tokens issued", len(first))
	}
	jti, _ := claimsOfToken(t, first[0])["jti"].(string)
	mu.Lock()
	spent = jti
	mu.Unlock()
	w.mu.Lock()
	w.reason, w.events = "budget-exhausted", nil
	w.mu.Unlock()

	if _, err := w.call("search", `{}`); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	var reasons []string
	for _, ev := range w.events {
		if ev.Step == aauth.StepChallenge && ev.Status == http.StatusUnauthorized {
			reasons = append(reasons, ev.Reason)
		}
		if ev.Step != aauth.StepChallenge && ev.Reason != "" {
			t.Errorf("a %s event carries the reason", ev.Step)
		}
	}
	w.mu.Unlock()
	if !slices.Equal(reasons, []string{"budget-exhausted"}) {
		t.Errorf("challenge events' reasons %q", reasons)
	}
	trs := w.ps.TokenRequests()
	last := trs[len(trs)-1]
	if w.exchanges() != 2 || last.Kind != aauthtest.TokenAuth || last.PresentedToken != first[0] {
		t.Errorf("%d exchanges; the last presented a %s token (the spent one: %v)", w.exchanges(), last.PresentedKind, last.PresentedToken == first[0])
	}
	if ran := w.ranCalls(); len(ran) != 2 {
		t.Errorf("the server ran %q", ran)
	}
	if toks := w.issuedAuthTokens(); len(toks) != 2 || !w.cached(toks[1]) || w.cached(toks[0]) {
		t.Error("the cache does not hold the new auth token alone")
	}
}

// The Transport understands budgets, so in the current profile it
// declares budget (Budgets draft §Capability Negotiation): after the
// caller's capabilities, once, on resource requests and in token
// requests. The seed generation, older than budgets, declares only what
// the caller lists.
func TestTransportBudgetCapability(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile aauth.Profile
		caps    []aauth.Capability
		want    string
	}{
		{"current, none listed", aauth.ProfileCurrent, nil, "budget"},
		{"current, listed", aauth.ProfileCurrent, []aauth.Capability{aauth.CapabilityInteraction, aauth.CapabilityClarification}, "interaction, clarification, budget"},
		{"current, budget listed", aauth.ProfileCurrent, []aauth.Capability{wire.CapabilityBudget, aauth.CapabilityInteraction}, "budget, interaction"},
		{"seed, none listed", aauth.ProfileSeed, nil, ""},
		{"seed, listed", aauth.ProfileSeed, []aauth.Capability{aauth.CapabilityInteraction}, "interaction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.profile, aauthtest.WorldOptions{})
			w.tr.Capabilities = tc.caps
			for range 2 { // the second call is the warm path
				if resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
			}
			res := agentRequests(w.Resource.Requests())
			if len(res) < 3 {
				t.Fatalf("%d resource requests", len(res))
			}
			for _, r := range res {
				if r.Presented != aauthtest.TokenAgent && tc.profile == aauth.ProfileSeed {
					continue // the seed sends capabilities with the agent token only
				}
				if got := r.Header.Get("AAuth-Capabilities"); got != tc.want {
					t.Errorf("%s presenting %s: AAuth-Capabilities %q, want %q", r.Path, r.Presented, got, tc.want)
				}
			}
			if tc.profile != aauth.ProfileCurrent {
				return
			}
			for _, tr := range w.PS.TokenRequests() {
				if got := strings.Join(tr.Capabilities, ", "); got != tc.want {
					t.Errorf("%s token request capabilities %q, want %q", tr.Kind, got, tc.want)
				}
			}
		})
	}
}
