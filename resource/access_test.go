package resource

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
)

// TestSessionGrantedAtOnce: with no Approve, a verified agent gets a
// session token, which later requests present in Authorization: AAuth,
// covered by the signature.
func TestSessionGrantedAtOnce(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Mode = SessionToken })
	at := w.agentToken(nil)
	resp := w.do("GET", "/data", "", at)
	wantStatus(t, resp, http.StatusOK, "")
	tok := resp.Header.Get("AAuth-Access")
	if tok == "" || !isToken68(tok) {
		t.Fatalf("AAuth-Access %q", tok)
	}

	req := w.request("GET", "/data", "")
	req.Header.Set("Authorization", "AAuth "+tok)
	w.agent.sign(t, req, at, w.clock.Now())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	if resp.Header.Get("AAuth-Access") != "" {
		t.Error("a valid session got a new token")
	}
	c := w.lastCaller()
	if c.Session == nil || c.Session.Thumbprint != w.agent.thumbprint() || c.Session.Agent != "aauth:bot@agent.example" {
		t.Errorf("session %+v", c.Session)
	}

	// Not covering authorization is refused: the token would be a bearer
	// token otherwise.
	req = w.request("GET", "/data", "")
	w.agent.sign(t, req, at, w.clock.Now())
	req.Header.Set("Authorization", "AAuth "+tok)
	resp = w.send(req)
	wantStatus(t, resp, http.StatusUnauthorized, "invalid_input")
	if !strings.Contains(resp.Header.Get("Signature-Error"), `"authorization"`) {
		t.Errorf("Signature-Error %q does not ask for authorization", resp.Header.Get("Signature-Error"))
	}

	// Another key with the same session token gets no session.
	other := newAgent()
	w2tok := w.ap.mint(typAgent, map[string]any{"sub": "aauth:other@agent.example", "cnf": other.cnf()})
	req = w.request("GET", "/data", "")
	req.Header.Set("Authorization", "AAuth "+tok)
	other.sign(t, req, w2tok, w.clock.Now())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	if c := w.lastCaller(); c.Session == nil || c.Session.Agent != "aauth:other@agent.example" || resp.Header.Get("AAuth-Access") == tok {
		t.Errorf("a session token was honoured for another key: %+v", c.Session)
	}
}

// TestSessionInteraction runs the resource's own approval: 202
// requirement=interaction, polls while the person has not decided, then
// the held call's answer with a session token.
func TestSessionInteraction(t *testing.T) {
	var mu sync.Mutex
	decided := map[string]Decision{}
	var codes []string
	w := newWorld(t, func(rs *Resource) {
		rs.Mode = SessionToken
		rs.PollInterval = -1
		rs.Approve = func(ctx context.Context, req ApprovalRequest) Approval {
			mu.Lock()
			defer mu.Unlock()
			if req.PendingID == "" {
				code := NewInteractionCode()
				codes = append(codes, code)
				return Approval{InteractionURL: "https://resource.example/consent", InteractionCode: code}
			}
			return Approval{Decision: decided[req.InteractionCode], Scope: "files", Data: map[string]string{"account": "a1"}}
		}
	})
	at := w.agentToken(nil)
	resp := w.do("POST", "/files", `{"name":"x"}`, at)
	wantStatus(t, resp, http.StatusAccepted, "")
	if got := resp.Header.Get("AAuth-Requirement"); !strings.HasPrefix(got, `requirement=interaction; url="https://resource.example/consent"; code="`) {
		t.Fatalf("AAuth-Requirement %q", got)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, w.rs.Issuer+"/aauth/pending/") || resp.Header.Get("Retry-After") != "0" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("202 headers %v", resp.Header)
	}
	poll := func(a *agent, token string) *http.Response {
		req, _ := http.NewRequest("GET", loc, nil)
		a.sign(t, req, token, w.clock.Now())
		return w.send(req)
	}
	wantStatus(t, poll(w.agent, at), http.StatusAccepted, "")

	// Another agent cannot poll it.
	other := newAgent()
	otherTok := w.ap.mint(typAgent, map[string]any{"sub": "aauth:x@agent.example", "cnf": other.cnf()})
	wantStatus(t, poll(other, otherTok), http.StatusNotFound, "")

	mu.Lock()
	decided[codes[0]] = Granted
	mu.Unlock()
	resp = poll(w.agent, at)
	wantStatus(t, resp, http.StatusOK, "")
	tok := resp.Header.Get("AAuth-Access")
	if tok == "" || !strings.Contains(bodyOf(resp), `"body":12`) {
		t.Fatalf("held call answer: token %q body %s", tok, bodyOf(resp))
	}
	// The answer is kept for a lost response; the call ran once.
	resp2 := poll(w.agent, at)
	wantStatus(t, resp2, http.StatusOK, "")
	if resp2.Header.Get("AAuth-Access") != tok || len(w.callers) != 1 {
		t.Errorf("second poll: token %q, %d calls", resp2.Header.Get("AAuth-Access"), len(w.callers))
	}
	// The session works.
	req := w.request("GET", "/files", "")
	req.Header.Set("Authorization", "AAuth "+tok)
	w.agent.sign(t, req, at, w.clock.Now())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	if c := w.lastCaller(); c.Session == nil || c.Session.Scope != "files" || c.Session.Data["account"] != "a1" {
		t.Errorf("session %+v", c.Session)
	}
}

