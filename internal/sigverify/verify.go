// Package sigverify verifies AAuth request signatures: RFC 9421 HTTP Message
// Signatures whose key is named by a Signature-Key header
// (draft-hardt-httpbis-signature-key).
//
// It is the server side used by the interop tests and the aauthtest kit.
// It builds the RFC 9421 signature base itself, from the request as it was
// received on the wire (see base.go for how each component is derived),
// written from the RFC's text and not from the module's own signer, so
// that a bug in the signer cannot hide behind the same bug here; its tests
// cross-check it against github.com/yaronf/httpsign wherever that library
// can represent the request. Around the signature check it does the AAuth
// policy: which components must be covered, the created window with an
// injectable clock, the key from Signature-Key, the algorithm rules and
// the Content-Digest.
package sigverify

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aauthgo/aauth/wire"
	"github.com/dunglas/httpsfv"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxSkew = 60 * time.Second
	DefaultMaxBody = 1 << 20
)

// Options says what Verify accepts. The zero value verifies any label
// ("sig" preferred) with the jwt, hwk and jkt-jwt schemes, a 60 s window
// and no further requirements.
type Options struct {
	// Label selects the signature. "" means, for Verify, the label the
	// Signature-Key member names and, for VerifyWithKey, "sig" if present
	// or else the first label in Signature-Input.
	Label string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds |now-created|; 0 means 60 s. A created further in
	// the past fails with invalid_signature, one further in the future
	// with clock_skew.
	MaxSkew time.Duration
	// RequireAlg applies the current generation's rules: an hwk key must
	// carry alg, and every JWK alg must be fully specified (Ed25519 or
	// ES256; EdDSA is rejected). Without it alg is optional and EdDSA is
	// accepted for Ed25519 keys.
	RequireAlg bool
	// Schemes lists the accepted Signature-Key schemes; nil means jwt, hwk
	// and jkt-jwt. Other schemes are always unsupported.
	Schemes []wire.Scheme
	// Required lists components that must be covered, as plain names
	// (e.g. "content-type", "@query"). Verify always requires
	// signature-key.
	Required []string
	// RequireDigest makes a request with a non-empty body cover
	// content-digest.
	RequireDigest bool
	// MaxBody caps the body read for the digest check; 0 means 1 MiB.
	MaxBody int64
}

// Result describes a verified signature.
type Result struct {
	// Label is the signature label.
	Label string
	// Scheme is the Signature-Key scheme; empty from VerifyWithKey.
	Scheme wire.Scheme
	// Token is the raw JWT for jwt and jkt-jwt. It has NOT been verified:
	// the caller must validate it and bind it to PublicKey.
	Token string
	// PublicKey is the key the signature verified with: an
	// ed25519.PublicKey or a P-256 *ecdsa.PublicKey.
	PublicKey crypto.PublicKey
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of PublicKey,
	// base64url without padding.
	Thumbprint string
	// Created is the created parameter.
	Created time.Time
	// Components lists the covered components in order, without quotes,
	// with any component parameters (e.g. `example-dict;key="a"`).
	Components []string
	// Params is the serialized signature parameters, the value that ends
	// the signature base after "@signature-params": (the Signature-Input
	// member as sent, when the sender serialized it canonically).
	Params string
	// Body is the request body when it was read for the digest check; it
	// has been put back on the request so a handler can read it again.
	Body []byte
	// Signature is the signature value that verified, the bytes of the
	// label's Signature member (a replay cache keys on it).
	Signature []byte
}

// Verify verifies the signature of req whose key is named by its
// Signature-Key header. For jwt and jkt-jwt the key is cnf.jwk of the JWT,
// read WITHOUT verifying the JWT: the caller must validate Result.Token and
// check that it binds Result.PublicKey.
//
// req may be a server-side request (inside a handler) or a client-side
// one. Verify does not modify it, except that a body read for the digest
// check is replaced by an identical one. Every error is an *Error.
func Verify(req *http.Request, opts Options) (*Result, error) {
	if req == nil {
		return nil, newError(CodeInvalidRequest, "nil request", nil)
	}
	vals := req.Header.Values("Signature-Key")
	switch {
	case len(vals) == 0:
		return nil, newError(CodeInvalidRequest, "missing Signature-Key header", nil)
	case len(vals) > 1:
		return nil, newError(CodeInvalidRequest, "more than one Signature-Key field line", nil)
	}
	sk, err := wire.ParseSignatureKey(vals[0])
	if err != nil {
		return nil, newError(CodeInvalidRequest, "malformed Signature-Key", err)
	}
	if !schemeAccepted(sk.Scheme, opts.Schemes) {
		return nil, newError(CodeUnsupportedScheme, fmt.Sprintf("Signature-Key scheme %q is not accepted", shorten(string(sk.Scheme))), nil)
	}
	// The Signature-Key label names the signature it is for.
	label := opts.Label
	if label == "" {
		label = sk.Label
	}
	res, err := verify(req, label, opts, &sk, nil)
	if err != nil {
		return nil, err
	}
	res.Scheme = sk.Scheme
	res.Token = sk.Token
	return res, nil
}

