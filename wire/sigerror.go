package wire

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/dunglas/httpsfv"
)

// The Signature-Error codes of HTTP Signature Keys -08 and -09.
const (
	SigErrInvalidSignature     = "invalid_signature"     // the signature does not verify
	SigErrInvalidInput         = "invalid_input"         // components are missing; see RequiredInput
	SigErrInvalidRequest       = "invalid_request"       // the signature headers are malformed
	SigErrInvalidKey           = "invalid_key"           // the Signature-Key value is unusable
	SigErrUnknownKey           = "unknown_key"           // the key cannot be found (e.g. no such kid)
	SigErrInvalidJWT           = "invalid_jwt"           // the jwt scheme's token is invalid
	SigErrExpiredJWT           = "expired_jwt"           // the jwt scheme's token has expired
	SigErrRevokedJWT           = "revoked_jwt"           // the jwt scheme's token was revoked (-09)
	SigErrClockSkew            = "clock_skew"            // created is too far from the server's clock (-09)
	SigErrUnsupportedAlgorithm = "unsupported_algorithm" // see AcceptAlgs
	SigErrUnsupportedScheme    = "unsupported_scheme"    // see AcceptSchemes
	SigErrIssuerMissing        = "issuer_missing"        // the key's metadata has no issuer
	SigErrIssuerMismatch       = "issuer_mismatch"       // the metadata issuer differs from its URL
	SigErrCacheMiss            = "cache_miss"            // the server no longer holds a cached key
)

// SignatureError is a server's refusal of a request signature, read from a
// 401's Signature-Error header (and its Accept-Signature-* companions).
type SignatureError struct {
	// Code is the error member. Codes the package does not know are kept
	// as they are; compare with the SigErr… constants.
	Code string

	// RequiredInput lists the components an invalid_input answer asks to
	// have covered, such as "@method" or "content-digest". A component
	// identifier with parameters is kept in its RFC 9651 form, such as
	// "\"@query-param\";name=\"q\"", because its name alone would lose them.
	RequiredInput []string

	// Extensions holds the other members (text of a parameterless String or
	// Token, otherwise the RFC 9651 serialisation); nil when none.
	Extensions map[string]string

	// AcceptSchemes and AcceptAlgs are the Accept-Signature-Scheme and
	// Accept-Signature-Alg lists sent along, filled by
	// ParseSignatureErrorHeader.
	AcceptSchemes []string
	AcceptAlgs    []string
}

// Error returns "aauth: signature rejected by server: <code>", the code
// cleaned of control characters and shortened.
func (e *SignatureError) Error() string {
	return "aauth: signature rejected by server: " + safetext.Clean(e.Code, 64)
}

// ParseSignatureError reads a Signature-Error value, an RFC 9651 Dictionary
// error=<code>[, required_input=("…" …)]. The error member may be a Token or
// a String; an unknown code is kept, not refused. required_input may be an
// Inner List or a single Item; its String and Token entries are kept. The
// value must be at most 16 KiB. Errors are *HeaderError.
func ParseSignatureError(v string) (*SignatureError, error) {
	const name = "Signature-Error"
	if len(v) > challengeMaxLen {
		return nil, &HeaderError{Header: name, Reason: fmt.Sprintf("longer than %d bytes", challengeMaxLen)}
	}
	d, err := httpsfv.UnmarshalDictionary([]string{v})
	if err != nil {
		return nil, &HeaderError{Header: name, Reason: "not a structured field dictionary", Err: err}
	}
	se := &SignatureError{}
	if m, ok := d.Get("error"); ok {
		if it, ok := m.(httpsfv.Item); ok {
			se.Code, _ = chalText(it.Value)
		}
	}
	if se.Code == "" {
		return nil, &HeaderError{Header: name, Reason: "missing error code"}
	}
	ext := map[string]string{}
	for _, k := range d.Names() {
		m, _ := d.Get(k)
		switch k {
		case "error":
		case "required_input":
			var items []httpsfv.Item
			switch x := m.(type) {
			case httpsfv.InnerList:
				items = x.Items
			case httpsfv.Item:
				items = []httpsfv.Item{x}
			}
			for _, it := range items {
				if _, ok := chalText(it.Value); !ok {
					continue
				}
				if s, ok := chalSerializeMember(it); ok && s != "" {
					se.RequiredInput = append(se.RequiredInput, s)
				}
			}
		default:
			if s, ok := chalSerializeMember(m); ok {
				ext[k] = s
			}
		}
	}
	if len(ext) > 0 {
		se.Extensions = ext
	}
	return se, nil
}

