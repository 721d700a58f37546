package resource

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Every parser of what a client (or an issuer the client names) sends has
// a fuzz target here. They check that nothing panics, that every refusal
// is a typed *Error with a Signature-Error code, and, for the fast
// Signature-Key path, that it agrees with the general parser.

// FuzzSignatureKeyFastPath: whatever the fast path accepts, the general
// RFC 9651 parser reads the same way.
func FuzzSignatureKeyFastPath(f *testing.F) {
	for _, s := range []string{
		`sig=jwt;jwt="a.b.c"`, `sig=jwt;jwt=""`, `sig=jwt;jwt="a\"b"`, `Sig=jwt;jwt="x"`, `*a.b-c_d=jwt;jwt="x"`,
		`sig=jwt; jwt="x"`, `sig=jwt;jwt="x", a=jwt;jwt="y"`, `sig=jwt;jwt="é"`, `sig=jwt;jwt="x";jwt="y"`,
		`sig=hwk;kty="OKP"`, ` sig=jwt;jwt="x"`, `sig=jwt;jwt="x" `, `1sig=jwt;jwt="x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		label, token, ok := fastSignatureKey(v)
		sl, scheme, stok, _, err := parseSignatureKeySlow(v)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("fast path accepted %q, the parser refuses it: %v", v, err)
		}
		if sl != label || scheme != schemeJWT || stok != token {
			t.Fatalf("%q: fast (%q, %q), parser (%q, %q, %q)", v, label, token, sl, scheme, stok)
		}
	})
}

// FuzzParseToken: any text given as a token is taken apart or refused
// with invalid_jwt, and what is taken apart is self-consistent.
func FuzzParseToken(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	good := handToken(map[string]any{"alg": "Ed25519", "typ": typAuth, "kid": "k"}, map[string]any{
		"iss": "https://ps.example", "aud": []string{"https://r.example"}, "iat": 1.5, "exp": 1e10, "nbf": 0,
		"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "alg": "Ed25519"}},
	}, func(in []byte) []byte { return ed25519.Sign(key, in) })
	for _, s := range []string{
		good, "", ".", "..", "a.b.c", "a.b.c.d", good + "x", strings.Replace(good, ".", "..", 1),
		b64(`{"typ":"aa-agent+jwt","crit":[]}`) + "." + b64(`{}`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`null`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`{"exp":-1}`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`{"exp":1e400}`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`{"aud":[1]}`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`{"cnf":{"jwk":{"d":null}}}`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`{"iss":"a","iss":"b","\u0069ss":"c","ISS":"d"}`) + ".",
		b64(`{"typ":"aa-agent+jwt"}`) + "." + b64(`{"sub":"\ud800","tenant":"\u00e9\n"}`) + ".",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := parseToken(raw)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != codeInvalidJWT || e.Status != 401 {
				t.Fatalf("error %v is not a 401 invalid_jwt", err)
			}
			return
		}
		if tok.signed+"."+base64.RawURLEncoding.EncodeToString(tok.sig) != raw {
			t.Fatalf("%q does not reassemble", raw)
		}
		if _, ok := kindOfTyp(tok.header.Typ); !ok {
			t.Fatalf("kind of %q", tok.header.Typ)
		}
		if cl := tok.claims; cl.Exp.set && (cl.Exp.t.Unix() < 0 || cl.Exp.t.Unix() > 1e11) {
			t.Fatalf("exp %v out of range", cl.Exp.t)
		}
		_, _ = tok.cnfKey()
		_ = tok.verifySignature(key.Public())
		m, err := decodeClaims(tok.payload)
		if err != nil {
			t.Fatalf("Claims() fails on a payload parseToken took: %v", err)
		}
		// The string claims agree with encoding/json's reading (exact
		// names, the last duplicate winning), on valid UTF-8.
		if !utf8.Valid(tok.payload) {
			return
		}
		for name, got := range map[string]string{
			"iss": tok.claims.Iss, "sub": tok.claims.Sub, "jti": tok.claims.Jti, "ps": tok.claims.Ps,
			"scope": tok.claims.Scope, "tenant": tok.claims.Tenant, "mission_s256": tok.claims.MissionS256,
		} {
			want, _ := m[name].(string)
			if strings.ContainsRune(want, utf8.RuneError) {
				// A lone surrogate escape: encoding/json makes it
				// U+FFFD, fastjson keeps the escape's text. Neither is
				// a claim an issuer means; both are compared exactly.
				continue
			}
			if got != want {
				t.Fatalf("%s: %q, encoding/json reads %q", name, got, want)
			}
		}
	})
}

// FuzzVerifyHeaders runs the whole verification on a request whose
// signature headers, Content-Digest, Authorization and body are fuzzed:
// the answer is a typed refusal, never a panic, and nothing is fetched
// from anywhere (no key can verify without a real signature).
func FuzzVerifyHeaders(f *testing.F) {
	w := newWorld(f, nil)
	good := signedGET(w, w.agentToken(nil))
	f.Add(good.Header.Get("Signature-Key"), good.Header.Get("Signature-Input"), good.Header.Get("Signature"), "", "", "")
	f.Add(`sig=jwt;jwt="a.b.c"`, `sig=("@method");created=1`, `sig=:AAAA:`, "sha-256=:AAAA:", "AAuth x", "body")
	f.Add(`sig=hwk;kty="OKP";crv="Ed25519";x="AAAA"`, `sig=();created=-1;expires=1`, `sig=:`, "sha-256", "Bearer", "")
	f.Add(`a=b, c=d`, `sig=("@query-param";name="x" "content-digest");created=1730217600`, `sig=:YQ==:, x=:YQ==:`, `sha-512=:YQ==:`, "", "{}")
	f.Fuzz(func(t *testing.T, sk, si, sg, digest, authz, body string) {
		r := httptest.NewRequest("POST", w.srv.URL+"/data", strings.NewReader(body))
		r.Host = w.srv.Listener.Addr().String()
		for name, v := range map[string]string{"Signature-Key": sk, "Signature-Input": si, "Signature": sg, "Content-Digest": digest, "Authorization": authz} {
			if v != "" {
				r.Header.Set(name, v)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		caller, err := w.rs.Verify(r.WithContext(ctx))
		if err == nil {
			t.Fatalf("a fuzzed request verified: %+v", caller)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code == "" || e.Status == http.StatusInternalServerError {
			t.Fatalf("error %v", err)
		}
	})
	if n := w.ap.metaFetches.Load(); n > 1 {
		f.Errorf("fuzzed requests fetched the issuer's metadata %d times", n)
	}
}

// FuzzSessionToken reads Authorization values.
func FuzzSessionToken(f *testing.F) {
	for _, s := range []string{"AAuth abc", "Bearer abc==", "AAuth a b", "aauth =", "AAuth ", "Basic abc", "AAuth abc=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := sessionToken(http.Header{"Authorization": {v}})
		if ok && (!isToken68(tok) || !strings.HasSuffix(v, " "+tok)) {
			t.Fatalf("%q gave %q", v, tok)
		}
	})
}

// FuzzPreferWait reads Prefer values.
func FuzzPreferWait(f *testing.F) {
	for _, s := range []string{"wait=45", "respond-async, wait=5", `wait="3"`, "wait=-1", "wait=99999999999999999999", "wait"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if d := preferWait(http.Header{"Prefer": {v}}); d < 0 || d > maxLongPoll {
			t.Fatalf("%q gave %v", v, d)
		}
	})
}

// FuzzIssuerDocuments: what an issuer serves as its key set, and its
// Cache-Control, never panic the parsers.
func FuzzIssuerDocuments(f *testing.F) {
	for _, s := range []string{
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"Ed25519","kid":"k"}`,
		`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","alg":"ES256"}`, `{"kty":"oct","k":"AAAA"}`, `[]`, `null`, `{"kty":1}`,
	} {
		f.Add(s, "max-age=60")
	}
	f.Add("{}", "no-store, max-age=1")
	f.Add("{}", `max-age="99999999999999999999"`)
	f.Fuzz(func(t *testing.T, jwk, cacheControl string) {
		for _, seed := range []bool{false, true} {
			if k, err := parseIssuerJWK(json.RawMessage(jwk), seed); err == nil && k.pub == nil {
				t.Fatal("a key without a public key")
			}
		}
		if d := maxAge(http.Header{"Cache-Control": {cacheControl}}); d < 0 {
			t.Fatalf("max-age %v", d)
		}
	})
}

