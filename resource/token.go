package resource

import (
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
	"unicode/utf8"

	"github.com/valyala/fastjson"
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
	budget  budgetOnce // the budget claim, read once (budget.go)
}

type jwsHeader struct {
	Alg, Typ, Kid string
	Crit          bool // crit is present
}

// claims are the claims the package reads; others stay in the payload.
// Names match exactly (encoding/json would also fill Iss from "ISS"), and
// the last of two members with one name wins, as RFC 7515 allows.
type claims struct {
	Iss, Dwk, Sub, Jti, Ps, Scope string
	MissionS256, Tenant, Account  string
	ParentAgent                   string
	Agent                         string // seed-era auth tokens name the agent
	Aud                           audience
	Iat, Exp, Nbf                 numericDate
	Cnf                           *cnfJWK // cnf.jwk
}

// cnfJWK is the public key in cnf.jwk (or a published JWK). Private
// members are noted only to refuse a key that carries one.
type cnfJWK struct {
	Kty, Crv, X, Y, Alg, Kid string
	Private                  bool
}

func (j *cnfJWK) private() bool { return j.Private }

// audience is aud: a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a audience) contains(s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// numericDate is an RFC 7519 NumericDate (seconds, possibly fractional),
// with set false when the claim is absent.
type numericDate struct {
	t   time.Time
	set bool
}

// newNumericDate refuses negative, non-finite and absurdly large values:
// 1e11 s is the year 5138, anything later is a mistake or an attack on
// arithmetic.
func newNumericDate(f float64) (numericDate, bool) {
	if math.IsNaN(f) || f < 0 || f > 1e11 {
		return numericDate{}, false
	}
	sec, frac := math.Modf(f)
	return numericDate{time.Unix(int64(sec), int64(frac*1e9)), true}, true
}

// jsonParsers decode token headers and payloads. fastjson (which jwx
// already brings into the build) parses into a reusable arena: a token
// costs a few string copies instead of encoding/json's reflection and
// allocations per member, on every request.
var jsonParsers fastjson.ParserPool

// errClaimType is a member of the wrong JSON type.
var errClaimType = errors.New("a member has the wrong type")

// str copies a String member; null counts as absent.
func str(v *fastjson.Value, dst *string) error {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		*dst = constant(b)
	case fastjson.TypeNull:
	default:
		return errClaimType
	}
	return nil
}

func date(v *fastjson.Value, dst *numericDate) error {
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil {
			return err
		}
		d, ok := newNumericDate(f)
		if !ok {
			return errClaimType
		}
		*dst = d
	case fastjson.TypeNull:
		*dst = numericDate{}
	default:
		return errClaimType
	}
	return nil
}

// parseStrict parses b as RFC 8259 JSON text. fastjson's parser lets
// control characters in strings and numbers like 01 through, and its
// validator misses a control character in a string that also holds an
// escape (FuzzParseToken found one), so the standard library's strict
// scanner decides, and UTF-8 is checked too. A verified token is kept
// taken apart (tokencache.go), so this runs once per token, not per
// request.
func parseStrict(p *fastjson.Parser, b []byte) (*fastjson.Value, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not UTF-8")
	}
	if !json.Valid(b) {
		return nil, errors.New("not JSON")
	}
	return p.ParseBytes(b)
}

// parseObject parses b with parseStrict and requires a JSON object: the
// shape of a JWS header and of a JWT payload.
func parseObject(p *fastjson.Parser, b []byte) (*fastjson.Object, error) {
	v, err := parseStrict(p, b)
	if err != nil {
		return nil, err
	}
	return v.Object()
}

// constant returns b as a string, without allocating for the values
// that recur in every token (algorithms, types, key types, curves,
// document names).
func constant(b []byte) string {
	switch string(b) { // compared without a copy
	case "Ed25519":
		return "Ed25519"
	case "ES256":
		return "ES256"
	case "EdDSA":
		return "EdDSA"
	case typAgent:
		return typAgent
	case typPerson:
		return typPerson
	case typAuth:
		return typAuth
	case "OKP":
		return "OKP"
	case "EC":
		return "EC"
	case "P-256":
		return "P-256"
	case dwkAgent:
		return dwkAgent
	case dwkPerson:
		return dwkPerson
	case dwkAccess:
		return dwkAccess
	}
	return string(b)
}

// decodeHeader reads a JWS header object.
func decodeHeader(p *fastjson.Parser, b []byte, h *jwsHeader) error {
	o, err := parseObject(p, b)
	if err != nil {
		return err
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "alg":
			err = errors.Join(err, str(v, &h.Alg))
		case "typ":
			err = errors.Join(err, str(v, &h.Typ))
		case "kid":
			err = errors.Join(err, str(v, &h.Kid))
		case "crit":
			h.Crit = true
		}
	})
	return err
}

