package aauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/aauthgo/aauth/keys"
)

// The Transport remembers the thumbprint of the last Ed25519 key; a key
// that changes, and back, gets its own thumbprint every time.
func TestTransportThumbprintFollowsKey(t *testing.T) {
	_, a, _ := ed25519.GenerateKey(rand.Reader)
	_, b, _ := ed25519.GenerateKey(rand.Reader)
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var tr Transport
	for i, pub := range []any{a.Public(), a.Public(), b.Public(), p.Public(), a.Public(), p.Public(), b.Public()} {
		want, err := keys.Thumbprint(pub)
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
