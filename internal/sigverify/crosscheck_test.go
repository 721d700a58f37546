package sigverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/aauthgo/aauth/wire"
	"github.com/dunglas/httpsfv"
	"github.com/yaronf/httpsign"
)

// The tests verify every request through verifyChecked or
// verifyWithKeyChecked, which have github.com/yaronf/httpsign check the
// same signature as an independent second opinion wherever httpsign can
// represent the request, and fail when the two disagree.

// crossChecked counts the signatures both verifiers looked at.
var crossChecked atomic.Int64

// verifyChecked is Verify, cross-checked with httpsign.
func verifyChecked(t testing.TB, req *http.Request, opts Options) (*Result, error) {
	t.Helper()
	if req != nil {
		crossCheck(t, req, opts.Label, nil)
	}
	return Verify(req, opts)
}

// verifyWithKeyChecked is VerifyWithKey, cross-checked with httpsign.
func verifyWithKeyChecked(t testing.TB, req *http.Request, label string, pub crypto.PublicKey, opts Options) (*Result, error) {
	t.Helper()
	if req != nil && pub != nil {
		if label == "" {
			label = opts.Label
		}
		crossCheck(t, req, label, pub)
	}
	return VerifyWithKey(req, label, pub, opts)
}

// crossCheck checks the signature of req with label (as Verify picks it
// when empty) under pub (nil: the key its Signature-Key names) with this
// package's signature base and with httpsign, when httpsign can represent
// the request, and fails t if one accepts what the other rejects. Only
// the signature is compared, not the AAuth policy around it. It reports
// whether it compared.
func crossCheck(t testing.TB, req *http.Request, label string, pub crypto.PublicKey) bool {
	t.Helper()
	if pub == nil {
		vals := req.Header.Values("Signature-Key")
		if len(vals) != 1 {
			return false
		}
		sk, err := wire.ParseSignatureKey(vals[0])
		if err != nil {
			return false
		}
		if label == "" {
			label = sk.Label
		}
		if pub, err = keyFromSignatureKey(sk, false); err != nil {
			return false
		}
	} else {
		switch k := pub.(type) {
		case *ed25519.PublicKey:
			if k == nil {
				return false
			}
			pub = *k
		case ecdsa.PublicKey:
			pub = &k
		}
		if checkKey(pub) != nil {
			return false
		}
	}
	s, err := parseSignature(req.Header, label)
	if err != nil || checkSignatureAlg(s, pub) != nil {
		return false
	}
	if why := httpsignCannot(req, s); why != "" {
		return false
	}
	ours := verifyBase(req, s, pub)
	theirs := httpsignVerify(req, s, pub)
	if (ours == nil) != (theirs == nil) {
		base, _ := signatureBase(req, s)
		t.Errorf("verifiers disagree on %s %s (label %s):\n  ours:     %v\n  httpsign: %v\nour base:\n%s",
			req.Method, req.URL, s.label, ours, theirs, base)
	}
	crossChecked.Add(1)
	return true
}

// httpsignCannot says why httpsign v0.5.2 cannot represent the signature
// base of req for s, or returns "" when it can. httpsign derives from
// net/url's reading of the request rather than from the wire, and differs
// from RFC 9421 in a few places; each is a reason here.
func httpsignCannot(req *http.Request, s *signature) string {
	if req.Method != upperASCII(req.Method) {
		return "a method that is not upper-case"
	}
	t, err := targetOf(req)
	if err != nil || !strings.HasPrefix(t.raw, "/") {
		return "not an origin-form request-target"
	}
	u := req.URL
	if req.RequestURI != "" {
		if u, err = url.ParseRequestURI(req.RequestURI); err != nil {
			return "a request-target net/url cannot read"
		}
	}
	if u == nil {
		return "no URL"
	}
	for k := range req.Header {
		if strings.HasPrefix(k, "@") {
			return "a header name starting with @" // httpsign refuses the request
		}
	}
	if u.RawQuery != "" {
		if _, err := url.ParseQuery(u.RawQuery); err != nil {
			return "a query net/url cannot parse" // httpsign refuses the request
		}
	}
	host := req.Host
	if host == "" {
		host = u.Host
	}
	wirePath := orSlash(t.path)
	for _, c := range s.components {
		switch c.name {
		case "@path":
			if orSlash(u.EscapedPath()) != wirePath {
				return "a path net/url re-escapes"
			}
		case "@target-uri":
			if orSlash(u.EscapedPath()) != wirePath {
				return "a path net/url re-escapes"
			}
			if h := normalizeAuthority(host, requestScheme(req)); (&url.URL{Scheme: "http", Host: h}).String() != "http://"+h {
				return "a host URL.String() escapes"
			}
		case "@request-target":
			if orSlash(u.Path) != wirePath {
				return "an escaped path, which httpsign decodes"
			}
			if t.hasQuery && t.query == "" {
				return "an empty query, whose ? httpsign drops"
			}
		case "@query-param":
			values, _ := url.ParseQuery(u.RawQuery)
			n := 0
			for k, vs := range values {
				for _, x := range append([]string{k}, vs...) {
					if !utf8.ValidString(x) || formEncode(x) != httpsign.QueryEscapeForSignature(x) {
						return "a query parameter that httpsign encodes otherwise"
					}
				}
				if formEncode(k) == c.arg {
					n += len(vs)
				}
			}
			if n != 1 {
				return "a query parameter that is missing or repeated"
			}
		default:
			if strings.HasPrefix(c.name, "@") {
				continue
			}
			lines := req.Header.Values(c.name)
			for _, l := range lines {
				if strings.TrimSpace(l) != l {
					return "a field line with surrounding white space" // httpsign trims otherwise, or not at all for bs
				}
			}
			if c.param == "sf" {
				if _, err := httpsfv.UnmarshalDictionary(lines); err != nil {
					return "a structured field that is not a dictionary"
				}
			}
		}
	}
	return ""
}

