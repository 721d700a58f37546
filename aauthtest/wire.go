package aauthtest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// maxBody caps the request bodies the kit reads.
const maxBody = 1 << 20

// defaultRetryAfter is the Retry-After of scripted 202s unless the options
// or the step say otherwise: "0", so that tests poll at once.
const defaultRetryAfter = "0"

// base holds what every kit server shares: profile, clock, logging and
// records.
type base struct {
	name    string // "person server", "resource"
	profile wire.Profile
	clock   func() time.Time
	logf    func(format string, args ...any)
	rec     recorder

	// url is the server's base URL, set before the server starts.
	url string

	// pending is the path prefix of the server's scripted pending URLs;
	// "" means pendingPath.
	pending string
}

func (b *base) now() time.Time {
	if b.clock != nil {
		return b.clock()
	}
	return time.Now()
}

func (b *base) baseURL() string { return b.url }

func (b *base) current() bool { return b.profile != wire.ProfileSeed }

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets handlers stream (the huge-body fault does).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// serve runs h for one request: it reads the body (replayable), starts a
// record, and files the record with the answer once h returns.
func (b *base) serve(w http.ResponseWriter, r *http.Request, e Endpoint, h func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest)) {
	rec := &RecordedRequest{
		Time:     b.now(),
		Endpoint: e,
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
	}
	sw := &statusWriter{ResponseWriter: w}
	// Answers carry the server's (possibly virtual) time, as Date.
	w.Header().Set("Date", b.now().UTC().Format(http.TimeFormat))
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		r.Body.Close()
		if err != nil || len(body) > maxBody {
			b.problem(sw, rec, http.StatusRequestEntityTooLarge, "invalid_request", fmt.Sprintf("the body is larger than %d bytes or unreadable", maxBody))
			b.file(rec, sw)
			return
		}
		rec.Body = body
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	h(sw, r, rec)
	b.file(rec, sw)
}

func (b *base) file(rec *RecordedRequest, sw *statusWriter) {
	rec.Status = sw.status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	rec.ResponseHeader = sw.Header().Clone()
	b.rec.add(*rec)
	if b.logf != nil {
		b.logf("aauthtest: %s: %s", b.name, rec.String())
	}
}

