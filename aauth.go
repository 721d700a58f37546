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
//	src := aauth.StaticKeys(agentKey, aauth.JWT(agentToken))
//	client := (&aauth.Transport{
//		Keys:         src,
//		PersonServer: "https://ps.example",
//		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
//		OnInteraction: func(ctx context.Context, url, code string) error {
//			fmt.Printf("Open %s?code=%s to approve\n", url, code)
//			return nil
//		},
//	}).Client()
//	resp, err := client.Get("https://resource.example/api/data")
//
// This package is the agent: [Transport] runs the flow, [SigningTransport]
// and [Signer] sign requests, a [KeySource] supplies the key and agent token
// for each request, a [TokenCache] keeps the tokens obtained, and [Event]
// reports each step. The other roles and layers have packages of their own:
//
//   - wire: the AAuth wire vocabulary: profiles, every AAuth header, problem
//     details.
//   - keys: Ed25519 and P-256 keys, JWKs, key files, thumbprints.
//   - psclient: the agent's client of its person server, usable without a
//     Transport: discovery, token requests, polling.
//   - agentprovider: the agent-provider role: agent tokens (sub-agents'
//     too) and the provider's metadata and JWKS.
//   - resource: the resource role, middleware that makes any handler
//     require AAuth; intermediary: a resource that calls others for its
//     callers (call chaining).
//   - aauthtest: a test kit with real servers (person server, resource,
//     agent provider) for testing agents.
//
// A Transport can be a sub-agent's, getting its tokens through its parent
// ([Parent], [Transport.SubagentToken]), or an intermediary's, acting for
// the caller of the request it serves ([WithUpstream], Transport.Chain,
// [ChainError]).
//
// A few names of wire and psclient are aliased here (Profile, Capability,
// Token, Clock, Clarification, the errors a Transport returns), so that an
// agent developer configures a Transport and matches its errors from this
// package alone; they are the same types and values.
//
// # Wire generations
//
// The protocol has no version negotiation and its signature layer changed
// incompatibly in August 2026. A [Profile] chooses the generation: the zero
// value, [ProfileCurrent], speaks AAuth -11 over HTTP Signature Keys -08/-09;
// [ProfileSeed] reproduces what the JavaScript @aauth/mcp-agent 0.8.1 sends.
// Reading is liberal in both. Any other Profile value is refused with an
// error matching wire.ErrUnknownProfile.
package aauth

import "github.com/aauthgo/aauth/internal/safetext"

// Redact shortens a token for logs and errors: its first six characters and
// its length. It never returns enough of a token to use it.
func Redact(token string) string { return safetext.Redact(token) }
