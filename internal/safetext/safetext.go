// Package safetext makes text fit for the library's errors and logs: text a
// server chose is cleaned of control characters and bounded, tokens are
// redacted, and error messages carry the module's "aauth: " prefix once.
// It imports nothing of this module.
package safetext

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean makes server-controlled text safe for an error message: control
// characters become spaces and the text is cut at max bytes.
func Clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// Redact shortens a token for logs and errors: its first six characters and
// its length. It never returns enough of a token to use it.
func Redact(token string) string {
	const keep = 6
	if len(token) <= 2*keep {
		return fmt.Sprintf("[%d bytes]", len(token))
	}
	return fmt.Sprintf("%s…[%d bytes]", token[:keep], len(token))
}

// ShortURLError shortens the URL in the message of the *url.Error an
// http.Client returns, which repeats the whole request URL: one a server
// named may be kilobytes long. Other errors are returned as they are.
func ShortURLError(err error) error {
	ue, ok := err.(*url.Error)
	if !ok || len(ue.URL) <= 256 {
		return err
	}
	short := *ue
	short.URL = Clean(ue.URL, 256)
	return &short
}

// Prefix starts every error message of this module, once.
const Prefix = "aauth: "

// Unprefixed returns msg without any "aauth: " in it, so that a message
// built around another one carries the prefix once, at its start.
func Unprefixed(msg string) string { return strings.ReplaceAll(msg, Prefix, "") }

// Wrap returns an error whose message is "aauth: <where>: <err's message
// without its prefixes>" and which unwraps to err.
func Wrap(where string, err error) error { return &wrapped{where, err} }

type wrapped struct {
	where string
	err   error
}

func (e *wrapped) Error() string { return Prefix + e.where + ": " + Unprefixed(e.err.Error()) }

func (e *wrapped) Unwrap() error { return e.err }

// WithCause returns an error that matches sentinel and cause with
// errors.Is and errors.As, and whose message is sentinel's, then ": " and
// cause's without its prefixes: "aauth: interaction not started: …".
func WithCause(sentinel, cause error) error { return &withCause{sentinel, cause} }

type withCause struct{ sentinel, cause error }

func (e *withCause) Error() string {
	return e.sentinel.Error() + ": " + Unprefixed(e.cause.Error())
}

func (e *withCause) Unwrap() []error { return []error{e.sentinel, e.cause} }
