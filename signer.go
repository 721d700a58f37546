package aauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/internal/whatwg"
	"github.com/aauthgo/aauth/wire"
)

// DigestMode says when a request body is covered by a Content-Digest
// (RFC 9530, sha-256).
type DigestMode uint8

const (
	// DigestAuto follows the profile: the current profile digests every
	// body, the seed profile none.
	DigestAuto DigestMode = iota
	// DigestAlways digests every body, whatever the profile.
	DigestAlways
	// DigestNever digests no body unless the component list names
	// content-digest.
	DigestNever
)

// autoContentType is what fetch sends with a string body that has no
// Content-Type; the reference implementations cover it, so a Go request
// gets the same label.
const autoContentType = "text/plain;charset=UTF-8"

// Signer signs HTTP requests with RFC 9421 HTTP Message Signatures and a
// Signature-Key header, as AAuth requires. The zero value signs for the
// current profile with label "sig" and the system clock.
//
// A Signer holds no state between calls and is safe for concurrent use.
type Signer struct {
	// Profile selects the wire generation.
	Profile wire.Profile

	// Label keys Signature-Key, Signature-Input and Signature; "" means
	// "sig".
	Label string

	// Components, when set, replaces the profile's list of covered
	// components. It must name "signature-key". content-digest is
	// appended after it when the digest mode asks for one and the list
	// does not name it.
	Components []string

	// ExtraComponents are covered in addition to the profile's list,
	// before "signature-key": for example what a resource asked for in
	// Signature-Error: error=invalid_input, required_input=(...).
	ExtraComponents []string

	// ContentDigest says when bodies are digested.
	ContentDigest DigestMode

	// Now is the clock for the created parameter; nil means time.Now.
	Now func() time.Time
}

// Sign signs req in place with km. It sets Signature-Key,
// Signature-Input and Signature, replacing any earlier signature, and, when
// needed, Content-Type and Content-Digest. It also brings req to the form a
// browser would send, so that what is signed is what goes on the wire: the
// Host is lower-cased without a default port, the path is the WHATWG
// serialisation (dot segments resolved, escapes normalised), the fragment is
// dropped, and a body without GetBody is read once and made replayable when
// it must be digested.
//
// Sign modifies req; to leave a caller's request untouched, sign a clone, as
// SigningTransport does.
func (s *Signer) Sign(req *http.Request, km KeyMaterial) error {
	_, err := s.sign(req, km, false)
	return err
}

// SignatureBase returns the RFC 9421 signature base Sign would sign for req
// and km at this moment, after making the same changes to req as Sign (the
// Signature-Key header included), without signing. It is meant for
// debugging and dry runs.
func (s *Signer) SignatureBase(req *http.Request, km KeyMaterial) ([]byte, error) {
	return s.sign(req, km, true)
}

func (s *Signer) sign(req *http.Request, km KeyMaterial, baseOnly bool) ([]byte, error) {
	return s.signAt(req, km, "", createdLater, baseOnly)
}

// createdLater asks signAt to take the created time from s.Now once the
// request is ready (a body may take a while to read).
const createdLater = math.MinInt64

