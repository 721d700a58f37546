// Package psmark marks the requests the person-server client sends, so
// that aauth.SigningTransport can leave out the headers a profile keeps
// away from person servers (AAuth-Capabilities and AAuth-Mission, when the
// profile's table says !CapabilitiesOnPS) without the two packages
// importing each other. It imports nothing of this module.
package psmark

import "context"

type key struct{}

// Mark returns ctx marked as carrying requests to a person server.
func Mark(ctx context.Context) context.Context {
	return context.WithValue(ctx, key{}, true)
}

// Marked reports whether ctx was marked by Mark.
func Marked(ctx context.Context) bool {
	v, _ := ctx.Value(key{}).(bool)
	return v
}
