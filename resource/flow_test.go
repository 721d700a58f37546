package resource

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func TestAgentTokenServed(t *testing.T) {
	w := newWorld(t, nil)
	resp := w.do("GET", "/data?x=1", "", w.agentToken(nil))
	wantStatus(t, resp, http.StatusOK, "")
	c := w.lastCaller()
	if c.Kind != KindAgent || c.Agent != "aauth:bot@agent.example" || c.Issuer != w.ap.url || c.PersonServer != w.ps.url {
		t.Errorf("caller %+v", c)
	}
	if c.Thumbprint != w.agent.thumbprint() || c.Subject != "" || c.Token == "" || c.JTI == "" {
		t.Errorf("caller %+v", c)
	}
	claims, err := c.Claims()
	if err != nil || claims["sub"] != "aauth:bot@agent.example" {
		t.Errorf("Claims() = %v, %v", claims, err)
	}
}

func TestPostWithBodyServed(t *testing.T) {
	w := newWorld(t, nil)
	resp := w.do("POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, w.agentToken(nil))
	wantStatus(t, resp, http.StatusOK, "")
	if !strings.Contains(bodyOf(resp), `"body":46`) {
		t.Errorf("the handler did not get the body back: %s", bodyOf(resp))
	}
}

// TestAuthTokenFlow walks the current profile's three steps: agent token
// → person-token; person token → auth-token with a resource token; auth
// token → served; then a step-up.
func TestAuthTokenFlow(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Mode, rs.Scope = AuthToken, "read" })

	resp := w.do("GET", "/data", "", w.agentToken(nil))
	wantStatus(t, resp, http.StatusUnauthorized, "")
	if got := resp.Header.Get("AAuth-Requirement"); got != "requirement=person-token" {
		t.Fatalf("AAuth-Requirement %q", got)
	}

	pt := w.personToken(map[string]any{"mission_s256": "m256", "tenant": "acme"})
	resp = w.do("GET", "/data", "", pt)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	rt := resourceTokenOf(t, resp)
	claims := verifyResourceToken(t, w, rt)
	ptClaims := payloadOf(t, pt)
	want := map[string]any{
		"iss": w.rs.Issuer, "dwk": "aauth-resource.json", "aud": w.ps.url, "ps": w.ps.url,
		"sub": "person-1", "presented_jti": ptClaims["jti"], "agent_jkt": w.agent.thumbprint(),
		"scope": "read", "mission_s256": "m256", "tenant": "acme",
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("resource token %s = %v, want %v", k, claims[k], v)
		}
	}
	if _, ok := claims["person_token_jti"]; ok {
		t.Error("person_token_jti without PersonTokenJTI")
	}
	if claims["exp"].(float64)-claims["iat"].(float64) != 300 {
		t.Errorf("resource token lifetime %v", claims["exp"].(float64)-claims["iat"].(float64))
	}

	at := w.authToken("read write", nil)
	resp = w.do("GET", "/data", "", at)
	wantStatus(t, resp, http.StatusOK, "")
	if c := w.lastCaller(); c.Kind != KindAuth || c.Subject != "person-1" || c.PersonServer != w.ps.url || !c.HasScope("read") {
		t.Errorf("caller %+v", c)
	}

	// Step-up: an auth token without the scope gets a new resource token
	// naming the auth token it presented.
	at2 := w.authToken("other", nil)
	resp = w.do("GET", "/data", "", at2)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	claims = verifyResourceToken(t, w, resourceTokenOf(t, resp))
	if claims["presented_jti"] != payloadOf(t, at2)["jti"] {
		t.Errorf("step-up presented_jti %v, want the auth token's jti", claims["presented_jti"])
	}
}

func TestPersonTokenMode(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Mode = PersonToken })
	resp := w.do("GET", "/data", "", w.agentToken(nil))
	wantStatus(t, resp, http.StatusUnauthorized, "")
	if got := resp.Header.Get("AAuth-Requirement"); got != "requirement=person-token" {
		t.Fatalf("AAuth-Requirement %q", got)
	}
	resp = w.do("GET", "/data", "", w.personToken(nil))
	wantStatus(t, resp, http.StatusOK, "")
	if c := w.lastCaller(); c.Kind != KindPerson || c.Subject != "person-1" || c.PersonServer != w.ps.url {
		t.Errorf("caller %+v", c)
	}
}

func TestPersonTokenJTIOption(t *testing.T) {
	w := newWorld(t, func(rs *Resource) { rs.Mode, rs.PersonTokenJTI = AuthToken, true })
	pt := w.personToken(nil)
	resp := w.do("GET", "/data", "", pt)
	claims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	jti := payloadOf(t, pt)["jti"]
	if claims["person_token_jti"] != jti || claims["presented_jti"] != jti {
		t.Errorf("person_token_jti %v, presented_jti %v, want %v", claims["person_token_jti"], claims["presented_jti"], jti)
	}
}

// resourceTokenOf extracts the resource token of a requirement=auth-token
// challenge.
func resourceTokenOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	v := resp.Header.Get("AAuth-Requirement")
	const prefix = `requirement=auth-token; resource-token="`
	if !strings.HasPrefix(v, prefix) || !strings.HasSuffix(v, `"`) {
		t.Fatalf("AAuth-Requirement %q is not an auth-token challenge (status %d, body %s)", v, resp.StatusCode, bodyOf(resp))
	}
	return strings.TrimSuffix(strings.TrimPrefix(v, prefix), `"`)
}

// verifyResourceToken checks a resource token against the JWK Set the
// resource publishes (fetched through its metadata, with jwx) and returns
// its claims.
func verifyResourceToken(t testing.TB, w *world, rt string) map[string]any {
	t.Helper()
	return verifyResourceTokenAlg(t, w, rt, "Ed25519")
}

func verifyResourceTokenAlg(t testing.TB, w *world, rt, wantAlg string) map[string]any {
	t.Helper()
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, w.rs.Issuer+"/.well-known/aauth-resource.json", &md)
	if md.Issuer != w.rs.Issuer {
		t.Fatalf("metadata issuer %q, want %q", md.Issuer, w.rs.Issuer)
	}
	resp, err := http.Get(md.JWKSURI)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	set, err := jwk.ParseReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Parse([]byte(rt))
	if err != nil {
		t.Fatal(err)
	}
	sigs := msg.Signatures()
	hdr := sigs[0].ProtectedHeaders()
	if typ, _ := hdr.Type(); typ != "aa-resource+jwt" {
		t.Errorf("typ %q", typ)
	}
	if alg, _ := hdr.Algorithm(); alg.String() != wantAlg {
		t.Errorf("alg %q", alg)
	}
	if _, err := jws.Verify([]byte(rt), jws.WithKeySet(set, jws.WithRequireKid(true))); err != nil {
		t.Fatalf("the resource token does not verify with the published keys: %v", err)
	}
	return payloadOf(t, rt)
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// payloadOf decodes a JWT's payload without verifying it.
func payloadOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := b64url.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
