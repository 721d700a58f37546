package aauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/safetext"
)

// ErrEgress is returned when a server names a URL the library will not
// fetch on its word: plain http to a host that is not loopback, or a host
// on a private, loopback, link-local or unspecified address when the server
// that named it is not itself on such a network. It stops a hostile server
// from steering the agent, and its signed requests, at internal services.
// The person-server client (package psclient) returns the same value.
//
// A name is checked when the server names it, and the address a steered
// request connects to is checked again when it is dialled, so that a name
// resolving elsewhere the second time (DNS rebinding) cannot reach an
// internal address; such a connection serves that one request. The check
// at dial time needs the library to reach the dialer: it applies when
// Transport.Base (or SigningTransport.Base) is nil or an *http.Transport
// (whose TLS, proxy and dialer settings are kept), and not to a request
// that Base's Proxy sends to a proxy, which resolves and connects itself.
// Any other RoundTripper gets the check at naming time only.
var ErrEgress = egress.ErrEgress

// WithInsecureEgress returns a context under which the library's egress
// checks are relaxed: any http URL and any address are accepted. It is
// meant for development against servers on a private network; never use it
// with servers you do not control. Transport.InsecureEgress does the same
// for a Transport. It applies to the person-server client's functions too.
func WithInsecureEgress(ctx context.Context) context.Context {
	return egress.WithInsecure(ctx)
}

// redirectContext applies the egress rules to a redirect the http.Client
// follows from the request prev to the URL to, and returns ctx with the
// rule to's connections are held to: prev's when to is on prev's host, and
// when prev was itself held to public addresses.
func redirectContext(ctx context.Context, prev *http.Request, to *url.URL) (context.Context, error) {
	if err := egress.CheckSecureURL(ctx, to.String()); err != nil {
		return ctx, fmt.Errorf("%w: redirect to %s: %v", ErrEgress, safetext.Clean(redactURL(to), 256), err)
	}
	ctx = egress.WithPublicOnly(ctx, egress.PublicOnly(prev.Context()))
	return egress.Target(ctx, prev.URL, to)
}
