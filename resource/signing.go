package resource

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/aauthgo/aauth/internal/jsonx"
)

// signingKeys are the keys resource tokens are signed with (the first)
// and published with (all of them).
type signingKeys struct {
	keys []signingKey
}

type signingKey struct {
	signer crypto.Signer
	pub    crypto.PublicKey
	kid    string
	alg    jwa.SignatureAlgorithm
	jwk    map[string]any // the published JWK
}

func newSigningKeys(in []SigningKey, seed bool) (*signingKeys, error) {
	if len(in) == 0 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("aauth: generating the resource's signing key: %w", err)
		}
		in = []SigningKey{{Signer: priv}}
	}
	sk := &signingKeys{}
	seen := map[string]bool{}
	for i, k := range in {
		if k.Signer == nil {
			return nil, fmt.Errorf("aauth: Resource.SigningKeys[%d] has no Signer", i)
		}
		pub := k.Signer.Public()
		var alg jwa.SignatureAlgorithm
		jwkAlg := ""
		switch p := pub.(type) {
		case ed25519.PublicKey:
			alg, jwkAlg = jwa.EdDSAEd25519(), "Ed25519"
			if seed {
				alg, jwkAlg = jwa.EdDSA(), "EdDSA"
			}
		case *ecdsa.PublicKey:
			if p.Curve != elliptic.P256() {
				return nil, fmt.Errorf("aauth: Resource.SigningKeys[%d] is an ECDSA key on another curve than P-256", i)
			}
			alg, jwkAlg = jwa.ES256(), "ES256"
		default:
			return nil, fmt.Errorf("aauth: Resource.SigningKeys[%d] is a %T, not an Ed25519 or P-256 key", i, pub)
		}
		b, err := publicJWK(pub)
		if err != nil {
			return nil, fmt.Errorf("aauth: Resource.SigningKeys[%d]: %w", i, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("aauth: Resource.SigningKeys[%d]: %w", i, err)
		}
		kid := k.KeyID
		if kid == "" {
			kid, _ = m["kid"].(string)
		}
		if seen[kid] {
			return nil, fmt.Errorf("aauth: Resource.SigningKeys: two keys have kid %q", kid)
		}
		seen[kid] = true
		m["kid"], m["alg"], m["use"] = kid, jwkAlg, "sig"
		sk.keys = append(sk.keys, signingKey{signer: k.Signer, pub: pub, kid: kid, alg: alg, jwk: m})
	}
	return sk, nil
}

// jwks is the JWK Set document.
func (sk *signingKeys) jwks() ([]byte, error) {
	keys := make([]any, len(sk.keys))
	for i, k := range sk.keys {
		keys[i] = k.jwk
	}
	return jsonx.Marshal(map[string]any{"keys": keys})
}

// sign mints a JWT of type typ over claims with the first key.
func (sk *signingKeys) sign(typ string, claims map[string]any) (string, error) {
	if len(sk.keys) == 0 {
		return "", errors.New("aauth: no signing key")
	}
	k := sk.keys[0]
	payload, err := jsonx.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("aauth: encoding token claims: %w", err)
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, typ); err != nil {
		return "", fmt.Errorf("aauth: token header: %w", err)
	}
	if err := h.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", fmt.Errorf("aauth: token header: %w", err)
	}
	out, err := jws.Sign(payload, jws.WithKey(k.alg, k.signer, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("aauth: signing a token: %w", err)
	}
	return string(out), nil
}
