package psclient

// This file stands in for names the layout (issue 10) moves into this
// package: Token (exchange.go), Capability (package wire) and ErrDenied
// (errors.go). It is deleted when the branch is rebased onto the layout.

import (
	"errors"
	"time"
)

// Token is a placeholder for the layout's psclient.Token.
type Token struct {
	Value     string
	ExpiresIn int64
	Expiry    time.Time
}

// Capability is a placeholder for wire.Capability.
type Capability string

// Placeholders for the wire.Capability values.
const (
	CapabilityInteraction   Capability = "interaction"
	CapabilityClarification Capability = "clarification"
	CapabilityPayment       Capability = "payment"
)

// ErrDenied is a placeholder for the layout's psclient.ErrDenied.
var ErrDenied = errors.New("aauth: request denied")
