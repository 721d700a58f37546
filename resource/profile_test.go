package resource

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// seedToken mints a token the seed generation's way: alg EdDSA, no alg in
// cnf.jwk.
func seedToken(w *world, is *issuer, typ string, claims map[string]any) string {
	now := w.clock.Now()
	c := map[string]any{"iss": is.url, "jti": randomID(8), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": cnfWith(w.agent, "alg", nil)}
	for k, v := range claims {
		c[k] = v
	}
	return handToken(map[string]any{"alg": "EdDSA", "typ": typ, "kid": is.kid}, c, is.signRaw)
}

// TestSeedProfile: the seed generation's flow, as @aauth/mcp-agent 0.8.1
// runs it: an agent token is asked for an auth token directly, with a
// resource token whose aud is the agent's person server and which names
// the agent; errors are {"error","error_description"}.
func TestSeedProfile(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Profile, rs.Mode, rs.Scope = profileSeed, AuthToken, "read" })
	at := seedToken(w, w.ap, typAgent, map[string]any{"dwk": dwkAgent, "sub": "aauth:bot@agent.example", "ps": w.ps.url})
	req := w.request("GET", "/data", "")
	w.agent.signSeed(t, req, at, w.clock.Now())
	resp := w.send(req)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	claims := payloadOf(t, resourceTokenOf(t, resp))
	if claims["aud"] != w.ps.url || claims["agent"] != "aauth:bot@agent.example" || claims["agent_jkt"] != w.agent.thumbprint() {
		t.Errorf("seed resource token %v", claims)
	}
	if _, ok := claims["presented_jti"]; ok {
		t.Error("a seed resource token with presented_jti")
	}

	auth := seedToken(w, w.ps, typAuth, map[string]any{"aud": w.rs.Issuer, "scope": "read", "agent": "aauth:bot@agent.example"})
	req = w.request("POST", "/data", `{"x":1}`)
	w.agent.signSeed(t, req, auth, w.clock.Now())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	if c := w.lastCaller(); c.Kind != KindAuth || c.Agent != "aauth:bot@agent.example" || c.PersonServer != w.ps.url {
		t.Errorf("seed caller %+v", c)
	}

	// An unsigned request: the seed body format.
	resp = w.send(w.request("GET", "/data", ""))
	var body map[string]any
	if err := json.Unmarshal([]byte(bodyOf(resp)), &body); err != nil || body["error"] != "invalid_signature" || body["error_description"] == nil {
		t.Errorf("seed error body %s", bodyOf(resp))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("seed error Content-Type %q", ct)
	}
}

// TestSeedSessionBearer: the seed generation sends session tokens as
// Authorization: Bearer, not covered.
func TestSeedSessionBearer(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Profile, rs.Mode = profileSeed, SessionToken })
	at := seedToken(w, w.ap, typAgent, map[string]any{"dwk": dwkAgent, "sub": "aauth:bot@agent.example"})
	req := w.request("GET", "/data", "")
	w.agent.signSeed(t, req, at, w.clock.Now())
	resp := w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	tok := resp.Header.Get("AAuth-Access")
	req = w.request("GET", "/data", "")
	req.Header.Set("Authorization", "Bearer "+tok)
	w.agent.signSeed(t, req, at, w.clock.Now())
	resp = w.send(req)
	wantStatus(t, resp, http.StatusOK, "")
	if c := w.lastCaller(); c.Session == nil || resp.Header.Get("AAuth-Access") != "" {
		t.Errorf("the seed session was not honoured: %+v", c.Session)
	}
}

func TestMetadata(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.Mode = AuthToken
		rs.Components = []string{"Content-Type"}
		rs.SignatureWindow = 90 * time.Second
		rs.ScopeDescriptions = map[string]string{"read": "Read your files"}
		rs.Display.Name = "Files"
	})
	var md map[string]any
	getJSON(t, w.srv.URL+"/.well-known/aauth-resource.json", &md)
	want := map[string]any{
		"issuer": w.rs.Issuer, "jwks_uri": w.rs.Issuer + "/.well-known/aauth-resource-jwks.json",
		"access_mode": "auth-token", "signature_window": 90.0, "name": "Files",
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %v, want %v", k, md[k], v)
		}
	}
	if asc, _ := md["additional_signature_components"].([]any); len(asc) != 1 || asc[0] != "content-type" {
		t.Errorf("additional_signature_components %v", md["additional_signature_components"])
	}
	if algs, _ := md["accept_signature_algs"].([]any); len(algs) != 2 {
		t.Errorf("accept_signature_algs %v", md["accept_signature_algs"])
	}
	if _, ok := md["login_endpoint"]; ok {
		t.Error("login_endpoint (gone in -11)")
	}
	resp, err := http.Post(w.srv.URL+"/.well-known/aauth-resource.json", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to the metadata: %d", resp.StatusCode)
	}
}

// TestSigningKeyRotation: two signing keys are published; the first
// signs; a resource token verifies with the published set.
func TestSigningKeyRotation(t *testing.T) {
	_, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w := newWorld(t, func(rs *Resource) {
		rs.Mode = AuthToken
		rs.SigningKeys = []SigningKey{{Signer: newKey, KeyID: "2026-12"}, {Signer: oldKey, KeyID: "2026-11"}}
	})
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	getJSON(t, w.srv.URL+"/.well-known/aauth-resource-jwks.json", &set)
	if len(set.Keys) != 2 || set.Keys[0]["kid"] != "2026-12" || set.Keys[0]["alg"] != "ES256" || set.Keys[1]["alg"] != "Ed25519" {
		t.Fatalf("JWKS %v", set.Keys)
	}
	resp := w.do("GET", "/data", "", w.personToken(nil))
	rt := resourceTokenOf(t, resp)
	h := payloadOfPart(t, rt, 0)
	if h["kid"] != "2026-12" || h["alg"] != "ES256" {
		t.Fatalf("resource token header %v", h)
	}
	// Checked with jwx against the published set (inside).
	verifyResourceTokenAlg(t, w, rt, "ES256")
}

