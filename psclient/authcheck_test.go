package psclient_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// jwtOf is an unsigned compact JWT with typ and claims: the checks never
// verify signatures.
func jwtOf(typ string, claims map[string]any) string {
	enc := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]any{"alg": "Ed25519", "typ": typ})
	c, _ := json.Marshal(claims)
	return enc(h) + "." + enc(c) + ".c2ln"
}

var (
	keyA = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "alg": "Ed25519"}
	keyB = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AAAAAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
)

func authClaims(edit func(map[string]any)) map[string]any {
	c := map[string]any{"iss": "https://ps.example", "aud": "https://r.example", "ps": "https://ps.example", "sub": "p_1",
		"cnf": map[string]any{"jwk": keyA}, "scope": "read", "exp": 1796299500}
	if edit != nil {
		edit(c)
	}
	return c
}

// An auth token is checked against the resource token and the presented
// token it was issued for (AAuth -11 auth token response verification; the
// lead's answer Q10).
func TestCheckAuthToken(t *testing.T) {
	rt := jwtOf("aa-resource+jwt", map[string]any{"iss": "https://r.example", "aud": "https://ps.example", "agent_jkt": "x"})
	pt := jwtOf("aa-person+jwt", map[string]any{"iss": "https://ps.example", "aud": "https://r.example", "sub": "p_1", "cnf": map[string]any{"jwk": keyA}})
	// alg is not part of the thumbprint: the same key without it is the same key.
	keyANoAlg := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": keyA["x"]}
	ok := map[string]string{
		"as issued":            jwtOf("aa-auth+jwt", authClaims(nil)),
		"aud as an array":      jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["aud"] = []string{"https://r.example"} })),
		"trailing slashes":     jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["aud"] = "https://r.example/"; c["iss"] = "https://ps.example/" })),
		"the same key, no alg": jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jwk": keyANoAlg} })),
	}
	for name, at := range ok {
		if err := psclient.CheckAuthToken(at, rt, pt); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"another resource": jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["aud"] = "https://other.example" })),
		"no aud":           jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { delete(c, "aud") })),
		"another issuer":   jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["iss"] = "https://evil.example" })),
		"another person":   jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["sub"] = "p_2" })),
		"another key":      jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jwk": keyB} })),
		"no key":           jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { delete(c, "cnf") })),
		"a person token":   jwtOf("aa-person+jwt", authClaims(nil)),
		"not a JWT":        "eyJ.auth.token",
		"an unknown key":   jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jwk": map[string]any{"kty": "oct", "k": "x"}} })),
		"an EC key instead": jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) {
			c["cnf"] = map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": keyA["x"], "y": "y"}}
		})),
	}
	for name, at := range bad {
		err := psclient.CheckAuthToken(at, rt, pt)
		if !errors.Is(err, psclient.ErrIssuedToken) {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.Count(err.Error(), "aauth: ") != 1 || strings.Contains(err.Error(), "c2ln") {
			t.Errorf("%s: message %q", name, err)
		}
	}
}

// ExchangeToken refuses, in the current profile, an auth token that fails
// the checks, as an *ExchangeError of the 200 answer.
func TestExchangeTokenChecksTheAuthToken(t *testing.T) {
	rt := jwtOf("aa-resource+jwt", map[string]any{"iss": "https://r.example", "aud": "https://ps.example"})
	pt := jwtOf("aa-person+jwt", map[string]any{"sub": "p_1", "cnf": map[string]any{"jwk": keyA}})
	answer := jwtOf("aa-auth+jwt", authClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jwk": keyB} }))
	s := psTokenServer(t, wire.ProfileCurrent, func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, map[string]any{"auth_token": answer, "expires_in": 60})
	})
	_, err := psclient.ExchangeToken(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.ExchangeRequest{
		PersonServer: s.URL, Cache: &psclient.MetadataCache{}, ResourceToken: rt, PresentedToken: pt,
	})
	ee := psMustAs[*psclient.ExchangeError](t, err)
	if ee.StatusCode != 200 || !errors.Is(err, psclient.ErrIssuedToken) || strings.Contains(err.Error(), answer) {
		t.Fatalf("%v", err)
	}
	// With fake tokens (not JWTs) there is nothing to check against.
	answer = "eyJ.auth.token"
	if _, err := psclient.ExchangeToken(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.ExchangeRequest{
		PersonServer: s.URL, Cache: &psclient.MetadataCache{}, ResourceToken: "rt", PresentedToken: "pt",
	}); err != nil {
		t.Fatal(err)
	}
}
