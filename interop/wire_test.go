package interop

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aauthgo/aauth"
)

// wireReq is a signed request as it travels: what a server receives and
// hands to a verifier.
type wireReq struct {
	https     bool
	method    string
	authority string // the Host header
	path      string // the request target up to "?", escapes intact
	query     *string
	headers   [][2]string // in order, names as sent; no Host or Content-Length
	body      []byte      // nil: no body
}

// wireFromGo writes a request signed by our Signer the way net/http's
// client does and reads it back the way a server does.
func wireFromGo(req *http.Request, hasBody bool) (wireReq, error) {
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		return wireReq{}, fmt.Errorf("writing the request: %v", err)
	}
	srv, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		return wireReq{}, fmt.Errorf("a server cannot read the request: %v\n%s", err, truncate(buf.String(), 400))
	}
	body, err := io.ReadAll(srv.Body)
	if err != nil {
		return wireReq{}, err
	}
	w := wireReq{
		https:     req.URL.Scheme == "https",
		method:    srv.Method,
		authority: srv.Host,
	}
	w.path, w.query = splitTarget(srv.RequestURI)
	names := make([]string, 0, len(srv.Header))
	for name := range srv.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "Content-Length" {
			continue
		}
		for _, v := range srv.Header[name] {
			w.headers = append(w.headers, [2]string{name, v})
		}
	}
	if hasBody {
		w.body = body
		if w.body == nil {
			w.body = []byte{}
		}
	}
	return w, nil
}

// wireFromJS is what fetch sends for a request httpsig signed: the method
// as fetch normalises it, the WHATWG host, pathname and search of the URL,
// the signed headers and the body.
func wireFromJS(s *reqSpec, a jsAnswer) wireReq {
	w := wireReq{
		https:     strings.HasPrefix(a.Href, "https:"),
		method:    a.WireMethod,
		authority: a.Host,
		path:      a.Pathname,
		headers:   a.Headers,
	}
	if a.Search != "" {
		q := a.Search[1:]
		w.query = &q
	}
	if s.body != nil {
		w.body = s.body.Bytes
	}
	return w
}

func splitTarget(target string) (path string, query *string) {
	path, q, ok := strings.Cut(target, "?")
	if ok {
		query = &q
	}
	return path, query
}

func (w wireReq) target() string {
	if w.query != nil {
		return w.path + "?" + *w.query
	}
	return w.path
}

// serverRequest is w as a Go server's handler sees it.
func (w wireReq) serverRequest() (*http.Request, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", w.method, w.target(), w.authority)
	for _, h := range w.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if w.body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(w.body))
	}
	b.WriteString("\r\n")
	b.Write(w.body)
	req, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		return nil, fmt.Errorf("a server cannot read the request: %v", err)
	}
	if w.https {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	return req, nil
}

// verifyMsg asks the httpsig of gen to verify w. requireDigest makes
// httpsig 2.x insist on content-digest for a request with a body, as a
// person or access server does.
func (w wireReq) verifyMsg(id int, gen aauth.Profile, requireDigest bool) verifyMsg {
	m := verifyMsg{
		ID: id, Op: "verify", Gen: gen.String(), NowMS: nowMS,
		Method:               w.method,
		Authority:            w.authority,
		Path:                 w.path,
		Query:                w.query,
		Headers:              w.headers,
		Body:                 w.body,
		RequireContentDigest: requireDigest && w.body != nil,
	}
	if m.Headers == nil {
		m.Headers = [][2]string{}
	}
	return m
}

func (w wireReq) clone() wireReq {
	w.headers = slices.Clone(w.headers)
	if w.body != nil {
		w.body = bytes.Clone(w.body)
	}
	if w.query != nil {
		q := *w.query
		w.query = &q
	}
	return w
}

func (w wireReq) header(name string) (int, bool) {
	for i, h := range w.headers {
		if strings.EqualFold(h[0], name) {
			return i, true
		}
	}
	return -1, false
}

// A tamper changes one signed thing in a request; every verifier must then
// reject it. It returns false when the request has nothing it can change.
type tamper struct {
	name  string
	apply func(s *reqSpec, w *wireReq) bool
}

var tampers = []tamper{
	{"path", func(s *reqSpec, w *wireReq) bool {
		w.path += "x"
		return true
	}},
	{"method", func(s *reqSpec, w *wireReq) bool {
		if strings.EqualFold(w.method, "POST") {
			w.method = "PUT"
		} else {
			w.method = "POST"
		}
		return true
	}},
	{"authority", func(s *reqSpec, w *wireReq) bool {
		host, port := w.authority, ""
		if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
			host, port = host[:i], host[i+1:]
		}
		if port == "9999" {
			port = "9998"
		} else {
			port = "9999"
		}
		w.authority = host + ":" + port
		return true
	}},
	{"covered header", func(s *reqSpec, w *wireReq) bool {
		names := append([]string{"content-type", "authorization"}, s.extras...)
		names = append(names, s.comps...)
		for _, name := range names {
			if name[0] == '@' || name == "signature-key" || name == "content-digest" || !s.covers(name) {
				continue
			}
			if i, ok := w.header(name); ok {
				w.headers[i][1] += "x"
				return true
			}
		}
		return false
	}},
	{"query", func(s *reqSpec, w *wireReq) bool {
		if !s.covers("@target-uri") && !s.covers("@request-target") {
			return false
		}
		q := "tampered=1"
		if w.query != nil && *w.query != "" {
			q = *w.query + "&" + q
		}
		w.query = &q
		return true
	}},
	{"body", func(s *reqSpec, w *wireReq) bool {
		// Only a covered content-digest protects the body; the seed
		// generation's default list does not cover it.
		if !s.covers("content-digest") || w.body == nil {
			return false
		}
		if len(w.body) == 0 {
			w.body = []byte("x")
		} else {
			w.body[len(w.body)/2] ^= 0x01
		}
		return true
	}},
	{"signature", func(s *reqSpec, w *wireReq) bool {
		i, ok := w.header("signature")
		if !ok {
			return false
		}
		label, rest, _ := strings.Cut(w.headers[i][1], "=:")
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, ":"))
		if err != nil || len(raw) == 0 {
			return false
		}
		raw[len(raw)/3] ^= 0x10
		w.headers[i][1] = label + "=:" + base64.StdEncoding.EncodeToString(raw) + ":"
		return true
	}},
	{"created", func(s *reqSpec, w *wireReq) bool {
		i, ok := w.header("signature-input")
		if !ok {
			return false
		}
		v := w.headers[i][1]
		j := strings.Index(v, ";created=")
		if j < 0 {
			return false
		}
		j += len(";created=")
		k := j
		for k < len(v) && '0' <= v[k] && v[k] <= '9' {
			k++
		}
		n, err := strconv.ParseInt(v[j:k], 10, 64)
		if err != nil {
			return false
		}
		w.headers[i][1] = v[:j] + strconv.FormatInt(n+1, 10) + v[k:]
		return true
	}},
}