// VerifyWithKey verifies the signature with the given label (or
// opts.Label, or the default choice when both are empty) under pub, an
// ed25519.PublicKey or a P-256 ECDSA key, without reading Signature-Key.
// signature-key is then required only if opts.Required lists it;
// opts.Schemes and opts.RequireAlg do not apply. It serves generic RFC 9421
// signatures such as RFC 9421 B.2.6, and keys known out of band.
func VerifyWithKey(req *http.Request, label string, pub crypto.PublicKey, opts Options) (*Result, error) {
	if req == nil {
		return nil, newError(CodeInvalidRequest, "nil request", nil)
	}
	if pub == nil {
		return nil, newError(CodeInvalidKey, "nil public key", nil)
	}
	if label == "" {
		label = opts.Label
	}
	// Accept the other spellings of the two key types.
	switch k := pub.(type) {
	case *ed25519.PublicKey:
		if k == nil {
			return nil, newError(CodeInvalidKey, "nil public key", nil)
		}
		pub = *k
	case ecdsa.PublicKey:
		pub = &k
	}
	return verify(req, label, opts, nil, pub)
}

// verify runs the checks shared by Verify (sk set) and VerifyWithKey (pub
// set): headers, coverage, time, key, digest, and the signature last.
func verify(req *http.Request, label string, opts Options, sk *wire.SignatureKeyHeader, pub crypto.PublicKey) (*Result, error) {
	s, err := parseSignature(req.Header, label)
	if err != nil {
		return nil, err
	}
	if sk != nil && sk.Label != s.label {
		return nil, newError(CodeInvalidRequest, fmt.Sprintf("Signature-Key label %q does not match signature label %q", shorten(sk.Label), s.label), nil)
	}

	// The body is needed before the coverage check: whether content-digest
	// is required depends on whether there is a body.
	var body []byte
	digestHeader := req.Header.Values("Content-Digest")
	if opts.RequireDigest || s.covers("content-digest") || len(digestHeader) > 0 {
		maxBody := opts.MaxBody
		if maxBody <= 0 {
			maxBody = DefaultMaxBody
		}
		if body, err = readBody(req, maxBody); err != nil {
			return nil, err
		}
	}

	if err := checkCoverage(s, opts, sk != nil, len(body) > 0); err != nil {
		return nil, err
	}

	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := checkTime(s, now(), opts.MaxSkew); err != nil {
		return nil, err
	}

	if sk != nil {
		if pub, err = keyFromSignatureKey(*sk, opts.RequireAlg); err != nil {
			return nil, err
		}
	} else if err := checkKey(pub); err != nil {
		return nil, err
	}
	if err := checkSignatureAlg(s, pub); err != nil {
		return nil, err
	}
	thumb, err := ThumbprintOf(pub)
	if err != nil {
		return nil, newError(CodeInvalidKey, "cannot compute the key thumbprint", err)
	}

	if s.covers("content-digest") || len(digestHeader) > 0 {
		if err := checkDigest(digestHeader, body, s.covers("content-digest")); err != nil {
			return nil, err
		}
	}

	if err := verifyBase(req, s, pub); err != nil {
		return nil, err
	}

	res := &Result{
		Label:      s.label,
		PublicKey:  pub,
		Thumbprint: thumb,
		Created:    s.created,
		Params:     s.params,
		Body:       body,
		Signature:  s.sig,
	}
	res.Components = make([]string, len(s.components))
	for i, c := range s.components {
		res.Components[i] = c.text
	}
	return res, nil
}

