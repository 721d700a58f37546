package aauth

import (
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
