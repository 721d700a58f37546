// Package profile holds the table of wire choices that differ between the
// two AAuth generations the library speaks. The flow code asks the table; it
// never branches on a version.
package profile

import (
	"fmt"
	"time"

	"github.com/aauthgo/aauth/wire"
)

// Table is one generation's set of wire choices.
type Table struct {
	Name string

	// Signing.
	HWKAlg             bool   // hwk carries alg= (signature-key -08) and is emitted alg first
	JKTJWTScheme       string // scheme token sent for jkt-jwt key material
	DigestBodies       bool   // bodies get content-digest (RFC 9530 sha-256) covered, appended after signature-key
	CoverAuthorization bool   // a session token's Authorization header is covered
	RequireKeyAlg      bool   // JWKs must carry a fully specified alg; EdDSA is refused

	// Headers on agent requests.
	SessionScheme        string // Authorization scheme for AAuth-Access session tokens
	MissionHeader        bool   // AAuth-Mission is sent on agent-signed requests
	CapabilitiesOnPS     bool   // AAuth-Capabilities also goes to person-server requests
	CapabilitiesOnTokens bool   // AAuth-Capabilities also goes on requests presenting auth or session tokens
	BudgetCapability     bool   // budget is declared whatever the caller lists (the Budgets draft, after the seed)
	PollAsAgent          bool   // a resource's pending URL is polled with the agent token, whatever the request presented

	// Person server.
	TokenEndpointField  string // metadata member naming the auth-token endpoint
	OtherEndpointField  string // the other generation's name, accepted when ours is absent
	RequireIssuer       bool   // metadata issuer must equal the URL fetched
	PersonTokens        bool   // requirement=person-token and the person-token endpoint are used
	Governance          bool   // missions, permission, audit and the interaction relay (-11 bodies)
	PresentedToken      bool   // the exchange sends presented_token
	ClarificationAction bool   // clarification answers carry "action"
	PreferWait          int    // seconds in Prefer: wait on token requests and polls
	DeferredAuthToken   bool   // a 202 may carry requirement=auth-token, exchanged then polled again
	ResourceTokenHint   bool   // a login_hint inside the resource token wins over the caller's
	PlatformDevice      bool   // platform and device are written in token requests
	LocationBasePS      bool   // a token endpoint's relative Location resolves against the PS URL (JS)
	Delegation          bool   // token requests may carry subagent_token and upstream_token

	// Polling.
	MaxPollDuration time.Duration
	PollDefault     time.Duration // wait when a 202 has no Retry-After
	PollBackoff     bool          // seed: 1 s doubling to 5 s (202) or 30 s (503), Retry-After integer only
	FirstPollAtOnce bool          // a 202 without Retry-After is polled at once the first time (JS)
	PollWaitCap     time.Duration // PollBackoff: cap of the 202 backoff
	PollBusyCap     time.Duration // cap of the 503 (and 429) backoff
	SlowDownAdd     time.Duration // added to the interval on 429

	// Tokens.
	RefreshMargin time.Duration // a token is not presented inside this margin before expiry
}

// Current is AAuth -11 (2026-09-25) over HTTP Signature Keys -08/-09.
var Current = &Table{
	Name:                 "current",
	CapabilitiesOnTokens: true,
	BudgetCapability:     true,
	HWKAlg:               true,
	JKTJWTScheme:         "jkt-jwt",
	DigestBodies:         true,
	CoverAuthorization:   true,
	RequireKeyAlg:        true,
	SessionScheme:        "AAuth",
	TokenEndpointField:   "auth_token_endpoint",
	OtherEndpointField:   "token_endpoint",
	RequireIssuer:        true,
	PersonTokens:         true,
	Governance:           true,
	Delegation:           true,
	PresentedToken:       true,
	ClarificationAction:  true,
	PreferWait:           45,
	DeferredAuthToken:    true,
	ResourceTokenHint:    true,
	PlatformDevice:       true,
	PollBusyCap:          time.Minute,
	MaxPollDuration:      900 * time.Second,
	PollDefault:          5 * time.Second,
	SlowDownAdd:          5 * time.Second,
	RefreshMargin:        5 * time.Minute,
}

// Seed is what @aauth/mcp-agent 0.8.1 sends (AAuth -01, Signature Keys -05,
// @hellocoop/httpsig 1.x).
var Seed = &Table{
	Name:               "seed",
	JKTJWTScheme:       "jwt",
	SessionScheme:      "Bearer",
	MissionHeader:      true,
	CapabilitiesOnPS:   true,
	PollAsAgent:        true,
	TokenEndpointField: "token_endpoint",
	OtherEndpointField: "auth_token_endpoint",
	PreferWait:         45,
	MaxPollDuration:    300 * time.Second,
	PollDefault:        time.Second,
	PollBackoff:        true,
	FirstPollAtOnce:    true,
	LocationBasePS:     true,
	PollWaitCap:        5 * time.Second,
	PollBusyCap:        30 * time.Second,
	RefreshMargin:      60 * time.Second,
}

// For returns the table of p, or nil when p is neither wire.ProfileCurrent
// nor wire.ProfileSeed, so that callers can refuse it.
func For(p wire.Profile) *Table {
	switch p {
	case wire.ProfileCurrent:
		return Current
	case wire.ProfileSeed:
		return Seed
	}
	return nil
}

// Check is For for the entry points of the library: an unknown p gives an
// error matching wire.ErrUnknownProfile.
func Check(p wire.Profile) (*Table, error) {
	if t := For(p); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: %v", wire.ErrUnknownProfile, p)
}
