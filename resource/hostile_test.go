package resource

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hostileCase is one thing a hostile (or broken) client does. Each ends in
// the named status and Signature-Error code: never a 500, a panic or a
// hang. Cases run in parallel, each in a world of its own.
type hostileCase struct {
	name   string
	setup  func(rs *Resource)           // configures the resource before it starts
	before func(w *world)               // after it starts, before the request
	req    func(w *world) *http.Request // the hostile request
	status int                          // the answer's status
	code   string                       // its Signature-Error code ("" for none)
	check  func(t *testing.T, resp *http.Response)
	// ran, when set, is how many times the handler must run for the
	// hostile request, whatever the status; by default, not at all
	// unless the status is 200.
	ran *int
}

// times is a hostileCase's ran.
func times(n int) *int { return &n }

var hostileCases = []hostileCase{
	// The signature headers.
	{name: "unsigned", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request { return w.request("GET", "/data", "") },
		check: func(t *testing.T, resp *http.Response) {
			if resp.Header.Get("AAuth-Requirement") != "requirement=agent-token" || resp.Header.Get("Accept-Signature-Scheme") != "jwt" ||
				resp.Header.Get("Accept-Signature-Alg") != "Ed25519, ES256" {
				t.Errorf("unsigned answer headers %v", resp.Header)
			}
		}},
	{name: "signature-input-missing", status: 401, code: "invalid_signature",
		req: signedThen(func(r *http.Request) { r.Header.Del("Signature-Input") })},
	{name: "signature-missing", status: 401, code: "invalid_signature",
		req: signedThen(func(r *http.Request) { r.Header.Del("Signature") })},
	{name: "signature-key-missing", status: 401, code: "invalid_signature",
		req: signedThen(func(r *http.Request) { r.Header.Del("Signature-Key") })},
	{name: "signature-key-two-members", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Key", r.Header.Get("Signature-Key")+`, sig2=jwt;jwt="a.b.c"`)
		})},
	{name: "signature-key-two-field-lines", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) { r.Header.Add("Signature-Key", `sig2=jwt;jwt="a.b.c"`) })},
	{name: "signature-key-same-label-twice", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Key", `sig=hwk;kty="OKP", `+r.Header.Get("Signature-Key"))
		})},
	{name: "signature-key-wrong-label", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Key", "other"+strings.TrimPrefix(r.Header.Get("Signature-Key"), "sig"))
		})},
	{name: "signature-key-huge", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Key", `sig=jwt;jwt="`+strings.Repeat("A", 20<<10)+`"`)
		})},
	{name: "signature-key-not-a-dictionary", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) { r.Header.Set("Signature-Key", `sig=("a" "b"`) })},
	{name: "signature-key-scheme-jwks-uri", status: 401, code: "unsupported_scheme",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Key", `sig=jwks_uri;id="https://ps.example";dwk="aauth-person.json";kid="k"`)
		}),
		check: func(t *testing.T, resp *http.Response) {
			if resp.Header.Get("Accept-Signature-Scheme") != "jwt" {
				t.Errorf("Accept-Signature-Scheme %q", resp.Header.Get("Accept-Signature-Scheme"))
			}
		}},
	{name: "signature-key-scheme-hwk", status: 401, code: "unsupported_scheme",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Key", `sig=hwk;kty="OKP";crv="Ed25519";x="11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";alg="Ed25519"`)
		})},
	{name: "signature-input-garbage", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) { r.Header.Set("Signature-Input", `sig=(("`) })},
	{name: "signature-input-no-created", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) {
			r.Header.Set("Signature-Input", `sig=("@method" "@authority" "@path" "signature-key")`)
		})},
	{name: "signature-input-too-many-components", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) {
			var b strings.Builder
			for i := range 100 {
				fmt.Fprintf(&b, `"x-h%d" `, i)
			}
			r.Header.Set("Signature-Input", `sig=(`+b.String()+`"signature-key");created=1`)
		})},
	{name: "signature-not-a-byte-sequence", status: 401, code: "invalid_request",
		req: signedThen(func(r *http.Request) { r.Header.Set("Signature", `sig="abc"`) })},
	{name: "signature-wrong-length", status: 401, code: "invalid_signature",
		req: signedThen(func(r *http.Request) { r.Header.Set("Signature", `sig=:AAAA:`) })},
	{name: "signature-bit-flipped", status: 401, code: "invalid_signature",
		req: signedThen(flipSignature)},
	{name: "method-changed", status: 401, code: "invalid_signature",
		req: signedThen(func(r *http.Request) { r.Method = "DELETE" })},
	{name: "path-changed", status: 401, code: "invalid_signature",
		req: signedThen(func(r *http.Request) { r.URL.Path = "/admin" })},
	{name: "authority-of-another-server", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request {
			r := w.request("GET", "/data", "")
			r.Host = "other.example"
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			return r
		}},
	{name: "uncovered-method", status: 401, code: "invalid_input",
		req: func(w *world) *http.Request {
			r := w.request("GET", "/data", "")
			handSign(w, r, []string{"@authority", "@path", "signature-key"}, w.agentToken(nil), w.clock.Now().Unix())
			return r
		},
		check: func(t *testing.T, resp *http.Response) {
			if got := resp.Header.Get("Signature-Error"); got != `error=invalid_input, required_input=("@method" "@authority" "@path" "signature-key")` {
				t.Errorf("Signature-Error %q", got)
			}
		}},
	{name: "uncovered-authorization", status: 401, code: "invalid_input",
		req: func(w *world) *http.Request {
			r := w.request("GET", "/data", "")
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			r.Header.Set("Authorization", "AAuth stolen-session")
			return r
		},
		check: func(t *testing.T, resp *http.Response) {
			if !strings.Contains(resp.Header.Get("Signature-Error"), `"authorization"`) {
				t.Errorf("Signature-Error %q", resp.Header.Get("Signature-Error"))
			}
		}},
	{name: "uncovered-required-component", status: 401, code: "invalid_input",
		setup: func(rs *Resource) { rs.Components = []string{"content-type"} },
		req:   func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "created-too-old", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request {
			r := w.request("GET", "/data", "")
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now().Add(-61*time.Second))
			return r
		}},
	{name: "created-in-the-future", status: 401, code: "clock_skew",
		req: func(w *world) *http.Request {
			r := w.request("GET", "/data", "")
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now().Add(61*time.Second))
			return r
		}},
	{name: "expires-in-the-past", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request {
			r := w.request("GET", "/data", "")
			now := w.clock.Now().Unix()
			handSignParams(w, r, []string{"@method", "@authority", "@path", "signature-key"}, w.agentToken(nil), fmt.Sprintf(";created=%d;expires=%d", now-5, now-1))
			return r
		}},
	{name: "replayed-signature", status: 401, code: "invalid_signature",
		before: func(w *world) {
			r := w.request("POST", "/data", `{"a":1}`)
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			w.replay = r.Clone(r.Context())
			wantStatus(w.t, w.send(r), http.StatusOK, "")
		},
		req: func(w *world) *http.Request {
			r := w.replay
			r.Body, _ = r.GetBody()
			return r
		},
		check: func(t *testing.T, resp *http.Response) {
			if !strings.Contains(bodyOf(resp), "replay") {
				t.Errorf("body %s", bodyOf(resp))
			}
		}},
	{name: "body-does-not-match-content-digest", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request {
			r := w.request("POST", "/data", `{"amount":1}`)
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			swapBody(r, `{"amount":9}`)
			return r
		}},
	{name: "body-without-content-digest", status: 401, code: "invalid_input",
		req: func(w *world) *http.Request {
			r := w.request("POST", "/data", `{"amount":1}`)
			handSign(w, r, []string{"@method", "@authority", "@path", "signature-key"}, w.agentToken(nil), w.clock.Now().Unix())
			return r
		}},
	{name: "content-digest-malformed", status: 401, code: "invalid_request",
		req: func(w *world) *http.Request {
			r := w.request("POST", "/data", `{"amount":1}`)
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			r.Header.Set("Content-Digest", "sha-256=not-bytes")
			return r
		}},
	{name: "body-too-large", status: 413,
		setup: func(rs *Resource) { rs.MaxBody = 64 },
		req: func(w *world) *http.Request {
			r := w.request("POST", "/data", strings.Repeat("x", 200))
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			return r
		}},
	{name: "body-too-large-chunked", status: 413,
		setup: func(rs *Resource) { rs.MaxBody = 64 },
		req: func(w *world) *http.Request {
			r := w.request("POST", "/data", strings.Repeat("x", 200))
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			r.ContentLength = -1 // sent chunked
			return r
		}},

	// The key the request claims.
	{name: "alg-eddsa-key-in-current-profile", status: 401, code: "unsupported_algorithm",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"cnf": cnfWith(w.agent, "alg", "EdDSA")}))
		},
		check: func(t *testing.T, resp *http.Response) {
			if resp.Header.Get("Accept-Signature-Alg") != "Ed25519, ES256" {
				t.Errorf("Accept-Signature-Alg %q", resp.Header.Get("Accept-Signature-Alg"))
			}
		}},
	{name: "key-without-alg", status: 401, code: "unsupported_algorithm",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"cnf": cnfWith(w.agent, "alg", nil)}))
		}},
	{name: "key-alg-of-another-type", status: 401, code: "invalid_key",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"cnf": cnfWith(w.agent, "alg", "ES256")}))
		}},
	{name: "key-with-private-member", status: 401, code: "invalid_key",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"cnf": cnfWith(w.agent, "d", "AAAA")}))
		}},
	{name: "key-algorithm-not-accepted", status: 401, code: "unsupported_algorithm",
		setup: func(rs *Resource) { rs.Algorithms = []string{"ES256"} },
		req:   func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "cnf-missing", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request { return signedGET(w, w.agentToken(map[string]any{"cnf": nil})) }},
	{name: "cnf-of-another-key", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"cnf": newAgent().cnf()}))
		}},

	// Algorithm confusion in the token.
	{name: "token-alg-none", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, handToken(map[string]any{"alg": "none", "typ": typAgent, "kid": w.ap.kid}, w.agentClaims(), nil))
		}},
	{name: "token-alg-hs256-public-key-as-secret", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			secret := []byte(w.ap.key.Public().(ed25519.PublicKey))
			return signedGET(w, handToken(map[string]any{"alg": "HS256", "typ": typAgent, "kid": w.ap.kid}, w.agentClaims(), func(in []byte) []byte {
				m := hmac.New(sha256.New, secret)
				m.Write(in)
				return m.Sum(nil)
			}))
		}},
	{name: "token-alg-eddsa-in-current-profile", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, handToken(map[string]any{"alg": "EdDSA", "typ": typAgent, "kid": w.ap.kid}, w.agentClaims(), w.ap.signRaw))
		}},
	{name: "token-alg-es256-on-an-ed25519-key", status: 401, code: "unknown_key",
		req: func(w *world) *http.Request {
			return signedGET(w, handToken(map[string]any{"alg": "ES256", "typ": typAgent, "kid": w.ap.kid}, w.agentClaims(), w.ap.signRaw))
		}},
	{name: "token-crit-header", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, handToken(map[string]any{"alg": "Ed25519", "typ": typAgent, "kid": w.ap.kid, "crit": []string{"x"}, "x": 1}, w.agentClaims(), w.ap.signRaw))
		}},

	// The token.
	{name: "token-not-a-jws", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request { return signedGET(w, "not.a-jws") }},
	{name: "token-payload-not-json", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, b64(`{"alg":"Ed25519","typ":"aa-agent+jwt","kid":"k"}`)+"."+b64("[1,2]")+".AAAA")
		}},
	{name: "token-claim-of-the-wrong-type", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request { return signedGET(w, w.agentToken(map[string]any{"exp": "tomorrow"})) }},
	{name: "token-signature-bad", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			tok := w.agentToken(nil)
			i := strings.LastIndexByte(tok, '.')
			return signedGET(w, tok[:i+1]+strings.Repeat("A", len(tok)-i-1))
		}},
	{name: "token-typ-resource", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request { return signedGET(w, w.ap.mint(typResource, w.agentClaims())) }},
	{name: "token-no-kid", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, handToken(map[string]any{"alg": "Ed25519", "typ": typAgent}, w.agentClaims(), w.ap.signRaw))
		}},
	{name: "token-wrong-dwk", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"dwk": "aauth-person.json"}))
		}},
	{name: "token-iss-not-a-server-identifier", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"iss": w.ap.url + "/path"}))
		}},
	{name: "token-for-another-audience", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, w.personToken(map[string]any{"aud": "https://other.example"}))
		}},
	{name: "token-expired", status: 401, code: "expired_jwt",
		req: func(w *world) *http.Request {
			now := w.clock.Now()
			return signedGET(w, w.agentToken(map[string]any{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Unix()}))
		}},
	{name: "token-not-yet-valid", status: 401, code: "clock_skew",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"nbf": w.clock.Now().Add(10 * time.Minute).Unix()}))
		}},
	{name: "token-issued-in-the-future", status: 401, code: "clock_skew",
		req: func(w *world) *http.Request {
			now := w.clock.Now()
			return signedGET(w, w.agentToken(map[string]any{"iat": now.Add(5 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}))
		}},
	{name: "token-without-iat", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request { return signedGET(w, w.agentToken(map[string]any{"iat": nil})) }},
	{name: "person-token-living-over-an-hour", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, w.personToken(map[string]any{"exp": w.clock.Now().Add(2 * time.Hour).Unix()}))
		}},
	{name: "auth-token-without-ps", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request { return signedGET(w, w.authToken("read", map[string]any{"ps": nil})) }},
	{name: "agent-token-parent-agent-garbage", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, w.agentToken(map[string]any{"parent_agent": "not an agent"}))
		}},
	{name: "untrusted-agent-provider", status: 401, code: "invalid_jwt",
		setup: func(rs *Resource) { rs.AgentProviders = TrustIssuers("https://agent.example") },
		req:   func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "untrusted-person-server", status: 401, code: "invalid_jwt",
		setup: func(rs *Resource) { rs.PersonServers = TrustIssuers("https://ps.example") },
		req:   func(w *world) *http.Request { return signedGET(w, w.personToken(nil)) }},
	{name: "auth-token-from-a-foreign-access-server", status: 401, code: "invalid_jwt",
		req: func(w *world) *http.Request {
			return signedGET(w, w.authToken("read", map[string]any{"dwk": "aauth-access.json"}))
		}},
	{name: "revoked-auth-token", status: 401, code: "revoked_jwt",
		setup: func(rs *Resource) {
			rs.Revoked = func(_ context.Context, iss, jti string) bool { return jti == "revoked" }
		},
		req: func(w *world) *http.Request {
			return signedGET(w, w.authToken("read", map[string]any{"jti": "revoked"}))
		},
		check: func(t *testing.T, resp *http.Response) {
			if resp.Header.Get("AAuth-Requirement") != "requirement=person-token" {
				t.Errorf("AAuth-Requirement %q", resp.Header.Get("AAuth-Requirement"))
			}
		}},
	{name: "person-token-where-an-auth-token-is-required", status: 401,
		setup: func(rs *Resource) { rs.Mode, rs.Scope = AuthToken, "read" },
		req:   func(w *world) *http.Request { return signedGET(w, w.personToken(map[string]any{"scope": "read"})) },
		check: func(t *testing.T, resp *http.Response) { resourceTokenOf(t, resp) }},

	// The issuer's documents.
	{name: "metadata-issuer-differs", status: 401, code: "issuer_mismatch",
		before: func(w *world) { w.ap.set(func(is *issuer) { s := "https://evil.example"; is.metaIssuer = &s }) },
		req:    func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "metadata-issuer-missing", status: 401, code: "issuer_missing",
		before: func(w *world) { w.ap.set(func(is *issuer) { s := ""; is.metaIssuer = &s }) },
		req:    func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "jwks-oversized", status: 401, code: "unknown_key",
		before: func(w *world) {
			w.ap.set(func(is *issuer) { is.jwksBody = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 300<<10) + `"}`) })
		},
		req: func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "jwks-slow", status: 401, code: "unknown_key",
		setup:  func(rs *Resource) { rs.FetchTimeout = 100 * time.Millisecond },
		before: func(w *world) { w.ap.set(func(is *issuer) { is.delay = time.Minute }) },
		req:    func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "jwks-unreachable", status: 401, code: "unknown_key",
		before: func(w *world) { w.ap.srv.Close() },
		req:    func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "jwks-lacks-the-kid", status: 401, code: "unknown_key",
		before: func(w *world) { w.ap.set(func(is *issuer) { is.kid = "another" }) },
		req: func(w *world) *http.Request {
			return signedGET(w, handToken(map[string]any{"alg": "Ed25519", "typ": typAgent, "kid": "missing"}, w.agentClaims(), w.ap.signRaw))
		}},
	{name: "jwks-key-without-alg", status: 401, code: "unknown_key",
		before: func(w *world) {
			k := w.ap.publicJWK()
			delete(k, "alg")
			b, _ := json.Marshal(map[string]any{"keys": []any{k}})
			w.ap.set(func(is *issuer) { is.jwksBody = b })
		},
		req: func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "jwks-not-json", status: 401, code: "unknown_key",
		before: func(w *world) { w.ap.set(func(is *issuer) { is.jwksBody = []byte("<html>") }) },
		req:    func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "jwks-error-status", status: 401, code: "unknown_key",
		before: func(w *world) { w.ap.set(func(is *issuer) { is.jwksStatus = http.StatusNotFound }) },
		req:    func(w *world) *http.Request { return signedGET(w, w.agentToken(nil)) }},
	{name: "pending-url-of-someone-else", status: 404,
		req: func(w *world) *http.Request {
			r, _ := http.NewRequest("GET", w.srv.URL+"/aauth/pending/nonexistent", nil)
			w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
			return r
		}},
	{name: "pending-url-unsigned", status: 401, code: "invalid_signature",
		req: func(w *world) *http.Request {
			r, _ := http.NewRequest("GET", w.srv.URL+"/aauth/pending/x", nil)
			return r
		}},
}

