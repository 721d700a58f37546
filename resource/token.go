package resource

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"time"
)

// This file reads the compact JWS a request presents in Signature-Key and
// checks its signature. It is written by hand rather than with jwx because
// it runs on every request: one base64 pass, one JSON decode into a fixed
// struct, one signature check (jwx's generic path costs several times the
// allocations). jwx still mints the resource's own tokens.

// maxTokenLen caps the token taken apart; Signature-Key itself is capped
// at 16 KiB by its parser.
const maxTokenLen = 16 << 10

var b64url = base64.RawURLEncoding.Strict()

// The JWT typ of each token kind, and of the resource's own tokens.
const (
	typAgent    = "aa-agent+jwt"
	typPerson   = "aa-person+jwt"
	typAuth     = "aa-auth+jwt"
	typResource = "aa-resource+jwt"
)

// The well-known document names (dwk) of the issuers.
const (
	dwkAgent    = "aauth-agent.json"
	dwkPerson   = "aauth-person.json"
	dwkAccess   = "aauth-access.json"
	dwkResource = "aauth-resource.json"
)

// kindOfTyp maps a typ to a token kind; ok is false for any other typ,
// including a resource token's.
func kindOfTyp(typ string) (Kind, bool) {
	switch typ {
	case typAgent:
		return KindAgent, true
	case typPerson:
		return KindPerson, true
	case typAuth:
		return KindAuth, true
	}
	return "", false
}

// token is a compact JWS taken apart, its signature not yet checked.
type token struct {
	raw     string
	header  jwsHeader
	kind    Kind
	signed  string // header.payload, the JWS signing input
	sig     []byte
	payload []byte
	claims  claims
}

type jwsHeader struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// claims are the claims the package reads; others stay in the payload.
type claims struct {
	Iss         string       `json:"iss"`
	Dwk         string       `json:"dwk"`
	Sub         string       `json:"sub"`
	Aud         audience     `json:"aud"`
	Jti         string       `json:"jti"`
	Iat         *numericDate `json:"iat"`
	Exp         *numericDate `json:"exp"`
	Nbf         *numericDate `json:"nbf"`
	Ps          string       `json:"ps"`
	Scope       string       `json:"scope"`
	MissionS256 string       `json:"mission_s256"`
	Tenant      string       `json:"tenant"`
	Account     string       `json:"account"`
	ParentAgent string       `json:"parent_agent"`
	Agent       string       `json:"agent"` // seed-era auth tokens name the agent
	Cnf         *struct {
		JWK *cnfJWK `json:"jwk"`
	} `json:"cnf"`
}

// cnfJWK is the public key in cnf.jwk. The private members are read only
// to refuse a key that carries one.
type cnfJWK struct {
	Kty string          `json:"kty"`
	Crv string          `json:"crv"`
	X   string          `json:"x"`
	Y   string          `json:"y"`
	Alg string          `json:"alg"`
	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	K   json.RawMessage `json:"k"`
}

func (j *cnfJWK) private() bool {
	return j.D != nil || j.P != nil || j.Q != nil || j.DP != nil || j.DQ != nil || j.QI != nil || j.K != nil
}

// audience is aud: a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*a = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*a = audience{s}
	return nil
}

func (a audience) contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// numericDate is an RFC 7519 NumericDate: seconds, possibly fractional.
// Negative, non-finite and absurdly large values are refused.
type numericDate struct{ t time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || !(b[0] == '-' || ('0' <= b[0] && b[0] <= '9')) {
		return errors.New("not a number")
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	// 1e11 s is the year 5138: anything later is a mistake or an attack
	// on arithmetic.
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return errors.New("out of range")
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// parseToken takes a compact JWS apart without checking its signature.
// Errors are invalid_jwt.
func parseToken(raw string) (*token, error) {
	if len(raw) > maxTokenLen {
		return nil, sigErr(codeInvalidJWT, "the token is longer than %d bytes", maxTokenLen)
	}
	h, rest, ok1 := strings.Cut(raw, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return nil, sigErr(codeInvalidJWT, "the token is not a compact JWS")
	}
	t := &token{raw: raw, signed: raw[:len(h)+1+len(p)]}
	hb, err := b64url.DecodeString(h)
	if err != nil {
		return nil, sigErr(codeInvalidJWT, "the token header is not base64url")
	}
	if err := json.Unmarshal(hb, &t.header); err != nil || !isObject(hb) {
		return nil, sigErr(codeInvalidJWT, "the token header is not a JSON object of strings")
	}
	if t.header.Crit != nil {
		// RFC 7515 §4.1.11: extensions we do not implement are fatal.
		return nil, sigErr(codeInvalidJWT, "the token header has crit, which is not supported")
	}
	var kindOK bool
	if t.kind, kindOK = kindOfTyp(t.header.Typ); !kindOK {
		return nil, sigErr(codeInvalidJWT, "token typ %q is not an agent, person or auth token", shorten(t.header.Typ))
	}
	if t.payload, err = b64url.DecodeString(p); err != nil {
		return nil, sigErr(codeInvalidJWT, "the token payload is not base64url")
	}
	if err := json.Unmarshal(t.payload, &t.claims); err != nil || !isObject(t.payload) {
		return nil, sigErr(codeInvalidJWT, "the token payload is not a JSON object with the claim types AAuth defines")
	}
	if t.sig, err = b64url.DecodeString(s); err != nil {
		return nil, sigErr(codeInvalidJWT, "the token signature is not base64url")
	}
	return t, nil
}

// isObject reports whether b, which decoded without error, is a JSON
// object (and not null, which encoding/json accepts for a struct).
func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// cnfKey returns the members of cnf.jwk; invalid_jwt when absent.
func (t *token) cnfKey() (*cnfJWK, error) {
	if t.claims.Cnf == nil || t.claims.Cnf.JWK == nil {
		return nil, sigErr(codeInvalidJWT, "the %s token has no cnf.jwk", t.kind)
	}
	return t.claims.Cnf.JWK, nil
}

// jwsAlgOK reports whether a JWS alg is acceptable: fully specified
// (Ed25519, ES256) and, in the seed profile only, the polymorphic EdDSA.
// none, HS* and everything else are refused.
func jwsAlgOK(alg string, seed bool) bool {
	switch alg {
	case "Ed25519", "ES256":
		return true
	case "EdDSA":
		return seed
	}
	return false
}

// verifySignature checks the JWS signature with pub, for the token's alg,
// which must fit pub's type.
func (t *token) verifySignature(pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if t.header.Alg != "Ed25519" && t.header.Alg != "EdDSA" {
			return false
		}
		return len(k) == ed25519.PublicKeySize && len(t.sig) == ed25519.SignatureSize &&
			ed25519.Verify(k, []byte(t.signed), t.sig)
	case *ecdsa.PublicKey:
		if t.header.Alg != "ES256" || k.Curve != elliptic.P256() || len(t.sig) != 64 {
			return false
		}
		// RFC 7518 §3.4: r || s, 32 bytes each, not ASN.1.
		h := sha256.Sum256([]byte(t.signed))
		r := new(big.Int).SetBytes(t.sig[:32])
		s := new(big.Int).SetBytes(t.sig[32:])
		return ecdsa.Verify(k, h[:], r, s)
	}
	return false
}
