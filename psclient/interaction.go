package psclient

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/aauthgo/aauth/internal/egress"
)

// CheckInteractionURL reports whether raw, an interaction URL a server
// named, may be shown to the person or opened for them: an absolute https
// URL with a host and no user info, or the same over http to a loopback
// host (for development and demos). Anything else (javascript:, data:,
// file:, plain http to another host, a relative URL) is an
// *InteractionURLError, which matches ErrInteraction.
//
// The polling of this package applies it before OnInteraction is called,
// and in the current profile also refuses a URL with a query or fragment
// (-11: the person is sent to url?code=code); anything else that hands a
// server's interaction URL to a person (a relay, a prompt) should apply it
// too.
func CheckInteractionURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &InteractionURLError{Scheme: schemeOf(raw), Reason: "not a URL"}
	}
	scheme := strings.ToLower(u.Scheme)
	if len(scheme) > maxScheme {
		scheme = scheme[:maxScheme] + "…"
	}
	switch {
	case scheme != "https" && scheme != "http":
		return &InteractionURLError{Scheme: scheme, Reason: "only https, or http to a loopback host, is shown to a person"}
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return &InteractionURLError{Scheme: scheme, Reason: "it has no host"}
	case u.User != nil:
		return &InteractionURLError{Scheme: scheme, Reason: "it has user info"}
	case scheme == "http" && !egress.IsLoopback(u.Hostname()):
		return &InteractionURLError{Scheme: scheme, Reason: "http only to a loopback host"}
	}
	return nil
}

// InteractionURLError is an interaction URL that was not handed to the
// person (see CheckInteractionURL). It names the URL's scheme and why, never
// the URL, which a hostile server chose. It matches ErrInteraction.
type InteractionURLError struct {
	Scheme string // the URL's scheme, lower case; "" when it has none
	Reason string // why the URL was refused
}

// Error says which scheme was refused and why.
func (e *InteractionURLError) Error() string {
	scheme := "no scheme"
	if e.Scheme != "" {
		scheme = fmt.Sprintf("scheme %q", e.Scheme)
	}
	return fmt.Sprintf("%v: refused an interaction URL with %s: %s", ErrInteraction, scheme, e.Reason)
}

// Is matches ErrInteraction.
func (e *InteractionURLError) Is(target error) bool { return target == ErrInteraction }

// maxScheme bounds the scheme an error quotes.
const maxScheme = 32

// schemeOf is the scheme of a URL url.Parse refused, when it has a valid
// one (RFC 3986: a letter, then letters, digits, "+", "-", "."), bounded:
// it is quoted in errors.
func schemeOf(raw string) string {
	i := strings.IndexByte(raw, ':')
	if i <= 0 || i > maxScheme {
		return ""
	}
	for j, c := range []byte(raw[:i]) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return ""
		}
	}
	return strings.ToLower(raw[:i])
}
