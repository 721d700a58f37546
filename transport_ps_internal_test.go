package aauth

import (
	"encoding/base64"
	"testing"

	"github.com/aauthgo/aauth/psclient"
)

func psTestJWT(payload string) string {
	b := base64.RawURLEncoding.EncodeToString
	return b([]byte(`{"alg":"EdDSA","typ":"aa-agent+jwt"}`)) + "." + b([]byte(payload)) + ".c2ln"
}

// Only a ps claim that is an https URL, or http on a loopback host, is
// taken on the agent token's word.
func TestPSClaim(t *testing.T) {
	for payload, want := range map[string]string{
		`{"ps":"https://ps.example"}`:             "https://ps.example",
		`{"ps":"https://ps.example/"}`:            "https://ps.example/",
		`{"ps":"https://ps.example:8443/tenant"}`: "https://ps.example:8443/tenant",
		`{"ps":"http://127.0.0.1:4000"}`:          "http://127.0.0.1:4000",
		`{"ps":"http://localhost:4000"}`:          "http://localhost:4000",
		`{"ps":"http://ps.example"}`:              "",
		`{"ps":"ftp://ps.example"}`:               "",
		`{"ps":"https://user@ps.example"}`:        "",
		`{"ps":"https://ps.example?x=1"}`:         "",
		`{"ps":"https://ps.example#f"}`:           "",
		`{"ps":"https:ps.example"}`:               "",
		`{"ps":"/relative"}`:                      "",
		`{"ps":"https://ps.example/\u0000"}`:      "",
		`{"ps":7}`:                                "",
		`{}`:                                      "",
		`not json`:                                "",
	} {
		if got := psClaim(psTestJWT(payload)); got != want {
			t.Errorf("ps of %s = %q, want %q", payload, got, want)
		}
	}
	if got := psClaim("not-a-jwt"); got != "" {
		t.Errorf("ps of a non-JWT = %q", got)
	}
}

// The claim is read once per agent token; PersonServer and
// PersonServerMetadata both turn the fallback off.
func TestPersonServerFallback(t *testing.T) {
	a, b := psTestJWT(`{"ps":"https://a.example"}`), psTestJWT(`{"ps":"https://b.example"}`)
	tr := &Transport{}
	for _, c := range []struct {
		key  SignatureKey
		want string
	}{
		{JWT(a), "https://a.example"},
		{JWT(a), "https://a.example"},
		{JWT(b), "https://b.example"},
		{HWK(), ""},
		{JKTJWT(a), ""},
	} {
		if got := tr.personServer(c.key); got != c.want {
			t.Errorf("personServer(%v) = %q, want %q", c.key, got, c.want)
		}
	}
	tr.personServer(JWT(a))
	if last := tr.lastPS.Load(); last == nil || last.token != a || last.ps != "https://a.example" {
		t.Errorf("cached %+v", last)
	}
	if got := (&Transport{PersonServer: "https://ps.example"}).personServer(JWT(b)); got != "https://ps.example" {
		t.Errorf("with PersonServer: %q", got)
	}
	if got := (&Transport{PersonServerMetadata: new(psclient.Metadata)}).personServer(JWT(b)); got != "" {
		t.Errorf("with PersonServerMetadata: %q", got)
	}
}