func TestSessionDenied(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.Mode = SessionToken
		rs.Approve = func(context.Context, ApprovalRequest) Approval { return Approval{Decision: Denied} }
	})
	resp := w.do("GET", "/data", "", w.agentToken(nil))
	wantStatus(t, resp, http.StatusForbidden, "")
	if resp.Header.Get("Accept-Signature-Scheme") != "" || resp.Header.Get("AAuth-Access") != "" {
		t.Errorf("403 headers %v", resp.Header)
	}
}

// TestDeferredAuthToken: Need.Defer delivers requirement=auth-token as a
// 202 holding the call; the first poll with a fitting auth token runs it,
// a repeat of that token gets the same answer, another token gets 410.
func TestDeferredAuthToken(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.PollInterval = -1
		rs.Policy = func(r *http.Request, c *Caller) Need {
			return Need{Mode: AuthToken, Scope: "write", Defer: true}
		}
	})
	resp := w.do("POST", "/jobs", `{"n":1}`, w.personToken(nil))
	wantStatus(t, resp, http.StatusAccepted, "")
	rt := resourceTokenOf(t, resp)
	verifyResourceToken(t, w, rt)
	loc := resp.Header.Get("Location")
	poll := func(token string) *http.Response {
		req, _ := http.NewRequest("GET", loc, nil)
		w.agent.sign(t, req, token, w.clock.Now())
		return w.send(req)
	}
	// Polling with the person token again: still waiting.
	resp = poll(w.personToken(nil))
	wantStatus(t, resp, http.StatusAccepted, "")
	resourceTokenOf(t, resp)
	// An auth token without the scope: still waiting.
	wantStatus(t, poll(w.authToken("read", nil)), http.StatusAccepted, "")
	if len(w.callers) != 0 {
		t.Fatal("the call ran before an auth token came")
	}
	at := w.authToken("write", nil)
	resp = poll(at)
	wantStatus(t, resp, http.StatusOK, "")
	if !strings.Contains(bodyOf(resp), `"body":7`) || len(w.callers) != 1 || w.lastCaller().Kind != KindAuth {
		t.Fatalf("held call: %s, %d calls", bodyOf(resp), len(w.callers))
	}
	resp = poll(at)
	wantStatus(t, resp, http.StatusOK, "")
	if len(w.callers) != 1 {
		t.Error("the call ran twice")
	}
	wantStatus(t, poll(w.authToken("write", nil)), http.StatusGone, "")
}

// TestDeferredResourceTokenRefreshed: a held call whose resource token
// nears its expiry gets a fresh one on the next poll.
func TestDeferredResourceTokenRefreshed(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.PollInterval = -1
		rs.Policy = func(*http.Request, *Caller) Need { return Need{Mode: AuthToken, Scope: "write", Defer: true} }
	})
	pt := w.personToken(nil)
	resp := w.do("GET", "/jobs", "", pt)
	rt1 := resourceTokenOf(t, resp)
	loc := resp.Header.Get("Location")
	w.clock.Advance(4*time.Minute + 30*time.Second)
	req, _ := http.NewRequest("GET", loc, nil)
	w.agent.sign(t, req, w.personToken(nil), w.clock.Now())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusAccepted, "")
	rt2 := resourceTokenOf(t, resp)
	if rt2 == rt1 {
		t.Fatal("the resource token was not refreshed")
	}
	if c := verifyResourceToken(t, w, rt2); c["presented_jti"] != payloadOf(t, pt)["jti"] {
		t.Errorf("refreshed token names %v", c["presented_jti"])
	}
}