// signature is one parsed Signature-Input member with its Signature.
type signature struct {
	label      string
	components []component
	params     string // serialized inner list, the @signature-params value
	created    time.Time
	expires    *time.Time
	alg        string // the RFC 9421 alg parameter, if any
	sig        []byte
}

// component is one covered component identifier.
type component struct {
	name  string // component name, e.g. "@method" or "content-type"
	param string // "", "sf", "bs", "key" or "name"
	arg   string // the value of key or name
	text  string // display form, e.g. `example-dict;key="a"`
	id    string // serialized identifier for the base, e.g. `"example-dict";key="a"`
}

func (s *signature) covers(name string) bool {
	for _, c := range s.components {
		if c.param == "" && c.name == name {
			return true
		}
	}
	return false
}

// maxComponents bounds the covered components; AAuth covers fewer than
// ten.
const maxComponents = 64

// derivedComponents are the RFC 9421 derived components of a request.
var derivedComponents = map[string]bool{
	"@method": true, "@target-uri": true, "@authority": true, "@scheme": true,
	"@request-target": true, "@path": true, "@query": true, "@query-param": true,
}

// parseSignature reads the label's Signature-Input and Signature members.
// A malformed header is invalid_request, never a vague failure later.
func parseSignature(h http.Header, label string) (*signature, error) {
	inputs := h.Values("Signature-Input")
	if len(inputs) == 0 {
		return nil, newError(CodeInvalidRequest, "missing Signature-Input header", nil)
	}
	sigs := h.Values("Signature")
	if len(sigs) == 0 {
		return nil, newError(CodeInvalidRequest, "missing Signature header", nil)
	}
	if s, ok := parseSignatureFast(inputs, sigs, label); ok {
		return s, nil
	}
	return parseSignatureSlow(inputs, sigs, label)
}

// parseSignatureSlow parses the two headers with the general RFC 9651
// parser.
func parseSignatureSlow(inputs, sigs []string, label string) (*signature, error) {
	inDict, err := httpsfv.UnmarshalDictionary(inputs)
	if err != nil {
		return nil, newError(CodeInvalidRequest, "malformed Signature-Input", err)
	}
	sigDict, err := httpsfv.UnmarshalDictionary(sigs)
	if err != nil {
		return nil, newError(CodeInvalidRequest, "malformed Signature", err)
	}
	if label == "" {
		names := inDict.Names()
		switch {
		case len(names) == 0:
			return nil, newError(CodeInvalidRequest, "empty Signature-Input", nil)
		case slices.Contains(names, "sig"):
			label = "sig"
		default:
			label = names[0]
		}
	}
	s := &signature{label: label}

	m, ok := inDict.Get(label)
	if !ok {
		return nil, newError(CodeInvalidRequest, fmt.Sprintf("Signature-Input has no signature %q", shorten(label)), nil)
	}
	il, ok := m.(httpsfv.InnerList)
	if !ok {
		return nil, newError(CodeInvalidRequest, "Signature-Input member is not an inner list", nil)
	}
	if s.params, err = httpsfv.Marshal(il); err != nil {
		return nil, newError(CodeInvalidRequest, "cannot serialize the signature parameters", err)
	}

	sm, ok := sigDict.Get(label)
	if !ok {
		return nil, newError(CodeInvalidRequest, fmt.Sprintf("Signature has no signature %q", shorten(label)), nil)
	}
	si, ok := sm.(httpsfv.Item)
	if !ok {
		return nil, newError(CodeInvalidRequest, "Signature member is not a byte sequence", nil)
	}
	if s.sig, ok = si.Value.([]byte); !ok {
		return nil, newError(CodeInvalidRequest, "Signature member is not a byte sequence", nil)
	}

	if len(il.Items) > maxComponents {
		return nil, newError(CodeInvalidRequest, fmt.Sprintf("signature covers %d components, more than %d", len(il.Items), maxComponents), nil)
	}
	seen := map[string]bool{}
	for _, it := range il.Items {
		c, err := parseComponent(it)
		if err != nil {
			return nil, err
		}
		if seen[c.text] {
			return nil, newError(CodeInvalidRequest, fmt.Sprintf("component %s is covered twice", shorten(c.text)), nil)
		}
		seen[c.text] = true
		s.components = append(s.components, c)
	}

	if il.Params == nil {
		return nil, newError(CodeInvalidRequest, "Signature-Input has no created parameter", nil)
	}
	created, ok := il.Params.Get("created")
	if !ok {
		return nil, newError(CodeInvalidRequest, "Signature-Input has no created parameter", nil)
	}
	ci, ok := created.(int64)
	if !ok {
		return nil, newError(CodeInvalidRequest, "created is not an integer", nil)
	}
	s.created = time.Unix(ci, 0)
	if e, ok := il.Params.Get("expires"); ok {
		ei, ok := e.(int64)
		if !ok {
			return nil, newError(CodeInvalidRequest, "expires is not an integer", nil)
		}
		t := time.Unix(ei, 0)
		s.expires = &t
	}
	if a, ok := il.Params.Get("alg"); ok {
		if s.alg, ok = a.(string); !ok {
			return nil, newError(CodeInvalidRequest, "alg is not a string", nil)
		}
	}
	return s, nil
}

