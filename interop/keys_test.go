package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// The fixed clock both sides sign and verify at. The JavaScript clock has
// milliseconds, which the libraries floor.
var (
	created = time.Unix(1730217600, 0)
	nowMS   = created.UnixMilli() + 123
)

func clock() time.Time { return created }

var b64url = base64.RawURLEncoding

// testKey is a deterministic key of one of the two types AAuth signs with.
type testKey struct {
	name   string // "ed25519" or "p256"
	signer crypto.Signer
	alg    string // the fully specified JOSE alg the current generation puts in JWKs
}

func seedBytes(label string) []byte {
	sum := sha256.Sum256([]byte("aauth interop key: " + label))
	return sum[:]
}

func ed25519Key(label string) testKey {
	return testKey{"ed25519", ed25519.NewKeyFromSeed(seedBytes(label)), "Ed25519"}
}

func p256Key(label string) testKey {
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seedBytes(label))
	if err != nil {
		panic(err) // a SHA-256 output above the group order: pick another label
	}
	return testKey{"p256", k, "ES256"}
}

// jwkMembers returns the public members of the key, and d when private is
// set. withAlg adds alg, which the current generation requires on every JWK.
func (k testKey) jwkMembers(private, withAlg bool) map[string]any {
	m := map[string]any{}
	switch s := k.signer.(type) {
	case ed25519.PrivateKey:
		m["kty"], m["crv"] = "OKP", "Ed25519"
		m["x"] = b64url.EncodeToString(s.Public().(ed25519.PublicKey))
		if private {
			m["d"] = b64url.EncodeToString(s.Seed())
		}
	case *ecdsa.PrivateKey:
		raw, err := s.PublicKey.Bytes()
		if err != nil {
			panic(err)
		}
		m["kty"], m["crv"] = "EC", "P-256"
		m["x"], m["y"] = b64url.EncodeToString(raw[1:33]), b64url.EncodeToString(raw[33:65])
		if private {
			d, err := s.Bytes()
			if err != nil {
				panic(err)
			}
			m["d"] = b64url.EncodeToString(d)
		}
	}
	if withAlg {
		m["alg"] = k.alg
	}
	return m
}

// thumbprint is the RFC 7638 SHA-256 thumbprint, computed from the required
// members in lexicographic order.
func (k testKey) thumbprint() string {
	m := k.jwkMembers(false, false)
	var canon string
	if m["kty"] == "OKP" {
		canon = fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q}`, m["crv"], m["kty"], m["x"])
	} else {
		canon = fmt.Sprintf(`{"crv":%q,"kty":%q,"x":%q,"y":%q}`, m["crv"], m["kty"], m["x"], m["y"])
	}
	sum := sha256.Sum256([]byte(canon))
	return b64url.EncodeToString(sum[:])
}

// jwsAlg is the JWS alg the key signs tokens with in gen.
func (k testKey) jwsAlg(gen aauth.Profile) jwa.SignatureAlgorithm {
	if k.name == "p256" {
		return jwa.ES256()
	}
	if gen == aauth.ProfileSeed {
		return jwa.EdDSA()
	}
	return jwa.EdDSAEd25519()
}

// The keys of the suite.
var (
	agentKeys = []testKey{ed25519Key("agent ed25519"), p256Key("agent p256")}
	issuerKey = ed25519Key("agent provider")
	// jkt-jwt identity keys, one of each type.
	identityKeys = []testKey{ed25519Key("identity ed25519"), p256Key("identity p256")}
)

// mintJWT signs a compact JWS over the JSON of payload. Its inputs are
// fixed, so an error is a bug in the test: it panics.
func mintJWT(gen aauth.Profile, signer testKey, typ string, jwkHeader map[string]any, payload map[string]any) string {
	must := func(err error) {
		if err != nil {
			panic(fmt.Sprintf("minting a %s token: %v", typ, err))
		}
	}
	body, err := json.Marshal(payload)
	must(err)
	hdr := jws.NewHeaders()
	must(hdr.Set(jws.TypeKey, typ))
	if jwkHeader != nil {
		raw, err := json.Marshal(jwkHeader)
		must(err)
		key, err := jwk.ParseKey(raw)
		must(err)
		must(hdr.Set(jws.JWKKey, key))
	}
	tok, err := jws.Sign(body, jws.WithKey(signer.jwsAlg(gen), signer.signer, jws.WithProtectedHeaders(hdr)))
	must(err)
	return string(tok)
}

// agentToken is an agent token whose cnf.jwk is key, valid an hour around
// the fixed clock. Verifiers take the signing key from cnf.jwk; httpsig 2.x
// also requires exp and refuses an iat in the future.
func agentToken(gen aauth.Profile, key testKey) string {
	return mintJWT(gen, issuerKey, "aa-agent+jwt", nil, map[string]any{
		"iss": "https://agent.example",
		"dwk": "aauth-agent.json",
		"sub": "aauth:interop@agent.example",
		"iat": created.Unix() - 60,
		"exp": created.Unix() + 3600,
		"cnf": map[string]any{"jwk": key.jwkMembers(false, gen == aauth.ProfileCurrent)},
	})
}

// jktToken is a jkt-jwt key-refresh token (draft-hardt-httpbis-signature-key):
// signed by an identity key carried in its header, iss naming that key's
// thumbprint, cnf.jwk the signing key.
func jktToken(gen aauth.Profile, key, identity testKey) string {
	return mintJWT(gen, identity, "jkt-s256+jwt", identity.jwkMembers(false, true), map[string]any{
		"iss": "urn:jkt:sha-256:" + identity.thumbprint(),
		"iat": created.Unix() - 60,
		"exp": created.Unix() + 3600,
		"cnf": map[string]any{"jwk": key.jwkMembers(false, gen == aauth.ProfileCurrent)},
	})
}