// TestDefer: a handler defers long work; the agent polls with the same key
// (Prefer: wait holds the poll until the work is done) and gets its answer.
func TestDefer(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int32
	w := newWorld(t, func(rs *Resource) { rs.PollInterval = -1 })
	w.srv.Config.Handler = w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		err := Defer(rw, r, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			<-release
			runs.Add(1)
			c, _ := FromContext(r.Context())
			rw.Header().Set("X-Work", "done")
			rw.WriteHeader(http.StatusCreated)
			fmt.Fprintf(rw, `{"agent":%q,"ctx":%v}`, c.Agent, r.Context().Err())
		}))
		if err != nil {
			t.Error(err)
		}
	}))
	at := w.agentToken(nil)
	resp := w.do("POST", "/long", `{}`, at)
	wantStatus(t, resp, http.StatusAccepted, "")
	loc := resp.Header.Get("Location")
	poll := func(prefer string) *http.Response {
		req, _ := http.NewRequest("GET", loc, nil)
		if prefer != "" {
			req.Header.Set("Prefer", prefer)
		}
		w.agent.sign(t, req, at, w.clock.Now())
		return w.send(req)
	}
	wantStatus(t, poll(""), http.StatusAccepted, "")
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	resp = poll("wait=10")
	wantStatus(t, resp, http.StatusCreated, "")
	if resp.Header.Get("X-Work") != "done" || bodyOf(resp) != `{"agent":"aauth:bot@agent.example","ctx":<nil>}` {
		t.Errorf("work answer %v %s", resp.Header, bodyOf(resp))
	}
	wantStatus(t, poll(""), http.StatusCreated, "")
	if runs.Load() != 1 {
		t.Errorf("work ran %d times", runs.Load())
	}
}

func TestDeferCancel(t *testing.T) {
	cancelled := make(chan struct{})
	w := newWorld(t, func(rs *Resource) { rs.PollInterval = -1 })
	w.srv.Config.Handler = w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_ = Defer(rw, r, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			close(cancelled)
		}))
	}))
	at := w.agentToken(nil)
	loc := w.do("POST", "/long", `{}`, at).Header.Get("Location")
	req, _ := http.NewRequest("DELETE", loc, nil)
	w.agent.sign(t, req, at, w.clock.Now())
	wantStatus(t, w.send(req), http.StatusNoContent, "")
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the work's context was not cancelled")
	}
	req, _ = http.NewRequest("GET", loc, nil)
	w.agent.sign(t, req, at, w.clock.Now())
	wantStatus(t, w.send(req), http.StatusNotFound, "")
}

func TestDeferOutsideRequire(t *testing.T) {
	req, _ := http.NewRequest("GET", "/", nil)
	if err := Defer(nil, req, http.NotFoundHandler()); err != ErrNotProtected {
		t.Errorf("Defer = %v", err)
	}
}

func TestDeny(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.Policy = func(r *http.Request, c *Caller) Need { return Need{Deny: c.Agent == "aauth:bot@agent.example"} }
	})
	resp := w.do("GET", "/data", "", w.agentToken(nil))
	wantStatus(t, resp, http.StatusForbidden, "")
}

