package wire

import (
	"fmt"
	"net/http"
	"strings"
)

// keyAccess is the net/http form of AAuth-Access, read on every answer: the
// map key Header.Get would compute, with an allocation, each time.
var keyAccess = http.CanonicalHeaderKey("AAuth-Access")

// ParseAccess reads the AAuth-Access header of h: a session token issued by
// a resource that runs its own flow, formally an RFC 9110 token68. ok
// reports whether the header is present. The value must be one field line
// holding exactly one token68 of at most 8 KiB: an empty value, white space
// (even surrounding; net/http has already removed OWS), a comma, a second
// field line or any character outside token68 gives a *HeaderError, whose
// message never contains the value.
func ParseAccess(h http.Header) (token string, ok bool, err error) {
	lines := h[keyAccess]
	if len(lines) == 0 {
		return "", false, nil
	}
	fail := func(reason string) (string, bool, error) {
		return "", true, &HeaderError{Header: "AAuth-Access", Reason: reason}
	}
	if len(lines) > 1 {
		return fail("multiple values")
	}
	v := lines[0]
	switch {
	case len(v) > accessMaxLen:
		return fail(fmt.Sprintf("longer than %d bytes", accessMaxLen))
	case v == "":
		return fail("empty value")
	case strings.Contains(v, ","):
		return fail("multiple values")
	case strings.ContainsAny(v, " \t\r\n"):
		return fail("contains white space")
	case !chalIsToken68(v):
		return fail("not a token68")
	}
	return v, true, nil
}

// chalIsToken68 reports whether s matches RFC 9110 token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func chalIsToken68(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
