// Package jwkx holds the JWK members the library reads and writes for
// Ed25519 and P-256 keys, shared by package keys (JWKs and key files) and
// package agentprovider (cnf.jwk and the JWKS). It imports nothing of this
// module.
package jwkx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
)

// The JWK algorithms an AAuth signing key may carry. The current profile
// wants the fully-specified names (RFC 9864); the seed profile also used
// the polymorphic EdDSA.
const (
	AlgEd25519 = "Ed25519"
	AlgEdDSA   = "EdDSA"
	AlgES256   = "ES256"
)

// B64 is the base64url alphabet without padding that JWK members use.
// Strict rejects non-canonical encodings, so one key has one spelling.
var B64 = base64.RawURLEncoding.Strict()

// Members holds the JWK members the library reads and writes, in the
// order it writes them.
type Members struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	D   string `json:"d,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
}

// P256Point returns the uncompressed point 04||X||Y of a P-256 public key.
func P256Point(pub *ecdsa.PublicKey) ([]byte, error) {
	// Bytes dereferences X and Y, so a half-built key is caught here
	// rather than as a panic.
	if pub == nil || pub.Curve != elliptic.P256() || pub.X == nil || pub.Y == nil {
		return nil, errors.New("aauth: ECDSA key is not a valid P-256 key")
	}
	point, err := pub.Bytes()
	if err != nil || len(point) != 65 {
		return nil, errors.New("aauth: ECDSA key is not a valid P-256 key")
	}
	return point, nil
}

// PublicMembers fills kty, crv, x and y for a supported public key, and
// returns the alg the current profile gives it.
func PublicMembers(pub crypto.PublicKey) (Members, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return Members{}, fmt.Errorf("aauth: Ed25519 public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return Members{Kty: "OKP", Crv: "Ed25519", X: B64.EncodeToString(k), Alg: AlgEd25519}, nil
	case *ecdsa.PublicKey:
		point, err := P256Point(k)
		if err != nil {
			return Members{}, err
		}
		return Members{
			Kty: "EC", Crv: "P-256",
			X:   B64.EncodeToString(point[1:33]),
			Y:   B64.EncodeToString(point[33:]),
			Alg: AlgES256,
		}, nil
	case nil:
		return Members{}, errors.New("aauth: no public key")
	}
	return Members{}, fmt.Errorf("aauth: unsupported public key type %T (want ed25519.PublicKey or P-256 *ecdsa.PublicKey)", pub)
}

// Set is a JWK Set document, {"keys":[…]}.
type Set struct {
	Keys []Members `json:"keys"`
}
