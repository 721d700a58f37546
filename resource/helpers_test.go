package resource

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

// This file is the tests' only use of the root package: the library's
// Signer signs the agents' requests.

// t0 is the tests' starting time.
var t0 = time.Unix(1_790_000_000, 0)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// issuer is a token issuer on an httptest server: an agent provider, a
// person server or an access server, serving {url}/.well-known/{dwk} and
// its JWK Set, and minting tokens with a real Ed25519 key.
type issuer struct {
	t     testing.TB
	srv   *httptest.Server
	url   string
	dwk   string
	key   ed25519.PrivateKey
	kid   string
	clock *fakeClock

	mu         sync.Mutex
	metaIssuer *string       // replaces the metadata's issuer when set
	jwksBody   []byte        // replaces the JWK Set when set
	delay      time.Duration // before answering the JWK Set
	jwksStatus int           // answer the JWK Set with this status when set
	extraKeys  []map[string]any

	metaFetches atomic.Int32
	jwksFetches atomic.Int32
}

func newIssuer(t testing.TB, clock *fakeClock, dwk string) *issuer {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	is := &issuer{t: t, dwk: dwk, key: key, kid: "k-" + randomID(4), clock: clock}
	is.srv = httptest.NewServer(http.HandlerFunc(is.serve))
	is.url = is.srv.URL
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/" + is.dwk:
		is.metaFetches.Add(1)
		is.mu.Lock()
		iss := is.url
		if is.metaIssuer != nil {
			iss = *is.metaIssuer
		}
		is.mu.Unlock()
		doc := map[string]any{"jwks_uri": is.url + "/jwks"}
		if iss != "" {
			doc["issuer"] = iss
		}
		writeTestJSON(w, doc)
	case "/jwks":
		is.jwksFetches.Add(1)
		is.mu.Lock()
		body, delay, status := is.jwksBody, is.delay, is.jwksStatus
		keys := []map[string]any{is.publicJWK()}
		keys = append(keys, is.extraKeys...)
		is.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if body != nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
			return
		}
		writeTestJSON(w, map[string]any{"keys": keys})
	default:
		http.NotFound(w, r)
	}
}

func (is *issuer) publicJWK() map[string]any {
	return map[string]any{
		"kty": "OKP", "crv": "Ed25519", "alg": "Ed25519", "use": "sig", "kid": is.kid,
		"x": base64.RawURLEncoding.EncodeToString(is.key.Public().(ed25519.PublicKey)),
	}
}

func (is *issuer) set(f func(is *issuer)) {
	is.mu.Lock()
	f(is)
	is.mu.Unlock()
}

// rotate replaces the issuer's key with a new one under a new kid.
func (is *issuer) rotate() {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	is.set(func(is *issuer) { is.key, is.kid = key, "k-"+randomID(4) })
}

// mint signs claims as a JWT of type typ with jwx (an implementation
// independent of the verifier under test). Default claims are filled in:
// iss, dwk, jti, iat and exp (an hour).
func (is *issuer) mint(typ string, claims map[string]any) string {
	is.t.Helper()
	now := is.clock.Now()
	c := map[string]any{
		"iss": is.url, "dwk": is.dwk, "jti": randomID(8),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		is.t.Fatal(err)
	}
	is.mu.Lock()
	key, kid := is.key, is.kid
	is.mu.Unlock()
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, typ)
	_ = h.Set(jws.KeyIDKey, kid)
	tok, err := jws.Sign(payload, jws.WithKey(jwa.EdDSAEd25519(), key, jws.WithProtectedHeaders(h)))
	if err != nil {
		is.t.Fatal(err)
	}
	return string(tok)
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// agent is an agent's signing key.
type agent struct {
	key crypto.Signer
	pub crypto.PublicKey
}

func newAgent() *agent {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	return &agent{key: key, pub: key.Public()}
}

// cnf is the agent's cnf claim.
func (a *agent) cnf() map[string]any {
	b, _ := publicJWK(a.pub)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "kid")
	return map[string]any{"jwk": m}
}

func (a *agent) thumbprint() string {
	tp, _ := thumbprint(a.pub)
	return tp
}

// sign signs req with the library's Signer, presenting token, at clock's
// time, covering extra components too.
func (a *agent) sign(t testing.TB, req *http.Request, token string, now time.Time, extra ...string) {
	t.Helper()
	s := &aauth.Signer{Now: func() time.Time { return now }, ExtraComponents: extra}
	if err := s.Sign(req, aauth.KeyMaterial{Signer: a.key, Key: aauth.JWT(token)}); err != nil {
		t.Fatal(err)
	}
}

// signSeed signs req as the seed generation does.
func (a *agent) signSeed(t testing.TB, req *http.Request, token string, now time.Time) {
	t.Helper()
	s := &aauth.Signer{Profile: aauth.ProfileSeed, Now: func() time.Time { return now }}
	if err := s.Sign(req, aauth.KeyMaterial{Signer: a.key, Key: aauth.JWT(token)}); err != nil {
		t.Fatal(err)
	}
}

