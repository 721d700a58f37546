package aauthtest

import (
	"net/http"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

func TestCurrentFlowEndToEnd(t *testing.T) {
	w := NewWorld(WorldOptions{Logf: t.Logf})
	defer w.Close()
	c := newClient(t, w)
	url := w.Resource.URL + "/data"

	// 1. Agent token: person-token requirement.
	r := c.do("GET", url, "", nil, nil).expect(t, 401)
	if ch := r.challenge(t); ch.Requirement != wire.RequirementPersonToken {
		t.Fatalf("requirement %q", ch.Requirement)
	}

	// 2. Person token, verified by jwx against the served JWKS.
	pt := c.personToken(w.PS, w.Resource.URL)
	if typ, alg := typOf(t, pt); typ != "aa-person+jwt" || alg != "Ed25519" {
		t.Fatalf("person token typ %q alg %q", typ, alg)
	}
	pc := verifyJWT(t, pt, w.PS.URL+"/aauth/jwks", time.Now())
	thumb, _ := sigverify.ThumbprintOf(c.agent.Key.Public())
	for k, want := range map[string]string{"iss": w.PS.URL, "aud": w.Resource.URL, "dwk": "aauth-person.json", "sub": w.PS.Subject(w.Resource.URL)} {
		if got := claimStr(pc, k); got != want {
			t.Errorf("person token %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"jti", "iat", "exp", "cnf"} {
		if pc[k] == nil {
			t.Errorf("person token has no %s", k)
		}
	}
	if pc["scope"] != nil {
		t.Error("a person token never carries scope")
	}

	// 3. Person token presented: auth-token requirement with a real
	// resource token.
	r = c.do("GET", url, pt, nil, nil).expect(t, 401)
	ch := r.challenge(t)
	if ch.Requirement != wire.RequirementAuthToken || ch.ResourceToken == "" {
		t.Fatalf("challenge %v", ch)
	}
	if typ, alg := typOf(t, ch.ResourceToken); typ != "aa-resource+jwt" || alg != "Ed25519" {
		t.Fatalf("resource token typ %q alg %q", typ, alg)
	}
	rc := verifyJWT(t, ch.ResourceToken, w.Resource.URL+resJWKSPath, time.Now())
	for k, want := range map[string]string{
		"iss": w.Resource.URL, "aud": w.PS.URL, "ps": w.PS.URL, "agent_jkt": thumb,
		"sub": claimStr(pc, "sub"), "presented_jti": claimStr(pc, "jti"), "scope": "read", "dwk": "aauth-resource.json",
	} {
		if got := claimStr(rc, k); got != want {
			t.Errorf("resource token %s = %q, want %q", k, got, want)
		}
	}

	// 4. Exchange, with presented_token = the person token.
	at := c.authToken(w.PS, ch.ResourceToken, pt)
	if typ, _ := typOf(t, at); typ != "aa-auth+jwt" {
		t.Fatalf("auth token typ %q", typ)
	}
	ac := verifyJWT(t, at, w.PS.URL+"/aauth/jwks", time.Now())
	for k, want := range map[string]string{"iss": w.PS.URL, "aud": w.Resource.URL, "ps": w.PS.URL, "sub": claimStr(pc, "sub"), "scope": "read"} {
		if got := claimStr(ac, k); got != want {
			t.Errorf("auth token %s = %q, want %q", k, got, want)
		}
	}
	tok, _ := parseToken(at)
	if _, tp, err := tok.cnfKey(); err != nil || tp != thumb {
		t.Errorf("auth token cnf.jwk thumbprint %q (%v), want the agent key %q", tp, err, thumb)
	}
	ptok, _ := parseToken(pt)
	aexp, _ := tok.time("exp")
	pexp, _ := ptok.time("exp")
	if aexp.After(pexp) {
		t.Errorf("auth token exp %v after the presented token's %v", aexp, pexp)
	}

	// 5. Auth token: served.
	r = c.do("GET", url, at, nil, nil).expect(t, 200)
	body := r.json(t)
	if body["presented"] != "auth" || body["sub"] != claimStr(pc, "sub") {
		t.Errorf("echo %v", body)
	}

	// Records: the token requests are recorded requests, like Requests.
	for _, c := range []struct {
		name string
		got  []RecordedRequest
		e    Endpoint
	}{
		{"PersonTokenRequests", w.PS.PersonTokenRequests(), EndpointPersonToken},
		{"AuthTokenRequests", w.PS.AuthTokenRequests(), EndpointAuthToken},
	} {
		if len(c.got) != 1 {
			t.Fatalf("%s: %d requests, want 1", c.name, len(c.got))
		}
		if r := c.got[0]; r.Endpoint != c.e || r.Method != "POST" || !r.Signed || r.Presented != TokenAgent || len(r.Body) == 0 {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	var kinds []TokenKind
	for _, rr := range w.Resource.Requests() {
		if rr.Endpoint == EndpointResource {
			kinds = append(kinds, rr.Presented)
		}
	}
	if want := []TokenKind{TokenAgent, TokenPerson, TokenAuth}; !equal(kinds, want) {
		t.Errorf("presented %v, want %v", kinds, want)
	}
	trs := w.PS.TokenRequests()
	if len(trs) != 2 || trs[1].PresentedToken != pt || trs[1].ResourceToken != ch.ResourceToken || trs[1].PresentedKind != TokenPerson {
		t.Errorf("token requests %+v", trs)
	}
	for _, rr := range w.PS.Requests() {
		if rr.Endpoint == EndpointPersonToken || rr.Endpoint == EndpointAuthToken {
			for _, comp := range []string{"@method", "@authority", "@path", "signature-key", "content-type", "content-digest"} {
				if !rr.Covers(comp) {
					t.Errorf("%s: %s not covered: %v", rr.Endpoint, comp, rr.Components)
				}
			}
			if rr.Presented != TokenAgent || !rr.Signed {
				t.Errorf("%s presented %s signed %v", rr.Endpoint, rr.Presented, rr.Signed)
			}
		}
	}
	if got := w.Resource.Served(); got != 1 {
		t.Errorf("Served = %d", got)
	}
}

func TestSeedFlowEndToEnd(t *testing.T) {
	w := NewWorld(WorldOptions{Profile: wire.ProfileSeed, Logf: t.Logf})
	defer w.Close()
	c := newClient(t, w)
	url := w.Resource.URL + "/data"

	md := metadata(t, w.PS)
	if md["token_endpoint"] == nil || md["auth_token_endpoint"] != nil || md["person_token_endpoint"] != nil {
		t.Fatalf("seed metadata %v", md)
	}
	r := c.do("GET", url, "", nil, nil).expect(t, 401)
	ch := r.challenge(t)
	if ch.Requirement != wire.RequirementAuthToken {
		t.Fatalf("seed resource asks %q first", ch.Requirement)
	}
	if typ, alg := typOf(t, ch.ResourceToken); typ != "aa-resource+jwt" || alg != "EdDSA" {
		t.Fatalf("resource token typ %q alg %q", typ, alg)
	}
	rc := verifyJWT(t, ch.ResourceToken, w.Resource.URL+resJWKSPath, time.Now())
	if claimStr(rc, "aud") != w.PS.URL || claimStr(rc, "agent") != c.agent.Subject || rc["presented_jti"] != nil {
		t.Errorf("seed resource token claims %v", rc)
	}
	at := c.authToken(w.PS, ch.ResourceToken, "")
	if _, alg := typOf(t, at); alg != "EdDSA" {
		t.Errorf("seed auth token alg %q", alg)
	}
	ac := verifyJWT(t, at, w.PS.URL+"/aauth/jwks", time.Now())
	if claimStr(ac, "agent") != c.agent.Subject || claimStr(ac, "aud") != w.Resource.URL || ac["ps"] != nil {
		t.Errorf("seed auth token claims %v", ac)
	}
	c.do("GET", url, at, nil, nil).expect(t, 200)

	// The seed token request covered content-type but no digest.
	for _, rr := range w.PS.Requests() {
		if rr.Endpoint == EndpointAuthToken && (rr.Covers("content-digest") || !rr.Covers("content-type")) {
			t.Errorf("seed token request components %v", rr.Components)
		}
	}
	// Seed errors are the April JSON shape.
	r = c.do("POST", w.PS.URL+"/aauth/token", "", map[string]any{}, nil).expect(t, 400)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" || r.str(t, "error") != "invalid_request" || r.str(t, "error_description") == "" {
		t.Errorf("seed error %s %s", ct, r.Body)
	}
}

func TestWorldClose(t *testing.T) {
	w := NewWorld(WorldOptions{})
	w.Close()
	w.Close()
	if _, err := http.Get(w.PS.URL + "/.well-known/aauth-person.json"); err == nil {
		t.Error("the person server still answers after Close")
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
