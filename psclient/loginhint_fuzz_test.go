package psclient

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/wire"
)

// This file holds FuzzResourceTokenLoginHint, which fuzzes the login_hint
// the exchange reads out of a resource token it does not verify. Its seeds
// are the payloads of the root package's FuzzResourceToken and the JWTs of
// the test vectors (read from package wire's copy).

func loginHintJWS(header, payload string) string {
	b := base64.RawURLEncoding.EncodeToString
	return b([]byte(header)) + "." + b([]byte(payload)) + ".c2ln"
}

// loginHintSeedTokens are header and payload pairs a resource might send,
// around the login_hint: present, of the wrong type, odd text, absent, and
// payloads that are not objects or nest deeply.
func loginHintSeedTokens() [][2]string {
	const h = `{"alg":"EdDSA","typ":"aa-resource+jwt"}`
	return [][2]string{
		{h, `{"iss":"https://resource.example","agent_jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs","exp":1796299500,"login_hint":"alice@example.com"}`},
		{h, `{"login_hint":"bob@example.com","login_hint":"carol@example.com"}`},
		{h, `{"login_hint":7}`},
		{h, `{"login_hint":null}`},
		{h, `{"login_hint":["alice@example.com"]}`},
		{`{"alg":"EdDSA","typ":"aa-agent+jwt"}`, `{"sub":"aauth:a@agent.example","login_hint":"a@example.com"}`},
		{h, `{"login_hint":"\u0000\ud800é\"quoted\""}`},
		{h, `{"login_hint":"` + strings.Repeat("x", 4096) + `"}`},
		{h, `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `,"login_hint":"deep@example.com"}`},
		{h, `"login_hint"`},
		{`{"alg":"EdDSA"}`, `{}`},
		{`null`, `{"exp":1e400,"login_hint":"e@example.com"}`},
	}
}

// loginHintVectorJWTs returns the compact JWTs of the test vectors, split
// into their decoded header and payload.
func loginHintVectorJWTs(f *testing.F) [][2][]byte {
	var out [][2][]byte
	re := regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`)
	for _, name := range []string{"requirement.json", "signatures-current.json", "signatures-seed.json"} {
		b, err := os.ReadFile(filepath.Join("..", "wire", "testdata", name))
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

// byRunes is s as JSON carries it: each invalid byte a U+FFFD.
func byRunes(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzResourceTokenLoginHint checks the login_hint the exchange reads out of
// the resource token: it is the claim when the payload is a JSON object
// with a string login_hint, and the exchange body stays valid JSON that
// carries the resource token unchanged.
func FuzzResourceTokenLoginHint(f *testing.F) {
	for _, s := range loginHintSeedTokens() {
		f.Add([]byte(s[1]), "configured@example.com", "")
	}
	for _, v := range loginHintVectorJWTs(f) {
		f.Add(v[1], "", "")
	}
	f.Add([]byte(nil), "x", "a.b.c")
	f.Add([]byte(nil), "", "e30.eyJsb2dpbl9oaW50IjoiYSJ9")
	f.Fuzz(func(t *testing.T, payload []byte, configured, raw string) {
		tok := raw
		if tok == "" {
			tok = loginHintJWS(`{"typ":"aa-resource+jwt"}`, string(payload))
		}
		got := jwtpeek.ClaimString(tok, "login_hint")
		if raw == "" && len(tok) <= jwtpeek.MaxTokenLen {
			var m map[string]json.RawMessage
			var want string
			if json.Unmarshal(payload, &m) == nil {
				_ = json.Unmarshal(m["login_hint"], &want)
			}
			if got != want {
				t.Fatalf("login_hint %q, want %q", got, want)
			}
		}
		if !utf8.ValidString(tok) {
			return // resource tokens come from a header: ASCII
		}
		for _, p := range []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed} {
			body, err := exchangeBody(ExchangeRequest{Profile: p, ResourceToken: tok, PresentedToken: "pt", LoginHint: configured})
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("%s body %s: %v", p, body, err)
			}
			if m["resource_token"] != tok {
				t.Fatalf("%s resource_token %q, want %q", p, m["resource_token"], tok)
			}
			want := configured
			if profile.For(p).ResourceTokenHint && got != "" {
				want = got
			}
			if lh, _ := m["login_hint"].(string); lh != byRunes(want) {
				t.Fatalf("%s login_hint %q, want %q", p, lh, want)
			}
		}
	})
}
