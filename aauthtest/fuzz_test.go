package aauthtest

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/aauthgo/aauth"
)

// The servers answer any token-request body with a 2xx or 4xx, never a
// panic or a 5xx.
func FuzzPersonServerBody(f *testing.F) {
	w := NewWorld(WorldOptions{})
	f.Cleanup(w.Close)
	a, err := w.NewAgent("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	client := (&aauth.SigningTransport{Keys: a}).Client()
	for _, s := range []string{
		`{"resource":"http://127.0.0.1:1"}`, `{"resource_token":"a.b.c","presented_token":"x"}`,
		`{"capabilities":[1,2]}`, `[]`, `null`, `{"resource":null}`, `{"action":"clarification_response"}`,
		`{"resource_token":"eyJhbGciOiJFZDI1NTE5In0.e30.AAAA","presented_token":"eyJ0eXAiOiJhYS1wZXJzb24rand0In0.e30.AA"}`,
		`{"resource":"http://127.0.0.1:1","subagent_token":"eyJ0eXAiOiJhYS1hZ2VudCtqd3QifQ.eyJwYXJlbnRfYWdlbnQiOjF9.AA"}`,
		`{"resource":"http://127.0.0.1:1","upstream_token":"eyJ0eXAiOiJhYS1hdXRoK2p3dCJ9.eyJhdWQiOlsieCJdfQ.AA"}`,
		`{"resource":"http://127.0.0.1:1","upstream_token":"a.b.c","subagent_token":"a.b.c"}`,
		`{"resource":"http://127.0.0.1:1","upstream_token":{},"subagent_token":[]}`,
		`{"resource_token":"a.b.c","presented_token":"a.b.c","upstream_token":"eyJ0eXAiOiJhYS1wZXJzb24rand0In0.e30.AA"}`,
	} {
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
		f.Add(uint8(2), []byte(s))
	}
	paths := []string{"/aauth/token/person", "/aauth/token/auth", "/aauth/interaction", "/aauth/pending/x"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		req, _ := http.NewRequest("POST", w.PS.URL+paths[int(which)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("the server dropped the connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q", resp.StatusCode, body)
		}
	})
}

// The resource answers any signature headers with a 4xx, never a panic.
func FuzzResourceHeaders(f *testing.F) {
	w := NewWorld(WorldOptions{})
	f.Cleanup(w.Close)
	f.Add(`sig=jwt;jwt="a.b.c"`, `sig=("@method" "signature-key");created=1`, `sig=:AAAA:`, "AAuth x")
	f.Add(`sig=hwk;kty="OKP";crv="Ed25519";x="AAAA"`, `sig=();created=99999999999999`, `sig=:=:`, "Bearer")
	f.Add(`sig=jwt;jwt="eyJ0eXAiOiJhYS1hZ2VudCtqd3QifQ.eyJjbmYiOnsiandrIjp7fX19.AA"`, `sig=("@method");created=-1`, ``, "AAuth  ")
	f.Fuzz(func(t *testing.T, key, input, sig, authz string) {
		req, _ := http.NewRequest("GET", w.Resource.URL+"/x", nil)
		for k, v := range map[string]string{"Signature-Key": key, "Signature-Input": input, "Signature": sig, "Authorization": authz} {
			if v != "" && validHeader(v) {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("the server dropped the connection: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

// validHeader reports whether net/http would send v as a header value.
func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// The revocation body parser accepts exactly {"jti": non-empty string,
// "exp": integer} and never panics.
func FuzzRevocationBody(f *testing.F) {
	for _, s := range []string{
		`{"jti":"a","exp":1}`, `{"jti":"a","exp":1.5}`, `{"jti":"","exp":1}`, `{"JTI":"a","exp":1}`,
		`{"jti":"a","exp":99999999999999999999}`, `{"jti":"a","exp":-1}`, `{"jti":["a"],"exp":1}`,
		`{"jti":"a","exp":1,"x":2}`, `[]`, `null`, `{"jti":"a","jti":"b","exp":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		jti, err := parseRevocationBody(body)
		if err == nil && (jti == "" || len(jti) > maxRevocationJTI) {
			t.Fatalf("accepted jti %q", jti)
		}
	})
}
