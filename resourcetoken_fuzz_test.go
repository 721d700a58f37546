package aauth

import (
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aauthgo/aauth/internal/jwtpeek"
)

// A fuzz target for the JWT payload the agent inspects without verifying
// it: the resource token of an auth-token requirement (checkResourceToken
// and jwtpeek.Decode). Its login_hint, read into the exchange body, has
// its target in package psclient (FuzzResourceTokenLoginHint).

var fuzzRTCheck = resourceCheck{
	resource:     "https://resource.example",
	personServer: "https://ps.example",
	jkt:          "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
	presented:    fuzzJWS(`{"typ":"aa-person+jwt"}`, `{"jti":"p-1"}`),
	now:          time.Unix(1796299200, 0),
}

func fuzzB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// fuzzJWS is a compact JWS around header and payload, with a dummy
// signature: the agent never verifies it.
func fuzzJWS(header, payload string) string {
	return fuzzB64([]byte(header)) + "." + fuzzB64([]byte(payload)) + ".c2ln"
}

// fuzzVectorJWTs returns the compact JWTs of the test vectors, split into
// their decoded header and payload.
func fuzzVectorJWTs(f *testing.F) [][2][]byte {
	var out [][2][]byte
	re := regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	for _, name := range []string{"testdata/requirement.json", "testdata/signatures-current.json", "testdata/signatures-seed.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, tok := range re.FindAllString(string(b), -1) {
			parts := strings.Split(tok, ".")
			h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
			p, err2 := base64.RawURLEncoding.DecodeString(parts[1])
			if err1 == nil && err2 == nil {
				out = append(out, [2][]byte{h, p})
			}
		}
	}
	return out
}

