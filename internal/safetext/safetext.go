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
