package aauth

import (
	"context"

	"github.com/aauthgo/aauth/internal/egress"
)

// ErrEgress is returned when a server names a URL the library will not
// fetch on its word: plain http to a host that is not loopback, or a host
// on a private, loopback, link-local or unspecified address when the server
// that named it is not itself on such a network. It stops a hostile server
// from steering the agent, and its signed requests, at internal services.
// The person-server client (package psclient) returns the same value.
var ErrEgress = egress.ErrEgress

// WithInsecureEgress returns a context under which the library's egress
// checks are relaxed: any http URL and any address are accepted. It is
// meant for development against servers on a private network; never use it
// with servers you do not control. Transport.InsecureEgress does the same
// for a Transport. It applies to the person-server client's functions too.
func WithInsecureEgress(ctx context.Context) context.Context {
	return egress.WithInsecure(ctx)
}
