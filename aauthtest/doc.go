// Package aauthtest provides in-process AAuth servers for tests: an agent
// provider, a person server and a protected resource, each an
// [net/http/httptest.Server] on 127.0.0.1 that verifies every request's
// signature (with the verifier the interop tests check against the
// JavaScript reference), issues real signed tokens, can be scripted per
// test, and records what it saw.
//
// The agent provider is an [github.com/aauthgo/aauth/agentprovider.Issuer]
// and the resource a [github.com/aauthgo/aauth/resource.Resource]: the
// library's own production roles, with the kit's scripting and records on
// top. The person server is the kit's own.
//
// Most tests want a [World], the three servers wired to trust each other:
//
//	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
//	defer w.Close()
//	client := (&aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL}).Client()
//	resp, err := client.Get(w.Resource.URL + "/data")
//
// With the zero options the resource runs the whole current flow: a call
// signed with the agent token gets 401 requirement=person-token; the agent
// gets a person token from the person server; the call presenting it gets
// 401 requirement=auth-token with a resource token; the agent exchanges
// that (with presented_token) for an auth token; the call presenting the
// auth token reaches the resource's handler.
//
// # Profiles
//
// Every server speaks one wire generation, chosen by an [wire.Profile].
// The current profile (AAuth -11 over HTTP Signature Keys -08/-09) wants a
// fully specified alg on every key (Ed25519; EdDSA is refused), covered
// content-type and content-digest on bodies sent to the person server,
// presented_token on exchanges, person tokens, auth_token_endpoint and
// person_token_endpoint in the metadata, Authorization: AAuth for session
// tokens (covered), and application/problem+json errors. The seed profile
// is what @aauth/mcp-agent 0.8.1 spoke: alg EdDSA, token_endpoint, no
// person tokens (an agent token gets requirement=auth-token directly),
// Authorization: Bearer (not covered) and {"error","error_description"}
// errors.
//
// # Scripting
//
// A [Decision] says how a server answers one request: the person server
// asks its queue ([PersonServer.Queue]) and then its policy
// ([PersonServer.SetPolicy]) for each token request; a resource takes
// decisions from its queue ([Resource.Queue]). A Decision is a list of
// [Step] values answered as 202 Accepted on a pending URL (Pending,
// Approval, Interaction, Interacting, Clarification, and Status for 429 and
// 503 bursts), then an end: Approve, Deny, Abandon, Revoked, Expire, Gone,
// ServerError, ASUnreachable, Fail, Respond, or a Malformed answer of a
// given [Fault]. For example:
//
//	w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(
//		aauthtest.Interaction(),                // wait for the person
//		aauthtest.Status(429, "1"),             // a burst of slow_down
//		aauthtest.Clarification("Which repo?"), // then a question
//	).Then(aauthtest.Approve().Lifetime(10*time.Minute)))
//
// Interactions are completed by the test ([PersonServer.CompleteInteraction],
// [PersonServer.DenyInteraction]), by fetching the interaction URL with the
// code (as a person's browser would), or by themselves after
// [Step.Times] polls.
//
// Resources can also be moved at run time: [Resource.StepUp] (a new
// auth-token requirement on a call that already carries an auth token),
// [Resource.Revoke], [Resource.SetClockOffset] (clock_skew),
// [Resource.RequireComponents] (invalid_input with required_input),
// [Resource.SetMode], and ResourceOptions.DeferAuthToken (auth-token
// requirements as a 202 that holds the call). Person server metadata can
// be broken with [PersonServer.EditMetadata].
//
// Per-tool authorization (R3): ResourceOptions.R3 makes the resource an
// R3 resource in front of an MCP handler, and the person server fetches
// each R3 document a resource token names (signed with its own key, as
// mockin does) and grants by [PersonServer.SetR3Policy]: [GrantAll] (the
// default), [GrantTools] (some tools outright, some per call), and
// R3Policy.DenyPerCall to refuse per-call approvals; R3Policy.Tamper
// issues grants wider than the document, for hostile tests.
// [PersonServer.R3Fetches] records what was fetched.
//
// # Sub-agents and call chaining
//
// The person server takes the two delegation parameters of AAuth -11. A
// subagent_token is verified as an agent token, must name the signer in
// parent_agent, come from the signer's agent provider, and the resource
// token and presented token must be bound to the sub-agent's key (the
// checks of interop Surface 5); the token issued is bound to it, and
// outlives neither agent token. An upstream_token must be a person or auth
// token the server issued, for the intermediary signing the request (its
// agent token's iss), of a caller the server knows and has not revoked;
// the token issued is for the same person (its own directed subject), under
// the upstream's mission, no longer-lived than it; chains that loop or go
// deeper than MaxChainDepth are denied, a pending chained request ends when
// its upstream token expires or is revoked, and Revoke cascades down the
// chain. TokenRequest says what was verified (Subagent, Upstream);
// ConsentOnce is a policy that asks the person once per agent and
// resource, sub-agents counting as their parent. The agent provider mints
// sub-agent tokens (MintSubagent, NewSubagent, SubagentKeys).
//
// # Records
//
// Every server keeps a [RecordedRequest] per request: the request line,
// headers and body, whether the signature verified, which token was
// presented (its kind, value and claims), the covered components, and the
// answer. The person server also keeps the decoded [TokenRequest]s, the
// [ClarificationAnswer]s and the tokens it issued, lists the person-token
// requests and exchanges, and counts polls. A [FakeClock] lets a test move
// time for all servers at once.
//
// # Trust
//
// Servers fetch the keys of the tokens they verify from the issuer's
// metadata document and its jwks_uri, as real servers do: the person
// server only from loopback URLs, the resource under package resource's
// egress rules (which let a resource on a loopback address fetch from
// loopback). By default they accept any issuer whose keys they can fetch;
// the Trusted* options and Trust* methods restrict that, and TrustKey adds
// a key without fetching. A World sets all of this up.
//
// # Safety
//
// The servers answer malformed input with 4xx problem bodies, never a
// panic; token values never appear in their logs (see the Logf options)
// or error details; and Close waits for requests in flight, so no server
// goroutine outlives it.
package aauthtest