func orSlash(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// httpsignVerify checks the signature with httpsign.VerifyRequest.
func httpsignVerify(req *http.Request, s *signature, pub crypto.PublicKey) error {
	fields := httpsign.NewFields()
	for _, c := range s.components {
		switch c.param {
		case "":
			fields.AddHeader(c.name)
		case "sf":
			fields.AddStructuredField(c.name)
		case "bs":
			fields.AddHeaderExt(c.name, false, true, false, false)
		case "key":
			fields.AddDictHeader(c.name, c.arg)
		case "name":
			// httpsign escapes the name itself.
			n, err := url.QueryUnescape(c.arg)
			if err != nil {
				return err
			}
			fields.AddQueryParam(n)
		}
	}
	// The created window is this package's policy; httpsign's would use
	// the wall clock.
	cfg := httpsign.NewVerifyConfig().SetVerifyCreated(false).SetRejectExpired(false)
	var v *httpsign.Verifier
	var err error
	switch k := pub.(type) {
	case ed25519.PublicKey:
		v, err = httpsign.NewEd25519Verifier(k, cfg, *fields)
	case *ecdsa.PublicKey:
		v, err = httpsign.NewP256Verifier(*k, cfg, *fields)
	}
	if err != nil {
		return err
	}
	return httpsign.VerifyRequest(s.label, *v, httpsignClone(req))
}

// httpsignClone copies req as httpsign needs it, so that it never writes to
// the caller's request: httpsign fills URL.Host and URL.Scheme in place,
// takes @authority from Host as is, @path from URL.EscapedPath() (empty
// for "http://host") and @target-uri from URL.String() (with fragment and
// userinfo).
func httpsignClone(req *http.Request) *http.Request {
	r := req.Clone(req.Context())
	r.Body = http.NoBody
	r.GetBody = nil
	if r.RequestURI != "" {
		// A server-side request: the URL as net/url reads the target.
		r.URL, _ = url.ParseRequestURI(r.RequestURI)
		r.RequestURI = ""
	}
	scheme := requestScheme(req)
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	host = normalizeAuthority(host, scheme)
	r.Host = host
	r.URL.Host = host
	r.URL.Scheme = scheme
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	r.URL.User = nil
	r.URL.Fragment, r.URL.RawFragment = "", ""
	if r.URL.Path == "" && r.URL.RawPath == "" && r.URL.Opaque == "" {
		r.URL.Path = "/"
	}
	return r
}

// TestCrossCheckVectors: httpsign can represent every vector, and agrees
// with this package on each, untouched and with the signature or a covered
// value tampered with.
func TestCrossCheckVectors(t *testing.T) {
	for _, file := range []string{currentFile, seedFile} {
		for _, v := range loadVectors(t, file).Vectors {
			t.Run(v.ID, func(t *testing.T) {
				req := v.request(t)
				s, err := parseSignature(req.Header, "")
				if err != nil {
					t.Fatal(err)
				}
				if why := httpsignCannot(req, s); why != "" {
					t.Fatalf("httpsign cannot represent it: %s", why)
				}
				pub := v.publicKey(t)
				for _, tamper := range []func(*http.Request){
					func(*http.Request) {},
					flipSignature,
					func(r *http.Request) { r.Method = http.MethodDelete },
					func(r *http.Request) { r.URL.Path = "/other" },
					func(r *http.Request) { r.Host = "other.example" },
				} {
					req := v.request(t)
					tamper(req)
					if !crossCheck(t, req, "", pub) {
						t.Error("not cross-checked")
					}
				}
			})
		}
	}
}
