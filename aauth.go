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
// [SigningTransport] sign requests, [ParseRequirement] and friends read the
// AAuth headers, and the key helpers generate keys and mint agent tokens.
//
// # Wire generations
//
// The protocol has no version negotiation and its signature layer changed
// incompatibly in August 2026. A [Profile] chooses the generation: the zero
// value, [ProfileCurrent], speaks AAuth -11 over HTTP Signature Keys -08/-09;
// [ProfileSeed] reproduces what the JavaScript @aauth/mcp-agent 0.8.1 sends.
// Reading is liberal in both.
package aauth

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
)

// KeyMaterial is what an agent signs one request with: a private key and the
// way the request names the matching public key in its Signature-Key header.
type KeyMaterial struct {
	// Signer is the private key. Its Public method must return an
	// ed25519.PublicKey or an ECDSA P-256 *ecdsa.PublicKey. Any
	// crypto.Signer works, so a key held in an HSM or another process can
	// sign too.
	Signer crypto.Signer

	// Key says how the public key is conveyed: inline (HWK) or inside a
	// token whose cnf.jwk is the key (JWT, JKTJWT).
	Key SignatureKey
}

// A KeySource returns the key material for the next request. It is called
// once for every request sent, so keys and tokens may rotate between
// requests. Implementations must be safe for concurrent use.
type KeySource interface {
	KeyMaterial(ctx context.Context) (KeyMaterial, error)
}

// KeySourceFunc adapts a function to a KeySource.
type KeySourceFunc func(ctx context.Context) (KeyMaterial, error)

// KeyMaterial calls f(ctx).
func (f KeySourceFunc) KeyMaterial(ctx context.Context) (KeyMaterial, error) { return f(ctx) }

// Scheme is a Signature-Key scheme token.
type Scheme string

// The Signature-Key schemes an agent emits.
const (
	SchemeJWT    Scheme = "jwt"     // the key is the cnf.jwk of a JWT (agent, person or auth token)
	SchemeHWK    Scheme = "hwk"     // the public key itself, as header parameters
	SchemeJKTJWT Scheme = "jkt-jwt" // a key-refresh JWT, for agent-provider enrolment
)

// SignatureKey is the Signature-Key value of a request, before formatting:
// a scheme and, for the token schemes, the token.
type SignatureKey struct {
	Scheme Scheme
	Token  string
}

// JWT names the signing key through a token whose cnf.jwk is the key: an
// agent token, a person token or an auth token.
func JWT(token string) SignatureKey { return SignatureKey{Scheme: SchemeJWT, Token: token} }

// HWK sends the public key itself in the Signature-Key header. AAuth
// resources and person servers reject it since draft -06; it remains for
// bootstrap and for generic Signature-Key use.
func HWK() SignatureKey { return SignatureKey{Scheme: SchemeHWK} }

// JKTJWT names the key through a jkt-jwt key-refresh token. The seed profile
// sends it as the jwt scheme, as @aauth/mcp-agent does.
func JKTJWT(token string) SignatureKey { return SignatureKey{Scheme: SchemeJKTJWT, Token: token} }

// String returns a redacted description, so that a SignatureKey printed in a
// log never shows its token.
func (k SignatureKey) String() string {
	if k.Token == "" {
		return string(k.Scheme)
	}
	return fmt.Sprintf("%s(%s)", k.Scheme, Redact(k.Token))
}

// Capability is an agent capability, declared in AAuth-Capabilities and in
// person-server token requests.
type Capability string

// The capabilities AAuth defines.
const (
	CapabilityInteraction   Capability = "interaction"   // the agent can send a person to a URL
	CapabilityClarification Capability = "clarification" // the agent can answer questions
	CapabilityPayment       Capability = "payment"       // the agent can make payments
)

// Mission names the mission a request belongs to. In the current profile only
// S256 is used, as mission_s256 in person-token requests; the seed profile
// also sends both fields in an AAuth-Mission header.
type Mission struct {
	Approver string // the person server that approved the mission (seed only)
	S256     string // base64url SHA-256 of the approved mission text
}

// Profile selects the AAuth wire generation. The zero value is
// ProfileCurrent.
type Profile uint8

const (
	// ProfileCurrent speaks AAuth draft -11 (published 2026-09-25) over
	// HTTP Signature Keys -08/-09, as @hellocoop/httpsig 2.x does.
	ProfileCurrent Profile = iota
	// ProfileSeed reproduces @aauth/mcp-agent 0.8.1 (April 2026: AAuth
	// -01 over Signature Keys -05, @hellocoop/httpsig 1.x) byte for byte.
	ProfileSeed
)

// String returns "current" or "seed".
func (p Profile) String() string {
	switch p {
	case ProfileCurrent:
		return "current"
	case ProfileSeed:
		return "seed"
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// ParseProfile turns "current" or "seed" into a Profile.
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "current", "":
		return ProfileCurrent, nil
	case "seed":
		return ProfileSeed, nil
	}
	return 0, fmt.Errorf("aauth: unknown profile %q (want current or seed)", s)
}

// ErrUnknownProfile is returned when a Profile value is neither
// ProfileCurrent nor ProfileSeed.
var ErrUnknownProfile = errors.New("aauth: unknown profile")

// Redact shortens a token for logs and errors: its first six characters and
// its length. It never returns enough of a token to use it.
func Redact(token string) string { return safetext.Redact(token) }

// table returns the wire choices of p; unknown values fall back to current.
func (p Profile) table() *profile.Table {
	if p == ProfileSeed {
		return profile.Seed
	}
	return profile.Current
}