// ParseSignatureErrorHeader reads the Signature-Error header of h (field
// lines combined as RFC 9651 prescribes) and fills AcceptSchemes and
// AcceptAlgs from Accept-Signature-Scheme and Accept-Signature-Alg. present
// reports whether Signature-Error occurs at all.
func ParseSignatureErrorHeader(h http.Header) (se *SignatureError, present bool, err error) {
	v, ok, tooLong := chalJoinLines(h, "Signature-Error", challengeMaxLen)
	if !ok {
		return nil, false, nil
	}
	if tooLong {
		return nil, true, &HeaderError{Header: "Signature-Error", Reason: fmt.Sprintf("longer than %d bytes", challengeMaxLen)}
	}
	se, err = ParseSignatureError(v)
	if err != nil {
		return nil, true, err
	}
	se.AcceptSchemes, se.AcceptAlgs = ParseAcceptSignature(h)
	return se, true, nil
}

// ParseAcceptSignature reads Accept-Signature-Scheme and Accept-Signature-Alg
// (signature-key -08), RFC 9651 Lists of Tokens such as "jwt" and
// "Ed25519, ES256". Token items are kept in order, parameters ignored; other
// items are skipped. A missing or malformed header gives nil.
func ParseAcceptSignature(h http.Header) (schemes, algs []string) {
	return chalTokenList(h, "Accept-Signature-Scheme"), chalTokenList(h, "Accept-Signature-Alg")
}

// chalTokenList returns the Tokens of the List in header name of h.
func chalTokenList(h http.Header, name string) []string {
	v, ok, tooLong := chalJoinLines(h, name, challengeMaxLen)
	if !ok || tooLong {
		return nil
	}
	l, err := httpsfv.UnmarshalList([]string{v})
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range l {
		if it, ok := m.(httpsfv.Item); ok {
			if t, ok := it.Value.(httpsfv.Token); ok {
				out = append(out, string(t))
			}
		}
	}
	return out
}

// FormatSignatureError serialises e as a Signature-Error value, for test
// servers: error=<code>[, required_input=("…" …)][, <extensions sorted by
// name>]. The code and extensions are Tokens when valid, Strings otherwise;
// RequiredInput entries are Strings, except an entry in RFC 9651 form with
// parameters, which is written as it is. Entries and extensions that cannot
// be encoded are left out. It returns "" for a nil e or a code that cannot
// be encoded. AcceptSchemes and AcceptAlgs travel in headers of their own
// and are not included.
func FormatSignatureError(e *SignatureError) string {
	if e == nil || e.Code == "" {
		return ""
	}
	code, err := chalBareText(e.Code, true)
	if err != nil {
		return ""
	}
	parts := []string{"error=" + code}
	if len(e.RequiredInput) > 0 {
		var items []string
		for _, in := range e.RequiredInput {
			if s, ok := chalComponentItem(in); ok {
				items = append(items, s)
			}
		}
		parts = append(parts, "required_input=("+strings.Join(items, " ")+")")
	}
	for _, k := range chalSortedKeys(e.Extensions) {
		if k == "error" || k == "required_input" || !chalIsKey(k) {
			continue
		}
		s, err := chalBareText(e.Extensions[k], true)
		if err != nil {
			continue
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, ", ")
}

// chalComponentItem serialises one RequiredInput entry: an entry that is
// exactly the RFC 9651 form of a String or Token with parameters (as
// ParseSignatureError stores one) is written as it is, anything else as a
// String.
func chalComponentItem(in string) (string, bool) {
	if it, err := httpsfv.UnmarshalItem([]string{in}); err == nil && len(it.Params.Names()) > 0 {
		if _, ok := chalText(it.Value); ok {
			if s, err := httpsfv.Marshal(it); err == nil && s == in {
				return s, true
			}
		}
	}
	s, err := chalBareText(in, false)
	return s, err == nil
}