// TestHostileClients runs the table.
func TestHostileClients(t *testing.T) {
	t.Logf("%d hostile cases", len(hostileCases))
	seen := map[string]bool{}
	for _, hc := range hostileCases {
		if seen[hc.name] {
			t.Fatalf("two cases named %q", hc.name)
		}
		seen[hc.name] = true
		t.Run(hc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, hc.setup)
			if hc.before != nil {
				hc.before(w)
			}
			served := len(w.callers)
			req := hc.req(w)
			start := time.Now()
			resp := w.send(req)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("answered after %v", d)
			}
			wantStatus(t, resp, hc.status, hc.code)
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				var p struct {
					Error string `json:"error"`
				}
				if json.Unmarshal([]byte(bodyOf(resp)), &p) != nil || p.Error == "" ||
					resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("body is not a problem: %s %q", resp.Header.Get("Content-Type"), bodyOf(resp))
				}
				if hc.code != "" && p.Error != hc.code {
					t.Errorf("problem error %q, want %q", p.Error, hc.code)
				}
			}
			if resp.StatusCode != http.StatusUnauthorized && resp.Header.Get("Signature-Error") != "" {
				t.Errorf("a %d carries Signature-Error", resp.StatusCode)
			}
			if tok := req.Header.Get("Signature-Key"); len(tok) > 40 && strings.Contains(bodyOf(resp), tok[14:40]) {
				t.Error("the answer repeats the token")
			}
			if hc.check != nil {
				hc.check(t, resp)
			}
			switch n := len(w.callers) - served; {
			case hc.ran != nil && n != *hc.ran:
				t.Errorf("the handler ran %d times, want %d", n, *hc.ran)
			case hc.ran == nil && n != 0 && hc.status != http.StatusOK:
				t.Errorf("the handler ran %d times", n)
			}
		})
	}
}

