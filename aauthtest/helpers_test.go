package aauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

// client is a test agent: a plain aauth.SigningTransport with a real key
// and agent token. It answers no challenge; the tests drive each step.
type client struct {
	t       *testing.T
	agent   *Agent
	profile wire.Profile
	now     func() time.Time
	extra   []string // extra covered components
}

func newClient(t *testing.T, w *World) *client {
	t.Helper()
	a, err := w.NewAgent("alice")
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, agent: a, profile: w.Profile}
}

// response is an answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	m, err := decodeObject(r.Body)
	if err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

func (r *response) str(t *testing.T, member string) string {
	t.Helper()
	s, _ := r.json(t)[member].(string)
	return s
}

// do sends a signed request presenting tok in Signature-Key ("" means the
// agent token). body, when not nil, is sent as JSON.
func (c *client) do(method, url, tok string, body any, hdr http.Header) *response {
	c.t.Helper()
	if tok == "" {
		tok = c.agent.Token
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	tr := &aauth.SigningTransport{
		Keys:       aauth.StaticKeys(c.agent.Key, aauth.JWT(tok)),
		Profile:    c.profile,
		Now:        c.now,
		Components: c.extra,
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	return readResponse(c.t, resp)
}

func readResponse(t *testing.T, resp *http.Response) *response {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// get fetches url without signing.
func get(t *testing.T, url string) *response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, resp)
}

// expect fails unless r has the status.
func (r *response) expect(t *testing.T, status int) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; headers %v; body %s", r.Status, status, r.Header, r.Body)
	}
	return r
}

// challenge parses the AAuth-Requirement of r.
func (r *response) challenge(t *testing.T) wire.Challenge {
	t.Helper()
	c, err := wire.ParseRequirement(r.Header.Get("AAuth-Requirement"))
	if err != nil {
		t.Fatalf("AAuth-Requirement %q: %v", r.Header.Get("AAuth-Requirement"), err)
	}
	return c
}

// verifyJWT verifies tok with jwx against the JWKS served at jwksURL and
// returns its claims.
func verifyJWT(t *testing.T, tok, jwksURL string, now time.Time) map[string]any {
	t.Helper()
	set, err := jwk.Parse(get(t, jwksURL).expect(t, 200).Body)
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	jt, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil {
		t.Fatalf("jwx does not verify the token: %v", err)
	}
	_ = jt
	p, err := parseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p.claims
}

// typOf returns a token's typ and alg.
func typOf(t *testing.T, tok string) (typ, alg string) {
	t.Helper()
	p, err := parseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p.typ, p.alg
}

func claimStr(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// metadata fetches the person server's metadata.
func metadata(t *testing.T, ps *PersonServer) map[string]any {
	t.Helper()
	return get(t, ps.URL+"/.well-known/aauth-person.json").expect(t, 200).json(t)
}

// personToken runs the person-token step for the resource.
func (c *client) personToken(ps *PersonServer, resource string) string {
	c.t.Helper()
	ep := claimStr(metadata(c.t, ps), "person_token_endpoint")
	r := c.do("POST", ep, "", map[string]any{"resource": resource}, nil).expect(c.t, 200)
	return r.str(c.t, "person_token")
}

// authToken exchanges a resource token.
func (c *client) authToken(ps *PersonServer, rt, presented string) string {
	c.t.Helper()
	r := c.exchange(ps, rt, presented).expect(c.t, 200)
	return r.str(c.t, "auth_token")
}

func (c *client) exchange(ps *PersonServer, rt, presented string) *response {
	c.t.Helper()
	md := metadata(c.t, ps)
	ep := claimStr(md, "auth_token_endpoint")
	body := map[string]any{"resource_token": rt}
	if c.profile == wire.ProfileSeed {
		ep = claimStr(md, "token_endpoint")
	} else {
		body["presented_token"] = presented
	}
	return c.do("POST", ep, "", body, nil)
}

// fullFlow runs the resource flow of the profile to the end and returns
// the auth token.
func (c *client) fullFlow(w *World) string {
	c.t.Helper()
	url := w.Resource.URL + "/data"
	r := c.do("GET", url, "", nil, nil).expect(c.t, 401)
	presented := c.agent.Token
	if c.profile == wire.ProfileCurrent {
		if got := r.challenge(c.t).Requirement; got != wire.RequirementPersonToken {
			c.t.Fatalf("first challenge %q, want person-token", got)
		}
		presented = c.personToken(w.PS, w.Resource.URL)
		r = c.do("GET", url, presented, nil, nil).expect(c.t, 401)
	}
	ch := r.challenge(c.t)
	if ch.Requirement != wire.RequirementAuthToken {
		c.t.Fatalf("challenge %q, want auth-token", ch.Requirement)
	}
	at := c.authToken(w.PS, ch.ResourceToken, presented)
	c.do("GET", url, at, nil, nil).expect(c.t, 200)
	return at
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

var ctx = context.Background()

// closeIdle drops the test client's idle connections.
func closeIdle() {
	if tr, ok := http.DefaultTransport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
}
