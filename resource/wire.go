package resource

// This file holds the package's uses of the wire vocabulary and key
// encodings it shares with the agent (packages wire and keys).

import (
	"crypto"
	"net/http"

	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// The two wire generations.
const (
	profileCurrent = wire.ProfileCurrent
	profileSeed    = wire.ProfileSeed
)

// Signature-Key schemes the package can take a key from.
const (
	schemeJWT = string(wire.SchemeJWT)
	schemeHWK = string(wire.SchemeHWK)
)

// parseSignatureKeySlow parses a Signature-Key value with the library's
// RFC 9651 parser: the label, the scheme and, for jwt, the token. The hot
// path (signaturekey.go) only comes here for values it does not recognise.
func parseSignatureKeySlow(v string) (label, scheme, token string, params map[string]string, err error) {
	h, err := wire.ParseSignatureKey(v)
	if err != nil {
		return "", "", "", nil, err
	}
	return h.Label, string(h.Scheme), h.Token, h.Params, nil
}

// formatRequirement serialises an AAuth-Requirement value.
func formatRequirement(requirement, resourceToken, url, code string) (string, error) {
	return wire.FormatRequirement(wire.Challenge{
		Requirement:   wire.Requirement(requirement),
		ResourceToken: resourceToken,
		URL:           url,
		Code:          code,
	})
}

// formatSignatureError serialises a Signature-Error value.
func formatSignatureError(code string, requiredInput []string) string {
	return wire.FormatSignatureError(&wire.SignatureError{Code: code, RequiredInput: requiredInput})
}

// capabilities reads AAuth-Capabilities (unknown values are kept).
func capabilities(h http.Header) []string {
	caps := wire.ParseCapabilitiesHeader(h)
	if len(caps) == 0 {
		return nil
	}
	out := make([]string, len(caps))
	for i, c := range caps {
		out[i] = string(c)
	}
	return out
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub.
func thumbprint(pub crypto.PublicKey) (string, error) { return keys.Thumbprint(pub) }

// publicJWK is the public JWK of pub as the library writes it (with its
// fully specified alg and its thumbprint as kid).
func publicJWK(pub crypto.PublicKey) ([]byte, error) { return keys.MarshalPublicJWK(pub) }
