package psclient

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// testBlob is a mission blob as a person server would persist it.
const testBlob = `{"agent":"aauth:assistant@agent.example","approved_at":"2026-04-07T14:30:00Z","expires_at":"2026-05-07T14:30:00Z","description":"# Plan Japan Vacation\n\nPlan and book a trip.","approved_tools":[{"name":"WebSearch","description":"Search the web"},{"name":"Read"}],"approved_resources":["https://flights.example","https://hotels.example"]}`

// b64 is unpadded base64url.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// testJWT builds a compact JWT with the given header and claims; its
// signature is not checked by the parsers under test.
func testJWT(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b64(string(h)) + "." + b64(string(c)) + "." + b64("signature")
}

// personToken is a person token for aud under mission s256, expiring at
// exp (Unix seconds).
func personToken(t testing.TB, aud, s256 string, exp int64) string {
	return testJWT(t,
		map[string]any{"typ": "aa-person+jwt", "alg": "Ed25519", "kid": "k1"},
		map[string]any{"iss": "https://ps.example", "aud": aud, "sub": "p1", "mission_s256": s256, "exp": exp, "iat": exp - 3600, "jti": "j1"})
}

// approvalJSON writes an approval document from its members.
func approvalJSON(t testing.TB, members map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustContain fails unless err is non-nil and its message contains want.
func mustContain(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if n := strings.Count(err.Error(), "aauth: "); n > 1 {
		t.Fatalf("error %q repeats the prefix", err)
	}
}
