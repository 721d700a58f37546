// Package agentprovider is the agent-provider role of AAuth: it mints agent
// tokens (typ aa-agent+jwt) that bind an agent's signing key (cnf.jwk) to
// the agent's identifier (sub) under the provider's URL (iss), and serves
// the provider's metadata ({Issuer}/.well-known/aauth-agent.json) and the
// JWKS that verifies its tokens.
//
// An Issuer mints tokens, serves the documents and revokes its tokens at a
// person server (Issuer.Revoke); Keys is an aauth.KeySource for an agent
// that is its own provider, renewing an ephemeral key and its token before
// the token expires. The package sits
// above the root package aauth, whose KeyMaterial and JWT it returns.
package agentprovider