// decodeClaimsInto reads a JWT payload object.
func decodeClaimsInto(p *fastjson.Parser, b []byte, c *claims) error {
	o, err := parseObject(p, b)
	if err != nil {
		return err
	}
	o.Visit(func(k []byte, v *fastjson.Value) {
		var e error
		switch string(k) {
		case "iss":
			e = str(v, &c.Iss)
		case "dwk":
			e = str(v, &c.Dwk)
		case "sub":
			e = str(v, &c.Sub)
		case "jti":
			e = str(v, &c.Jti)
		case "ps":
			e = str(v, &c.Ps)
		case "scope":
			e = str(v, &c.Scope)
		case "mission_s256":
			e = str(v, &c.MissionS256)
		case "tenant":
			e = str(v, &c.Tenant)
		case "account":
			e = str(v, &c.Account)
		case "parent_agent":
			e = str(v, &c.ParentAgent)
		case "agent":
			e = str(v, &c.Agent)
		case "iat":
			e = date(v, &c.Iat)
		case "exp":
			e = date(v, &c.Exp)
		case "nbf":
			e = date(v, &c.Nbf)
		case "aud":
			c.Aud, e = decodeAudience(v)
		case "cnf":
			c.Cnf, e = decodeCnf(v)
		}
		err = errors.Join(err, e)
	})
	return err
}

func decodeAudience(v *fastjson.Value) (audience, error) {
	switch v.Type() {
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return audience{string(b)}, nil
	case fastjson.TypeNull:
		return nil, nil
	case fastjson.TypeArray:
		items, _ := v.Array()
		out := make(audience, len(items))
		for i, it := range items {
			if err := str(it, &out[i]); err != nil || it.Type() == fastjson.TypeNull {
				return nil, errClaimType
			}
		}
		return out, nil
	}
	return nil, errClaimType
}

// decodeCnf reads cnf, keeping cnf.jwk.
func decodeCnf(v *fastjson.Value) (*cnfJWK, error) {
	switch v.Type() {
	case fastjson.TypeNull:
		return nil, nil
	case fastjson.TypeObject:
	default:
		return nil, errClaimType
	}
	jwk := v.Get("jwk")
	if jwk == nil || jwk.Type() == fastjson.TypeNull {
		return nil, nil
	}
	return decodeJWK(jwk)
}

// decodeJWK reads the members of a JWK object that matter here.
func decodeJWK(v *fastjson.Value) (*cnfJWK, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errClaimType
	}
	j := &cnfJWK{}
	o.Visit(func(k []byte, v *fastjson.Value) {
		switch string(k) {
		case "kty":
			err = errors.Join(err, str(v, &j.Kty))
		case "crv":
			err = errors.Join(err, str(v, &j.Crv))
		case "x":
			err = errors.Join(err, str(v, &j.X))
		case "y":
			err = errors.Join(err, str(v, &j.Y))
		case "alg":
			err = errors.Join(err, str(v, &j.Alg))
		case "kid":
			err = errors.Join(err, str(v, &j.Kid))
		case "d", "p", "q", "dp", "dq", "qi", "k":
			j.Private = true
		}
	})
	if err != nil {
		return nil, err
	}
	return j, nil
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
	if t.payload, err = b64url.DecodeString(p); err != nil {
		return nil, sigErr(codeInvalidJWT, "the token payload is not base64url")
	}
	if t.sig, err = b64url.DecodeString(s); err != nil {
		return nil, sigErr(codeInvalidJWT, "the token signature is not base64url")
	}
	jp := jsonParsers.Get()
	defer jsonParsers.Put(jp)
	if err := decodeHeader(jp, hb, &t.header); err != nil {
		return nil, sigErr(codeInvalidJWT, "the token header is not a JSON object of strings")
	}
	if t.header.Crit {
		// RFC 7515 §4.1.11: extensions we do not implement are fatal.
		return nil, sigErr(codeInvalidJWT, "the token header has crit, which is not supported")
	}
	var kindOK bool
	if t.kind, kindOK = kindOfTyp(t.header.Typ); !kindOK {
		return nil, sigErr(codeInvalidJWT, "token typ %q is not an agent, person or auth token", shorten(t.header.Typ))
	}
	if err := decodeClaimsInto(jp, t.payload, &t.claims); err != nil {
		return nil, sigErr(codeInvalidJWT, "the token payload is not a JSON object with the claim types AAuth defines")
	}
	return t, nil
}

// cnfKey returns the members of cnf.jwk; invalid_jwt when absent.
func (t *token) cnfKey() (*cnfJWK, error) {
	if t.claims.Cnf == nil {
		return nil, sigErr(codeInvalidJWT, "the %s token has no cnf.jwk", t.kind)
	}
	return t.claims.Cnf, nil
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
