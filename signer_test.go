package aauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/wire"
)

var testClock = func() time.Time { return time.Unix(1730217600, 0) }

// received is what a test server saw.
type received struct {
	method, host, uri string
	header            http.Header
	body              []byte
}

func recordServer(t *testing.T) (*httptest.Server, <-chan received) {
	t.Helper()
	ch := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- received{r.Method, r.Host, r.RequestURI, r.Header.Clone(), b}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// checkReceived rebuilds the signature base from what the server received
// (method, Host, request target) and verifies the Ed25519 signature: the
// signed values must be the values on the wire.
func checkReceived(t *testing.T, got received, pub ed25519.PublicKey) {
	t.Helper()
	input := got.header.Get("Signature-Input")
	label, params, ok := strings.Cut(input, "=")
	if !ok {
		t.Fatalf("Signature-Input %q", input)
	}
	list := params[1:strings.IndexByte(params, ')')]
	path, _, _ := strings.Cut(got.uri, "?")
	var base strings.Builder
	for _, c := range strings.Fields(list) {
		c = strings.Trim(c, `"`)
		var v string
		switch c {
		case "@method":
			v = got.method
		case "@authority":
			v = got.host
		case "@path":
			v = path
		default:
			v = strings.Join(got.header.Values(c), ", ")
		}
		base.WriteString(`"` + c + `": ` + v + "\n")
	}
	base.WriteString(`"@signature-params": ` + params)
	sig := strings.TrimSuffix(strings.TrimPrefix(got.header.Get("Signature"), label+"=:"), ":")
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(pub, []byte(base.String()), raw) {
		t.Fatalf("signature does not verify over the received request; base:\n%s", base.String())
	}
	if d := got.header.Get("Content-Digest"); d != "" {
		sum := sha256.Sum256(got.body)
		if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; d != want {
			t.Fatalf("Content-Digest %s, body hashes to %s", d, want)
		}
	}
}

func TestSigningTransportLeavesRequestAlone(t *testing.T) {
	srv, ch := recordServer(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tr := &SigningTransport{
		Keys:         StaticKeys(priv, JWT("tok.en.x")),
		Capabilities: []wire.Capability{wire.CapabilityInteraction, wire.CapabilityClarification},
		Mission:      &wire.Mission{Approver: "https://ps.example", S256: "abc"},
		Now:          testClock,
	}
	url := strings.Replace(srv.URL, "127.0.0.1", "LOCALHOST", 1) + "/a/./b/../c d?q=1#frag"
	req, _ := http.NewRequest("post", url, strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	before := req.Header.Clone()
	resp, err := tr.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-ch
	if len(req.Header) != len(before) || req.Header.Get("Signature") != "" || req.Method != "post" || req.URL.Fragment != "frag" {
		t.Errorf("caller's request was modified: %v %s %v", req.Header, req.Method, req.URL)
	}
	if got.uri != "/a/c%20d?q=1" || got.method != "POST" || !strings.HasPrefix(got.host, "localhost:") {
		t.Errorf("wire: %s %s host %s", got.method, got.uri, got.host)
	}
	if got.header.Get("AAuth-Capabilities") != "interaction, clarification" {
		t.Errorf("AAuth-Capabilities = %q", got.header.Get("AAuth-Capabilities"))
	}
	if got.header.Get("AAuth-Mission") != "" {
		t.Errorf("current profile sent AAuth-Mission")
	}
	if !strings.Contains(got.header.Get("Signature-Input"), `"content-digest"`) {
		t.Errorf("body not digest-covered: %s", got.header.Get("Signature-Input"))
	}
	checkReceived(t, got, priv.Public().(ed25519.PublicKey))
}

func TestSigningTransportSeedMission(t *testing.T) {
	srv, ch := recordServer(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	tr := &SigningTransport{
		Keys:    StaticKeys(priv, JKTJWT("a.b.c")),
		Mission: &wire.Mission{Approver: "https://ps.example", S256: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
		Profile: wire.ProfileSeed,
		Now:     testClock,
	}
	resp, err := tr.Client().Post(srv.URL+"/x", "", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-ch
	if m := got.header.Get("AAuth-Mission"); m != `approver="https://ps.example"; s256="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"` {
		t.Errorf("AAuth-Mission = %q", m)
	}
	if k := got.header.Get("Signature-Key"); k != `sig=jwt;jwt="a.b.c"` {
		t.Errorf("seed jkt-jwt Signature-Key = %q", k)
	}
	if got.header.Get("Content-Digest") != "" || got.header.Get("Content-Type") != autoContentType {
		t.Errorf("seed body headers: %v", got.header)
	}
	if string(got.body) != "hello" {
		t.Errorf("body %q", got.body)
	}
	checkReceived(t, got, priv.Public().(ed25519.PublicKey))
}

// A body without GetBody is buffered once: the digest covers exactly the
// bytes sent, and the request becomes replayable.
func TestSignBodyWithoutGetBody(t *testing.T) {
	srv, ch := recordServer(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	req, _ := http.NewRequest("PUT", srv.URL+"/doc", nil)
	req.Body = io.NopCloser(strings.NewReader("streamed body"))
	s := &Signer{Now: testClock}
	if err := s.Sign(req, KeyMaterial{Signer: priv, Key: JWT("t.o.k")}); err != nil {
		t.Fatal(err)
	}
	if req.GetBody == nil || req.ContentLength != int64(len("streamed body")) {
		t.Fatalf("body not made replayable: GetBody=%v len=%d", req.GetBody != nil, req.ContentLength)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-ch
	if string(got.body) != "streamed body" {
		t.Errorf("body %q", got.body)
	}
	checkReceived(t, got, priv.Public().(ed25519.PublicKey))
}

// Paths net/url would re-escape are sent verbatim, so the covered @path is
// the path on the wire.
func TestSignPathSentAsSigned(t *testing.T) {
	srv, ch := recordServer(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for _, p := range []string{"/a|b^c", "/q|^{}", "/x/%7e/~y/%2F", "/%2e%2E/q", "/é/{x}", ""} {
		req, err := http.NewRequest("GET", srv.URL+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := &SigningTransport{Keys: StaticKeys(priv, HWK()), Now: testClock}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		checkReceived(t, <-ch, priv.Public().(ed25519.PublicKey))
	}
}

// hsmKey hides the concrete key type, as a key held elsewhere would.
type hsmKey struct{ crypto.Signer }

func TestSignOpaqueSigners(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, key := range []crypto.Signer{hsmKey{edPriv}, hsmKey{ecPriv}, ecPriv} {
		req, _ := http.NewRequest("GET", "https://resource.example/x", nil)
		s := &Signer{Now: testClock}
		km := KeyMaterial{Signer: key, Key: HWK()}
		base, err := s.SignatureBase(req.Clone(context.Background()), km)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Sign(req, km); err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(req.Header.Get("Signature"), "sig=:"), ":"))
		switch pub := key.Public().(type) {
		case ed25519.PublicKey:
			if !ed25519.Verify(pub, base, raw) {
				t.Error("Ed25519 via crypto.Signer does not verify")
			}
		case *ecdsa.PublicKey:
			if !verifyRawES256(pub, base, req.Header.Get("Signature"), "sig") {
				t.Error("ES256 r||s does not verify")
			}
			if !strings.Contains(req.Header.Get("Signature-Key"), `alg="ES256";kty="EC";crv="P-256"`) {
				t.Errorf("Signature-Key %s", req.Header.Get("Signature-Key"))
			}
		}
	}
}

func TestSignComponents(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	km := KeyMaterial{Signer: priv, Key: JWT("a.b.c")}
	req, _ := http.NewRequest("GET", "https://resource.example/x", nil)
	req.Header.Set("Prefer", "wait=45")
	req.Header.Set("Authorization", "AAuth st_1")
	s := &Signer{ExtraComponents: []string{"Prefer", "@query"}, Now: testClock}
	if err := s.Sign(req, km); err != nil {
		t.Fatal(err)
	}
	want := `sig=("@method" "@authority" "@path" "authorization" "prefer" "@query" "signature-key");created=1730217600`
	if got := req.Header.Get("Signature-Input"); got != want {
		t.Errorf("Signature-Input\n got %s\nwant %s", got, want)
	}
	// The seed profile never covers Authorization (the JS sends Bearer uncovered).
	req, _ = http.NewRequest("GET", "https://resource.example/x", nil)
	req.Header.Set("Authorization", "Bearer acc-1")
	if err := (&Signer{Profile: wire.ProfileSeed, Now: testClock}).Sign(req, km); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(req.Header.Get("Signature-Input"), "authorization") {
		t.Errorf("seed covered authorization: %s", req.Header.Get("Signature-Input"))
	}
}

// A content-digest asked for in ExtraComponents is computed in every
// profile, the seed's included (which digests no body by itself).
func TestSignExtraContentDigest(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	km := KeyMaterial{Signer: priv, Key: JWT("a.b.c")}
	for _, p := range []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed} {
		req, _ := http.NewRequest("POST", "https://resource.example/x", strings.NewReader(`{"a":1}`))
		req.Header.Set("Content-Type", "application/json")
		s := &Signer{Profile: p, ExtraComponents: []string{"content-digest"}, Now: testClock}
		if err := s.Sign(req, km); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if req.Header.Get("Content-Digest") == "" || !strings.Contains(req.Header.Get("Signature-Input"), `"content-digest"`) {
			t.Errorf("%s: content-digest not covered: %s", p, req.Header.Get("Signature-Input"))
		}
	}
}

func TestCoverableOn(t *testing.T) {
	get, _ := http.NewRequest("GET", "https://r.example/?q=1", nil)
	get.Header.Set("Prefer", "wait=45")
	post, _ := http.NewRequest("POST", "https://r.example/", strings.NewReader("x"))
	for _, c := range []struct {
		req  *http.Request
		name string
		want bool
	}{
		{get, "@method", true}, {get, "@query", true}, {get, "@target-uri", true},
		{get, "@status", false}, {get, `"@query-param";name="q"`, false}, {get, "", false},
		{get, "prefer", true}, {get, "Prefer", false}, {get, "x-absent", false},
		{get, "content-digest", false}, {get, "content-type", false}, {get, "content-length", false},
		{post, "content-digest", true}, {post, "content-type", true}, {post, "content-length", true},
	} {
		if got := coverableOn(c.req, c.name); got != c.want {
			t.Errorf("coverableOn(%s, %q) = %v", c.req.Method, c.name, got)
		}
	}
}

func TestSignErrors(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	ok := KeyMaterial{Signer: priv, Key: JWT("a.b.c")}
	get := func(u string) *http.Request {
		r, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name string
		s    Signer
		req  *http.Request
		km   KeyMaterial
	}{
		{"no signer", Signer{}, get("https://r.example/"), KeyMaterial{Key: HWK()}},
		{"ftp", Signer{}, get("ftp://r.example/"), ok},
		{"jwt without token", Signer{}, get("https://r.example/"), KeyMaterial{Signer: priv, Key: JWT("")}},
		{"jwks_uri without kid", Signer{}, get("https://r.example/"), KeyMaterial{Signer: priv, Key: JWKSURI("https://ps.example", "aauth-person.json", "")}},
		{"jwks_uri zero value", Signer{}, get("https://r.example/"), KeyMaterial{Signer: priv, Key: SignatureKey{Scheme: wire.SchemeJWKSURI}}},
		{"jwks_uri control byte", Signer{}, get("https://r.example/"), KeyMaterial{Signer: priv, Key: JWKSURI("https://ps.example", "aauth-person.json", "k\n")}},
		{"unknown scheme", Signer{}, get("https://r.example/"), KeyMaterial{Signer: priv, Key: SignatureKey{Scheme: "x509"}}},
		{"control byte in token", Signer{}, get("https://r.example/"), KeyMaterial{Signer: priv, Key: JWT("a\nb")}},
		{"rsa hwk", Signer{}, get("https://r.example/"), KeyMaterial{Signer: rsaKey, Key: HWK()}},
		{"rsa jwt", Signer{}, get("https://r.example/"), KeyMaterial{Signer: rsaKey, Key: JWT("a.b.c")}},
		{"bad label", Signer{Label: "Sig"}, get("https://r.example/"), ok},
		{"list without signature-key", Signer{Components: []string{"@method"}}, get("https://r.example/"), ok},
		{"missing header", Signer{ExtraComponents: []string{"x-missing"}}, get("https://r.example/"), ok},
		{"unknown derived", Signer{ExtraComponents: []string{"@status"}}, get("https://r.example/"), ok},
		{"bad component name", Signer{ExtraComponents: []string{`a"b`}}, get("https://r.example/"), ok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.Sign(c.req, c.km)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "aauth: ") {
				t.Errorf("error %q lacks the aauth: prefix", err)
			}
		})
	}
}

// A token is written into Signature-Key as an RFC 9651 String: '"' and '\\'
// escaped wherever they are, and any byte a String cannot carry refused.
func TestSignatureKeyTokenString(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct{ token, want string }{
		{"a.b.c", `sig=jwt;jwt="a.b.c"`},
		{`a"b\c`, `sig=jwt;jwt="a\"b\\c"`},
		{`"x`, `sig=jwt;jwt="\"x"`},
		{`x\`, `sig=jwt;jwt="x\\"`},
		{" ~", `sig=jwt;jwt=" ~"`},
		{"abc\x7f", ""},
		{"abc\xc3\xa9", ""},
		{"\x1f", ""},
	} {
		got, err := formatSignatureKey("sig", KeyMaterial{Signer: priv, Key: JWT(c.token)}, true, "jkt-jwt")
		if c.want == "" {
			if err == nil {
				t.Errorf("token %q: no error, got %s", c.token, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("token %q: got %s, %v; want %s", c.token, got, err, c.want)
		}
	}
}

// A server signing in its own right names its published key as mockin
// does: sig=jwks_uri;id="…";dwk="…";kid="…", in that order, and wire
// reads back what was written.
func TestSignatureKeyJWKSURI(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key := JWKSURI("http://127.0.0.1:3000", "aauth-person.json", `k"1`)
	got, err := formatSignatureKey("sig", KeyMaterial{Signer: priv, Key: key}, true, "jkt-jwt")
	if want := `sig=jwks_uri;id="http://127.0.0.1:3000";dwk="aauth-person.json";kid="k\"1"`; err != nil || got != want {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
	h, err := wire.ParseSignatureKey(got)
	if err != nil || h.Scheme != wire.SchemeJWKSURI || h.Params["id"] != "http://127.0.0.1:3000" || h.Params["dwk"] != "aauth-person.json" || h.Params["kid"] != `k"1` {
		t.Fatalf("parsed back as %#v, %v", h, err)
	}
	if s := key.String(); !strings.Contains(s, "jwks_uri") || !strings.Contains(s, "aauth-person.json") {
		t.Errorf("String() = %q", s)
	}
	req, _ := http.NewRequest("GET", "https://r.example/r3/abc", nil)
	if err := (&Signer{Now: testClock}).Sign(req, KeyMaterial{Signer: priv, Key: key}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(req.Header.Get("Signature-Input"), `"signature-key"`) {
		t.Errorf("Signature-Input %q does not cover signature-key", req.Header.Get("Signature-Input"))
	}
}

type failingKeys struct{}

func (failingKeys) KeyMaterial(context.Context) (KeyMaterial, error) {
	return KeyMaterial{}, errors.New("keychain locked")
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestSigningTransportErrorsCloseBody(t *testing.T) {
	for _, tr := range []*SigningTransport{{}, {Keys: failingKeys{}}} {
		body := &closeRecorder{Reader: strings.NewReader("x")}
		req, _ := http.NewRequest("POST", "https://r.example/", nil)
		req.Body = body
		if _, err := tr.RoundTrip(req); err == nil {
			t.Fatal("no error")
		}
		if !body.closed {
			t.Error("request body not closed on error")
		}
	}
}