// parseComponent validates one component identifier. Only the component
// parameters this package derives values for are accepted, one at a time:
// sf, bs and key on a header, name on @query-param.
func parseComponent(it httpsfv.Item) (component, error) {
	name, ok := it.Value.(string)
	if !ok || name == "" {
		return component{}, newError(CodeInvalidRequest, "a covered component is not a non-empty string", nil)
	}
	if strings.ToLower(name) != name {
		return component{}, newError(CodeInvalidRequest, fmt.Sprintf("component name %q is not lower case", shorten(name)), nil)
	}
	derived := strings.HasPrefix(name, "@")
	if derived && !derivedComponents[name] {
		return component{}, newError(CodeInvalidRequest, fmt.Sprintf("unsupported derived component %q", shorten(name)), nil)
	}
	c := component{name: name, text: name}
	var pnames []string
	if it.Params != nil {
		pnames = it.Params.Names()
	}
	if len(pnames) > 1 {
		return component{}, newError(CodeInvalidRequest, fmt.Sprintf("component %q has more than one parameter", shorten(name)), nil)
	}
	if len(pnames) == 1 {
		p := pnames[0]
		v, _ := it.Params.Get(p)
		switch {
		case (p == "sf" || p == "bs") && !derived && v == true:
			c.param = p
		case p == "key" && !derived, p == "name" && name == "@query-param":
			arg, ok := v.(string)
			if !ok {
				return component{}, newError(CodeInvalidRequest, fmt.Sprintf("component %q: parameter %s is not a string", shorten(name), p), nil)
			}
			c.param, c.arg = p, arg
		default:
			return component{}, newError(CodeInvalidRequest, fmt.Sprintf("component %q: unsupported parameter %q", shorten(name), shorten(p)), nil)
		}
		pi := httpsfv.Item{Value: "", Params: it.Params}
		ps, err := httpsfv.Marshal(pi)
		if err != nil {
			return component{}, newError(CodeInvalidRequest, fmt.Sprintf("component %q: malformed parameter", shorten(name)), err)
		}
		c.text = name + strings.TrimPrefix(ps, `""`)
	}
	if name == "@query-param" {
		if c.param != "name" {
			return component{}, newError(CodeInvalidRequest, "@query-param without a name parameter", nil)
		}
		// RFC 9421 §2.2.8: the name is the encoded nameString, which
		// decoding and encoding again leaves as it is.
		if formEncode(formDecode(c.arg)) != c.arg {
			return component{}, newError(CodeInvalidRequest, "@query-param name is not canonically encoded", nil)
		}
	}
	params := it.Params
	if params == nil {
		params = httpsfv.NewParams()
	}
	id, err := httpsfv.Marshal(httpsfv.Item{Value: name, Params: params})
	if err != nil {
		return component{}, newError(CodeInvalidRequest, fmt.Sprintf("component %q cannot be serialized", shorten(name)), err)
	}
	c.id = id
	return c, nil
}