// world is a resource with an agent provider and a person server, on
// httptest servers, and an agent.
type world struct {
	t      testing.TB
	clock  *fakeClock
	ap     *issuer
	ps     *issuer
	rs     *Resource
	srv    *httptest.Server
	client *http.Client // its own: see newWorld
	agent  *agent

	mu      sync.Mutex
	callers []*Caller // what the handler saw

	replay *http.Request // a request kept to be sent again
	stash  map[string]string
}

// newWorld starts a world; configure may set the Resource's fields
// (Issuer is set after, from the server).
func newWorld(t testing.TB, configure func(rs *Resource)) *world {
	t.Helper()
	return newWorldServing(t, configure, nil)
}

// newWorldServing starts a world whose protected handler is h (nil: echo).
func newWorldServing(t testing.TB, configure func(rs *Resource), h http.Handler) *world {
	t.Helper()
	w := &world{t: t, clock: newClock(), agent: newAgent()}
	if h == nil {
		h = http.HandlerFunc(w.echo)
	}
	w.ap = newIssuer(t, w.clock, dwkAgent)
	w.ps = newIssuer(t, w.clock, dwkPerson)
	w.rs = &Resource{Now: w.clock.Now, KeyRefreshInterval: time.Minute}
	if configure != nil {
		configure(w.rs)
	}
	w.srv = httptest.NewServer(w.rs.Require(h))
	w.rs.Issuer = w.srv.URL
	t.Cleanup(w.srv.Close)
	// Its own connections: the hostile table runs in parallel, and every
	// httptest.Server.Close drops http.DefaultTransport's idle connections,
	// which can break a POST that has just taken one.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	w.client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return w
}

// echo is the protected handler: it records the caller and answers 200.
// A query charge=N charges N against a metered token's budget (Charge).
func (w *world) echo(rw http.ResponseWriter, r *http.Request) {
	c, ok := FromContext(r.Context())
	if !ok {
		http.Error(rw, "no caller", http.StatusInternalServerError)
		return
	}
	w.mu.Lock()
	w.callers = append(w.callers, c)
	w.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	out := map[string]any{"ok": true, "kind": c.Kind, "sub": c.Subject, "agent": c.Agent, "body": len(body)}
	if n, err := strconv.ParseInt(r.URL.Query().Get("charge"), 10, 64); err == nil {
		if err := Charge(r.Context(), n); err != nil {
			out["charge"] = err.Error()
		}
	}
	writeTestJSON(rw, out)
}

func (w *world) lastCaller() *Caller {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.callers) == 0 {
		return nil
	}
	return w.callers[len(w.callers)-1]
}

func (w *world) agentToken(extra map[string]any) string {
	c := map[string]any{"sub": "aauth:bot@agent.example", "cnf": w.agent.cnf(), "ps": w.ps.url}
	for k, v := range extra {
		c[k] = v
	}
	return w.ap.mint(typAgent, c)
}

func (w *world) personToken(extra map[string]any) string {
	c := map[string]any{"aud": w.rs.Issuer, "sub": "person-1", "cnf": w.agent.cnf()}
	for k, v := range extra {
		c[k] = v
	}
	return w.ps.mint(typPerson, c)
}

func (w *world) authToken(scope string, extra map[string]any) string {
	c := map[string]any{"aud": w.rs.Issuer, "sub": "person-1", "ps": w.ps.url, "scope": scope, "cnf": w.agent.cnf()}
	for k, v := range extra {
		c[k] = v
	}
	return w.ps.mint(typAuth, c)
}

// request builds a request to the resource.
func (w *world) request(method, path, body string) *http.Request {
	w.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// do signs a request presenting token and sends it.
func (w *world) do(method, path, body, token string) *http.Response {
	w.t.Helper()
	req := w.request(method, path, body)
	w.agent.sign(w.t, req, token, w.clock.Now())
	return w.send(req)
}

func (w *world) send(req *http.Request) *http.Response {
	w.t.Helper()
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	resp.Header.Set("X-Test-Body", string(body))
	return resp
}

// bodyOf returns the body read by send.
func bodyOf(resp *http.Response) string { return resp.Header.Get("X-Test-Body") }

// wantStatus fails unless resp has the status (and, when code is set,
// the Signature-Error code).
func wantStatus(t testing.TB, resp *http.Response, status int, sigErrCode string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; Signature-Error %q; AAuth-Requirement %q; body %s", resp.StatusCode, status,
			resp.Header.Get("Signature-Error"), resp.Header.Get("AAuth-Requirement"), bodyOf(resp))
	}
	got := resp.Header.Get("Signature-Error")
	if sigErrCode == "" {
		if got != "" {
			t.Fatalf("Signature-Error %q on a %d; want none", got, status)
		}
		return
	}
	if !strings.HasPrefix(got, "error="+sigErrCode) {
		t.Fatalf("Signature-Error %q, want error=%s; body %s", got, sigErrCode, bodyOf(resp))
	}
}

// isToken68 reports whether s is a valid AAuth-Access value (one token68).
func isToken68(s string) bool {
	_, ok, err := wire.ParseAccess(http.Header{"Aauth-Access": {s}})
	return ok && err == nil
}
