package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/safetext"
)

// ErrBodyTooLarge is returned when a server's answer is larger than the 1 MiB
// the library reads, by ParseProblem and ReadProblem here and by the
// person-server client. A larger body is refused, not parsed truncated.
var ErrBodyTooLarge = httpx.ErrBodyTooLarge

// Problem is an error body from an AAuth server: RFC 9457 problem details
// (application/problem+json, with AAuth's "error" code), or the legacy
// OAuth-style JSON of earlier drafts ("error", "error_description",
// "error_uri"). Both are read whatever the profile.
type Problem struct {
	Type     string // RFC 9457 type, a URI reference
	Title    string // RFC 9457 title, a short summary
	Status   int    // RFC 9457 status, when it is a valid HTTP status
	Detail   string // RFC 9457 detail, the explanation (AAuth's description)
	Instance string // RFC 9457 instance, a URI reference

	// Error is the AAuth (or OAuth) error code, such as "denied" or
	// "invalid_resource_token".
	Error string

	ErrorDescription string // legacy error_description
	ErrorURI         string // legacy error_uri

	// Extensions holds every other member, and any known member whose
	// value had the wrong JSON type, as decoded by encoding/json (numbers
	// as json.Number).
	Extensions map[string]any
}

// Description returns the human-readable text of p: Detail, else
// ErrorDescription, else Title.
func (p *Problem) Description() string {
	switch {
	case p == nil:
		return ""
	case p.Detail != "":
		return p.Detail
	case p.ErrorDescription != "":
		return p.ErrorDescription
	}
	return p.Title
}

// String returns "code: description" (either part may be absent), cleaned
// of control characters and shortened, for error messages and logs.
func (p *Problem) String() string {
	if p == nil {
		return ""
	}
	code, desc := safetext.Clean(p.Error, 64), safetext.Clean(p.Description(), 256)
	switch {
	case code != "" && desc != "":
		return code + ": " + desc
	case code != "":
		return code
	}
	return desc
}

// ParseProblem reads a JSON error body. It accepts problem details and the
// legacy members alike; a member of the wrong type is kept in Extensions
// rather than failing the parse. It fails when body is not a JSON object or
// is larger than 1 MiB.
func ParseProblem(body []byte) (*Problem, error) {
	if len(body) > httpx.MaxBodySize {
		return nil, ErrBodyTooLarge
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("aauth: error body is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("aauth: error body is not a JSON object")
	}
	p := &Problem{}
	for k, raw := range m {
		var dst *string
		switch k {
		case "type":
			dst = &p.Type
		case "title":
			dst = &p.Title
		case "detail":
			dst = &p.Detail
		case "instance":
			dst = &p.Instance
		case "error":
			dst = &p.Error
		case "error_description":
			dst = &p.ErrorDescription
		case "error_uri":
			dst = &p.ErrorURI
		case "status":
			if n, err := strconv.Atoi(string(bytes.TrimSpace(raw))); err == nil && n >= 100 && n <= 599 {
				p.Status = n
				continue
			}
		}
		if dst != nil && json.Unmarshal(raw, dst) == nil {
			continue
		}
		if p.Extensions == nil {
			p.Extensions = make(map[string]any)
		}
		p.Extensions[k] = jsonx.DecodeAny(raw)
	}
	return p, nil
}

// problemFrom parses an error body when its Content-Type is JSON (any
// application/json, application/problem+json or other +json type) or
// absent. Anything that does not parse gives nil: a malformed body must not
// hide the status it came with.
func problemFrom(h http.Header, body []byte) *Problem {
	if len(bytes.TrimSpace(body)) == 0 || !httpx.JSONContent(h, true) {
		return nil
	}
	p, err := ParseProblem(body)
	if err != nil {
		return nil
	}
	return p
}

// ReadProblem reads the problem details of an error response. The body is
// read (up to 1 MiB) and put back, so resp can still be read or handed on.
// It returns nil and no error when the body is empty, not JSON, or not a
// JSON object; ErrBodyTooLarge when it is larger than 1 MiB.
func ReadProblem(resp *http.Response) (*Problem, error) {
	body, err := httpx.PeekBody(resp)
	if err != nil {
		return nil, err
	}
	return problemFrom(resp.Header, body), nil
}