// FuzzIdentifiers checks the identifier and authority rules on any text.
func FuzzIdentifiers(f *testing.F) {
	for _, s := range []string{"https://ps.example", "http://127.0.0.1:8080", "https://PS.example", "https://ps.example/", "aauth:bot@agent.example", "aauth:Bot+1@a-b.example", "[::1]:443", "Example.COM:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validServerID(s) && (strings.ToLower(s) != s || strings.HasSuffix(s, "/")) {
			t.Fatalf("server identifier %q", s)
		}
		if validAgentID(s) && !strings.HasPrefix(s, "aauth:") {
			t.Fatalf("agent identifier %q", s)
		}
		if a := normalizeAuthority(s); !strings.HasPrefix(strings.ToLower(s), a) || strings.ToLower(a) != a {
			t.Fatalf("normalizeAuthority(%q) = %q", s, a)
		}
		_ = SameInteractionCode(s, s)
	})
}

// FuzzAuthorizeBody sends fuzzed bodies, signed with a person token, to
// the authorization endpoint: 200 or 400, never a 500.
func FuzzAuthorizeBody(f *testing.F) {
	w := newWorld(f, func(rs *Resource) {
		rs.AuthorizationPath = "/aauth/authorize"
		rs.ScopeDescriptions = map[string]string{"a": "A"}
		rs.ReplayAllMethods = false
	})
	pt := w.personToken(nil)
	for _, s := range []string{`{"scope":"a"}`, `{"scope":"a b","account":""}`, `{"scope":null}`, `{"scope":"\u0000"}`, `{}`, `null`, `{"scope":"a"}x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := http.NewRequest("POST", w.srv.URL+"/aauth/authorize", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		w.agent.sign(t, req, pt, w.clock.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest:
		case http.StatusUnauthorized:
			if !strings.Contains(string(got), "replay") {
				t.Fatalf("401 %s", got)
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, got)
		}
	})
}

// FuzzEnforceMCP: whatever body a client sends under an auth token that
// grants search and fetch outright (send_email per call), the handler
// never runs a tools/call of any other tool, as the MCP go-sdk decodes
// the body (and as encoding/json reads params, which matches names
// case-insensitively), and the resource never answers 500.
func FuzzEnforceMCP(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"q":"x"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","Name":"delete_all"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"delete_all"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"fetch"}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"send_email"}}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search\u0000"}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":3,"result":{}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"search\",\"\u212aame\":\"delete_all\"}}",
	} {
		f.Add([]byte(s))
	}
	w := newWorld(f, r3Setup)
	resp := w.do("POST", "/mcp", toolCall(1, "search", ""), w.personToken(nil))
	rt := verifyResourceToken(f, w, resourceTokenOf(f, resp))
	class := w.authToken("", grantClaims(rt, []string{"search", "fetch"}, []string{"send_email"}))
	var seen []string
	h := w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, goSDKToolCalls(body)...)
		rw.WriteHeader(http.StatusOK)
	}))
	f.Fuzz(func(t *testing.T, body []byte) {
		seen = seen[:0]
		req := httptest.NewRequest("POST", w.srv.URL+"/mcp", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		w.agent.sign(t, req, class, w.clock.Now())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		for _, tool := range seen {
			if tool != "search" && tool != "fetch" {
				t.Fatalf("the handler ran tools/call %q, which is not granted; status %d", tool, rec.Code)
			}
		}
	})
}

// goSDKToolCalls returns the tools/call tool names in an MCP body as a Go
// server reads them: each message decoded by the go-sdk, its params by
// encoding/json into a struct.
func goSDKToolCalls(body []byte) []string {
	var msgs []json.RawMessage
	if err := json.Unmarshal(body, &msgs); err != nil {
		msgs = []json.RawMessage{body}
	}
	var out []string
	for _, m := range msgs {
		msg, err := jsonrpc.DecodeMessage(m)
		if err != nil {
			continue
		}
		req, ok := msg.(*jsonrpc.Request)
		if !ok || req.Method != "tools/call" {
			continue
		}
		var p struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(req.Params, &p)
		out = append(out, p.Name)
	}
	return out
}

// FuzzServerSignatureKey: any Signature-Key on a fetch of an R3 document,
// otherwise signed by the entitled person server, is refused with 401 (or
// served when it names that server's key exactly), never a panic or 500.
func FuzzServerSignatureKey(f *testing.F) {
	w := newWorld(f, r3Setup)
	r3Challenged(false)(w)
	good := func() string {
		r, _ := http.NewRequest("GET", w.stash["doc"], nil)
		signAsServer(w, r, w.ps, dwkPerson)
		return r.Header.Get("Signature-Key")
	}()
	for _, s := range []string{
		good, `sig=jwks_uri;id="` + w.ps.url + `";dwk="aauth-agent.json";kid="x"`, `sig=jwks_uri;id="";dwk="aauth-person.json";kid="x"`,
		`sig=jwks_uri;id="https://a.example";dwk="aauth-person.json";kid="x";x=1`, `sig=jwt;jwt="a.b.c"`, `sig=jwks_uri`,
		`sig=jwks_uri;id="http://10.0.0.1";dwk="aauth-person.json";kid="k"`,
	} {
		f.Add(s)
	}
	h := w.rs.Require(http.NotFoundHandler())
	f.Fuzz(func(t *testing.T, sk string) {
		req := httptest.NewRequest("GET", w.stash["doc"], nil)
		signAsServer(w, req, w.ps, dwkPerson)
		req.Header.Set("Signature-Key", sk)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if sk != good {
				t.Fatalf("served to Signature-Key %q", sk)
			}
		case http.StatusUnauthorized, http.StatusForbidden:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, sk, rec.Body)
		}
	})
}

// FuzzRevocationBody: any body at the revocation endpoint is read as
// {"jti", "exp"} or refused with a body error; what is read is in bounds
// and reads back the same from its own encoding.
func FuzzRevocationBody(f *testing.F) {
	for _, s := range []string{
		`{"jti":"a","exp":1790000000}`, `{"jti":"a","exp":0}`, `{"exp":1,"jti":"\u00e9\n"}`, `{"jti":"a","exp":1,"x":[{}]}`,
		`{"jti":"a","jti":"b","exp":1}`, `{"jti":"","exp":1}`, `{"jti":"a"}`, `{"jti":"a","exp":1.0}`, `{"jti":"a","exp":1e3}`,
		`{"jti":"a","exp":-1}`, `{"jti":"a","exp":"1"}`, `{"JTI":"a","exp":1}`, `{"jti":"a","exp":100000000001}`,
		`{"jti":"a","exp":01}`, `[]`, `null`, ``, `{`, "{\"jti\":\"\xff\",\"exp\":1}", ` {"jti":"a","exp":1} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		jti, exp, err := parseRevocation(body)
		if err != nil {
			if !errors.Is(err, errRevocationBody) || jti != "" || exp != 0 {
				t.Fatalf("%q: refused with %v (%q, %d)", body, err, jti, exp)
			}
			return
		}
		if jti == "" || len(jti) > maxJTILen || !utf8.ValidString(jti) || exp < 0 || exp > 1e11 {
			t.Fatalf("%q: read (%q, %d)", body, jti, exp)
		}
		again, _ := json.Marshal(map[string]any{"jti": jti, "exp": exp})
		if j2, e2, err := parseRevocation(again); err != nil || j2 != jti || e2 != exp {
			t.Fatalf("%q: (%q, %d) reads back as (%q, %d, %v)", body, jti, exp, j2, e2, err)
		}
	})
}