// fuzzResourceTokenSeeds are payloads a resource might send: the one the
// check accepts, the kit's claims, and the hostile table's.
func fuzzResourceTokenSeeds() [][2]string {
	good := `{"iss":"https://resource.example","aud":"https://ps.example","ps":"https://ps.example/","agent_jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs","exp":1796299500,"iat":1796299200,"jti":"r-1","presented_jti":"p-1","scope":"read","login_hint":"alice@example.com"}`
	return [][2]string{
		{`{"alg":"EdDSA","typ":"aa-resource+jwt","kid":"r1"}`, good},
		{`{"alg":"EdDSA"}`, good},
		{`{"alg":"EdDSA","typ":"aa-agent+jwt"}`, good},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, strings.Replace(good, `"exp":1796299500`, `"exp":1796299200`, 1)},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, strings.Replace(good, `"p-1"`, `"p-2"`, 1)},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, `{"iss":"https://resource.example/","agent_jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs","exp":1.7962995e9}`},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, `{"iss":7,"agent_jkt":[],"exp":"soon","ps":{}}`},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, `"iss"`},
		{`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, `{"exp":1e400,"login_hint":7}`},
		{`null`, `{}`},
		{`{}`, `{"login_hint":"\u0000\ud800é"}`},
	}
}

func FuzzResourceToken(f *testing.F) {
	for _, s := range fuzzResourceTokenSeeds() {
		f.Add([]byte(s[0]), []byte(s[1]), "")
	}
	for _, v := range fuzzVectorJWTs(f) {
		f.Add(v[0], v[1], "")
	}
	for _, raw := range []string{"not-a-jwt", "a.b", "a.b.c.d", "..", "eyJ.eyJ.", "e30.e30.", "e30=.e30.x", strings.Repeat("A", 70000) + ".e30.x"} {
		f.Add([]byte(nil), []byte(nil), raw)
	}
	f.Fuzz(func(t *testing.T, header, payload []byte, raw string) {
		toks := []string{raw}
		if raw == "" {
			toks = []string{fuzzB64(header) + "." + fuzzB64(payload) + ".c2ln", fuzzB64(header) + "." + fuzzB64(payload) + "."}
		}
		for _, tok := range toks {
			hdr, claims, derr := jwtpeek.Decode(tok)
			if derr == nil && (hdr == nil || claims == nil) {
				t.Fatalf("decodeJWT(%q): nil maps without an error", tok)
			}
			err := checkResourceToken(tok, fuzzRTCheck)
			if err != nil {
				if !errors.Is(err, ErrResourceToken) {
					t.Fatalf("error %v is not ErrResourceToken", err)
				}
				msg := err.Error()
				if len(msg) > 1024 || !utf8.ValidString(msg) || strings.ContainsAny(msg, "\r\n\x00") {
					t.Fatalf("unclean message %q", msg)
				}
				continue
			}
			// Accepted: it must say what the check wants.
			if derr != nil {
				t.Fatalf("accepted a token decodeJWT refuses: %v", derr)
			}
			if iss, _ := claims["iss"].(string); strings.TrimSuffix(iss, "/") != fuzzRTCheck.resource {
				t.Fatalf("accepted iss %q", iss)
			}
			if jkt, _ := claims["agent_jkt"].(string); jkt != fuzzRTCheck.jkt {
				t.Fatalf("accepted agent_jkt %q", jkt)
			}
			if ps, _ := claims["ps"].(string); strings.TrimSuffix(ps, "/") != fuzzRTCheck.personServer {
				t.Fatalf("accepted ps %q", ps)
			}
			if exp, _ := claims["exp"].(float64); !time.Unix(int64(exp), 0).After(fuzzRTCheck.now) {
				t.Fatalf("accepted exp %v", claims["exp"])
			}
			if typ, _ := hdr["typ"].(string); typ != "" && typ != "aa-resource+jwt" {
				t.Fatalf("accepted typ %q", typ)
			}
			if pj, _ := claims["presented_jti"].(string); pj != "" && pj != "p-1" {
				t.Fatalf("accepted presented_jti %q", pj)
			}
		}
		// The seed generation's check: iss on the origin called, exp to
		// come, agent_jkt when present.
		seed := fuzzRTCheck
		seed.seed = true
		for _, tok := range toks {
			err := checkResourceToken(tok, seed)
			if err != nil {
				if !errors.Is(err, ErrResourceToken) {
					t.Fatalf("seed: error %v is not ErrResourceToken", err)
				}
				continue
			}
			_, claims, _ := jwtpeek.Decode(tok)
			iss, _ := claims["iss"].(string)
			u, perr := url.Parse(iss)
			if perr != nil || u.User != nil || !strings.EqualFold(u.Scheme, "https") || !strings.EqualFold(u.Hostname(), "resource.example") || u.Port() != "" && u.Port() != "443" {
				t.Fatalf("seed: accepted iss %q", iss)
			}
			if jkt, present := claims["agent_jkt"]; present && jkt != seed.jkt {
				t.Fatalf("seed: accepted agent_jkt %v", jkt)
			}
			if exp, _ := claims["exp"].(float64); !time.Unix(int64(exp), 0).After(seed.now) {
				t.Fatalf("seed: accepted exp %v", claims["exp"])
			}
		}
	})
}

// The seed generation's resource token is checked for what it carries:
// iss (any URL on the origin called), exp, and agent_jkt when present.
func TestCheckResourceTokenSeed(t *testing.T) {
	want := fuzzRTCheck
	want.seed = true
	exp := want.now.Add(5 * time.Minute).Unix()
	tok := func(payload string) string { return fuzzJWS(`{"alg":"EdDSA","typ":"aa-resource+jwt"}`, payload) }
	for _, c := range []struct {
		payload string
		ok      bool
	}{
		{`{"iss":"https://resource.example","aud":"https://ps.example","agent_jkt":"` + want.jkt + `","exp":` + itoa(exp) + `}`, true},
		{`{"iss":"https://resource.example/","exp":` + itoa(exp) + `}`, true},
		{`{"iss":"https://resource.example/mcp","exp":` + itoa(exp) + `}`, true},
		{`{"iss":"https://RESOURCE.example:443/mcp","exp":` + itoa(exp) + `}`, true},
		{`{"iss":"https://other.example","agent_jkt":"` + want.jkt + `","exp":` + itoa(exp) + `}`, false},
		{`{"iss":"https://resource.example.evil.example","exp":` + itoa(exp) + `}`, false},
		{`{"iss":"http://resource.example","exp":` + itoa(exp) + `}`, false},
		{`{"iss":"https://resource.example:8443","exp":` + itoa(exp) + `}`, false},
		{`{"iss":"https://user@resource.example","exp":` + itoa(exp) + `}`, false},
		{`{"exp":` + itoa(exp) + `}`, false},
		{`{"iss":"https://resource.example","agent_jkt":"another-key","exp":` + itoa(exp) + `}`, false},
		{`{"iss":"https://resource.example","agent_jkt":7,"exp":` + itoa(exp) + `}`, false},
		{`{"iss":"https://resource.example","exp":` + itoa(want.now.Unix()) + `}`, false},
		{`{"iss":"https://resource.example"}`, false},
	} {
		err := checkResourceToken(tok(c.payload), want)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.payload, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrResourceToken) {
			t.Errorf("%s: %v is not ErrResourceToken", c.payload, err)
		}
	}
	// The current generation keeps its exact checks: the origin as iss,
	// agent_jkt required.
	current := fuzzRTCheck
	for _, payload := range []string{
		`{"iss":"https://resource.example/mcp","agent_jkt":"` + current.jkt + `","ps":"https://ps.example","exp":` + itoa(exp) + `}`,
		`{"iss":"https://resource.example","ps":"https://ps.example","exp":` + itoa(exp) + `}`,
	} {
		if err := checkResourceToken(tok(payload), current); err == nil {
			t.Errorf("current profile accepted %s", payload)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