// signAt is sign with what a Transport computes once rather than per
// request: skey, when not "", is the Signature-Key value for km (under the
// default label), and created the signature's created time.
func (s *Signer) signAt(req *http.Request, km KeyMaterial, skey string, created int64, baseOnly bool) ([]byte, error) {
	if km.Signer == nil {
		return nil, errors.New("aauth: sign: key material has no signer")
	}
	if req.URL == nil {
		return nil, errors.New("aauth: sign: request has no URL")
	}
	t, err := profile.Check(s.Profile)
	if err != nil {
		return nil, err
	}
	label := s.Label
	if label == "" {
		label = wire.DefaultLabel
	}
	if !validKey(label) {
		return nil, fmt.Errorf("aauth: sign: invalid signature label %q", label)
	}

	m, err := prepare(req)
	if err != nil {
		return nil, err
	}

	if skey == "" || label != wire.DefaultLabel {
		if skey, err = signatureKeyValue(label, km, t); err != nil {
			return nil, err
		}
	}
	// The three header values share one allocation.
	hv := new([3]string)
	hv[0] = skey
	req.Header["Signature-Key"] = hv[0:1:1]

	digest := m.hasBody && (s.ContentDigest == DigestAlways || s.ContentDigest == DigestAuto && t.DigestBodies ||
		s.Components == nil && contains(s.ExtraComponents, "content-digest"))
	var comps []string
	if s.Components != nil {
		comps = s.Components
		if !contains(comps, "signature-key") {
			return nil, errors.New(`aauth: sign: the component list must name "signature-key"`)
		}
		if contains(comps, "content-digest") {
			digest = true
		} else if digest {
			comps = append(comps[:len(comps):len(comps)], "content-digest")
		}
	} else {
		var buf [8]string
		comps = s.defaultComponents(buf[:0], req, m.hasBody, digest, t.CoverAuthorization)
	}

	if m.hasBody {
		// As fetch's Headers does, strip surrounding white space, so the
		// value sent is the value covered.
		ct := req.Header.Get("Content-Type")
		switch trimmed := strings.Trim(ct, " \t\r\n"); {
		case trimmed == "":
			req.Header.Set("Content-Type", autoContentType)
		case trimmed != ct:
			req.Header.Set("Content-Type", trimmed)
		}
	}
	if digest {
		d, err := contentDigest(req)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Digest", d)
	}

	if created == createdLater {
		if s.Now != nil {
			created = s.Now().Unix()
		} else {
			created = time.Now().Unix()
		}
	}
	// Signature-Input and Signature share one allocation too: the builder
	// has room for the signature when it writes the input.
	var hb strings.Builder
	input := writeSignatureInput(&hb, len(label)+3+base64.StdEncoding.EncodedLen(ed25519.SignatureSize), label, comps, created)
	if baseOnly {
		return buildBase(req, &m, comps, input[len(label)+1:], nil)
	}
	return nil, signMessage(req, &m, km.Signer, label, comps, input, &hb, hv[1:])
}

// signMessage is the generic RFC 9421 step: it builds the base over comps
// with the parameters of input (the Signature-Input value, label=...),
// signs it, and sets Signature-Input and Signature. The Signature value is
// written into b (nil: a builder of its own), and hv, when it has room for
// two, holds the values.
func signMessage(req *http.Request, m *message, key crypto.Signer, label string, comps []string, input string, b *strings.Builder, hv []string) error {
	bp := baseBufs.Get().(*[]byte)
	defer baseBufs.Put(bp)
	base, err := buildBase(req, m, comps, input[len(label)+1:], (*bp)[:0])
	if err != nil {
		return err
	}
	if cap(base) <= maxPooledBase {
		*bp = base
	}
	sig, err := signBytes(key, base)
	if err != nil {
		return err
	}
	if len(hv) < 2 {
		hv = make([]string, 2)
	}
	if b == nil {
		b = new(strings.Builder)
	}
	hv[0], hv[1] = input, writeSigHeader(b, label, sig)
	req.Header["Signature-Input"] = hv[0:1:1]
	req.Header["Signature"] = hv[1:2:2]
	return nil
}

// baseBufs holds signature-base buffers: a base is not needed once signed.
var baseBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}

// maxPooledBase bounds the buffers kept: a base carrying a huge header
// value is not kept for every later signature.
const maxPooledBase = 16 << 10

// defaultComponents is the profile's list: the three derived components,
// content-type for a body, authorization for a session token (current),
// the extras, signature-key, and content-digest last, where
// @hellocoop/httpsig 2.2 puts it.
func (s *Signer) defaultComponents(comps []string, req *http.Request, hasBody, digest, coverAuthz bool) []string {
	comps = append(comps, "@method", "@authority", "@path")
	if hasBody {
		comps = append(comps, "content-type")
	}
	if coverAuthz && len(req.Header["Authorization"]) > 0 {
		comps = append(comps, "authorization")
	}
	for _, c := range s.ExtraComponents {
		c = strings.ToLower(c)
		if c != "signature-key" && c != "content-digest" && !contains(comps, c) {
			comps = append(comps, c)
		}
	}
	comps = append(comps, "signature-key")
	if digest || contains(s.ExtraComponents, "content-digest") {
		comps = append(comps, "content-digest")
	}
	return comps
}

// message holds the derived component values of a prepared request.
type message struct {
	method, authority, path string
	hasBody                 bool
}

