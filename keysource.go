package aauth

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/aauthgo/aauth/wire"
)

// KeyMaterial is what an agent signs one request with: a private key and the
// way the request names the matching public key in its Signature-Key header.
type KeyMaterial struct {
	// Signer is the private key. Its Public method must return an
	// ed25519.PublicKey or an ECDSA P-256 *ecdsa.PublicKey. Any
	// crypto.Signer works, so a key held in an HSM or another process can
	// sign too.
	Signer crypto.Signer

	// Key says how the public key is conveyed: inline (HWK) or inside a
	// token whose cnf.jwk is the key (JWT, JKTJWT).
	Key SignatureKey
}

// A KeySource returns the key material for the next request. It is called
// once for every request sent, so keys and tokens may rotate between
// requests. Implementations must be safe for concurrent use.
type KeySource interface {
	KeyMaterial(ctx context.Context) (KeyMaterial, error)
}

// KeySourceFunc adapts a function to a KeySource.
type KeySourceFunc func(ctx context.Context) (KeyMaterial, error)

// KeyMaterial calls f(ctx).
func (f KeySourceFunc) KeyMaterial(ctx context.Context) (KeyMaterial, error) { return f(ctx) }

// StaticKeys returns a KeySource that always returns signer and key: an
// agent with one long-lived key and token, or a test. The token is not
// renewed; see agentprovider.Keys for a source that renews its own.
func StaticKeys(signer crypto.Signer, key SignatureKey) KeySource {
	m := KeyMaterial{Signer: signer, Key: key}
	return KeySourceFunc(func(ctx context.Context) (KeyMaterial, error) {
		if m.Signer == nil {
			return KeyMaterial{}, errors.New("aauth: StaticKeys has no signer")
		}
		return m, nil
	})
}

// SignatureKey is the Signature-Key value of a request, before formatting:
// a scheme and, for the token schemes, the token.
type SignatureKey struct {
	Scheme wire.Scheme
	Token  string

	// The jwks_uri scheme's parameters (see JWKSURI).
	id, dwk, kid string
}

// JWT names the signing key through a token whose cnf.jwk is the key: an
// agent token, a person token or an auth token.
func JWT(token string) SignatureKey { return SignatureKey{Scheme: wire.SchemeJWT, Token: token} }

// HWK sends the public key itself in the Signature-Key header. AAuth
// resources and person servers reject it since draft -06; it remains for
// bootstrap and for generic Signature-Key use.
func HWK() SignatureKey { return SignatureKey{Scheme: wire.SchemeHWK} }

// JKTJWT names the key through a jkt-jwt key-refresh token. The seed profile
// sends it as the jwt scheme, as @aauth/mcp-agent does.
func JKTJWT(token string) SignatureKey { return SignatureKey{Scheme: wire.SchemeJKTJWT, Token: token} }

// JWKSURI names a server's own published key, for a server signing in its
// own right (a person server fetching a resource's R3 document, say): the
// key is kid in the JWK Set that the jwks_uri of {id}/.well-known/{dwk}
// names, such as JWKSURI("https://ps.example", "aauth-person.json", kid).
// Agents never use it.
func JWKSURI(id, dwk, kid string) SignatureKey {
	return SignatureKey{Scheme: wire.SchemeJWKSURI, id: id, dwk: dwk, kid: kid}
}

// String returns a redacted description, so that a SignatureKey printed in a
// log never shows its token.
func (k SignatureKey) String() string {
	if k.Scheme == wire.SchemeJWKSURI {
		return fmt.Sprintf("%s(%s %s %s)", k.Scheme, k.id, k.dwk, k.kid)
	}
	if k.Token == "" {
		return string(k.Scheme)
	}
	return fmt.Sprintf("%s(%s)", k.Scheme, Redact(k.Token))
}
