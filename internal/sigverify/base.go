package sigverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/dunglas/httpsfv"
)

// This file builds the RFC 9421 signature base of a request as it was
// received and checks the signature over it. Every derived value comes
// from the bytes on the wire, not from net/url's reading of them:
//
//   - @method is the method upper-cased (ASCII). RFC 9421 §2.2.1 makes it
//     the method as sent, which is case-sensitive, but the AAuth reference
//     signers (the JavaScript @hellocoop/httpsig and this module's Signer)
//     sign toUpperCase() of the method while fetch sends "patch" or "purge"
//     as the caller wrote it; the reference verifier upper-cases it too. A
//     signature over a lower-case method as sent is therefore not accepted.
//   - @authority is the Host (Request.Host, else URL.Host), lower-cased,
//     without the scheme's default port (§2.2.3).
//   - @path, @query, @request-target and @target-uri come from
//     Request.RequestURI when it is set (a server-side request: the
//     request-target exactly as the client sent it), and otherwise from
//     URL.RequestURI(), the request-target a Go client sends for the URL.
//     Percent-escapes and characters such as "|" and "^" are kept as sent.
//   - @scheme is the URL's scheme, else https on a TLS connection, else http.
//
// Header fields follow §2.1 (each field line trimmed, the lines joined with
// ", "), with the sf, key and bs parameters of §2.1.1-2.1.3; @query-param
// follows §2.2.8. The base ends with "@signature-params", the received
// Signature-Input member (inner list and parameters, in the order sent)
// serialized as a Structured Field (§2.3).

// requestTarget is the request-target of a request as sent, split into the
// parts the derived components need.
type requestTarget struct {
	raw      string // the request-target, e.g. "/a%2Fb?x=1" or "*"
	path     string // its absolute path as sent; "" for the authority and asterisk forms
	query    string // its query as sent, without "?"
	hasQuery bool   // whether it has a "?", even with an empty query
}

// targetOf returns the request-target of req as it was (or will be) sent.
func targetOf(req *http.Request) (requestTarget, error) {
	raw := req.RequestURI
	if raw == "" {
		if req.URL == nil {
			return requestTarget{}, newError(CodeInvalidRequest, "request has no URL", nil)
		}
		raw = req.URL.RequestURI()
	}
	t := requestTarget{raw: raw}
	var rest string // the path and query, from the first "/" or "?"
	switch {
	case raw == "*":
		return t, nil // asterisk-form: no path, no query (RFC 9110 §7.1)
	case strings.HasPrefix(raw, "/"):
		rest = raw // origin-form
	default:
		scheme, hier, ok := strings.Cut(raw, "://")
		if !ok || scheme == "" || strings.ContainsAny(scheme, "/?") {
			return t, nil // authority-form (CONNECT): no path, no query
		}
		// absolute-form: skip the authority.
		i := strings.IndexAny(hier, "/?")
		if i < 0 {
			return t, nil
		}
		rest = hier[i:]
	}
	t.path, t.query, t.hasQuery = strings.Cut(rest, "?")
	return t, nil
}

// requestScheme is the scheme of req, lower-case.
func requestScheme(req *http.Request) string {
	if req.URL != nil && req.URL.Scheme != "" {
		return strings.ToLower(req.URL.Scheme)
	}
	if req.TLS != nil {
		return "https"
	}
	return "http"
}

// upperASCII upper-cases the ASCII letters of s and nothing else.
func upperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - ('a' - 'A')
		}
		return r
	}, s)
}

// baseBuilder derives component values from one request.
type baseBuilder struct {
	req       *http.Request
	target    requestTarget
	scheme    string
	authority string
}

func newBaseBuilder(req *http.Request) (*baseBuilder, error) {
	t, err := targetOf(req)
	if err != nil {
		return nil, err
	}
	scheme := requestScheme(req)
	host := req.Host
	if host == "" && req.URL != nil {
		host = req.URL.Host
	}
	return &baseBuilder{req: req, target: t, scheme: scheme, authority: normalizeAuthority(host, scheme)}, nil
}

// path is @path: the absolute path as sent, "/" when empty (§2.2.6).
func (b *baseBuilder) path() string {
	if b.target.path == "" {
		return "/"
	}
	return b.target.path
}