func TestSigningKeysRefused(t *testing.T) {
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	for name, keys := range map[string][]SigningKey{
		"P-384":     {{Signer: k384}},
		"no signer": {{}},
		"same kid":  {{Signer: k, KeyID: "a"}, {Signer: k, KeyID: "a"}},
	} {
		rs := &Resource{Issuer: "https://r.example", SigningKeys: keys}
		if _, err := rs.config(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestIssuerRequired(t *testing.T) {
	for _, iss := range []string{"", "http://r.example", "https://r.example/", "https://R.example", "https://r.example:8443", "https://r.example/x", "r.example"} {
		rs := &Resource{Issuer: iss}
		srv := http.HandlerFunc(rs.Require(http.NotFoundHandler()).ServeHTTP)
		rec := newRecorder()
		srv.ServeHTTP(rec, &http.Request{Method: "GET", URL: mustURL("/x"), Header: http.Header{}})
		if rec.status != http.StatusInternalServerError || !strings.Contains(rec.body.String(), "Issuer") {
			t.Errorf("Issuer %q: %d %s", iss, rec.status, rec.body.String())
		}
	}
	for _, iss := range []string{"https://r.example", "http://127.0.0.1:8080", "https://localhost:8443", "http://[::1]:1"} {
		if _, err := (&Resource{Issuer: iss}).config(); err != nil {
			t.Errorf("Issuer %q: %v", iss, err)
		}
	}
}

// TestLoggerNeverLogsTokens: refusals are logged with their code, without
// the token.
func TestLoggerNeverLogsTokens(t *testing.T) {
	var buf bytes.Buffer
	w := newWorld(t, func(rs *Resource) {
		rs.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	tok := w.agentToken(map[string]any{"exp": w.clock.Now().Add(-time.Second).Unix(), "iat": w.clock.Now().Add(-time.Minute).Unix()})
	wantStatus(t, w.do("GET", "/data", "", tok), http.StatusUnauthorized, "expired_jwt")
	out := buf.String()
	if !strings.Contains(out, "code=expired_jwt") {
		t.Errorf("log %q", out)
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(out, part[:16]) {
			t.Errorf("the log holds the token: %q", out)
		}
	}
}

// TestUppercaseAgentIdentifier (RS-52): agent identifiers are compared
// exactly; upper case in the local part is allowed.
func TestUppercaseAgentIdentifier(t *testing.T) {
	w := newWorld(t, nil)
	tok := w.agentToken(map[string]any{"sub": "aauth:Bot.One@agent.example", "parent_agent": "aauth:Planner@agent.example"})
	wantStatus(t, w.do("GET", "/data", "", tok), http.StatusOK, "")
	if c := w.lastCaller(); c.Agent != "aauth:Bot.One@agent.example" || c.ParentAgent != "aauth:Planner@agent.example" {
		t.Errorf("caller %+v", c)
	}
}

func TestValidAgentID(t *testing.T) {
	for s, ok := range map[string]bool{
		"aauth:bot@agent.example": true, "aauth:Bot+sub.1_x-y@a.example": true, "aauth:@a.example": false,
		"aauth:b@": false, "aauth:b c@a.example": false, "bot@agent.example": false, "aauth:b@A.example": false,
		"aauth:" + strings.Repeat("a", 256) + "@a.example": false, "aauth:b@a..example": false, "aauth:b@-a.example": false,
	} {
		if validAgentID(s) != ok {
			t.Errorf("validAgentID(%q) = %v", s, !ok)
		}
	}
}

func TestInteractionCodes(t *testing.T) {
	c := NewInteractionCode()
	if len(c) != 11 || c[5] != '-' {
		t.Fatalf("code %q", c)
	}
	if !SameInteractionCode(c, strings.ToLower(strings.ReplaceAll(c, "-", ""))) {
		t.Error("case and hyphen")
	}
	if !SameInteractionCode("10O1-ABCD", "LO0i-abcd") || SameInteractionCode("", "") || SameInteractionCode("ABCD", "ABCE") {
		t.Error("Crockford aliases")
	}
}

func TestMemoryReplayStoreBounded(t *testing.T) {
	now := t0
	s := NewMemoryReplayStore(100)
	s.now = func() time.Time { return now }
	for i := range 1000 {
		seen, _ := s.Seen(context.Background(), randomID(8), now.Add(time.Minute))
		if seen {
			t.Fatalf("a fresh key seen at %d", i)
		}
	}
	if n := s.Len(); n > 100 {
		t.Fatalf("%d entries held, capacity 100", n)
	}
	if seen, _ := s.Seen(context.Background(), "k", now.Add(time.Second)); seen {
		t.Fatal("k seen")
	}
	if seen, _ := s.Seen(context.Background(), "k", now.Add(time.Second)); !seen {
		t.Fatal("k not seen the second time")
	}
	now = now.Add(2 * time.Second)
	if seen, _ := s.Seen(context.Background(), "k", now.Add(time.Second)); seen {
		t.Fatal("an expired k still refused")
	}
	if len(s.queue)-s.head > 100 {
		t.Fatalf("queue holds %d", len(s.queue)-s.head)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// payloadOfPart decodes part i (0 header, 1 payload) of a JWT.
func payloadOfPart(t testing.TB, tok string, i int) map[string]any {
	t.Helper()
	b, err := b64url.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