// TestHostileGoroutinesBounded: after the table, no fetch or handler
// goroutine is left behind.
func TestHostileGoroutinesBounded(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	for _, name := range []string{"jwks-slow", "jwks-unreachable", "replayed-signature"} {
		for _, hc := range hostileCases {
			if hc.name != name {
				continue
			}
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, hc.setup)
				if hc.before != nil {
					hc.before(w)
				}
				w.send(hc.req(w))
				c, _ := w.rs.config()
				t.Cleanup(c.fetch.closeIdle)
			})
		}
	}
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// signedGET is a GET signed presenting token.
func signedGET(w *world, token string) *http.Request {
	r := w.request("GET", "/data", "")
	w.agent.sign(w.t, r, token, w.clock.Now())
	return r
}

// signedThen signs a GET with the agent token, then changes it.
func signedThen(f func(r *http.Request)) func(w *world) *http.Request {
	return func(w *world) *http.Request {
		r := signedGET(w, w.agentToken(nil))
		f(r)
		return r
	}
}

func flipSignature(r *http.Request) {
	v := r.Header.Get("Signature")
	label, rest, _ := strings.Cut(v, "=:")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, ":"))
	raw[10] ^= 1
	r.Header.Set("Signature", label+"=:"+base64.StdEncoding.EncodeToString(raw)+":")
}

