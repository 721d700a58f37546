package aauth

import (
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/wire"
)

// The names below are aliases of names defined in package wire, kept in the
// root so that an agent developer configures a Transport from this package
// alone. They are the same types and values: errors.Is, type switches and
// assignments work with either name.

// Profile is wire.Profile, an alias: every Transport, SigningTransport and
// Signer is configured with one.
type Profile = wire.Profile

// The wire generations, aliases of wire.ProfileCurrent and wire.ProfileSeed.
const (
	ProfileCurrent = wire.ProfileCurrent // AAuth -11 over HTTP Signature Keys -08/-09; the zero Profile
	ProfileSeed    = wire.ProfileSeed    // what @aauth/mcp-agent 0.8.1 sends
)

// Capability is wire.Capability, an alias: a Transport declares its
// capabilities in Transport.Capabilities.
type Capability = wire.Capability

// The capabilities AAuth defines, aliases of the wire constants.
const (
	CapabilityInteraction   = wire.CapabilityInteraction   // the agent can send a person to a URL
	CapabilityClarification = wire.CapabilityClarification // the agent can answer questions
	CapabilityPayment       = wire.CapabilityPayment       // the agent can make payments
)

// ErrBodyTooLarge is wire.ErrBodyTooLarge (the same value): a Transport
// returns it when a person server's answer is larger than the 1 MiB the
// library reads.
var ErrBodyTooLarge = wire.ErrBodyTooLarge

// Token is psclient.Token, an alias: the person-server client returns it
// and the Transport caches it (see TokenCache).
type Token = psclient.Token

// Clock is psclient.Clock, an alias: Transport.Clock is the time source of
// the whole flow, polling included.
type Clock = psclient.Clock

// Clarification is psclient.Clarification, an alias: it is what
// Transport.OnClarification is asked.
type Clarification = psclient.Clarification

// ExchangeError is psclient.ExchangeError, an alias: the Transport returns
// it when the person server refuses a token request.
type ExchangeError = psclient.ExchangeError

// PollError is psclient.PollError, an alias: the Transport returns it when
// a deferred request ends with a status other than 200.
type PollError = psclient.PollError

// MetadataError is psclient.MetadataError, an alias: the Transport returns
// it when the person server's metadata cannot be fetched or fails the
// checks.
type MetadataError = psclient.MetadataError

// How a deferred request or a token request ended: the sentinels of package
// psclient under the names a Transport user matches with errors.Is. Each is
// the same value as its psclient namesake, so either name matches.
var (
	ErrDenied          = psclient.ErrDenied          // the person (or policy) denied the request
	ErrAbandoned       = psclient.ErrAbandoned       // the person left without deciding
	ErrRevoked         = psclient.ErrRevoked         // the grant was revoked while pending
	ErrExpired         = psclient.ErrExpired         // the pending request expired; a fresh one may be started
	ErrGone            = psclient.ErrGone            // the pending request no longer exists
	ErrServer          = psclient.ErrServer          // the server failed; start over
	ErrASUnreachable   = psclient.ErrASUnreachable   // the person server could not reach the access server
	ErrUserUnreachable = psclient.ErrUserUnreachable // the person server could not reach the person
	ErrTimeout         = psclient.ErrTimeout         // MaxPollDuration passed before the request ended
	ErrClarification   = psclient.ErrClarification   // a clarification question was not answered
	ErrInteraction     = psclient.ErrInteraction     // OnInteraction failed, or the interaction URL was refused
)

// OperationError is r3.OperationError, an alias: the Transport returns it
// when a resource refuses an operation under R3 (a tool outside the auth
// token's grant, a per-call tool in a batch, …) or the person server does
// not approve a per-call invocation. Its Code says which; errors.Is
// matches the r3 sentinels, two of which are aliased here.
type OperationError = r3.OperationError

// The R3 outcomes a Transport user most often matches, aliases of the r3
// sentinels (the same values).
var (
	ErrOperationNotGranted = r3.ErrOperationNotGranted // the resource refused a call its grant does not name
	ErrPerCallDenied       = r3.ErrPerCallDenied       // the person server did not approve a per-call invocation
)
