package aauth_test

import (
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
)

// A SigningTransport signs every request a client sends. The server here
// just shows what arrived.
func ExampleSigningTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("Signature-Key:", r.Header.Get("Signature-Key"))
		fmt.Println("Signature-Input:", r.Header.Get("Signature-Input"))
		fmt.Println("AAuth-Capabilities:", r.Header.Get("AAuth-Capabilities"))
	}))
	defer srv.Close()

	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // use keys.Generate in real code
	client := (&aauth.SigningTransport{
		Keys:         aauth.StaticKeys(key, aauth.JWT("eyJhbGciOiJFZDI1NTE5In0.e30.c2ln")),
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		Now:          func() time.Time { return time.Unix(1730217600, 0) },
	}).Client()

	resp, err := client.Post(srv.URL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// Signature-Key: sig=jwt;jwt="eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"
	// Signature-Input: sig=("@method" "@authority" "@path" "content-type" "signature-key" "content-digest");created=1730217600
	// AAuth-Capabilities: interaction
}

// Signer signs one request in place; SignatureBase shows what is signed.
func ExampleSigner_SignatureBase() {
	req, _ := http.NewRequest("GET", "https://Resource.Example:443/a/./b/../api?x=1", nil)
	s := &aauth.Signer{Now: func() time.Time { return time.Unix(1730217600, 0) }}
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	base, err := s.SignatureBase(req, aauth.KeyMaterial{Signer: key, Key: aauth.JWT("a.b.c")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(base))
	// Output:
	// "@method": GET
	// "@authority": resource.example
	// "@path": /a/api
	// "signature-key": sig=jwt;jwt="a.b.c"
	// "@signature-params": ("@method" "@authority" "@path" "signature-key");created=1730217600
}
