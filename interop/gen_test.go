package interop

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

// reqSpec is one generated request, before either side signs it: what a
// caller hands to fetch or to http.NewRequest.
type reqSpec struct {
	n       int
	gen     aauth.Profile
	method  string // "" leaves the method to the library (GET)
	url     string
	headers [][2]string
	body    *jsBody // nil: no body; a zero-length body is still a body
	key     testKey
	scheme  wire.Scheme
	token   string // for the jwt and jkt-jwt schemes
	session bool   // carries a session or access token in Authorization
	extras  []string
	comps   []string // replaces the default component list (Signer.Components)
	label   string   // "" is "sig"
}

func (s *reqSpec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d %s %s %q %s/%s", s.n, s.gen, orDefault(s.method, "(default)"), s.url, s.key.name, s.scheme)
	if s.body != nil {
		kind := "text"
		if !s.body.Text {
			kind = "bytes"
		}
		fmt.Fprintf(&b, " body=%s[%d]", kind, len(s.body.Bytes))
	}
	for _, h := range s.headers {
		v := h[1]
		if strings.EqualFold(h[0], "authorization") {
			v = "…"
		}
		fmt.Fprintf(&b, " %s:%q", h[0], truncate(v, 40))
	}
	if s.extras != nil {
		fmt.Fprintf(&b, " extras=%v", s.extras)
	}
	if s.comps != nil {
		fmt.Fprintf(&b, " components=%v", s.comps)
	}
	if s.label != "" {
		fmt.Fprintf(&b, " label=%s", s.label)
	}
	return b.String()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (s *reqSpec) hasBody() bool { return s.body != nil }

// keyMaterial is what our Signer signs s with.
func (s *reqSpec) keyMaterial() aauth.KeyMaterial {
	km := aauth.KeyMaterial{Signer: s.key.signer}
	switch s.scheme {
	case wire.SchemeHWK:
		km.Key = aauth.HWK()
	case wire.SchemeJWT:
		km.Key = aauth.JWT(s.token)
	case wire.SchemeJKTJWT:
		km.Key = aauth.JKTJWT(s.token)
	}
	return km
}

// signer is our Signer configured for s.
func (s *reqSpec) signer() *aauth.Signer {
	return &aauth.Signer{
		Profile:         s.gen,
		Label:           s.label,
		Components:      s.comps,
		ExtraComponents: s.extras,
		Now:             clock,
	}
}

// goRequest builds the request a Go caller would sign. A body is always a
// real body, even when empty, as fetch counts "" as a body.
func (s *reqSpec) goRequest() (*http.Request, error) {
	req, err := http.NewRequest(s.method, s.url, nil)
	if err != nil {
		return nil, err
	}
	for _, h := range s.headers {
		req.Header.Add(h[0], h[1])
	}
	if s.body != nil {
		b := s.body.Bytes
		req.ContentLength = int64(len(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Body, _ = req.GetBody()
	}
	return req, nil
}

// signatureKeyJS is the httpsig signatureKey option that matches s, as
// @aauth/mcp-agent passes it: the seed generation sends jkt-jwt key
// material as the jwt scheme.
func (s *reqSpec) signatureKeyJS() map[string]any {
	switch {
	case s.scheme == wire.SchemeHWK:
		return map[string]any{"type": "hwk"}
	case s.scheme == wire.SchemeJKTJWT && s.gen == aauth.ProfileCurrent:
		return map[string]any{"type": "jkt_jwt", "jwt": s.token}
	}
	return map[string]any{"type": "jwt", "jwt": s.token}
}

// componentsJS is the httpsig components option that covers what our
// Signer covers for s, or nil when the library's default does (httpsig 2.x
// appends content-digest itself, after signature-key, as our Signer does).
func (s *reqSpec) componentsJS() []string {
	if s.comps != nil {
		return s.comps
	}
	coverAuthz := s.session && s.gen == aauth.ProfileCurrent
	if len(s.extras) == 0 && !coverAuthz {
		return nil
	}
	c := []string{"@method", "@authority", "@path"}
	if s.hasBody() {
		c = append(c, "content-type")
	}
	if coverAuthz {
		c = append(c, "authorization")
	}
	c = append(c, s.extras...)
	return append(c, "signature-key")
}

func (s *reqSpec) signMsg(id int) signMsg {
	m := signMsg{
		ID: id, Op: "sign", Gen: s.gen.String(), NowMS: nowMS,
		URL:          s.url,
		Headers:      s.headers,
		Body:         s.body,
		Key:          s.key.jwkMembers(true, s.gen == aauth.ProfileCurrent),
		SignatureKey: s.signatureKeyJS(),
		Components:   s.componentsJS(),
		Label:        s.label,
	}
	if m.Headers == nil {
		m.Headers = [][2]string{}
	}
	if s.method != "" {
		m.Method = &s.method
	}
	return m
}

// covers reports whether a signature over s covers the named component, on
// either side.
func (s *reqSpec) covers(name string) bool {
	if s.comps != nil {
		if name == "content-digest" && s.gen == aauth.ProfileCurrent && s.hasBody() {
			return true
		}
		return slices.Contains(s.comps, name)
	}
	switch name {
	case "@method", "@authority", "@path", "signature-key":
		return true
	case "content-type":
		return s.hasBody()
	case "content-digest":
		return s.hasBody() && s.gen == aauth.ProfileCurrent
	case "authorization":
		return s.session && s.gen == aauth.ProfileCurrent || slices.Contains(s.extras, name)
	}
	return slices.Contains(s.extras, name)
}

// The pieces requests are made of.
var (
	// Every standard method, lower-case ones (fetch upper-cases the standard
	// ones except PATCH on the wire) and a non-standard one.
	genMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "post", "patch", "purge", ""}
	genHosts   = []string{
		"resource.example", "Resource.Example", "API.EXAMPLE.COM", "ps.example",
		"localhost", "LocalHost", "127.0.0.1", "[::1]", "[2001:DB8::A]", "Bücher.Example",
	}
	genPaths = []string{
		"", "/", "/api/data", "/mcp", "/aauth/token", "/trailing/", "//double//slash",
		"/a b/c d", "/x%20y", "/%7euser/x", "/%7Euser/x", "/a%2Fb/c", "/a%2fb", "/caf%C3%A9", "/what%3Fnot",
		"/a/./b/../c", "/a/b/..", "/a/b/.", "/./x", "/%2e%2e/x", "/a/%2E/b", "/a\\b",
		"/é/ü", "/日本/語", "/emoji/🎉", "/path;param=1", "/a|b^c[d]e", "/~tilde/!$&'()*+,;=:@",
		"/{braces}", "/quote\"d", "/less<more>", "/back`tick",
	}
	genQueries = []string{
		"", "", "", "?x=1", "?a=1&b=two", "?q=a%20b", "?q=%e2%82%ac", "?q=caf%C3%A9", "?", "?a=&b",
		"?q=a+b&r=/x?y", "?q=é",
	}
	genFragments = []string{"", "", "", "", "#frag", "#"}
	genTypes     = []string{
		"application/json", "application/json; charset=utf-8", "  text/plain  ", "\tapplication/x-www-form-urlencoded ",
		"text/plain;charset=UTF-8", "application/octet-stream",
	}
	genTypeNames = []string{"Content-Type", "content-type", "CONTENT-TYPE"}
)

// genSpecs returns n requests for gen, the same ones every run. The main
// dimensions (method, key type, scheme) cycle so that every combination
// occurs; the rest is drawn at random.
func genSpecs(gen aauth.Profile, n int) []*reqSpec {
	r := rand.New(rand.NewPCG(0x5eed, uint64(gen)+1))
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	chance := func(p float64) bool { return r.Float64() < p }
	schemes := []wire.Scheme{wire.SchemeHWK, wire.SchemeJWT, wire.SchemeJKTJWT}

	// Tokens are minted once per key and scheme.
	tokens := map[string]string{}
	token := func(k testKey, i int, s wire.Scheme) string {
		id := fmt.Sprintf("%s/%s", k.name, s)
		if tok, ok := tokens[id]; ok {
			return tok
		}
		var tok string
		switch s {
		case wire.SchemeJWT:
			tok = agentToken(gen, k)
		case wire.SchemeJKTJWT:
			tok = jktToken(gen, k, identityKeys[i%len(identityKeys)])
		}
		tokens[id] = tok
		return tok
	}

	specs := make([]*reqSpec, 0, n)
	for i := range n {
		s := &reqSpec{n: i, gen: gen}
		s.method = genMethods[i%len(genMethods)]
		ki := (i / len(genMethods)) % len(agentKeys)
		s.key = agentKeys[ki]
		s.scheme = schemes[(i/(len(genMethods)*len(agentKeys)))%len(schemes)]
		if s.scheme != wire.SchemeHWK {
			s.token = token(s.key, ki, s.scheme)
		}

		// URL.
		scheme := "https"
		if chance(0.2) {
			scheme = "http"
		}
		port := ""
		switch p := r.Float64(); {
		case p < 0.15:
			port = map[string]string{"https": ":443", "http": ":80"}[scheme]
		case p < 0.40:
			port = pick([]string{":8443", ":8080", ":3000", ":1", map[string]string{"https": ":80", "http": ":443"}[scheme]})
		}
		frag := pick(genFragments)
		query := pick(genQueries)
		s.url = scheme + "://" + pick(genHosts) + port + pick(genPaths) + query + frag

		// Body: never on GET or HEAD, which fetch refuses.
		bodyOK := !strings.EqualFold(s.method, "GET") && !strings.EqualFold(s.method, "HEAD") && s.method != ""
		if bodyOK && chance(0.75) {
			s.body = genBody(r)
			if !s.body.Text && chance(0.7) || s.body.Text && chance(0.6) {
				ct := pick(genTypes)
				if !s.body.Text {
					ct = "application/octet-stream"
				}
				s.headers = append(s.headers, [2]string{pick(genTypeNames), ct})
			}
		}

		// Other headers, some of them covered.
		var present []string
		add := func(p float64, name string, values ...string) {
			if chance(p) {
				for _, v := range values {
					s.headers = append(s.headers, [2]string{name, v})
				}
				present = append(present, strings.ToLower(name))
			}
		}
		add(0.3, "Prefer", "wait=45")
		add(0.2, "AAuth-Capabilities", "interaction, clarification")
		add(0.3, "X-Request-Id", fmt.Sprintf("%016x", r.Uint64()))
		add(0.1, "X-Multi", "one", "two ; x")
		add(0.1, "X-Pad", "\t padded value \t")
		add(0.2, "Accept", "application/json")
		if chance(0.15) {
			s.session = true
			tok := fmt.Sprintf("opaque-%x", r.Uint64())
			if gen == aauth.ProfileCurrent {
				s.headers = append(s.headers, [2]string{"Authorization", "AAuth " + tok})
			} else {
				s.headers = append(s.headers, [2]string{"Authorization", "Bearer " + tok})
			}
		}

		switch {
		case chance(0.08):
			// A whole component list of the caller's, in another order.
			c := []string{"@method", "@authority", "@path"}
			r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
			if s.hasBody() && chance(0.7) {
				c = append(c, "content-type")
			}
			c = append(c, "signature-key")
			if s.hasBody() && gen == aauth.ProfileSeed && chance(0.6) {
				c = append(c, "content-digest") // seed covers the body only when asked
			}
			s.comps = c
		case chance(0.45):
			for _, h := range present {
				if chance(0.5) {
					s.extras = append(s.extras, h)
				}
			}
			// httpsig's verifier hard-wires the https scheme into @scheme
			// and @target-uri, and its signer takes @target-uri from
			// URL.href, fragment and lone "?" included, which fetch does
			// not send: cover those only where both sides agree.
			if scheme == "https" && frag == "" && query != "?" {
				for _, d := range []string{"@target-uri", "@request-target", "@scheme"} {
					if chance(0.2) {
						s.extras = append(s.extras, d)
					}
				}
			}
			if len(s.extras) == 0 {
				s.extras = nil
			}
		}
		if chance(0.1) {
			s.label = pick([]string{"aauth", "req1", "x-sig"})
		}
		specs = append(specs, s)
	}
	return specs
}

// genBody returns a body of one of several kinds and sizes.
func genBody(r *rand.Rand) *jsBody {
	switch r.IntN(8) {
	case 0:
		return &jsBody{Bytes: []byte{}, Text: true}
	case 1:
		return &jsBody{Bytes: []byte(`{"resource_token":"rt","n":1}`), Text: true}
	case 2:
		return &jsBody{Bytes: []byte("hello world\n"), Text: true}
	case 3:
		return &jsBody{Bytes: []byte("héllo wörld — 日本語 🎉 \u00a0"), Text: true}
	case 4:
		// About 64 KiB of text.
		var b strings.Builder
		for b.Len() < 64<<10 {
			fmt.Fprintf(&b, `{"line":%d,"v":"%x"}`+"\n", b.Len(), r.Uint64())
		}
		return &jsBody{Bytes: []byte(b.String()), Text: true}
	case 5:
		// A few KiB of JSON.
		var b strings.Builder
		b.WriteString(`{"items":[`)
		for i := range 1 + r.IntN(100) {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"id":%d,"name":"item-%x"}`, i, r.Uint32())
		}
		b.WriteString("]}")
		return &jsBody{Bytes: []byte(b.String()), Text: true}
	default:
		// Bytes, including ones that are not UTF-8.
		b := make([]byte, 1+r.IntN(300))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return &jsBody{Bytes: b}
	}
}
