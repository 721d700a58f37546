// Package psclient is the agent's client of its person server, usable
// without an aauth.Transport: discovery of the server's metadata and its
// cache (Discover, MetadataCache), person-token and auth-token requests
// (RequestPersonToken, ExchangeToken), polling of deferred answers
// (FollowDeferred, PollDeferred), and the answers a pending request takes:
// a clarification, an updated request, a cancellation. Governance too:
// missions (ProposeMission, whose approval is checked with
// ParseMissionApproval and DecodeMissionBlob; UpdateMission,
// CompleteMission), permission (RequestPermission), audit (Audit), and
// reaching the person through the person server (RelayInteraction, Ask).
//
// Token requests may be made for a sub-agent (SubagentToken: the parent
// signs, the token is bound to the sub-agent's key) or on a caller's behalf
// by an intermediary (UpstreamToken: call chaining). A sub-agent's request
// to its parent, and the parent's answer, are plain values
// (SubagentRequest, SubagentAnswer) for a parent in another process;
// ParentFunc makes a function an aauth.Parent. Every auth token returned
// is checked against the resource token and the presented token
// (CheckAuthToken).
//
// Every function takes an *http.Client that signs its requests with the
// agent token: an aauth.SigningTransport with the agent's key and
// aauth.JWT(agentToken). The requests it sends are marked (through their
// context) as person-server requests, so that such a SigningTransport
// sends AAuth-Capabilities only where the profile wants them.
//
// URLs a person server names (endpoints, pending URLs) must be https (or
// loopback http) and may lead to a private network only when the person
// server is on one too; aauth.WithInsecureEgress relaxes this for
// development, and a refusal matches aauth.ErrEgress. The rule travels in
// the requests' context, and a client built on aauth.SigningTransport
// (over nil or an *http.Transport) checks it again on the address each
// connection is made to.
//
// An interaction URL reaches OnInteraction, or a relay, only when
// CheckInteractionURL accepts it: https, or http on a loopback host.
//
// WithObserver traces what the functions send: each request and poll,
// with its status and the wait chosen, never a token.
//
// Errors are typed: *MetadataError, *ExchangeError, *PollError,
// *AuthTokenRequiredError, *RequestError, *MissionError and
// *PermissionDeniedError, matched against the Err* sentinels with
// errors.Is. The root package aauth aliases the ones a Transport user
// meets.
package psclient