// prepare normalises req as a browser would send it and returns its derived
// component values.
func prepare(req *http.Request) (message, error) {
	u := req.URL
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return message{}, fmt.Errorf("aauth: sign: unsupported URL scheme %q", u.Scheme)
	}
	hostport := req.Host
	if hostport == "" {
		hostport = u.Host
	}
	authority, err := whatwg.Authority(scheme, hostport)
	if err != nil {
		return message{}, fmt.Errorf("aauth: sign: invalid host %q", hostport)
	}
	req.Host = authority

	raw := u.Opaque
	escaped := ""
	if raw == "" {
		escaped = u.EscapedPath()
		raw = u.RawPath
		if raw == "" {
			raw = escaped
		}
	}
	path := escapeForGo(whatwg.Path(raw))
	if u.Opaque != "" || path != escaped {
		setPath(u, path)
	}
	u.Fragment, u.RawFragment = "", ""
	if q := whatwg.Query(u.RawQuery); q != u.RawQuery {
		// A browser sends these bytes escaped; Go would send a space raw
		// and break the request line.
		u.RawQuery = q
	}

	method := req.Method
	if method == "" {
		method = http.MethodGet
	} else if std, ok := standardMethod(method); ok {
		// fetch upper-cases the standard methods on the wire; the covered
		// @method must match what is sent.
		req.Method, method = std, std
	} else {
		method = strings.ToUpper(method)
	}
	return message{
		method:    method,
		authority: authority,
		path:      path,
		hasBody:   req.Body != nil && req.Body != http.NoBody,
	}, nil
}

// escapeForGo percent-encodes '|' and '^', which browsers leave alone in
// paths but net/url cannot carry unescaped: a Go server would see the path
// re-escaped and a signature over the browser form would not verify there.
// Verifiers take @path from the request target as sent, so the escaped form
// verifies everywhere.
func escapeForGo(p string) string {
	if strings.IndexByte(p, '|') < 0 && strings.IndexByte(p, '^') < 0 {
		return p
	}
	return strings.NewReplacer("|", "%7C", "^", "%5E").Replace(p)
}

// setPath makes u send exactly path (already escaped). net/url re-escapes a
// RawPath it does not consider valid, so such paths go through Opaque, the
// documented way to send a path verbatim.
func setPath(u *url.URL, path string) {
	u.Opaque = ""
	dec, err := url.PathUnescape(path)
	if err == nil {
		u.Path, u.RawPath = dec, path
		if u.EscapedPath() == path {
			if dec == path {
				u.RawPath = ""
			}
			return
		}
	}
	u.Path, u.RawPath = "", ""
	u.Opaque = path
}

// standardMethod returns the upper-case form of a method fetch normalises.
func standardMethod(m string) (string, bool) {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH":
		return m, true
	}
	for _, s := range [...]string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"} {
		if len(m) == len(s) && strings.EqualFold(m, s) {
			return s, true
		}
	}
	return "", false
}

// contentDigest hashes the body that will be sent, from GetBody when the
// request has one, else by buffering the body once and making it
// replayable.
func contentDigest(req *http.Request) (string, error) {
	h := sha256.New()
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return "", safetext.Wrap("sign: reading body", err)
		}
		bp := copyBufs.Get().(*[]byte)
		// Hide WriterTo: strings.Reader would convert the whole body to
		// a []byte to write it into the hash.
		_, err = io.CopyBuffer(h, struct{ io.Reader }{rc}, *bp)
		copyBufs.Put(bp)
		rc.Close()
		if err != nil {
			return "", safetext.Wrap("sign: reading body", err)
		}
	} else {
		b, err := readAllHashing(req.Body, req.ContentLength, h)
		req.Body.Close()
		if err != nil {
			return "", safetext.Wrap("sign: reading body", err)
		}
		setBody(req, b)
	}
	var sum [sha256.Size]byte
	return "sha-256=:" + base64.StdEncoding.EncodeToString(h.Sum(sum[:0])) + ":", nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readAllHashing reads r to its end and hashes it. The body is kept in a
