package psclient

import (
	"context"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/wire"
)

func FuzzMetadata(f *testing.F) {
	for _, s := range []string{
		`{"issuer":"https://ps.example","auth_token_endpoint":"https://ps.example/t","person_token_endpoint":"https://ps.example/p","jwks_uri":"https://ps.example/j"}`,
		`{"token_endpoint":"https://ps.example/aauth/token"}`,
		`{"issuer":"https://ps.example/","token_endpoint":"http://127.0.0.1:1/t","scopes_supported":["a",1]}`,
		`{"issuer":1,"auth_token_endpoint":["x"]}`,
		`[]`, `null`, `{`,
	} {
		f.Add([]byte(s), "https://ps.example")
	}
	f.Fuzz(func(t *testing.T, b []byte, psURL string) {
		md, err := parseMetadata(b)
		if err != nil {
			return
		}
		for _, p := range []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed} {
			ep := md.AuthTokenEndpointFor(p)
			if ep != md.AuthTokenEndpoint && ep != md.TokenEndpoint {
				t.Fatalf("endpoint %q from nowhere", ep)
			}
			if md.check(context.Background(), psURL, "doc", p) != nil {
				continue
			}
			if p == wire.ProfileCurrent && md.Issuer != strings.TrimSuffix(psURL, "/") {
				t.Fatalf("issuer %q accepted for %q", md.Issuer, psURL)
			}
			if egress.CheckSecureURL(context.Background(), ep) != nil {
				t.Fatalf("insecure endpoint %q accepted", ep)
			}
		}
	})
}

func FuzzTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"auth_token":"eyJ.a.b","expires_in":3600}`,
		`{"auth_token":"x","expires_in":"3600"}`,
		`{"auth_token":"x","expires_in":59.9}`,
		`{"auth_token":"x","expires_in":-1}`,
		`{"auth_token":"x","expires_in":1e999}`,
		`{"person_token":"x","expires_in":0}`,
		`{"auth_token":"","expires_in":1}`,
		`{"auth_token":"a\r\nb","expires_in":1}`,
		`{"person_token":"caf\u00e9","expires_in":1}`,
		`[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, field := range []string{"auth_token", "person_token"} {
			v, exp, err := parseTokenResponse(b, field)
			if err != nil {
				if v != "" || exp != 0 {
					t.Fatal("value with an error")
				}
				continue
			}
			if v == "" || exp < 0 || exp >= maxExpiresIn {
				t.Fatalf("accepted %q expires_in %d", v, exp)
			}
			if len(v) > jwtpeek.MaxTokenLen || strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
				t.Fatalf("accepted a token Signature-Key cannot carry: %q", v)
			}
		}
		// The resource-token claim reader takes the same hostile input.
		_ = jwtpeek.ClaimString(string(b), "login_hint")
		_ = jwtpeek.ClaimString("a."+string(b)+".c", "login_hint")
	})
}