// value returns the component value of c (RFC 9421 §2.1, §2.2).
func (b *baseBuilder) value(c component) (string, error) {
	switch c.name {
	case "@method":
		m := b.req.Method
		if m == "" {
			m = http.MethodGet // as net/http sends it
		}
		return upperASCII(m), nil
	case "@authority":
		return b.authority, nil
	case "@scheme":
		return b.scheme, nil
	case "@path":
		return b.path(), nil
	case "@query":
		// §2.2.7: the query with its "?", or "?" alone when there is none.
		return "?" + b.target.query, nil
	case "@request-target":
		return b.target.raw, nil
	case "@target-uri":
		v := b.scheme + "://" + b.authority + b.path()
		if b.target.hasQuery {
			v += "?" + b.target.query
		}
		return v, nil
	case "@query-param":
		return b.queryParam(c.arg)
	}
	return b.field(c)
}

// field returns the value of a header component (§2.1).
func (b *baseBuilder) field(c component) (string, error) {
	lines := b.req.Header.Values(c.name)
	if len(lines) == 0 {
		return "", newError(CodeInvalidSignature, fmt.Sprintf("covered header %s is missing", shorten(c.name)), nil)
	}
	switch c.param {
	case "":
		trimmed := make([]string, len(lines))
		for i, l := range lines {
			trimmed[i] = strings.Trim(l, " \t")
		}
		return strings.Join(trimmed, ", "), nil
	case "bs":
		// §2.1.3: each field line, trimmed, as a Byte Sequence; the List
		// of them serialized.
		parts := make([]string, len(lines))
		for i, l := range lines {
			parts[i] = ":" + base64.StdEncoding.EncodeToString([]byte(strings.Trim(l, " \t"))) + ":"
		}
		return strings.Join(parts, ", "), nil
	case "sf":
		// §2.1.1: the strict serialization of the parsed value. The
		// type is not known here: a Dictionary is tried first, then a
		// List (an Item serializes as a List of one member).
		if d, err := httpsfv.UnmarshalDictionary(lines); err == nil {
			return marshalField(c, d)
		}
		if l, err := httpsfv.UnmarshalList(lines); err == nil {
			return marshalField(c, l)
		}
		return "", newError(CodeInvalidSignature, fmt.Sprintf("covered header %s is not a structured field", shorten(c.name)), nil)
	case "key":
		// §2.1.2: the serialized value of one Dictionary member.
		d, err := httpsfv.UnmarshalDictionary(lines)
		if err != nil {
			return "", newError(CodeInvalidSignature, fmt.Sprintf("covered header %s is not a dictionary", shorten(c.name)), nil)
		}
		m, ok := d.Get(c.arg)
		if !ok {
			return "", newError(CodeInvalidSignature, fmt.Sprintf("covered header %s has no member %q", shorten(c.name), shorten(c.arg)), nil)
		}
		return marshalField(c, m)
	}
	return "", newError(CodeInvalidRequest, fmt.Sprintf("component %s: unsupported parameter", shorten(c.text)), nil)
}

func marshalField(c component, v httpsfv.StructuredFieldValue) (string, error) {
	s, err := httpsfv.Marshal(v)
	if err != nil {
		return "", newError(CodeInvalidSignature, fmt.Sprintf("covered header %s cannot be serialized", shorten(c.name)), err)
	}
	return s, nil
}

// queryParam returns the value of @query-param;name=name (§2.2.8): the
// query parsed as application/x-www-form-urlencoded, the one parameter
// whose re-encoded name is name, its value re-encoded. A name that is
// absent, or that occurs more than once (which §2.2.8 forbids covering),
// fails.
func (b *baseBuilder) queryParam(name string) (string, error) {
	var value string
	found := 0
	for _, kv := range parseFormQuery(b.target.query) {
		if formEncode(kv[0]) == name {
			value = formEncode(kv[1])
			found++
		}
	}
	switch found {
	case 0:
		return "", newError(CodeInvalidSignature, fmt.Sprintf("covered query parameter %q is missing", shorten(name)), nil)
	case 1:
		return value, nil
	}
	return "", newError(CodeInvalidSignature, fmt.Sprintf("covered query parameter %q occurs more than once; cover @query instead", shorten(name)), nil)
}

// parseFormQuery parses a query the way the URL Standard's
// application/x-www-form-urlencoded parser does: "&"-separated sequences,
// empty ones skipped, split at the first "=", "+" read as a space, then
// percent-decoded and decoded as UTF-8 with replacement.
func parseFormQuery(q string) [][2]string {
	var out [][2]string
	for _, seq := range strings.Split(q, "&") {
		if seq == "" {
			continue
		}
		name, value, _ := strings.Cut(seq, "=")
		out = append(out, [2]string{formDecode(name), formDecode(value)})
	}
	return out
}