// TestDeferSetInteraction: deferred work that waits for a person makes
// its polls say requirement=interaction (interaction chaining).
func TestDeferSetInteraction(t *testing.T) {
	asked := make(chan struct{})
	release := make(chan struct{})
	w := newWorld(t, func(rs *Resource) { rs.PollInterval = -1 })
	w.srv.Config.Handler = w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := SetInteraction(r.Context(), "https://x.example/i", "C"); err != ErrNotDeferred {
			t.Errorf("SetInteraction outside Defer = %v", err)
		}
		_ = Defer(rw, r, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if err := SetInteraction(r.Context(), "https://x.example/i?q=1", "C"); err == nil {
				t.Error("SetInteraction accepted a URL with a query")
			}
			if err := SetInteraction(r.Context(), "https://resource.example/interact", "ABCD-EFGH"); err != nil {
				t.Error(err)
			}
			close(asked)
			<-release
			_ = SetInteraction(r.Context(), "", "")
			rw.WriteHeader(http.StatusNoContent)
		}))
	}))
	at := w.agentToken(nil)
	loc := w.do("POST", "/chain", `{}`, at).Header.Get("Location")
	<-asked
	req, _ := http.NewRequest("GET", loc, nil)
	w.agent.sign(t, req, at, w.clock.Now())
	resp := w.send(req)
	wantStatus(t, resp, http.StatusAccepted, "")
	if got := resp.Header.Get("AAuth-Requirement"); got != `requirement=interaction; url="https://resource.example/interact"; code="ABCD-EFGH"` {
		t.Errorf("AAuth-Requirement %q", got)
	}
	close(release)
	req, _ = http.NewRequest("GET", loc, nil)
	req.Header.Set("Prefer", "wait=5")
	w.agent.sign(t, req, at, w.clock.Now())
	wantStatus(t, w.send(req), http.StatusNoContent, "")
}

// TestNeedComponents: a Policy can require more covered components for
// one request (an R3 tool call wanting its body covered, say).
func TestNeedComponents(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.OptionalContentDigest = true
		rs.Policy = func(r *http.Request, c *Caller) Need {
			body, _ := io.ReadAll(r.Body)
			if strings.Contains(string(body), "tools/call") {
				return Need{Components: []string{"content-digest", "X-Tool"}}
			}
			return Need{}
		}
	})
	at := w.agentToken(nil)
	req := w.request("POST", "/mcp", `{"method":"tools/list"}`)
	handSign(w, req, []string{"@method", "@authority", "@path", "signature-key"}, at, w.clock.Now().Unix())
	resp := w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	if !strings.Contains(bodyOf(resp), `"body":23`) {
		t.Errorf("the handler did not get the body the Policy read: %s", bodyOf(resp))
	}
	req = w.request("POST", "/mcp/call", `{"method":"tools/call"}`)
	handSign(w, req, []string{"@method", "@authority", "@path", "signature-key"}, at, w.clock.Now().Unix())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusUnauthorized, "invalid_input")
	if got := resp.Header.Get("Signature-Error"); got != `error=invalid_input, required_input=("@method" "@authority" "@path" "signature-key" "content-digest" "x-tool")` {
		t.Errorf("Signature-Error %q", got)
	}
}

// TestIssuerKey: a key configured out of band is used without fetching.
func TestIssuerKey(t *testing.T) {
	var w *world
	w = newWorld(t, func(rs *Resource) {
		rs.IssuerKey = func(_ context.Context, iss, kid string) (crypto.PublicKey, bool) {
			if iss == w.ap.url && kid == w.ap.kid {
				return w.ap.key.Public(), true
			}
			return nil, false
		}
	})
	wantStatus(t, w.do("GET", "/data", "", w.agentToken(nil)), http.StatusOK, "")
	if w.ap.metaFetches.Load() != 0 {
		t.Error("the issuer's documents were fetched")
	}
	wantStatus(t, w.do("GET", "/data", "", w.personToken(nil)), http.StatusOK, "")
	if w.ps.metaFetches.Load() != 1 {
		t.Error("an issuer without a configured key was not fetched")
	}
}

func TestRotateSessions(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Mode, rs.RotateSessions = SessionToken, true })
	at := w.agentToken(nil)
	tok := w.do("GET", "/data", "", at).Header.Get("AAuth-Access")
	req := w.request("GET", "/data", "")
	req.Header.Set("Authorization", "AAuth "+tok)
	w.agent.sign(t, req, at, w.clock.Now())
	resp := w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	next := resp.Header.Get("AAuth-Access")
	if next == "" || next == tok {
		t.Fatalf("no new session token: %q", next)
	}
	c, _ := w.rs.config()
	if s, _ := c.sessions.Get(context.Background(), tok); s != nil {
		t.Error("the old session token is still held")
	}
}

