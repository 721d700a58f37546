package aauthtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/jwkx"
	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// The dwk (well-known document) names AAuth tokens carry.
const (
	dwkAgent    = "aauth-agent.json"
	dwkPerson   = "aauth-person.json"
	dwkResource = "aauth-resource.json"
)

// maxDoc caps metadata and JWKS documents the kit fetches.
const maxDoc = 1 << 20

// issuerKey is a server's token-signing key: Ed25519, with alg Ed25519
// (current) or EdDSA (seed) in the JWS header and the JWKS.
type issuerKey struct {
	priv ed25519.PrivateKey
	kid  string
	alg  jwa.SignatureAlgorithm
}

func newIssuerKey(p wire.Profile) (*issuerKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("aauthtest: generating key: %w", err)
	}
	kid, err := keys.Thumbprint(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("aauthtest: key thumbprint: %w", err)
	}
	k := &issuerKey{priv: priv, kid: kid, alg: jwa.EdDSAEd25519()}
	if p == wire.ProfileSeed {
		k.alg = jwa.EdDSA()
	}
	return k, nil
}

func (k *issuerKey) public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// mint signs claims as a JWT with typ and the key's kid.
func (k *issuerKey) mint(typ string, claims map[string]any) (string, error) {
	payload, err := jsonx.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("aauthtest: encoding claims: %w", err)
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, typ); err != nil {
		return "", fmt.Errorf("aauthtest: token header: %w", err)
	}
	if err := h.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", fmt.Errorf("aauthtest: token header: %w", err)
	}
	out, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", fmt.Errorf("aauthtest: signing token: %w", err)
	}
	return string(out), nil
}

// jwks returns the JWK Set document holding the key, written as the
// agent provider writes its own.
func (k *issuerKey) jwks() []byte {
	m, err := jwkx.PublicMembers(k.public())
	if err != nil {
		return nil // an Ed25519 key always has its members
	}
	m.Alg, m.Kid, m.Use = k.alg.String(), k.kid, "sig"
	b, _ := jsonx.Marshal(jwkx.Set{Keys: []jwkx.Members{m}})
	return b
}

// publicJWK is the public JWK of an Ed25519 or P-256 key, as the library
// writes it, with its fully specified alg only when withAlg and no kid.
func publicJWK(pub crypto.PublicKey, withAlg bool) map[string]any {
	m := map[string]any{}
	b, err := keys.MarshalPublicJWK(pub)
	if err != nil || json.Unmarshal(b, &m) != nil {
		return map[string]any{}
	}
	delete(m, "kid")
	if !withAlg {
		delete(m, "alg")
	}
	return m
}

// keyFromJWK reads an Ed25519 or P-256 public key from a JWK object with
// the library's parser, under its liberal (seed) rules: alg may be absent
// or EdDSA here; the profile's alg rules are checked where tokens are
// validated.
func keyFromJWK(m map[string]any) (crypto.PublicKey, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errors.New("the JWK is not JSON")
	}
	return keys.ParsePublicJWK(b, wire.ProfileSeed)
}

// token is a JWT taken apart, not yet (or already) verified.
type token struct {
	raw    string
	typ    string
	alg    string
	kid    string
	kind   TokenKind
	claims map[string]any
	signed []byte // header.payload, for tampering faults
}

// tokenError is a token problem, mapped to a Signature-Error code when the
// token was presented in Signature-Key, or to a token-endpoint error code
// when it came in a request body.
type tokenError struct {
	code   string // sigverify code: invalid_jwt, expired_jwt, revoked_jwt, unknown_key
	detail string
}

func (e *tokenError) Error() string { return "aauthtest: " + e.code + ": " + e.detail }

func tokErr(code, format string, args ...any) *tokenError {
	return &tokenError{code: code, detail: fmt.Sprintf(format, args...)}
}