func swapBody(r *http.Request, body string) {
	r.Body, r.GetBody = nil, nil
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	r.Body, _ = r.GetBody()
}

// cnfWith is the agent's cnf with one JWK member set (nil deletes it).
func cnfWith(a *agent, member string, v any) map[string]any {
	c := a.cnf()
	jwk := c["jwk"].(map[string]any)
	if v == nil {
		delete(jwk, member)
	} else {
		jwk[member] = v
	}
	return c
}

// agentClaims are the claims of a valid agent token.
func (w *world) agentClaims() map[string]any {
	now := w.clock.Now()
	return map[string]any{
		"iss": w.ap.url, "dwk": dwkAgent, "sub": "aauth:bot@agent.example", "jti": randomID(8),
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": w.agent.cnf(),
	}
}

// signRaw signs the JWS signing input with the issuer's key.
func (is *issuer) signRaw(in []byte) []byte {
	is.mu.Lock()
	defer is.mu.Unlock()
	return ed25519.Sign(is.key, in)
}

// handToken builds a compact JWS by hand; sign nil leaves the signature
// empty (alg none).
func handToken(header, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := b64(string(h)) + "." + b64(string(c))
	if sign == nil {
		return in + "."
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(in)))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// handSign signs r over components by hand (RFC 9421 §2.5), presenting
// token, with created.
func handSign(w *world, r *http.Request, components []string, token string, created int64) {
	handSignParams(w, r, components, token, fmt.Sprintf(";created=%d", created))
}

func handSignParams(w *world, r *http.Request, components []string, token, params string) {
	r.Header.Set("Signature-Key", `sig=jwt;jwt="`+token+`"`)
	var base strings.Builder
	ids := make([]string, len(components))
	for i, c := range components {
		ids[i] = `"` + c + `"`
		var v string
		switch c {
		case "@method":
			v = r.Method
		case "@authority":
			v = r.URL.Host
		case "@path":
			v = r.URL.Path
		default:
			v = r.Header.Get(c)
		}
		fmt.Fprintf(&base, "%s: %s\n", ids[i], v)
	}
	sp := "(" + strings.Join(ids, " ") + ")" + params
	fmt.Fprintf(&base, `"@signature-params": %s`, sp)
	sig := ed25519.Sign(w.agent.key.(ed25519.PrivateKey), []byte(base.String()))
	r.Header.Set("Signature-Input", "sig="+sp)
	r.Header.Set("Signature", "sig=:"+base64.StdEncoding.EncodeToString(sig)+":")
}
