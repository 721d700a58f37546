// Package resource is the resource side of AAuth: middleware that makes
// any http.Handler require AAuth-signed requests, as
// modelcontextprotocol/go-sdk's auth.RequireBearerToken does for OAuth
// bearer tokens.
//
//	rs := &resource.Resource{Issuer: "https://api.example"}
//	http.ListenAndServe(addr, rs.Require(handler))
//
// and in the handler:
//
//	caller, _ := resource.FromContext(r.Context())
//
// For every request, [Resource.Require] verifies the RFC 9421 signature
// with the key in Signature-Key (the jwt scheme of HTTP Signature Keys):
// that it was made for this resource's @authority, its covered components,
// its created time and, when there is a body, its Content-Digest. It
// refuses a replayed signature (on state-changing methods), then verifies
// the token the key came in: an agent token (aa-agent+jwt, keys from the agent
// provider's aauth-agent.json), a person token (aa-person+jwt) or an auth
// token (aa-auth+jwt, keys from the person server's aauth-person.json, or
// the resource's access server's aauth-access.json): its signature, issuer,
// audience, times, and that its cnf.jwk is the key that signed the request.
// A request that fails is answered 401 with the Signature-Error code of
// HTTP Signature Keys -08/-09, and a problem+json body.
//
// A request that verifies then meets its access mode, set with
// Resource.Mode or decided per request by Resource.Policy:
//
//   - AgentToken (the default): served.
//   - PersonToken: served with a person or auth token; an agent token is
//     answered 401 requirement=person-token.
//   - AuthToken: served with an auth token holding the scope; otherwise 401
//     requirement=auth-token with a resource token (aa-resource+jwt) for the
//     agent's person server, or a 202 that holds the call until the agent
//     polls with the auth token (Need.Defer).
//   - SessionToken: resource-managed access; Resource.Approve decides,
//     possibly after a person approved (202 requirement=interaction or
//     approval, polled), and the agent gets a session token in AAuth-Access.
//
// With Resource.R3, an MCP server's tools are authorized one by one (R3,
// Rich Resource Requests -02; see [R3]): the resource describes them in R3
// documents that only the person server (or access server) may fetch,
// serves a tools/call only under an auth token granting the tool, and
// challenges a tool granted per call with a proposal of that call, whose
// narrow token runs it once.
//
// A handler can also answer 202 itself and finish later: [Defer].
//
// The resource serves its metadata at /.well-known/aauth-resource.json and
// its keys at /.well-known/aauth-resource-jwks.json; two keys can be
// published during a rotation (Resource.SigningKeys). With
// Resource.AuthorizationPath it also serves an authorization endpoint,
// where an agent presenting a person token asks for a scope up front.
//
// In the current profile the resource serves the revocation endpoint of
// AAuth -11 at /aauth/revoke (revocation_endpoint): a person server or
// the resource's access server POSTs {"jti", "exp"}, signed with its own
// published key (Signature-Key jwks_uri) over content-type and
// content-digest, and the token (signer, jti) is refused with revoked_jwt
// from then on, and named by no resource token.
//
// State that a fleet of servers must share sits behind three small
// interfaces, [ReplayStore], [SessionStore] and [RevocationStore], with
// in-memory defaults bounded in size.
//
// Issuers' keys are fetched under the egress rules of the rest of the
// library (https, public addresses), with bounded documents, a cache that
// respects max-age, one fetch for many waiting requests, and at most one
// refetch a minute for an unknown kid.
//
// # Profiles
//
// The current profile is AAuth -11 (published 2026-09-25) over HTTP
// Signature Keys -08/-09. The seed profile is what @aauth/mcp-agent 0.8.1
// speaks: alg EdDSA allowed, no person tokens (an agent token is asked for
// an auth token directly), session tokens as Authorization: Bearer, not
// covered, and {"error","error_description"} bodies.
package resource
