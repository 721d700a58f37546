// Package aauth makes a Go program an AAuth agent.
//
// AAuth is an authorization protocol for autonomous agents. Every request an
// agent sends is signed with HTTP Message Signatures (RFC 9421) and names its
// key in a Signature-Key header. A resource that wants more answers 401 with
// an AAuth-Requirement header; the agent then obtains a token from its person
// server (which may first ask a person to approve, answer a question or visit
// a consent page, signalled by 202 Accepted and polled) and retries.
//
// The whole flow fits in an [http.Client]:
//
//	keys := aauth.StaticKeys(agentKey, aauth.JWT(agentToken))
//	client := (&aauth.Transport{
//		Keys:         keys,
//		PersonServer: "https://ps.example",
//		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
//		OnInteraction: func(ctx context.Context, url, code string) error {
//			fmt.Printf("Open %s?code=%s to approve\n", url, code)
//			return nil
//		},
//	}).Client()
//	resp, err := client.Get("https://resource.example/api/data")
//
// The pieces the Transport is built from are exported too: [Signer] and
// [SigningTransport] sign requests, [wire.ParseRequirement] and friends read the
// AAuth headers, and the key helpers generate keys and mint agent tokens.
//
// # Wire generations
//
// The protocol has no version negotiation and its signature layer changed
// incompatibly in August 2026. A [wire.Profile] chooses the generation: the zero
// value, [wire.ProfileCurrent], speaks AAuth -11 over HTTP Signature Keys -08/-09;
// [wire.ProfileSeed] reproduces what the JavaScript @aauth/mcp-agent 0.8.1 sends.
// Reading is liberal in both.
package aauth

import (
	"fmt"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// SignatureKey is the Signature-Key value of a request, before formatting:
// a scheme and, for the token schemes, the token.
type SignatureKey struct {
	Scheme wire.Scheme
	Token  string
}

// JWT names the signing key through a token whose cnf.jwk is the key: an
// agent token, a person token or an auth token.
func JWT(token string) SignatureKey { return SignatureKey{Scheme: wire.SchemeJWT, Token: token} }

// HWK sends the public key itself in the Signature-Key header. AAuth
// resources and person servers reject it since draft -06; it remains for
// bootstrap and for generic Signature-Key use.
func HWK() SignatureKey { return SignatureKey{Scheme: wire.SchemeHWK} }

// JKTJWT names the key through a jkt-jwt key-refresh token. The seed profile
// sends it as the jwt scheme, as @aauth/mcp-agent does.
func JKTJWT(token string) SignatureKey { return SignatureKey{Scheme: wire.SchemeJKTJWT, Token: token} }

// String returns a redacted description, so that a SignatureKey printed in a
// log never shows its token.
func (k SignatureKey) String() string {
	if k.Token == "" {
		return string(k.Scheme)
	}
	return fmt.Sprintf("%s(%s)", k.Scheme, Redact(k.Token))
}

// Redact shortens a token for logs and errors: its first six characters and
// its length. It never returns enough of a token to use it.
func Redact(token string) string { return safetext.Redact(token) }