func TestUnknownModeFailsClosed(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.Policy = func(*http.Request, *Caller) Need { return Need{Mode: "agent_token"} }
	})
	wantStatus(t, w.do("GET", "/data", "", w.agentToken(nil)), http.StatusInternalServerError, "")
	if len(w.callers) != 0 {
		t.Error("served")
	}
}

// TestHWKScheme: with hwk accepted, Verify returns the key alone and
// Require asks for an agent token.
func TestHWKScheme(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Schemes = []string{"jwt", "hwk"} })
	req := w.request("GET", "/data", "")
	s := &aauth.Signer{Now: w.clock.Now}
	if err := s.Sign(req, aauth.KeyMaterial{Signer: w.agent.key, Key: aauth.HWK()}); err != nil {
		t.Fatal(err)
	}
	resp := w.send(req)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	if resp.Header.Get("AAuth-Requirement") != "requirement=agent-token" {
		t.Errorf("AAuth-Requirement %q", resp.Header.Get("AAuth-Requirement"))
	}
	req2 := w.request("GET", "/data", "")
	if err := s.Sign(req2, aauth.KeyMaterial{Signer: w.agent.key, Key: aauth.HWK()}); err != nil {
		t.Fatal(err)
	}
	req2.Host = req2.URL.Host
	c, err := w.rs.Verify(req2)
	if err != nil || c.Kind != "" || c.Thumbprint != w.agent.thumbprint() {
		t.Fatalf("Verify: %+v, %v", c, err)
	}
}

// TestPolicyRefuse: a Policy's own refusal, never a 401 and never with
// Signature-Error.
func TestPolicyRefuse(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.Policy = func(r *http.Request, c *Caller) Need {
			switch r.URL.Path {
			case "/a":
				return Need{Refuse: &Error{Status: http.StatusForbidden, Code: "operation_not_granted", Detail: "not this tool"}}
			case "/b":
				return Need{Refuse: &Error{Status: http.StatusUnauthorized, Code: "x"}}
			}
			return Need{Refuse: &Error{Status: http.StatusConflict, Code: "per_call_consumed"}}
		}
	})
	at := w.agentToken(nil)
	for path, want := range map[string]int{"/a": 403, "/b": 403, "/c": 409} {
		resp := w.do("GET", path, "", at)
		wantStatus(t, resp, want, "")
	}
	if !strings.Contains(bodyOf(w.do("GET", "/a", "", at)), `"error":"operation_not_granted"`) {
		t.Error("the refusal's code is not in the body")
	}
}

// TestResourceTokenMethod: a resource token minted outside the 401 path,
// with extra claims.
func TestResourceTokenMethod(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.MetadataMembers = map[string]any{"r3_vocabularies": map[string]string{"urn:aauth:vocabulary:mcp": "https://r.example/mcp"}}
	})
	wantStatus(t, w.do("GET", "/data", "", w.personToken(nil)), http.StatusOK, "")
	c := w.lastCaller()
	rt, exp, err := w.rs.ResourceToken(c, Need{Scope: "s", ResourceTokenClaims: map[string]any{"r3_uri": "https://r.example/r3/1", "r3_s256": "abc"}})
	if err != nil || exp.IsZero() {
		t.Fatal(err)
	}
	claims := verifyResourceToken(t, w, rt)
	if claims["r3_uri"] != "https://r.example/r3/1" || claims["presented_jti"] != c.JTI || claims["scope"] != "s" {
		t.Errorf("claims %v", claims)
	}
	if _, _, err := w.rs.ResourceToken(c, Need{ResourceTokenClaims: map[string]any{"aud": "x"}}); err == nil {
		t.Error("aud replaced")
	}
	var md map[string]any
	getJSON(t, w.srv.URL+"/.well-known/aauth-resource.json", &md)
	if _, ok := md["r3_vocabularies"]; !ok {
		t.Error("no r3_vocabularies in the metadata")
	}
	if _, err := (&Resource{Issuer: "https://r.example", MetadataMembers: map[string]any{"issuer": "x"}}).config(); err == nil {
		t.Error("MetadataMembers replaced issuer")
	}
}