// formDecode is one name or value of parseFormQuery.
func formDecode(s string) string {
	s = strings.ReplaceAll(s, "+", " ")
	var raw []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			raw = append(raw, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		raw = append(raw, s[i]) // a "%" without two hex digits stays
	}
	return decodeUTF8(raw)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// decodeUTF8 decodes b as the Encoding Standard's UTF-8 decoder does:
// every maximal ill-formed subsequence becomes one U+FFFD.
func decodeUTF8(b []byte) string {
	var sb strings.Builder
	need, cp := 0, rune(0)
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(b); {
		c := b[i]
		if need == 0 {
			i++
			switch {
			case c <= 0x7F:
				sb.WriteByte(c)
			case 0xC2 <= c && c <= 0xDF:
				need, cp = 1, rune(c&0x1F)
			case 0xE0 <= c && c <= 0xEF:
				if c == 0xE0 {
					lower = 0xA0
				} else if c == 0xED {
					upper = 0x9F
				}
				need, cp = 2, rune(c&0x0F)
			case 0xF0 <= c && c <= 0xF4:
				if c == 0xF0 {
					lower = 0x90
				} else if c == 0xF4 {
					upper = 0x8F
				}
				need, cp = 3, rune(c&0x07)
			default:
				sb.WriteRune(utf8.RuneError)
			}
			continue
		}
		if c < lower || c > upper {
			// The sequence ends early; c starts afresh.
			need, cp, lower, upper = 0, 0, 0x80, 0xBF
			sb.WriteRune(utf8.RuneError)
			continue
		}
		i++
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(c&0x3F)
		if need--; need == 0 {
			sb.WriteRune(cp)
			cp = 0
		}
	}
	if need > 0 {
		sb.WriteRune(utf8.RuneError)
	}
	return sb.String()
}

// formEncode percent-encodes the UTF-8 bytes of s with the URL Standard's
// application/x-www-form-urlencoded percent-encode set, a space as %20
// rather than "+" (as RFC 9421 §2.2.8 and its example have it): only ASCII
// letters, digits and "*-._" stay as they are.
func formEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '*', c == '-', c == '.', c == '_':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0x0F])
		}
	}
	return sb.String()
}

// signatureBase builds the RFC 9421 §2.5 signature base of req for s.
func signatureBase(req *http.Request, s *signature) ([]byte, error) {
	b, err := newBaseBuilder(req)
	if err != nil {
		return nil, err
	}
	// The values first, so that the base is allocated once at its size.
	var small [8]string
	values := small[:0]
	size := len(`"@signature-params": `) + len(s.params)
	for _, c := range s.components {
		v, err := b.value(c)
		if err != nil {
			return nil, err
		}
		// A line break would let one value pose as further lines.
		if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 {
			return nil, newError(CodeInvalidSignature, fmt.Sprintf("component %s has a line break in its value", shorten(c.text)), nil)
		}
		values = append(values, v)
		size += len(c.id) + 2 + len(v) + 1
	}
	base := make([]byte, 0, size)
	for i, c := range s.components {
		base = append(base, c.id...)
		base = append(base, ": "...)
		base = append(base, values[i]...)
		base = append(base, '\n')
	}
	base = append(base, `"@signature-params": `...)
	base = append(base, s.params...)
	return base, nil
}

// verifyBase rebuilds the signature base of req and checks s.sig over it
// with pub: Ed25519, or ECDSA P-256 with SHA-256 and the signature as r||s
// of 32 bytes each (RFC 9421 §3.3.4, §3.3.6).
func verifyBase(req *http.Request, s *signature, pub crypto.PublicKey) error {
	base, err := signatureBase(req, s)
	if err != nil {
		return err
	}
	return checkSignatureBytes(pub, base, s.sig)
}

func checkSignatureBytes(pub crypto.PublicKey, base, sig []byte) error {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(sig) != ed25519.SignatureSize {
			return newError(CodeInvalidSignature, fmt.Sprintf("Ed25519 signature has %d bytes, want %d", len(sig), ed25519.SignatureSize), nil)
		}
		if !ed25519.Verify(k, base, sig) {
			return newError(CodeInvalidSignature, "signature does not verify", nil)
		}
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return newError(CodeInvalidSignature, fmt.Sprintf("ES256 signature has %d bytes, want 64", len(sig)), nil)
		}
		h := sha256.Sum256(base)
		r := new(big.Int).SetBytes(sig[:32])
		ss := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, h[:], r, ss) {
			return newError(CodeInvalidSignature, "signature does not verify", nil)
		}
	default:
		return newError(CodeUnsupportedAlgorithm, fmt.Sprintf("unsupported key type %T", pub), nil)
	}
	return nil
}
