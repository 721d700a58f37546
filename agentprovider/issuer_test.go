package agentprovider_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// t0 is the created time of the signature vectors.
var t0 = time.Unix(1730217600, 0)

// rfc8032Test2 is the RFC 8032 §7.1 TEST 2 key, which signs JWT_AGENT in
// the seed vectors.
// The RFC 8037 appendix A key, as in the keys tests.
const (
	rfc8037X   = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037D   = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037JWK = `{"kty":"OKP","crv":"Ed25519","d":"` + rfc8037D + `","x":"` + rfc8037X + `"}`
)

// opaqueSigner hides a key's concrete type, as an HSM or KMS signer does.
type opaqueSigner struct{ crypto.Signer }

func mustP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rfc8032Test2(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// fakeClock is a settable clock for Issuer.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// agentTokenParts is what a verifier sees in an agent token.
type agentTokenParts struct {
	typ, alg, kid string
	claims        map[string]any
	cnf           json.RawMessage
}

// verifyAgentToken checks token against the issuer's JWKS with jwx, as a
// resource would, and returns its header and claims.
func verifyAgentToken(t *testing.T, i *agentprovider.Issuer, token string, at time.Time) agentTokenParts {
	t.Helper()
	jwks, err := i.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(jwks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(func() time.Time { return at }))); err != nil {
		t.Fatalf("jwx does not verify the agent token against the JWKS: %v", err)
	}
	msg, err := jws.Parse([]byte(token))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	var p agentTokenParts
	p.typ, _ = h.Type()
	alg, _ := h.Algorithm()
	p.alg = alg.String()
	p.kid, _ = h.KeyID()
	if err := json.Unmarshal(msg.Payload(), &p.claims); err != nil {
		t.Fatal(err)
	}
	var c struct {
		Cnf struct {
			JWK json.RawMessage `json:"jwk"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(msg.Payload(), &c); err != nil {
		t.Fatal(err)
	}
	p.cnf = c.Cnf.JWK
	return p
}

func TestIssueCurrent(t *testing.T) {
	provider := rfc8032Test2(t)
	agent, _ := keys.Generate()
	i := &agentprovider.Issuer{
		Issuer: "https://agent.example",
		Key:    provider,
		Now:    func() time.Time { return t0.Add(123 * time.Millisecond) },
	}
	token, exp, err := i.Issue(context.Background(), agentprovider.TokenRequest{
		Subject:      "aauth:test@agent.example",
		Key:          agent.Public(),
		PersonServer: "https://ps.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(t0.Add(time.Hour)) {
		t.Errorf("expiry %v, want %v", exp, t0.Add(time.Hour))
	}
	p := verifyAgentToken(t, i, token, t0.Add(time.Minute))

	providerKid, _ := keys.Thumbprint(provider.Public())
	if p.typ != "aa-agent+jwt" || p.alg != "Ed25519" || p.kid != providerKid {
		t.Errorf("header typ=%q alg=%q kid=%q", p.typ, p.alg, p.kid)
	}
	want := map[string]any{
		"iss": "https://agent.example",
		"dwk": "aauth-agent.json",
		"sub": "aauth:test@agent.example",
		"iat": float64(t0.Unix()),
		"exp": float64(t0.Unix() + 3600),
		"ps":  "https://ps.example",
	}
	for k, v := range want {
		if p.claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, p.claims[k], v)
		}
	}
	jti, _ := p.claims["jti"].(string)
	if raw, err := base64.RawURLEncoding.DecodeString(jti); err != nil || len(raw) != 16 {
		t.Errorf("jti %q is not 128 random bits", jti)
	}
	if len(p.claims) != 8 {
		t.Errorf("claims %v, want exactly iss dwk sub jti cnf iat exp ps", p.claims)
	}

	// cnf.jwk is the agent's key, with alg, and nothing private.
	var cnf map[string]any
	json.Unmarshal(p.cnf, &cnf)
	if cnf["alg"] != "Ed25519" || cnf["d"] != nil || cnf["kty"] != "OKP" {
		t.Errorf("cnf.jwk = %s", p.cnf)
	}
	cnfKey, err := keys.ParsePublicJWK(p.cnf, aauth.ProfileCurrent)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := keys.Thumbprint(cnfKey)
	wantTP, _ := keys.Thumbprint(agent.Public())
	jk, _ := jwk.ParseKey(p.cnf)
	jwxTP, _ := jk.Thumbprint(crypto.SHA256)
	if got != wantTP || base64.RawURLEncoding.EncodeToString(jwxTP) != wantTP {
		t.Errorf("cnf.jwk thumbprint %s (jwx %x), agent key %s", got, jwxTP, wantTP)
	}

	// Claims are in the order @aauth/local-keys writes them.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	order := []string{`"iss"`, `"dwk"`, `"sub"`, `"jti"`, `"cnf"`, `"iat"`, `"exp"`, `"ps"`}
	last := -1
	for _, k := range order {
		at := strings.Index(string(payload), k)
		if at < last {
			t.Errorf("claim %s out of order in %s", k, payload)
		}
		last = at
	}

	// Two tokens never share a jti.
	token2, _, _ := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:test@agent.example", Key: agent.Public()})
	p2 := verifyAgentToken(t, i, token2, t0)
	if p2.claims["jti"] == p.claims["jti"] {
		t.Error("repeated jti")
	}
	if _, ok := p2.claims["ps"]; ok {
		t.Error("ps present without a PersonServer")
	}
}

func TestIssueSeed(t *testing.T) {
	provider := rfc8032Test2(t)
	agent, _ := keys.ParsePrivateJWK([]byte(rfc8037JWK), aauth.ProfileSeed)
	i := &agentprovider.Issuer{
		Issuer:  "https://agent.example",
		Key:     provider,
		KeyID:   "agent-root-1",
		Profile: aauth.ProfileSeed,
		Now:     func() time.Time { return t0 },
	}
	token, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:test@agent.example", Key: agent.Public()})
	if err != nil {
		t.Fatal(err)
	}
	p := verifyAgentToken(t, i, token, t0)
	if p.typ != "aa-agent+jwt" || p.alg != "EdDSA" || p.kid != "agent-root-1" {
		t.Errorf("header typ=%q alg=%q kid=%q", p.typ, p.alg, p.kid)
	}
	// The seed JWT_AGENT's cnf.jwk, byte for byte.
	if string(p.cnf) != `{"kty":"OKP","crv":"Ed25519","x":"`+rfc8037X+`"}` {
		t.Errorf("cnf.jwk = %s", p.cnf)
	}
	jwks, _ := i.JWKS()
	if !strings.Contains(string(jwks), `"alg":"EdDSA","kid":"agent-root-1","use":"sig"`) {
		t.Errorf("seed JWKS = %s", jwks)
	}
	// The seed cnf.jwk has no alg, which the current profile's reader fills in.
	if _, err := keys.ParsePublicJWK(p.cnf, aauth.ProfileCurrent); err != nil {
		t.Error(err)
	}
}

func TestIssueES256(t *testing.T) {
	for _, hsm := range []bool{false, true} {
		var provider crypto.Signer = mustP256(t)
		if hsm {
			provider = opaqueSigner{provider}
		}
		agent := mustP256(t)
		for _, profile := range []aauth.Profile{aauth.ProfileCurrent, aauth.ProfileSeed} {
			i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Profile: profile}
			token, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:a@agent.example", Key: agent.Public()})
			if err != nil {
				t.Fatalf("hsm=%v %v: %v", hsm, profile, err)
			}
			p := verifyAgentToken(t, i, token, time.Now())
			if p.alg != "ES256" {
				t.Errorf("alg %s", p.alg)
			}
			var cnf map[string]any
			json.Unmarshal(p.cnf, &cnf)
			wantAlg := map[aauth.Profile]any{aauth.ProfileCurrent: "ES256", aauth.ProfileSeed: nil}[profile]
			if cnf["kty"] != "EC" || cnf["alg"] != wantAlg {
				t.Errorf("%v: cnf.jwk = %s", profile, p.cnf)
			}
			k, err := keys.ParsePublicJWK(p.cnf, profile)
			if err != nil || !agent.PublicKey.Equal(k) {
				t.Errorf("cnf.jwk is not the agent key: %v", err)
			}
		}
	}
}

func TestIssueHSMEd25519(t *testing.T) {
	provider, _ := keys.Generate()
	agent, _ := keys.Generate()
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: opaqueSigner{provider}}
	token, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:a@agent.example", Key: agent.Public()})
	if err != nil {
		t.Fatal(err)
	}
	verifyAgentToken(t, i, token, time.Now())
}

func TestIssueLifetime(t *testing.T) {
	provider, _ := keys.Generate()
	agent, _ := keys.Generate()
	cases := []struct {
		issuer, request, want time.Duration
	}{
		{0, 0, time.Hour},
		{10 * time.Minute, 0, 10 * time.Minute},
		{10 * time.Minute, 2 * time.Hour, 2 * time.Hour},
		{0, 24 * time.Hour, 24 * time.Hour},
		{0, 1500 * time.Millisecond, time.Second},
	}
	for _, tc := range cases {
		i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Lifetime: tc.issuer, Now: func() time.Time { return t0 }}
		_, exp, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:s@agent.example", Key: agent.Public(), Lifetime: tc.request})
		if err != nil {
			t.Fatal(err)
		}
		if got := exp.Sub(t0); got != tc.want {
			t.Errorf("issuer %v request %v: lifetime %v, want %v", tc.issuer, tc.request, got, tc.want)
		}
	}
}

func TestIssueErrors(t *testing.T) {
	provider, _ := keys.Generate()
	agent, _ := keys.Generate()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := func() *agentprovider.Issuer {
		return &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider}
	}
	req := agentprovider.TokenRequest{Subject: "aauth:a@agent.example", Key: agent.Public()}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	cases := []struct {
		name   string
		ctx    context.Context
		modify func(*agentprovider.Issuer, *agentprovider.TokenRequest)
		want   string
	}{
		{"empty issuer", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "" }, "Issuer is empty"},
		{"http issuer", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "http://agent.example" }, "must use https"},
		{"relative issuer", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "agent.example" }, "absolute https URL"},
		{"ftp issuer", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "ftp://agent.example" }, "absolute https URL"},
		{"no host", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https:///path" }, "no host"},
		{"trailing slash", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https://agent.example/" }, "must not end with a slash"},
		{"query", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https://agent.example?x=1" }, "must not have a query"},
		{"empty query", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https://agent.example?" }, "must not have a query"},
		{"fragment", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https://agent.example#x" }, "must not have a fragment"},
		{"userinfo", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https://u:p@agent.example" }, "user info"},
		{"bad url", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Issuer = "https://agent example/%zz" }, "not a URL"},
		{"nil key", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Key = nil }, "Key: no key"},
		{"short key", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Key = ed25519.PrivateKey{1, 2} }, "2 bytes"},
		{"nil ecdsa key", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Key = (*ecdsa.PrivateKey)(nil) }, "nil ECDSA"},
		{"rsa key", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Key = rsaKey }, "unsupported public key type"},
		{"negative lifetime", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Lifetime = -time.Second }, "less than one second"},
		{"long lifetime", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Lifetime = 25 * time.Hour }, "longer than 24h"},
		{"long request lifetime", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.Lifetime = 48 * time.Hour }, "longer than 24h"},
		{"tiny request lifetime", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.Lifetime = time.Millisecond }, "less than one second"},
		{"unknown profile", nil, func(i *agentprovider.Issuer, _ *agentprovider.TokenRequest) { i.Profile = 7 }, "unknown profile"},
		{"no subject", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.Subject = "" }, "no Subject"},
		{"no agent key", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.Key = nil }, "no public key"},
		{"rsa agent key", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.Key = rsaKey.Public() }, "unsupported public key type"},
		{"private agent key", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.Key = agent }, "unsupported public key type"},
		{"bad ps", nil, func(_ *agentprovider.Issuer, r *agentprovider.TokenRequest) { r.PersonServer = "http://ps.example" }, "PersonServer"},
		{"canceled", canceled, nil, "context canceled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			i, r := good(), req
			if tc.modify != nil {
				tc.modify(i, &r)
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			tok, _, err := i.Issue(ctx, r)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if tok != "" || !strings.HasPrefix(err.Error(), "aauth: ") || strings.Count(err.Error(), "aauth:") != 1 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, _, err := (*agentprovider.Issuer)(nil).Issue(context.Background(), req); err == nil {
		t.Error("nil issuer issued")
	}
	var i agentprovider.Issuer
	if _, _, err := i.Issue(canceled, req); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Issue: %v does not wrap context.Canceled", err)
	}
	i = agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Profile: 9}
	if _, _, err := i.Issue(context.Background(), req); !errors.Is(err, wire.ErrUnknownProfile) {
		t.Errorf("unknown profile: %v does not wrap ErrUnknownProfile", err)
	}
}

func TestIssuerURLs(t *testing.T) {
	provider, _ := keys.Generate()
	agent, _ := keys.Generate()
	for _, iss := range []string{
		"https://agent.example",
		"https://agent.example:8443",
		"https://agent.example/tenants/a",
		"http://localhost:8080",
		"http://127.0.0.1:9999",
		"http://[::1]:8080",
	} {
		i := &agentprovider.Issuer{Issuer: iss, Key: provider}
		if _, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:s@agent.example", Key: agent.Public(), PersonServer: iss}); err != nil {
			t.Errorf("%s: %v", iss, err)
		}
	}
}

func TestMetadataAndHandler(t *testing.T) {
	provider, _ := keys.Generate()
	for _, issPath := range []string{"", "/tenants/a"} {
		// The issuer must be the server's own URL, so the handler is
		// installed after the server has one.
		var h http.Handler
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
		i := &agentprovider.Issuer{
			Issuer:  srv.URL + issPath,
			Key:     provider,
			Display: agentprovider.Display{Name: "Test Agent", LogoURI: "https://agent.example/logo.png"},
		}
		h = i.Handler()

		md := i.Metadata()
		if md.Issuer != i.Issuer || md.JWKSURI != i.Issuer+"/.well-known/aauth-agent-jwks.json" || md.Name != "Test Agent" {
			t.Errorf("Metadata() = %+v", md)
		}

		get := func(method, url string) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest(method, url, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp, body
		}

		// Discovery as a verifier does it: metadata, then jwks_uri.
		resp, body := get("GET", i.Issuer+"/.well-known/aauth-agent.json")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("metadata: %d %s", resp.StatusCode, body)
		}
		want := `{"issuer":"` + i.Issuer + `","jwks_uri":"` + i.Issuer + `/.well-known/aauth-agent-jwks.json","name":"Test Agent","logo_uri":"https://agent.example/logo.png"}`
		if string(body) != want {
			t.Errorf("metadata =\n%s\nwant\n%s", body, want)
		}
		var got agentprovider.Metadata
		if err := json.Unmarshal(body, &got); err != nil || got != md {
			t.Errorf("metadata decodes to %+v, %v", got, err)
		}
		resp, body = get("GET", got.JWKSURI)
		wantJWKS, _ := i.JWKS()
		if resp.StatusCode != 200 || string(body) != string(wantJWKS) {
			t.Errorf("jwks: %d %s", resp.StatusCode, body)
		}
		set, err := jwk.Parse(body)
		if err != nil || set.Len() != 1 {
			t.Fatalf("jwks does not parse: %v", err)
		}
		agent, _ := keys.Generate()
		token, _, err := i.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:s@agent.example", Key: agent.Public()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set)); err != nil {
			t.Errorf("token does not verify against the served JWKS: %v", err)
		}
		k, _ := set.Key(0)
		if alg, _ := k.Algorithm(); alg != jwa.EdDSAEd25519() {
			t.Errorf("served JWKS alg %v", alg)
		}

		resp, body = get("HEAD", i.Issuer+"/.well-known/aauth-agent.json")
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(want)) {
			t.Errorf("HEAD: %d %q %d", resp.StatusCode, body, resp.ContentLength)
		}
		resp, _ = get("POST", i.Issuer+"/.well-known/aauth-agent.json")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST: %d", resp.StatusCode)
		}
		for _, p := range []string{"/", "/.well-known/jwks.json", issPath + "/.well-known/aauth-person.json", "/x/.well-known/aauth-agent.json"} {
			if p == issPath+"/.well-known/aauth-agent.json" {
				continue
			}
			if resp, _ := get("GET", srv.URL+p); resp.StatusCode != 404 {
				t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
			}
		}
		srv.Close()
	}

	// A misconfigured issuer serves 500s that name the field to set, and
	// say nothing of its value.
	for _, c := range []struct {
		bad   *agentprovider.Issuer
		field string
	}{
		{&agentprovider.Issuer{Issuer: "http://agent.example", Key: provider}, "agentprovider.Issuer.Issuer"},
		{&agentprovider.Issuer{Issuer: "https://agent.example"}, "agentprovider.Issuer.Key"},
		{&agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Lifetime: 48 * time.Hour}, "agentprovider.Issuer.Lifetime"},
		{&agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Profile: 9}, "agentprovider.Issuer.Profile"},
	} {
		rec := httptest.NewRecorder()
		c.bad.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/aauth-agent.json", nil))
		p, err := wire.ParseProblem(rec.Body.Bytes())
		if rec.Code != 500 || err != nil || rec.Header().Get("Content-Type") != "application/problem+json" ||
			p.Status != 500 || !strings.Contains(p.Detail, "set "+c.field+" to ") ||
			strings.Contains(rec.Body.String(), "agent.example") || strings.Contains(rec.Body.String(), "48h") {
			t.Errorf("misconfigured handler (%s): %d %s", c.field, rec.Code, rec.Body)
		}
		if _, err := c.bad.JWKS(); err == nil {
			t.Errorf("JWKS of a misconfigured issuer (%s)", c.field)
		}
	}
}

// The handler may be made before the issuer knows its URL, as with an
// httptest server: the documents are built at the first request that finds
// the configuration valid, and kept.
func TestHandlerBeforeIssuer(t *testing.T) {
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	p := &agentprovider.Issuer{Key: key}
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// Too early: 500, saying what to set.
	code, body := get("/.well-known/aauth-agent.json")
	if pr, err := wire.ParseProblem(body); code != 500 || err != nil || !strings.Contains(pr.Detail, "set agentprovider.Issuer.Issuer to ") {
		t.Fatalf("before Issuer is set: %d %s", code, body)
	}

	p.Issuer = srv.URL
	code, body = get("/.well-known/aauth-agent.json")
	var md agentprovider.Metadata
	if code != 200 || json.Unmarshal(body, &md) != nil || md.Issuer != srv.URL || md.JWKSURI != srv.URL+"/.well-known/aauth-agent-jwks.json" {
		t.Fatalf("metadata: %d %s", code, body)
	}
	code, jwks := get("/.well-known/aauth-agent-jwks.json")
	if code != 200 {
		t.Fatalf("JWKS: %d %s", code, jwks)
	}
	// A token the issuer mints verifies against the JWKS it serves.
	agent, _ := keys.Generate()
	tok, _, err := p.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:a@localhost", Key: agent.Public()})
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(jwks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set)); err != nil {
		t.Fatalf("token does not verify against the served JWKS: %v", err)
	}

	// Once served, the documents stay as they were built.
	p.Display.Name = "changed"
	if _, body := get("/.well-known/aauth-agent.json"); strings.Contains(string(body), "changed") {
		t.Errorf("a change after the first request was served: %s", body)
	}
}

// gatedSigner counts concurrent signatures and can hold them until
// released, to test that Keys mints one token at a time.
type gatedSigner struct {
	crypto.Signer
	gate     chan struct{} // if non-nil, Sign waits for a receive
	entered  chan struct{} // Sign sends here on entry, if non-nil
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	total    atomic.Int32
}

func (g *gatedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	g.total.Add(1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if g.entered != nil {
		g.entered <- struct{}{}
	}
	if g.gate != nil {
		<-g.gate
	}
	return g.Signer.Sign(r, digest, opts)
}

// checkMaterial checks that m's token is bound to m's key and returns the
// token.
func checkMaterial(t *testing.T, i *agentprovider.Issuer, m aauth.KeyMaterial, at time.Time) string {
	t.Helper()
	if m.Key.Scheme != wire.SchemeJWT || m.Signer == nil {
		t.Fatalf("material %v", m)
	}
	p := verifyAgentToken(t, i, m.Key.Token, at)
	cnf, err := keys.ParsePublicJWK(p.cnf, i.Profile)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := keys.Thumbprint(cnf)
	b, _ := keys.Thumbprint(m.Signer.Public())
	if a != b {
		t.Fatalf("token cnf.jwk %s does not match the signer %s", a, b)
	}
	if _, ok := m.Signer.(ed25519.PrivateKey); !ok {
		t.Errorf("signer is %T, want an ephemeral ed25519.PrivateKey", m.Signer)
	}
	return m.Key.Token
}

func TestAgentKeysRenewal(t *testing.T) {
	clock := &fakeClock{now: t0}
	provider, _ := keys.Generate()
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Now: clock.Now}
	keys := &agentprovider.Keys{Issuer: i, Subject: "aauth:a@agent.example", PersonServer: "https://ps.example"}
	ctx := context.Background()

	m1, err := keys.KeyMaterial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok1 := checkMaterial(t, i, m1, clock.Now())
	p := verifyAgentToken(t, i, tok1, clock.Now())
	if p.claims["sub"] != "aauth:a@agent.example" || p.claims["ps"] != "https://ps.example" {
		t.Errorf("claims %v", p.claims)
	}

	// One hour tokens are renewed 12 minutes (20%) before they expire.
	clock.Set(t0.Add(48*time.Minute - time.Second))
	m2, _ := keys.KeyMaterial(ctx)
	if m2.Key.Token != tok1 || !m2.Signer.(ed25519.PrivateKey).Equal(m1.Signer) {
		t.Fatal("renewed before the margin")
	}
	clock.Set(t0.Add(48 * time.Minute))
	m3, _ := keys.KeyMaterial(ctx)
	tok3 := checkMaterial(t, i, m3, clock.Now())
	if tok3 == tok1 || m3.Signer.(ed25519.PrivateKey).Equal(m1.Signer) {
		t.Fatal("not renewed inside the margin, or renewed without a new key")
	}
	if exp := verifyAgentToken(t, i, tok3, clock.Now()).claims["exp"]; exp != float64(t0.Add(108*time.Minute).Unix()) {
		t.Errorf("renewed token exp %v", exp)
	}
	m4, _ := keys.KeyMaterial(ctx)
	if m4.Key.Token != tok3 {
		t.Error("renewed twice")
	}

	// Long after expiry, a new token is minted.
	clock.Set(t0.Add(10 * time.Hour))
	m5, _ := keys.KeyMaterial(ctx)
	checkMaterial(t, i, m5, clock.Now())
	if m5.Key.Token == tok3 {
		t.Error("expired token returned")
	}
}

func TestAgentKeysMargins(t *testing.T) {
	provider, _ := keys.Generate()
	cases := []struct {
		name        string
		profile     aauth.Profile
		lifetime    time.Duration
		renewBefore time.Duration
		renewAfter  time.Duration // from mint
	}{
		{"default 20%", aauth.ProfileCurrent, time.Hour, 0, 48 * time.Minute},
		{"explicit", aauth.ProfileCurrent, time.Hour, time.Minute, 59 * time.Minute},
		{"current refresh margin", aauth.ProfileCurrent, 10 * time.Minute, 0, 5 * time.Minute},
		{"seed refresh margin", aauth.ProfileSeed, 4 * time.Minute, 0, 3 * time.Minute},
		{"margin longer than lifetime", aauth.ProfileCurrent, 2 * time.Minute, 0, 96 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: t0}
			i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Profile: tc.profile, Now: clock.Now}
			keys := &agentprovider.Keys{Issuer: i, Subject: "aauth:s@agent.example", Lifetime: tc.lifetime, RenewBefore: tc.renewBefore}
			m1, err := keys.KeyMaterial(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			clock.Set(t0.Add(tc.renewAfter - time.Second))
			if m, _ := keys.KeyMaterial(context.Background()); m.Key != m1.Key {
				t.Error("renewed early")
			}
			clock.Set(t0.Add(tc.renewAfter))
			if m, _ := keys.KeyMaterial(context.Background()); m.Key == m1.Key {
				t.Error("not renewed")
			}
		})
	}
}

func TestAgentKeysErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (&agentprovider.Keys{}).KeyMaterial(ctx); err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
		t.Errorf("no issuer: %v", err)
	}
	if _, err := (*agentprovider.Keys)(nil).KeyMaterial(ctx); err == nil {
		t.Error("nil Keys")
	}
	provider, _ := keys.Generate()
	clock := &fakeClock{now: t0}
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Now: clock.Now}
	if _, err := (&agentprovider.Keys{Issuer: i, Subject: "aauth:s@agent.example", RenewBefore: -1}).KeyMaterial(ctx); err == nil {
		t.Error("negative RenewBefore accepted")
	}
	if _, err := (&agentprovider.Keys{Issuer: i}).KeyMaterial(ctx); err == nil || !strings.Contains(err.Error(), "no Subject") {
		t.Errorf("no subject: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := (&agentprovider.Keys{Issuer: i, Subject: "aauth:s@agent.example"}).KeyMaterial(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}

	// A failed renewal keeps the current, still valid, material; once it
	// has expired the error comes through.
	signer := &failingSigner{Signer: provider}
	i.Key = signer
	keys := &agentprovider.Keys{Issuer: i, Subject: "aauth:s@agent.example"}
	m1, err := keys.KeyMaterial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	signer.fail.Store(true)
	clock.Set(t0.Add(50 * time.Minute))
	m2, err := keys.KeyMaterial(ctx)
	if err != nil || m2.Key != m1.Key {
		t.Errorf("failed renewal: %v, %v", m2.Key, err)
	}
	clock.Set(t0.Add(time.Hour))
	if _, err := keys.KeyMaterial(ctx); err == nil || !strings.Contains(err.Error(), "signing agent token") {
		t.Errorf("failed mint after expiry: %v", err)
	}
	signer.fail.Store(false)
	m3, err := keys.KeyMaterial(ctx)
	if err != nil || m3.Key == m1.Key {
		t.Errorf("recovery: %v", err)
	}
}

type failingSigner struct {
	crypto.Signer
	fail atomic.Bool
}

func (f *failingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if f.fail.Load() {
		return nil, errors.New("hsm unavailable")
	}
	return f.Signer.Sign(r, digest, opts)
}

func TestAgentKeysConcurrent(t *testing.T) {
	provider, _ := keys.Generate()
	signer := &gatedSigner{Signer: provider, gate: make(chan struct{}), entered: make(chan struct{})}
	clock := &fakeClock{now: t0}
	i := &agentprovider.Issuer{Issuer: "https://agent.example", Key: signer, Now: clock.Now}
	keys := &agentprovider.Keys{Issuer: i, Subject: "aauth:s@agent.example"}
	const n = 32

	// First mint: everyone waits for the one mint and gets its result.
	results := make(chan aauth.KeyMaterial, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := keys.KeyMaterial(context.Background())
			if err != nil {
				t.Error(err)
			}
			results <- m
		}()
	}
	<-signer.entered
	// A caller whose context ends while waiting gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := keys.KeyMaterial(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting caller with an ended context: %v", err)
	}
	cancel()
	signer.gate <- struct{}{}
	wg.Wait()
	close(results)
	var first aauth.KeyMaterial
	for m := range results {
		if first.Signer == nil {
			first = m
			checkMaterial(t, i, m, t0)
		}
		if m.Key != first.Key || !first.Signer.(ed25519.PrivateKey).Equal(m.Signer) {
			t.Fatal("callers got different material")
		}
	}
	if signer.total.Load() != 1 {
		t.Fatalf("%d mints, want 1", signer.total.Load())
	}

	// Renewal: while one caller mints, the others get the current material
	// without waiting.
	clock.Set(t0.Add(50 * time.Minute))
	renewed := make(chan aauth.KeyMaterial, 1)
	go func() {
		m, err := keys.KeyMaterial(context.Background())
		if err != nil {
			t.Error(err)
		}
		renewed <- m
	}()
	<-signer.entered
	var wg2 sync.WaitGroup
	for range n {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			m, err := keys.KeyMaterial(context.Background())
			if err != nil || m.Key != first.Key {
				t.Errorf("caller during renewal got %v, %v", m.Key, err)
			}
		}()
	}
	wg2.Wait()
	signer.gate <- struct{}{}
	m := <-renewed
	checkMaterial(t, i, m, clock.Now())
	if m.Key == first.Key {
		t.Fatal("not renewed")
	}

	// Hammer it across several renewals with the gate open; every result
	// is self-consistent and mints never overlap.
	signer.gate, signer.entered = nil, nil
	var wg3 sync.WaitGroup
	for g := range n {
		wg3.Add(1)
		go func() {
			defer wg3.Done()
			for step := range 20 {
				if g == 0 {
					clock.Set(t0.Add(time.Duration(step) * 30 * time.Minute))
				}
				m, err := keys.KeyMaterial(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				checkMaterialQuiet(t, m)
			}
		}()
	}
	wg3.Wait()
	if signer.maxSeen.Load() != 1 {
		t.Errorf("%d mints ran at once, want 1", signer.maxSeen.Load())
	}
}

// checkMaterialQuiet checks that m's token names m's key, without
// verifying the token's times (the clock moves under it).
func checkMaterialQuiet(t *testing.T, m aauth.KeyMaterial) {
	parts := strings.Split(m.Key.Token, ".")
	if len(parts) != 3 {
		t.Errorf("token %s", aauth.Redact(m.Key.Token))
		return
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Cnf struct {
			JWK json.RawMessage `json:"jwk"`
		} `json:"cnf"`
	}
	json.Unmarshal(payload, &c)
	k, err := keys.ParsePublicJWK(c.Cnf.JWK, aauth.ProfileCurrent)
	if err != nil || !k.(ed25519.PublicKey).Equal(m.Signer.Public()) {
		t.Errorf("token is not bound to its key: %v", err)
	}
}