// checkCoverage enforces the components the verifier requires.
func checkCoverage(s *signature, opts Options, needSignatureKey, hasBody bool) error {
	required := make([]string, 0, len(opts.Required)+2)
	add := func(c string) {
		c = strings.ToLower(strings.TrimSpace(c)) // no allocation when already so
		if c != "" && !slices.Contains(required, c) {
			required = append(required, c)
		}
	}
	for _, c := range opts.Required {
		add(c)
	}
	if needSignatureKey {
		add("signature-key")
	}
	if opts.RequireDigest && hasBody {
		add("content-digest")
	}
	var missing []string
	for _, c := range required {
		if !s.covers(c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return &Error{
			Code:    CodeInvalidInput,
			Detail:  "signature does not cover " + strings.Join(missing, ", "),
			Missing: required,
		}
	}
	return nil
}

// checkTime applies the created window and expires with the given clock.
func checkTime(s *signature, now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if s.created.Sub(now) > maxSkew {
		return newError(CodeClockSkew, fmt.Sprintf("created is %s in the future, more than %s", s.created.Sub(now).Round(time.Second), maxSkew), nil)
	}
	if now.Sub(s.created) > maxSkew {
		return newError(CodeInvalidSignature, fmt.Sprintf("created is %s old, more than %s", now.Sub(s.created).Round(time.Second), maxSkew), nil)
	}
	if s.expires != nil {
		if s.expires.Before(s.created) {
			return newError(CodeInvalidRequest, "expires is before created", nil)
		}
		if now.After(*s.expires) {
			return newError(CodeInvalidSignature, "signature has expired", nil)
		}
	}
	return nil
}

// schemeAccepted reports whether scheme is one this package can take a key
// from and the caller accepts.
func schemeAccepted(scheme wire.Scheme, accepted []wire.Scheme) bool {
	switch scheme {
	case wire.SchemeJWT, wire.SchemeHWK, wire.SchemeJKTJWT:
	default:
		return false
	}
	return accepted == nil || slices.Contains(accepted, scheme)
}

// jwkFields are the JWK members that matter for a signing key.
type jwkFields struct {
	kty, crv, x, y, alg string
	private             bool // d (or another private member) is present
}

// keyFromSignatureKey derives the public key named by sk.
func keyFromSignatureKey(sk wire.SignatureKeyHeader, requireAlg bool) (crypto.PublicKey, error) {
	switch sk.Scheme {
	case wire.SchemeHWK:
		p := sk.Params
		_, private := p["d"]
		return publicKeyFromJWK(jwkFields{kty: p["kty"], crv: p["crv"], x: p["x"], y: p["y"], alg: p["alg"], private: private}, requireAlg, "hwk")
	case wire.SchemeJWT, wire.SchemeJKTJWT:
		j, err := cnfJWK(sk.Token)
		if err != nil {
			return nil, err
		}
		return publicKeyFromJWK(j, requireAlg, "cnf.jwk")
	}
	return nil, newError(CodeUnsupportedScheme, "unsupported Signature-Key scheme", nil)
}

// cnfJWK decodes the payload of a compact JWT, without verifying it, and
// returns its cnf.jwk.
func cnfJWK(token string) (jwkFields, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return jwkFields{}, newError(CodeInvalidJWT, "jwt is not a compact JWS", nil)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return jwkFields{}, newError(CodeInvalidJWT, "jwt payload is not base64url", nil)
	}
	var claims struct {
		Cnf *struct {
			JWK map[string]json.RawMessage `json:"jwk"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return jwkFields{}, newError(CodeInvalidJWT, "jwt payload is not a JSON object whose cnf.jwk is an object", nil)
	}
	if claims.Cnf == nil || claims.Cnf.JWK == nil {
		return jwkFields{}, newError(CodeInvalidJWT, "jwt has no cnf.jwk", nil)
	}
	var j jwkFields
	members := []struct {
		name string
		dst  *string
	}{{"kty", &j.kty}, {"crv", &j.crv}, {"x", &j.x}, {"y", &j.y}, {"alg", &j.alg}}
	for _, m := range members {
		raw, ok := claims.Cnf.JWK[m.name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, m.dst); err != nil {
			return jwkFields{}, newError(CodeInvalidKey, fmt.Sprintf("cnf.jwk member %s is not a string", m.name), nil)
		}
	}
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := claims.Cnf.JWK[m]; ok {
			j.private = true
		}
	}
	return j, nil
}

// publicKeyFromJWK turns JWK members into an Ed25519 or P-256 key and
// applies the alg rules. where names the source in error details.
func publicKeyFromJWK(j jwkFields, requireAlg bool, where string) (crypto.PublicKey, error) {
	if j.private {
		return nil, newError(CodeInvalidKey, where+" holds private key material", nil)
	}
	var pub crypto.PublicKey
	var fully string // the fully specified alg of this key type
	switch j.kty {
	case "":
		return nil, newError(CodeInvalidKey, where+" has no kty", nil)
	case "OKP":
		if j.crv != "Ed25519" {
			return nil, newError(CodeUnsupportedAlgorithm, fmt.Sprintf("%s curve %q is not supported", where, shorten(j.crv)), nil)
		}
		x, err := decodeCoordinate(j.x, ed25519.PublicKeySize)
		if err != nil {
			return nil, newError(CodeInvalidKey, where+" x: "+err.Error(), nil)
		}
		pub, fully = ed25519.PublicKey(x), "Ed25519"
	case "EC":
		if j.crv != "P-256" {
			return nil, newError(CodeUnsupportedAlgorithm, fmt.Sprintf("%s curve %q is not supported", where, shorten(j.crv)), nil)
		}
		x, err := decodeCoordinate(j.x, 32)
		if err != nil {
			return nil, newError(CodeInvalidKey, where+" x: "+err.Error(), nil)
		}
		y, err := decodeCoordinate(j.y, 32)
		if err != nil {
			return nil, newError(CodeInvalidKey, where+" y: "+err.Error(), nil)
		}
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, newError(CodeInvalidKey, where+" is not a point on P-256", nil)
		}
		pub, fully = k, "ES256"
	default:
		return nil, newError(CodeUnsupportedAlgorithm, fmt.Sprintf("%s key type %q is not supported", where, shorten(j.kty)), nil)
	}
	switch {
	case j.alg == "":
		if requireAlg {
			// AAuth -11, Verification step 6: an absent alg is
			// unsupported_algorithm, like a polymorphic one.
			return nil, newError(CodeUnsupportedAlgorithm, where+" has no alg", nil)
		}
	case j.alg == fully:
	case j.alg == "EdDSA" && fully == "Ed25519":
		if requireAlg {
			return nil, newError(CodeUnsupportedAlgorithm, where+" alg EdDSA is not fully specified; use Ed25519", nil)
		}
	case j.alg == "Ed25519" || j.alg == "ES256" || j.alg == "EdDSA":
		return nil, newError(CodeInvalidKey, fmt.Sprintf("%s alg %s does not match its key type", where, j.alg), nil)
	default:
		return nil, newError(CodeUnsupportedAlgorithm, fmt.Sprintf("%s alg %q is not supported", where, shorten(j.alg)), nil)
	}
	return pub, nil
}

// decodeCoordinate decodes an unpadded base64url key member of exactly n
// bytes. Strict decoding keeps one key from having several spellings.
func decodeCoordinate(s string, n int) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, errors.New("not unpadded base64url")
	}
	if len(b) != n {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), n)
	}
	return b, nil
}

// checkKey validates a caller-supplied key, so that nothing below can
// panic on it (ed25519.Verify panics on a key of the wrong length).
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return newError(CodeInvalidKey, "Ed25519 public key has the wrong length", nil)
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return newError(CodeUnsupportedAlgorithm, "only P-256 ECDSA keys are supported", nil)
		}
		if _, err := k.Bytes(); err != nil {
			return newError(CodeInvalidKey, "invalid P-256 public key", err)
		}
	default:
		return newError(CodeUnsupportedAlgorithm, fmt.Sprintf("unsupported key type %T", pub), nil)
	}
	return nil
}

// checkSignatureAlg checks the optional RFC 9421 alg parameter against the
// key; AAuth senders omit it.
func checkSignatureAlg(s *signature, pub crypto.PublicKey) error {
	if s.alg == "" {
		return nil
	}
	want := "ed25519"
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		want = "ecdsa-p256-sha256"
	}
	if s.alg != want {
		return newError(CodeUnsupportedAlgorithm, fmt.Sprintf("signature alg %q does not match the key", shorten(s.alg)), nil)
	}
	return nil
}

// readBody reads the body up to limit and puts an identical one back on
// req, so that the handler (or a client retry) can read it again.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return []byte{}, nil
	}
	orig := req.Body
	data, err := io.ReadAll(io.LimitReader(orig, limit+1))
	if err != nil || int64(len(data)) > limit {
		// Leave the stream whole for the caller even though we give up.
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), orig), orig}
		if err != nil {
			return nil, newError(CodeInvalidRequest, "cannot read the body", err)
		}
		return nil, newError(CodeInvalidRequest, fmt.Sprintf("body is larger than %d bytes", limit), nil)
	}
	_ = orig.Close()
	req.Body = io.NopCloser(bytes.NewReader(data))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return data, nil
}

// checkDigest checks Content-Digest (RFC 9530) against the body: every
// sha-256 and sha-512 value must match, and a covered header must carry at
// least one of them. Other algorithms are ignored.
func checkDigest(values []string, body []byte, covered bool) error {
	if len(values) == 0 {
		// Covered but absent: the signature base cannot be rebuilt.
		return newError(CodeInvalidSignature, "content-digest is covered but the header is missing", nil)
	}
	d, err := httpsfv.UnmarshalDictionary(values)
	if err != nil {
		return newError(CodeInvalidRequest, "malformed Content-Digest", err)
	}
	known := 0
	for _, alg := range d.Names() {
		var sum []byte
		switch alg {
		case "sha-256":
			h := sha256.Sum256(body)
			sum = h[:]
		case "sha-512":
			h := sha512.Sum512(body)
			sum = h[:]
		default:
			continue
		}
		m, _ := d.Get(alg)
		it, ok := m.(httpsfv.Item)
		if !ok {
			return newError(CodeInvalidRequest, "Content-Digest "+alg+" is not a byte sequence", nil)
		}
		got, ok := it.Value.([]byte)
		if !ok {
			return newError(CodeInvalidRequest, "Content-Digest "+alg+" is not a byte sequence", nil)
		}
		if subtle.ConstantTimeCompare(got, sum) != 1 {
			return newError(CodeInvalidSignature, "content-digest "+alg+" does not match the body", nil)
		}
		known++
	}
	if known == 0 && covered {
		return newError(CodeInvalidRequest, "Content-Digest has no sha-256 or sha-512 value", nil)
	}
	return nil
}

// normalizeAuthority lower-cases host and drops the scheme's default port,
// as RFC 9421 §2.2.3 wants for @authority.
func normalizeAuthority(host, scheme string) string {
	host = strings.ToLower(host)
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.LastIndexByte(host, ']') > i {
		return host // no port (or only an IPv6 literal's colons)
	}
	switch port := host[i+1:]; {
	case port == "",
		port == "443" && scheme == "https",
		port == "80" && scheme == "http":
		return host[:i]
	}
	return host
}

// ThumbprintOf returns the RFC 7638 JWK SHA-256 thumbprint of an Ed25519,
// ECDSA (P-256, P-384, P-521) or RSA public key, base64url without padding.
func ThumbprintOf(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canonical string
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("aauth: Ed25519 public key has the wrong length")
		}
		// Members in lexicographic order, no white space (RFC 7638 §3),
		// built in place: this runs for every request verified.
		var buf [96]byte
		b := append(buf[:0], `{"crv":"Ed25519","kty":"OKP","x":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, k)
		b = append(b, `"}`...)
		sum := sha256.Sum256(b)
		var out [43]byte
		base64.RawURLEncoding.Encode(out[:], sum[:])
		return string(out[:]), nil
	case *ed25519.PublicKey:
		if k == nil {
			return "", errors.New("aauth: nil public key")
		}
		return ThumbprintOf(*k)
	case *ecdsa.PublicKey:
		if k == nil {
			return "", errors.New("aauth: nil public key")
		}
		var crv string
		switch k.Curve {
		case elliptic.P256():
			crv = "P-256"
		case elliptic.P384():
			crv = "P-384"
		case elliptic.P521():
			crv = "P-521"
		default:
			return "", errors.New("aauth: unsupported ECDSA curve")
		}
		raw, err := k.Bytes()
		if err != nil {
			return "", fmt.Errorf("aauth: invalid ECDSA public key: %w", err)
		}
		n := (len(raw) - 1) / 2 // uncompressed point: 0x04 || x || y
		canonical = `{"crv":"` + crv + `","kty":"EC","x":"` + b64(raw[1:1+n]) + `","y":"` + b64(raw[1+n:]) + `"}`
	case ecdsa.PublicKey:
		return ThumbprintOf(&k)
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.E <= 0 {
			return "", errors.New("aauth: invalid RSA public key")
		}
		e := big.NewInt(int64(k.E)).Bytes()
		canonical = `{"e":"` + b64(e) + `","kty":"RSA","n":"` + b64(k.N.Bytes()) + `"}`
	case rsa.PublicKey:
		return ThumbprintOf(&k)
	default:
		return "", fmt.Errorf("aauth: cannot compute a thumbprint for key type %T", pub)
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:]), nil
}

// shorten keeps attacker-chosen text in error details bounded.
func shorten(s string) string {
	const limit = 32
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
