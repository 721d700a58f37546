package sigverify

import (
	"errors"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Signature-Error codes (draft-hardt-httpbis-signature-key -08, plus
// revoked_jwt and clock_skew from -09). Verify returns the first nine; the
// others are here for callers that validate the JWT themselves and answer
// with the same header.
const (
	CodeInvalidRequest       = "invalid_request"       // Signature, Signature-Input or Signature-Key missing or malformed
	CodeInvalidInput         = "invalid_input"         // a required component is not covered
	CodeInvalidSignature     = "invalid_signature"     // the signature or the content digest does not verify, or created is too old
	CodeInvalidKey           = "invalid_key"           // the key cannot be used: malformed, private, or its alg disagrees with its type
	CodeUnsupportedScheme    = "unsupported_scheme"    // the Signature-Key scheme is not accepted
	CodeUnsupportedAlgorithm = "unsupported_algorithm" // the key type or alg is not Ed25519 or ES256, or a required alg is absent
	CodeClockSkew            = "clock_skew"            // created lies too far in the future
	CodeInvalidJWT           = "invalid_jwt"           // the jwt parameter is not a JWT with cnf.jwk
	CodeUnknownKey           = "unknown_key"           // returned by callers: a referenced key was not found
	CodeIssuerMissing        = "issuer_missing"        // returned by callers
	CodeIssuerMismatch       = "issuer_mismatch"       // returned by callers
	CodeExpiredJWT           = "expired_jwt"           // returned by callers
	CodeRevokedJWT           = "revoked_jwt"           // returned by callers
	CodeCacheMiss            = "cache_miss"            // returned by callers
)

// Error is a verification failure, shaped so that a server can answer with
// a Signature-Error header (see [Error.SignatureError]). Its text never
// contains a token, a signature or a key.
type Error struct {
	// Code is the Signature-Error code, e.g. CodeInvalidSignature.
	Code string
	// Detail says what was wrong, for logs and problem details.
	Detail string
	// Missing is set for CodeInvalidInput: every component the verifier
	// requires to be covered (not only the absent ones), ready for the
	// required_input parameter.
	Missing []string
	// Err is the underlying error, if any.
	Err error
}

// Error returns "aauth: <code>: <detail>[: <cause>]".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("aauth: ")
	b.WriteString(e.Code)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		// A cause from this module already says aauth.
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "aauth: "))
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// SignatureError returns the value of a Signature-Error response header for
// e: error=<code>, plus required_input=(…) for invalid_input.
func (e *Error) SignatureError() string {
	d := httpsfv.NewDictionary()
	d.Add("error", httpsfv.NewItem(httpsfv.Token(e.Code)))
	if e.Code == CodeInvalidInput && len(e.Missing) > 0 {
		il := httpsfv.InnerList{Params: httpsfv.NewParams()}
		for _, c := range e.Missing {
			il.Items = append(il.Items, httpsfv.NewItem(c))
		}
		d.Add("required_input", il)
	}
	s, err := httpsfv.Marshal(d)
	if err != nil {
		// Only a code that is not a token gets here; never send it.
		return "error=" + CodeInvalidRequest
	}
	return s
}

// CodeOf returns the Signature-Error code of err, or "" when err is not
// (and does not wrap) an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newError(code, detail string, err error) *Error {
	return &Error{Code: code, Detail: detail, Err: err}
}
