package resource

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/internal/sigverify"
)

// The Signature-Error codes this package answers with (HTTP Signature Keys
// -08, plus revoked_jwt and clock_skew from -09). They are the same strings
// as the library's SigErr constants.
const (
	codeInvalidSignature = sigverify.CodeInvalidSignature
	codeInvalidRequest   = sigverify.CodeInvalidRequest
	codeInvalidInput     = sigverify.CodeInvalidInput
	codeInvalidKey       = sigverify.CodeInvalidKey
	codeUnsupportedAlg   = sigverify.CodeUnsupportedAlgorithm
	codeUnsupportedSch   = sigverify.CodeUnsupportedScheme
	codeClockSkew        = sigverify.CodeClockSkew
	codeInvalidJWT       = sigverify.CodeInvalidJWT
	codeExpiredJWT       = sigverify.CodeExpiredJWT
	codeRevokedJWT       = sigverify.CodeRevokedJWT
	codeUnknownKey       = sigverify.CodeUnknownKey
	codeIssuerMissing    = sigverify.CodeIssuerMissing
	codeIssuerMismatch   = sigverify.CodeIssuerMismatch
)

// Error is why a request was refused: what [Resource.Verify] returns and
// what the middleware answers with. Its text never contains a token, a
// signature or a key.
type Error struct {
	// Status is the HTTP status of the answer. 401 means the signature
	// or the token presented in Signature-Key failed, and Code is then
	// the Signature-Error code; other statuses (403, 413, 500) carry no
	// Signature-Error and Code is the problem's error member.
	Status int

	// Code is the machine-readable reason, such as "invalid_signature",
	// "expired_jwt" or "unknown_key".
	Code string

	// Detail says what was wrong, for logs and problem details.
	Detail string

	// RequiredInput lists, for invalid_input, every component the
	// resource requires covered; it goes into required_input.
	RequiredInput []string

	// Err is the underlying error, if any.
	Err error

	// requirement is an AAuth-Requirement sent along: agent-token for
	// an unsigned request, person-token for a revoked auth token.
	requirement string

	// schemes, when set, is the Accept-Signature-Scheme of an
	// unsupported_scheme answer, in place of Resource.Schemes (a
	// server's own request wants jwks_uri).
	schemes string
}

// Error returns "aauth: <code>: <detail>[: <cause>]".
func (e *Error) Error() string {
	msg := safetext.Prefix + e.Code
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		// A cause from this module says aauth already: once is enough.
		msg += ": " + safetext.Unprefixed(e.Err.Error())
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// sigErr is a 401 with a Signature-Error code.
func sigErr(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// fromVerifier converts an error of internal/sigverify.
func fromVerifier(err error) *Error {
	var ve *sigverify.Error
	if !errors.As(err, &ve) {
		return &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest, Detail: "the signature cannot be verified", Err: err}
	}
	return &Error{Status: http.StatusUnauthorized, Code: ve.Code, Detail: ve.Detail, RequiredInput: ve.Missing, Err: ve.Err}
}

// asError returns err as an *Error, a 500 when it is not one.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: "server_error", Detail: "internal error", Err: err}
}

// shorten bounds client-chosen text in error details and strips its
// control characters.
func shorten(s string) string { return safetext.Clean(s, 48) }
