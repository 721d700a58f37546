// Package httpx reads what a server answers within bounds: bodies up to
// 1 MiB, standard header values up to their caps, and whether a body is
// JSON. It imports nothing of this module.
package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBodySize caps every response body the library reads from a server.
// AAuth answers are a few kilobytes; the cap keeps a hostile or broken
// server from making the agent buffer without bound.
const MaxBodySize = 1 << 20

// ErrBodyTooLarge is returned when a server's answer is larger than the
// 1 MiB the library reads. A larger body is refused, not parsed truncated.
// wire.ErrBodyTooLarge is this value.
var ErrBodyTooLarge = errors.New("aauth: response body larger than 1 MiB")

// Length caps for the standard header values the library parses from a
// server's answer. AAuth's own headers have theirs (in package wire). A
// longer value is treated as malformed: it is never cut and parsed, nor
// parsed whole.
const (
	ShortHeaderMaxLen  = 256     // Retry-After, Date, Expires, Age, Content-Type
	CacheControlMaxLen = 1 << 10 // Cache-Control, all field lines together
	LocationMaxLen     = 8 << 10 // Location
)

// ShortHeader returns the first value of name in h, or "" when it is
// longer than ShortHeaderMaxLen.
func ShortHeader(h http.Header, name string) string {
	if v := h.Get(name); len(v) <= ShortHeaderMaxLen {
		return v
	}
	return ""
}

// ReadBody reads at most MaxBodySize bytes of resp.Body and closes it.
func ReadBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return nil, fmt.Errorf("aauth: reading response body: %w", err)
	}
	if len(b) > MaxBodySize {
		return nil, ErrBodyTooLarge
	}
	return b, nil
}

// PeekBody reads at most MaxBodySize bytes of resp.Body and puts them back
// in front of whatever was not read, so that nothing is lost.
func PeekBody(resp *http.Response) ([]byte, error) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil, nil
	}
	orig := resp.Body
	b, err := io.ReadAll(io.LimitReader(orig, MaxBodySize+1))
	if err != nil {
		orig.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil, fmt.Errorf("aauth: reading response body: %w", err)
	}
	if len(b) > MaxBodySize {
		resp.Body = ReadCloser{io.MultiReader(bytes.NewReader(b), orig), orig}
		return nil, ErrBodyTooLarge
	}
	orig.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// ReadCloser joins a Reader and the Closer of the body it reads.
type ReadCloser struct {
	io.Reader
	io.Closer
}

// DrainClose reads a little of a body we are done with, so the connection
// can be reused, and closes it.
func DrainClose(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// JSONContent reports whether the Content-Type of h names JSON (any
// application/json, application/problem+json or other +json type); an
// absent one counts when absentOK, one longer than ShortHeaderMaxLen never
// does.
func JSONContent(h http.Header, absentOK bool) bool {
	ct := h.Get("Content-Type")
	if len(ct) > ShortHeaderMaxLen {
		return false
	}
	if strings.TrimSpace(ct) == "" {
		return absentOK
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		// Be liberal with a malformed parameter list.
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}
