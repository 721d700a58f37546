package resource

// This file and the Profile field of Resource are the package's only uses
// of the root package: the header formats, key encodings and egress
// sentinel it shares with the agent. When those move to their own packages
// (wire, keys), only these lines change.

import (
	"crypto"
	"net/http"

	"github.com/aauthgo/aauth"
)

// The two wire generations, as the root package names them.
const (
	profileCurrent = aauth.ProfileCurrent
	profileSeed    = aauth.ProfileSeed
)

// errEgress is the library's sentinel for a URL it will not fetch.
var errEgress = aauth.ErrEgress

// Signature-Key schemes the package can take a key from.
const (
	schemeJWT = string(aauth.SchemeJWT)
	schemeHWK = string(aauth.SchemeHWK)
)

// parseSignatureKeySlow parses a Signature-Key value with the library's
// RFC 9651 parser: the label, the scheme and, for jwt, the token. The hot
// path (signaturekey.go) only comes here for values it does not recognise.
func parseSignatureKeySlow(v string) (label, scheme, token string, params map[string]string, err error) {
	h, err := aauth.ParseSignatureKey(v)
	if err != nil {
		return "", "", "", nil, err
	}
	return h.Label, string(h.Scheme), h.Token, h.Params, nil
}

// formatRequirement serialises an AAuth-Requirement value.
func formatRequirement(requirement, resourceToken, url, code string) (string, error) {
	return aauth.FormatRequirement(aauth.Challenge{
		Requirement:   aauth.Requirement(requirement),
		ResourceToken: resourceToken,
		URL:           url,
		Code:          code,
	})
}

// formatSignatureError serialises a Signature-Error value.
func formatSignatureError(code string, requiredInput []string) string {
	return aauth.FormatSignatureError(&aauth.SignatureError{Code: code, RequiredInput: requiredInput})
}

// capabilities reads AAuth-Capabilities (unknown values are kept).
func capabilities(h http.Header) []string {
	caps := aauth.ParseCapabilitiesHeader(h)
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
func thumbprint(pub crypto.PublicKey) (string, error) { return aauth.Thumbprint(pub) }

// publicJWK is the public JWK of pub as the library writes it (with its
// fully specified alg and its thumbprint as kid).
func publicJWK(pub crypto.PublicKey) ([]byte, error) { return aauth.MarshalPublicJWK(pub) }
