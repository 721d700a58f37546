package wire

import (
	"errors"
	"fmt"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/dunglas/httpsfv"
)

// Scheme is a Signature-Key scheme token.
type Scheme string

// The Signature-Key schemes an agent emits.
const (
	SchemeJWT    Scheme = "jwt"     // the key is the cnf.jwk of a JWT (agent, person or auth token)
	SchemeHWK    Scheme = "hwk"     // the public key itself, as header parameters
	SchemeJKTJWT Scheme = "jkt-jwt" // a key-refresh JWT, for agent-provider enrolment

	// SchemeJWKSURI names a server's published key: the id, dwk and kid
	// parameters say that the key is kid in the JWK Set named by the
	// jwks_uri of {id}/.well-known/{dwk}. Servers sign with it in their
	// own right, such as a person server fetching a resource's R3
	// document.
	SchemeJWKSURI Scheme = "jwks_uri"
)

// DefaultLabel is the signature label AAuth uses: the key of the
// Signature-Key, Signature-Input and Signature dictionaries.
const DefaultLabel = "sig"

// MaxSignatureKeyLen caps the length of a Signature-Key field value that
// ParseSignatureKey accepts. A JWT of a few kilobytes fits easily; anything
// far larger is not a key but an attempt to make the parser work.
const MaxSignatureKeyLen = 16 << 10

// SignatureKeyHeader is a parsed Signature-Key field
// (draft-hardt-httpbis-signature-key): one Dictionary member whose key is
// the signature label and whose value is the scheme, with the scheme's
// parameters.
type SignatureKeyHeader struct {
	// Label is the dictionary key; it must equal the label of the
	// signature in Signature-Input and Signature ("sig" in AAuth).
	Label string

	// Scheme is the member value. Unknown schemes are returned as they
	// are, so the caller decides whether to answer unsupported_scheme.
	Scheme Scheme

	// Token is the jwt parameter for the jwt and jkt-jwt schemes, and
	// empty otherwise.
	Token string

	// Params holds every parameter as text, e.g. kty, crv, x, y and alg
	// for hwk, or jwt for the token schemes.
	Params map[string]string
}

// String returns a description that never shows the token.
func (h SignatureKeyHeader) String() string {
	if h.Token == "" {
		return fmt.Sprintf("%s=%s", h.Label, h.Scheme)
	}
	return fmt.Sprintf("%s=%s(%s)", h.Label, h.Scheme, safetext.Redact(h.Token))
}

// ParseSignatureKey parses a Signature-Key field value as an RFC 9651
// Dictionary with exactly one member. The member value must be a Token
// naming the scheme, and its parameters must be Strings (or Tokens). The
// jwt and jkt-jwt schemes need a non-empty jwt parameter and hwk needs kty;
// jwks_uri needs non-empty id, dwk and kid; other schemes are returned
// without checks. Several field lines must be
// joined with ", " first, which then fails the one-member rule.
//
// Errors start with "aauth: " and never contain the token.
func ParseSignatureKey(v string) (SignatureKeyHeader, error) {
	if len(v) > MaxSignatureKeyLen {
		return SignatureKeyHeader{}, fmt.Errorf("aauth: Signature-Key is %d bytes, more than the %d allowed", len(v), MaxSignatureKeyLen)
	}
	dict, err := httpsfv.UnmarshalDictionary([]string{v})
	if err != nil {
		// httpsfv errors name an offset only, never the input.
		return SignatureKeyHeader{}, fmt.Errorf("aauth: Signature-Key is not a structured field dictionary: %w", err)
	}
	names := dict.Names()
	// The parser keeps only the last of two members with the same key, so
	// count the members in the text as well: "sig=hwk…, sig=jwt…" is two.
	if len(names) != 1 || topLevelMembers(v) != 1 {
		return SignatureKeyHeader{}, errors.New("aauth: Signature-Key must have exactly one dictionary member")
	}
	label := names[0]
	m, _ := dict.Get(label)
	item, ok := m.(httpsfv.Item)
	if !ok {
		return SignatureKeyHeader{}, errors.New("aauth: Signature-Key member is an inner list, not a scheme token")
	}
	scheme, ok := item.Value.(httpsfv.Token)
	if !ok {
		return SignatureKeyHeader{}, errors.New("aauth: Signature-Key member value is not a token")
	}
	h := SignatureKeyHeader{Label: label, Scheme: Scheme(scheme), Params: map[string]string{}}
	if item.Params != nil {
		for _, name := range item.Params.Names() {
			pv, _ := item.Params.Get(name)
			switch s := pv.(type) {
			case string:
				h.Params[name] = s
			case httpsfv.Token:
				h.Params[name] = string(s)
			default:
				return SignatureKeyHeader{}, fmt.Errorf("aauth: Signature-Key parameter %q is not a string", shorten(name))
			}
		}
	}
	switch h.Scheme {
	case SchemeJWT, SchemeJKTJWT:
		h.Token = h.Params["jwt"]
		if h.Token == "" {
			return SignatureKeyHeader{}, fmt.Errorf("aauth: Signature-Key scheme %s needs a non-empty jwt parameter", h.Scheme)
		}
	case SchemeHWK:
		if h.Params["kty"] == "" {
			return SignatureKeyHeader{}, errors.New("aauth: Signature-Key scheme hwk needs a kty parameter")
		}
	case SchemeJWKSURI:
		if h.Params["id"] == "" || h.Params["dwk"] == "" || h.Params["kid"] == "" {
			return SignatureKeyHeader{}, errors.New("aauth: Signature-Key scheme jwks_uri needs id, dwk and kid parameters")
		}
	}
	return h, nil
}

// topLevelMembers counts the dictionary members of a value that already
// parsed: members are separated by commas outside String and Display String
// values, and no other structured field construct contains a comma.
func topLevelMembers(v string) int {
	n := 1
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case ',':
			n++
		case '"':
			display := i > 0 && v[i-1] == '%'
			for i++; i < len(v); i++ {
				if v[i] == '\\' && !display {
					i++ // an escaped character in an sf-string
					continue
				}
				if v[i] == '"' {
					break
				}
			}
		}
	}
	return n
}

// shorten keeps error messages bounded whatever the input.
func shorten(s string) string {
	const limit = 32
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
