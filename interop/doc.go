// Package interop holds the cross-implementation tests of aauth against the
// JavaScript reference signer, @hellocoop/httpsig: 1.7.1 for the seed
// generation and 2.2.0 for the current one, pinned in package.json and
// package-lock.json next to this file under the npm aliases hs1 and hs2;
// and against the mock person server @hellocoop/mockin 2.0.0, pinned there
// too.
//
// Everything is in the _test.go files; the package has no API and nothing
// imports it. The tests need node and npm on the PATH. On first use they
// install the pinned packages into node_modules (git-ignored) with npm ci.
// Without node and npm they skip, unless AAUTH_INTEROP=required, under
// which a skip is a failure.
//
// harness.mjs is the Node side: it reads one JSON request per line and
// signs with httpsig's fetch(…, {dryRun: true}) at a stubbed clock,
// capturing the bytes handed to WebCrypto, or verifies with its verify().
// One node process serves a whole batch.
//
// The Go side generates a few hundred requests per generation, the same
// every run, and checks that
//
//   - httpsig verifies every request our Signer signs, as a Go client
//     writes it and a server reads it (TestGoSignedVerifiedByJS);
//   - internal/sigverify verifies every request httpsig signs, as fetch
//     sends it (TestJSSignedVerifiedByGo);
//   - a tampered copy of a sample is rejected by both verifiers;
//   - our SignatureBase equals, byte for byte, what httpsig signs for the
//     same request (TestSignatureBaseMatchesJS).
//
// TestResourceAcceptsJSSigned (resource_test.go) has httpsig 2.2.0 sign a
// table of requests an agent sends to a resource: the jwt scheme with
// agent, person and auth tokens from issuers on httptest servers (the
// library's AgentTokenIssuer and a small person server), Ed25519 and ES256
// keys, bodies, session tokens and extra components, for many host names.
// Each is written over TCP as fetch sends it to a resource.Resource, which
// must serve it with the right caller; tampered copies and replays must get
// 401 with Signature-Error.
//
// Known differences are named, counted apart and pinned by a minimal case
// each in known_test.go, behind the constants signerNormalisesQuery and
// verifierDerivesLikeFetch; setting one to true makes the suite check
// those cases too.
//
// TestMockin (mockin_test.go) runs mockin as a node process on a free
// 127.0.0.1 port and has an aauth.Transport run the whole current flow
// against it and an aauthtest resource (package resource's, scripted):
// person token, resource token,
// exchange with presented_token, retry; once approved at once and once
// completed at mockin's consent page. mockin is told to trust the
// aauthtest agent provider through its mock controls, so it fetches
// nothing but the resource's keys. It needs Node 20 or later and is
// killed, with its process group, when the test ends.
//
// TestMockinGoResource (resource_mockin_test.go) puts package resource's
// Resource, as a deployment would run it, behind the same flow with
// mockin as the person server: once with an aauth.Transport as the agent,
// and once with agent.mjs, a small agent on httpsig 2.2.0's fetch (jwt
// Signature-Key, AAuth-Requirement parsed with httpsig's RFC 8941 parser).
// Nothing is preloaded into mockin: it fetches the agent provider's and
// the resource's documents over loopback. The one tolerance is the
// resource's PersonTokenJTI: mockin 2.0.0 reads person_token_jti, the early
// -11 name of presented_jti.
//
// TestMockinR3 (r3_e2e_test.go) is per-tool authorization end to end with
// mockin as person server: a go-sdk MCP server behind resource.Resource
// with R3 serves its R3 documents, which mockin fetches signed with its
// own key (jwks_uri) and grants from (r3_grants for r3_per_call); a go-sdk
// client over aauth.Transport calls a granted tool, a per-call tool twice
// (401 and 202 delivery), and a tool outside the grant.
//
// r3_mockin_test.go hands documents written by package r3 to mockin's own
// R3 checks (r3check.mjs imports its validateR3Document and hash): mockin
// accepts every document and per-call proposal r3.Encode writes and hashes
// it to the same r3_s256, and r3.Parse refuses everything mockin refuses,
// plus a named list of stricter cases.
package interop
