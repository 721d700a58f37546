package aauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/dunglas/httpsfv"
)

// The Transport remembers the thumbprint of the last Ed25519 key; a key
// that changes, and back, gets its own thumbprint every time.
func TestTransportThumbprintFollowsKey(t *testing.T) {
	_, a, _ := ed25519.GenerateKey(rand.Reader)
	_, b, _ := ed25519.GenerateKey(rand.Reader)
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var tr Transport
	for i, pub := range []any{a.Public(), a.Public(), b.Public(), p.Public(), a.Public(), p.Public(), b.Public()} {
		want, err := Thumbprint(pub)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.thumbprint(pub)
		if err != nil || got != want {
			t.Errorf("key %d: thumbprint %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := tr.thumbprint(ed25519.PublicKey(make([]byte, 31))); err == nil {
		t.Error("a 31-byte Ed25519 key has a thumbprint")
	}
}

// chalIsToken accepts exactly what httpsfv serialises as a Token: every
// string of one and two bytes, and a few longer ones.
func TestChalIsTokenMatchesHTTPSFV(t *testing.T) {
	ref := func(s string) bool {
		if s == "" {
			return false
		}
		_, err := httpsfv.Marshal(httpsfv.Item{Value: httpsfv.Token(s), Params: httpsfv.NewParams()})
		return err == nil
	}
	check := func(s string) {
		if got, want := chalIsToken(s), ref(s); got != want {
			t.Errorf("chalIsToken(%q) = %v, httpsfv says %v", s, got, want)
		}
	}
	check("")
	for a := 0; a < 256; a++ {
		check(string([]byte{byte(a)}))
		for b := 0; b < 256; b++ {
			check(string([]byte{byte(a), byte(b)}))
		}
	}
	for _, s := range []string{"interaction", "clarification", "*foo:bar/baz", "a b", "a,b", "a;b", "Ab9!#$%&'*+-.^_`|~:/", "a\x7f", "aé"} {
		check(s)
	}
}