// writeJSON answers status with a JSON body.
func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := jsonx.Marshal(v)
	if err != nil {
		body = []byte(`{"error":"server_error"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// problem answers an error in the profile's format: RFC 9457
// application/problem+json {"error","detail"} (current) or the April
// application/json {"error","error_description"} (seed).
func (b *base) problem(w http.ResponseWriter, rec *RecordedRequest, status int, code, detail string) {
	if rec != nil && rec.Problem == "" {
		rec.Problem = code + ": " + detail
	}
	if b.current() {
		writeJSON(w, status, "application/problem+json", map[string]any{
			"type":   "about:blank",
			"title":  http.StatusText(status),
			"status": status,
			"error":  code,
			"detail": detail,
		})
		return
	}
	writeJSON(w, status, "application/json", map[string]any{"error": code, "error_description": detail})
}

// sigFail answers a refused signature or presented token: 401 with
// Signature-Error (and Accept-Signature-* where they help), and the same
// code in the body.
func (b *base) sigFail(w http.ResponseWriter, rec *RecordedRequest, code, detail string, required []string) {
	rec.SignatureError = code
	se := &wire.SignatureError{Code: code}
	if code == sigverify.CodeInvalidInput {
		se.RequiredInput = required
	}
	w.Header().Set("Signature-Error", wire.FormatSignatureError(se))
	switch code {
	case sigverify.CodeUnsupportedScheme:
		w.Header().Set("Accept-Signature-Scheme", "jwt")
	case sigverify.CodeUnsupportedAlgorithm:
		w.Header().Set("Accept-Signature-Alg", b.acceptAlgs())
	}
	b.problem(w, rec, http.StatusUnauthorized, code, detail)
}

func (b *base) acceptAlgs() string {
	if b.current() {
		return "Ed25519, ES256"
	}
	return "EdDSA, Ed25519, ES256"
}

// unsigned reports whether r carries no signature at all.
func unsigned(r *http.Request) bool {
	return r.Header.Get("Signature-Key") == "" && r.Header.Get("Signature-Input") == "" && r.Header.Get("Signature") == ""
}

// verifyRequest checks r's signature with the profile's rules and the
// extra required components, and fills rec. It returns nil and answers
// the request when the signature fails.
func (b *base) verifyRequest(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, maxSkew, offset time.Duration, digest bool, extra []string) *sigverify.Result {
	required := []string{"@method", "@authority", "@path", "signature-key"}
	if len(rec.Body) > 0 {
		required = append(required, "content-type")
	}
	required = append(required, extra...)
	opts := sigverify.Options{
		Now:           func() time.Time { return b.now().Add(offset) },
		MaxSkew:       maxSkew,
		RequireAlg:    b.current(),
		Schemes:       []wire.Scheme{wire.SchemeJWT},
		Required:      required,
		RequireDigest: digest && b.current(),
		MaxBody:       maxBody,
	}
	rec.notePresented(r.Header)
	res, err := sigverify.Verify(r, opts)
	if err != nil {
		var ve *sigverify.Error
		if !errors.As(err, &ve) {
			ve = &sigverify.Error{Code: sigverify.CodeInvalidRequest, Detail: err.Error()}
		}
		if unsigned(r) {
			// No signature at all: not a bad signature, so no
			// Signature-Error; say what would be accepted instead.
			w.Header().Set("Accept-Signature-Scheme", "jwt")
			w.Header().Set("Accept-Signature-Alg", b.acceptAlgs())
			b.problem(w, rec, http.StatusUnauthorized, "signature_required", "the request is not signed")
			return nil
		}
		b.sigFail(w, rec, ve.Code, ve.Detail, ve.Missing)
		return nil
	}
	rec.Signed = true
	rec.Thumbprint = res.Thumbprint
	rec.Components = res.Components
	rec.Created = res.Created
	return res
}

// notePresented records what the Signature-Key of h presents: its
// scheme, and the token with its kind and claims, whether or not they
// prove valid.
func (rec *RecordedRequest) notePresented(h http.Header) {
	sk := h.Get("Signature-Key")
	if sk == "" {
		return
	}
	k, err := wire.ParseSignatureKey(sk)
	if err != nil {
		return
	}
	rec.Scheme, rec.Token = k.Scheme, k.Token
	if k.Token == "" {
		return
	}
	rec.Presented = TokenUnknown
	if t, err := parseToken(k.Token); err == nil {
		rec.Presented, rec.Claims = t.kind, t.claims
	}
}

// crockford is the Crockford base32 alphabet interaction codes use.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newCode returns 8 Crockford base32 symbols (40 random bits).
func newCode() string {
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("aauthtest: crypto/rand: " + err.Error())
	}
	v := uint64(b[0])<<32 | uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	out := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		out[i] = crockford[v&31]
		v >>= 5
	}
	return string(out)
}

// normalizeCode compares codes as the draft says: case-insensitive,
// hyphens ignored, I and L read as 1, O as 0.
func normalizeCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch c {
		case '-', ' ':
			continue
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// startServer makes an unstarted httptest server on 127.0.0.1 and returns
// it with the URL it will have: the caller sets up everything that reads
// the URL before Start, so handlers never race with that setup.
func startServer(h http.Handler) (*httptest.Server, string) {
	srv := httptest.NewUnstartedServer(h)
	return srv, "http://" + srv.Listener.Addr().String()
}

// decodeExact decodes a JSON object into the struct v, matching member
// names exactly (encoding/json alone would also fill a field from
// "Resource_Token"). Unknown members are ignored; a member of the wrong
// type is an error.
func decodeExact(body []byte, v any) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return err
	}
	if members == nil {
		return errors.New("the body is not a JSON object")
	}
	rv := reflect.ValueOf(v).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		raw, ok := members[name]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, rv.Field(i).Addr().Interface()); err != nil {
			return fmt.Errorf("member %q: %v", name, err)
		}
	}
	return nil
}