// parseToken decodes a compact JWT without verifying it.
func parseToken(raw string) (*token, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, tokErr(sigverify.CodeInvalidJWT, "not a compact JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, tokErr(sigverify.CodeInvalidJWT, "header is not base64url")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, tokErr(sigverify.CodeInvalidJWT, "payload is not base64url")
	}
	var h struct {
		Typ any `json:"typ"`
		Alg any `json:"alg"`
		Kid any `json:"kid"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, tokErr(sigverify.CodeInvalidJWT, "header is not a JSON object")
	}
	claims, err := decodeObject(pb)
	if err != nil {
		return nil, tokErr(sigverify.CodeInvalidJWT, "payload is not a JSON object")
	}
	t := &token{raw: raw, claims: claims, signed: []byte(parts[0] + "." + parts[1])}
	t.typ, _ = h.Typ.(string)
	t.alg, _ = h.Alg.(string)
	t.kid, _ = h.Kid.(string)
	t.kind = kindOfTyp(t.typ)
	return t, nil
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil || dec.More() {
		return nil, errors.New("not a single JSON object")
	}
	return m, nil
}

func (t *token) str(name string) string {
	s, _ := t.claims[name].(string)
	return s
}

// time reads a NumericDate claim; ok is false when absent or not a number.
func (t *token) time(name string) (time.Time, bool) {
	n, ok := t.claims[name].(json.Number)
	if !ok {
		return time.Time{}, false
	}
	i, err := n.Int64()
	if err != nil {
		f, ferr := n.Float64()
		if ferr != nil || f < 0 || f > 1e12 {
			return time.Time{}, false
		}
		i = int64(f)
	}
	return time.Unix(i, 0), true
}

// audience reports whether aud is (or, for an array, contains) want.
func (t *token) audience(want string) bool {
	switch a := t.claims["aud"].(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if s, _ := v.(string); s == want {
				return true
			}
		}
	}
	return false
}

// cnfKey returns the key in cnf.jwk and its thumbprint.
func (t *token) cnfKey() (crypto.PublicKey, string, error) {
	cnf, _ := t.claims["cnf"].(map[string]any)
	jwk, _ := cnf["jwk"].(map[string]any)
	if jwk == nil {
		return nil, "", errors.New("no cnf.jwk")
	}
	pub, err := keyFromJWK(jwk)
	if err != nil {
		return nil, "", err
	}
	tp, err := sigverify.ThumbprintOf(pub)
	if err != nil {
		return nil, "", err
	}
	return pub, tp, nil
}

// checkTimes applies exp (required) and iat (not in the future) at now.
func (t *token) checkTimes(now time.Time) *tokenError {
	exp, ok := t.time("exp")
	if !ok {
		return tokErr(sigverify.CodeInvalidJWT, "no exp")
	}
	if !now.Before(exp) {
		return tokErr(sigverify.CodeExpiredJWT, "the %s token expired %s ago", t.kind, now.Sub(exp).Round(time.Second))
	}
	if iat, ok := t.time("iat"); ok && iat.Sub(now) > time.Minute {
		return tokErr(sigverify.CodeInvalidJWT, "iat is in the future")
	}
	return nil
}

// algAllowed reports whether a JWS alg is acceptable in the profile: the
// current profile wants fully specified algorithms only.
func algAllowed(p wire.Profile, alg string) bool {
	switch alg {
	case "Ed25519", "ES256":
		return true
	case "EdDSA":
		return p == wire.ProfileSeed
	}
	return false
}

// verifySignature checks t's signature with pub.
func (t *token) verifySignature(pub crypto.PublicKey) error {
	var alg jwa.SignatureAlgorithm
	switch t.alg {
	case "Ed25519":
		alg = jwa.EdDSAEd25519()
	case "EdDSA":
		alg = jwa.EdDSA()
	case "ES256":
		alg = jwa.ES256()
	default:
		return fmt.Errorf("alg %q", shorten(t.alg))
	}
	if _, err := jws.Verify([]byte(t.raw), jws.WithKey(alg, pub)); err != nil {
		return errors.New("the signature does not verify")
	}
	return nil
}

// keyring finds the keys tokens are verified with: keys added in process,
// and keys fetched from an issuer's metadata document and JWKS.
type keyring struct {
	client *http.Client
	tr     *http.Transport

	mu       sync.Mutex
	trusted  []string                               // issuers accepted; empty means any
	keys     map[string]map[string]crypto.PublicKey // issuer → kid → key
	fetching map[string]*keyFetch                   // issuer → the fetch under way
}

// keyFetch is one fetch of an issuer's keys that concurrent verifications
// share: a thousand requests arriving at once cost one fetch, not a
// thousand connections.
type keyFetch struct {
	done chan struct{}
	err  error
}

func newKeyring() *keyring {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	return &keyring{
		tr:     tr,
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		keys:   map[string]map[string]crypto.PublicKey{},
	}
}

// close drops idle connections so no goroutine outlives the server.
func (k *keyring) close() { k.tr.CloseIdleConnections() }

func (k *keyring) trust(issuers ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, iss := range issuers {
		if iss != "" && !slices.Contains(k.trusted, iss) {
			k.trusted = append(k.trusted, iss)
		}
	}
}

func (k *keyring) isTrusted(iss string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.trusted) == 0 || slices.Contains(k.trusted, iss)
}

func (k *keyring) add(iss, kid string, pub crypto.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys[iss] == nil {
		k.keys[iss] = map[string]crypto.PublicKey{}
	}
	k.keys[iss][kid] = pub
}

func (k *keyring) lookup(iss, kid string) (crypto.PublicKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ks := k.keys[iss]
	if pub, ok := ks[kid]; ok {
		return pub, true
	}
	if pub, ok := ks[""]; ok {
		return pub, true
	}
	return nil, false
}

// key returns the key iss signs with under kid, fetching the issuer's
// documents when it is not known yet.
func (k *keyring) key(ctx context.Context, iss, dwk, kid string) (crypto.PublicKey, *tokenError) {
	if !k.isTrusted(iss) {
		return nil, tokErr(sigverify.CodeInvalidJWT, "issuer %q is not trusted", shorten(iss))
	}
	if pub, ok := k.lookup(iss, kid); ok {
		return pub, nil
	}
	if err := k.fetchShared(ctx, iss, dwk); err != nil {
		return nil, tokErr(sigverify.CodeUnknownKey, "cannot fetch the keys of %q: %v", shorten(iss), err)
	}
	if pub, ok := k.lookup(iss, kid); ok {
		return pub, nil
	}
	return nil, tokErr(sigverify.CodeUnknownKey, "issuer %q has no key %q", shorten(iss), shorten(kid))
}

// fetchShared runs fetch for iss, or waits for the one already running.
func (k *keyring) fetchShared(ctx context.Context, iss, dwk string) error {
	k.mu.Lock()
	if f, ok := k.fetching[iss]; ok {
		k.mu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &keyFetch{done: make(chan struct{})}
	if k.fetching == nil {
		k.fetching = map[string]*keyFetch{}
	}
	k.fetching[iss] = f
	k.mu.Unlock()

	f.err = k.fetch(ctx, iss, dwk)
	k.mu.Lock()
	delete(k.fetching, iss)
	k.mu.Unlock()
	close(f.done)
	return f.err
}

// fetch reads {iss}/.well-known/{dwk}, checks its issuer, then reads its
// jwks_uri. Only loopback http(s) URLs are fetched: the kit never reaches
// the network.
func (k *keyring) fetch(ctx context.Context, iss, dwk string) error {
	if err := loopbackURL(iss); err != nil {
		return err
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := k.getJSON(ctx, iss+"/.well-known/"+dwk, &meta); err != nil {
		return err
	}
	if meta.Issuer != iss {
		return errors.New("the metadata issuer differs from the token issuer")
	}
	if err := loopbackURL(meta.JWKSURI); err != nil {
		return fmt.Errorf("jwks_uri: %w", err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := k.getJSON(ctx, meta.JWKSURI, &set); err != nil {
		return err
	}
	n := 0
	for _, jwk := range set.Keys {
		pub, err := keyFromJWK(jwk)
		if err != nil {
			continue
		}
		kid, _ := jwk["kid"].(string)
		k.add(iss, kid, pub)
		n++
	}
	if n == 0 {
		return errors.New("the JWKS holds no usable key")
	}
	return nil
}

func (k *keyring) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDoc+1))
	if err != nil {
		return err
	}
	if len(b) > maxDoc {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDoc)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %v", u, err)
	}
	return nil
}

// loopbackURL accepts http and https URLs whose host is a loopback
// address or localhost.
func loopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", shorten(s))
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback URL (the kit does not reach the network)", shorten(s))
}

// shorten bounds client-chosen text in problem details.
func shorten(s string) string {
	const limit = 64
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// randomID returns n random bytes, base64url.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+).
		panic("aauthtest: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