// strings.Builder: sized from n (the request's ContentLength) when known,
// it is allocated once and never zeroed or copied to grow; a body of
// unknown length grows it by doubling. A reader that writes itself out
// (bytes.Reader, strings.Reader) is copied once; each 64 KiB chunk is
// hashed, then copied while still in the CPU's cache.
func readAllHashing(r io.Reader, n int64, h hash.Hash) (string, error) {
	w := hashingBuilder{h: h}
	if n > 0 {
		// A length far beyond what can be meant is not allocated up
		// front.
		w.b.Grow(int(min(n, maxBodyPrealloc)))
	}
	bp := copyBufs.Get().(*[]byte)
	_, err := io.CopyBuffer(&w, r, *bp)
	copyBufs.Put(bp)
	if err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// hashingBuilder hashes what is written to it and keeps it.
type hashingBuilder struct {
	h hash.Hash
	b strings.Builder
}

func (w *hashingBuilder) Write(p []byte) (int, error) {
	if free := w.b.Cap() - w.b.Len(); free < len(p) {
		// Double (Builder.Write would append, growing by a quarter and
		// copying all each time), or make room for p at once.
		w.b.Grow(max(len(p), w.b.Cap()))
	}
	for rest := p; len(rest) > 0; {
		c := rest[:min(len(rest), hashChunk)]
		w.h.Write(c)
		w.b.Write(c)
		rest = rest[len(c):]
	}
	return len(p), nil
}

const (
	hashChunk       = 64 << 10
	maxBodyPrealloc = 64 << 20
)

// setBody makes b the replayable body of req.
func setBody(req *http.Request, b string) {
	req.ContentLength = int64(len(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(b)), nil }
	req.Body, _ = req.GetBody()
	if len(b) == 0 {
		// An empty body still counts as a body for signing, but Go would
		// send a non-nil empty body chunked; NoBody sends Content-Length: 0.
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
}

// sigParam is a signature parameter after created: a string or an int64.
type sigParam struct {
	name  string
	value any
}

// signatureInput returns the Signature-Input value label=(comps);created=…
// with the extra parameters. The serialised signature parameters are what
// follows "label=".
func signatureInput(label string, comps []string, created int64, extra ...sigParam) string {
	var b strings.Builder
	return writeSignatureInput(&b, 0, label, comps, created, extra...)
}

// writeSignatureInput writes the Signature-Input value to b, which it first
// grows for it and room more bytes, and returns it.
func writeSignatureInput(b *strings.Builder, room int, label string, comps []string, created int64, extra ...sigParam) string {
	var num [20]byte
	n := len(label) + 32
	for _, c := range comps {
		n += len(c) + 3
	}
	start := b.Len()
	b.Grow(n + room)
	b.WriteString(label)
	b.WriteString("=(")
	for i, c := range comps {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(c)
		b.WriteByte('"')
	}
	b.WriteString(");created=")
	b.Write(strconv.AppendInt(num[:0], created, 10))
	for _, p := range extra {
		b.WriteByte(';')
		b.WriteString(p.name)
		b.WriteByte('=')
		switch v := p.value.(type) {
		case int64:
			b.Write(strconv.AppendInt(num[:0], v, 10))
		case string:
			b.WriteString(strconv.Quote(v))
		}
	}
	return b.String()[start:]
}

// buildBase writes the RFC 9421 §2.5 signature base into buf, grown once
// to the exact size when too small: the Signature-Key value alone is
// hundreds of bytes.
func buildBase(req *http.Request, m *message, comps []string, params string, buf []byte) ([]byte, error) {
	var small [8]string
	vals := small[:0]
	n := len(`"@signature-params": `) + len(params)
	for _, c := range comps {
		v, err := componentValue(req, m, c)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		n += len(c) + len(v) + len(`"": `+"\n")
	}
	b := buf[:0]
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	for i, c := range comps {
		b = append(b, '"')
		b = append(b, c...)
		b = append(b, `": `...)
		b = append(b, vals[i]...)
		b = append(b, '\n')
	}
	b = append(b, `"@signature-params": `...)
	b = append(b, params...)
	return b, nil
}

// derivedComponents are the derived components the signer can cover.
var derivedComponents = map[string]bool{
	"@method": true, "@authority": true, "@path": true, "@scheme": true,
	"@query": true, "@request-target": true, "@target-uri": true,
}

// signableComponent reports whether the signer knows how to cover the
// component name at all: a derived component it knows, or a header field
// name (lower case, no parameters).
func signableComponent(name string) bool {
	if name == "" {
		return false
	}
	if name[0] == '@' {
		return derivedComponents[name]
	}
	return validComponentName(name)
}

// coverableOn reports whether the signer can cover the component name on
// req as it is about to be signed: a derived component it knows, a header
// req carries, or one the signer writes itself for a body (content-type,
// content-digest, and content-length when the length is known).
func coverableOn(req *http.Request, name string) bool {
	if !signableComponent(name) {
		return false
	}
	if name[0] == '@' || len(req.Header.Values(name)) > 0 {
		return true
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	switch name {
	case "content-type", "content-digest":
		return hasBody
	case "content-length":
		return hasBody && req.ContentLength >= 0
	}
	return false
}

func componentValue(req *http.Request, m *message, name string) (string, error) {
	switch name {
	case "@method":
		return m.method, nil
	case "@authority":
		return m.authority, nil
	case "@path":
		return m.path, nil
	case "@scheme":
		return strings.ToLower(req.URL.Scheme), nil
	case "@query":
		return "?" + req.URL.RawQuery, nil
	case "@request-target":
		return m.path + querySuffix(req.URL), nil
	case "@target-uri":
		return strings.ToLower(req.URL.Scheme) + "://" + m.authority + m.path + querySuffix(req.URL), nil
	}
	key, known := knownField(name)
	if !known {
		if name == "" || name[0] == '@' || !validComponentName(name) {
			return "", fmt.Errorf("aauth: sign: unsupported component %q", name)
		}
		key = textproto.CanonicalMIMEHeaderKey(name)
	}
	vals := req.Header[key]
	if len(vals) == 0 {
		if name == "content-length" && req.ContentLength >= 0 && m.hasBody {
			return strconv.FormatInt(req.ContentLength, 10), nil
		}
		return "", fmt.Errorf("aauth: sign: component %q specified but header not found in request", name)
	}
	if len(vals) == 1 {
		return strings.Trim(vals[0], " \t"), nil
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = strings.Trim(v, " \t")
	}
	return strings.Join(parts, ", "), nil
}

// knownField returns the net/http form of the lower-case field names AAuth
// signatures cover: valid names, so neither checked nor canonicalised (with
// an allocation) each time.
func knownField(name string) (string, bool) {
	switch name {
	case "signature-key":
		return "Signature-Key", true
	case "content-type":
		return "Content-Type", true
	case "content-digest":
		return "Content-Digest", true
	case "authorization":
		return "Authorization", true
	}
	return "", false
}

// querySuffix is the query as sent, with its "?" (also for a lone "?").
func querySuffix(u *url.URL) string {
	if u.RawQuery != "" || u.ForceQuery {
		return "?" + u.RawQuery
	}
	return ""
}

// validComponentName accepts lower-case field names (RFC 9110 tokens).
func validComponentName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validKey accepts an RFC 9651 dictionary key.
func validKey(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeSigHeader writes the Signature value label=:base64(sig): to b and
// returns it. What b holds already is kept, and shares its allocation.
func writeSigHeader(b *strings.Builder, label string, sig []byte) string {
	var enc [128]byte // a base64 Ed25519 or P-256 signature is 88 bytes
	start := b.Len()
	b.Grow(len(label) + 3 + base64.StdEncoding.EncodedLen(len(sig)))
	b.WriteString(label)
	b.WriteString("=:")
	b.Write(base64.StdEncoding.AppendEncode(enc[:0], sig))
	b.WriteByte(':')
	return b.String()[start:]
}

// sfPlain marks the bytes an RFC 9651 String carries as they are: visible
// ASCII and space, except '"' and '\\', which are escaped.
var sfPlain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// lastTokenKey is the Signature-Key value of a token last formatted by a
// Signer: programs sign many requests with one token (an agent token, a
// SigningTransport's), and formatting it is a scan and a copy of hundreds
// of bytes.
var lastTokenKey atomic.Pointer[tokenKeyValue]

type tokenKeyValue struct {
	label, jktScheme string
	key              SignatureKey
	value            string
}

// signatureKeyValue is formatSignatureKey, reusing the value last formatted
// for the same token.
func signatureKeyValue(label string, km KeyMaterial, t *profileTable) (string, error) {
	if km.Key.Scheme != wire.SchemeJWT && km.Key.Scheme != wire.SchemeJKTJWT {
		return formatSignatureKey(label, km, t.HWKAlg, t.JKTJWTScheme)
	}
	if last := lastTokenKey.Load(); last != nil && last.key == km.Key && last.label == label && last.jktScheme == t.JKTJWTScheme {
		return last.value, nil
	}
	v, err := formatSignatureKey(label, km, t.HWKAlg, t.JKTJWTScheme)
	if err != nil {
		return "", err
	}
	lastTokenKey.Store(&tokenKeyValue{label: label, jktScheme: t.JKTJWTScheme, key: km.Key, value: v})
	return v, nil
}

// formatSignatureKey returns "<label>=<scheme>;…" as the profile writes it.
func formatSignatureKey(label string, km KeyMaterial, hwkAlg bool, jktScheme string) (string, error) {
	var b strings.Builder
	b.Grow(len(label) + 32 + len(km.Key.Token))
	b.WriteString(label)
	b.WriteByte('=')
	switch km.Key.Scheme {
	case wire.SchemeJWT, wire.SchemeJKTJWT:
		if km.Key.Token == "" {
			return "", fmt.Errorf("aauth: sign: %s signature key without a token", km.Key.Scheme)
		}
		if km.Key.Scheme == wire.SchemeJWT {
			b.WriteString("jwt")
		} else {
			b.WriteString(jktScheme)
		}
		b.WriteString(`;jwt="`)
		// A token is a JWT: every byte is plain, and it goes in whole.
		tok := km.Key.Token
		i := 0
		for i < len(tok) && sfPlain[tok[i]] {
			i++
		}
		b.WriteString(tok[:i])
		for ; i < len(tok); i++ {
			c := tok[i]
			if c < 0x20 || c > 0x7e {
				return "", errors.New("aauth: sign: token contains a byte that cannot be sent in Signature-Key")
			}
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	case wire.SchemeHWK:
		switch pub := km.Signer.Public().(type) {
		case ed25519.PublicKey:
			if hwkAlg {
				b.WriteString(`hwk;alg="Ed25519";kty="OKP";crv="Ed25519";x="`)
			} else {
				b.WriteString(`hwk;kty="OKP";crv="Ed25519";x="`)
			}
			b.WriteString(base64.RawURLEncoding.EncodeToString(pub))
			b.WriteByte('"')
		case *ecdsa.PublicKey:
			x, y, err := p256Coordinates(pub)
			if err != nil {
				return "", err
			}
			if hwkAlg {
				b.WriteString(`hwk;alg="ES256";kty="EC";crv="P-256";x="`)
			} else {
				b.WriteString(`hwk;kty="EC";crv="P-256";x="`)
			}
			b.WriteString(base64.RawURLEncoding.EncodeToString(x))
			b.WriteString(`";y="`)
			b.WriteString(base64.RawURLEncoding.EncodeToString(y))
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("aauth: sign: unsupported public key type %T", pub)
		}
	case wire.SchemeJWKSURI:
		k := km.Key
		if k.id == "" || k.dwk == "" || k.kid == "" {
			return "", errors.New("aauth: sign: a jwks_uri signature key needs id, dwk and kid (use JWKSURI)")
		}
		b.WriteString("jwks_uri")
		for _, p := range [...][2]string{{"id", k.id}, {"dwk", k.dwk}, {"kid", k.kid}} {
			b.WriteString(";" + p[0] + `="`)
			for i := 0; i < len(p[1]); i++ {
				c := p[1][i]
				if c < 0x20 || c > 0x7e {
					return "", fmt.Errorf("aauth: sign: the jwks_uri %s parameter holds a byte that cannot be sent", p[0])
				}
				if c == '"' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(c)
			}
			b.WriteByte('"')
		}
	default:
		return "", fmt.Errorf("aauth: sign: unsupported Signature-Key scheme %q", km.Key.Scheme)
	}
	return b.String(), nil
}

// p256Coordinates returns the 32-byte big-endian x and y of a P-256 key.
func p256Coordinates(pub *ecdsa.PublicKey) (x, y []byte, err error) {
	if pub.Curve != elliptic.P256() {
		return nil, nil, errors.New("aauth: sign: ECDSA keys must be on P-256")
	}
	raw, err := pub.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, nil, safetext.Wrap("sign", err)
	}
	return raw[1:33], raw[33:65], nil
}

// signBytes signs the base: pure Ed25519, or ECDSA P-256 with SHA-256
// returned as raw r||s (RFC 9421 §3.3.4), whatever the crypto.Signer.
func signBytes(s crypto.Signer, base []byte) ([]byte, error) {
	if k, ok := s.(ed25519.PrivateKey); ok {
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("aauth: sign: malformed Ed25519 private key")
		}
		return ed25519.Sign(k, base), nil
	}
	switch pub := s.Public().(type) {
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, base, crypto.Hash(0))
		if err != nil {
			return nil, safetext.Wrap("sign", err)
		}
		return sig, nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, errors.New("aauth: sign: ECDSA keys must be on P-256")
		}
		h := sha256.Sum256(base)
		der, err := s.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, safetext.Wrap("sign", err)
		}
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
			return nil, errors.New("aauth: sign: malformed ECDSA signature from signer")
		}
		out := make([]byte, 64)
		rs.R.FillBytes(out[:32])
		rs.S.FillBytes(out[32:])
		return out, nil
	default:
		return nil, fmt.Errorf("aauth: sign: unsupported key type %T (want Ed25519 or ECDSA P-256)", pub)
	}
}
