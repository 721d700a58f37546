//lint:file-ignore SA1019 net/http still honours Transport.Dial and DialTLS, so the guard must too.

package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
)

// RoundTrip sends req through base (nil: http.DefaultTransport), checking,
// for a request whose context is PublicOnly, the address each connection
// is actually made to: the checks of Target resolve a name, and the dialer
// would resolve it again, so a name that resolves elsewhere the second
// time (DNS rebinding) would otherwise reach an address Target refused.
//
// A PublicOnly request goes through a clone of base (an *http.Transport,
// with its TLS and other settings) whose dialer refuses any address that is
// not public, before connecting when the dialer is the library's own (base
// nil, or an *http.Transport without DialContext, Dial or DialTLSContext
// of its own), right after connecting when it is the caller's (the
// connection is closed before a byte of the request is sent; a caller's
// DialTLSContext has done its handshake by then). The clone's connections
// serve one request each, so a request that may reach public addresses
// only never reuses a connection dialled for one that may reach any, nor
// the other way round.
//
// Not covered, and left to the checks of Target alone: a base that is not
// an *http.Transport (the library cannot reach its dialer), a request
// base's Proxy sends to a proxy (the proxy resolves the name and connects),
// and a caller's dialer whose connections have no IP remote address.
func RoundTrip(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	own := base == nil
	if own {
		base = http.DefaultTransport
	}
	if !PublicOnly(req.Context()) {
		return base.RoundTrip(req)
	}
	ht, ok := base.(*http.Transport)
	if !ok {
		return base.RoundTrip(req)
	}
	if ht.Proxy != nil {
		proxy, err := ht.Proxy(req)
		if err != nil || proxy != nil {
			// http.Transport reports the proxy error itself, or the proxy
			// connects on our behalf: nothing to check at dial time.
			return base.RoundTrip(req)
		}
	}
	g := ht.Clone()
	g.Proxy = nil
	g.DisableKeepAlives = true
	g.OnProxyConnectResponse = nil
	g.DialContext, g.DialTLSContext = guardedDialers(ht, own)
	g.Dial, g.DialTLS = nil, nil
	resp, err := g.RoundTrip(req)
	var refused *refusedAddr
	if err != nil && errors.As(err, &refused) {
		// The dialer's error, quoted by net.OpError, says "dial tcp …";
		// say what happened instead, once.
		return nil, fmt.Errorf("%w: %s is at %s when connecting, not a public address", ErrEgress, safetext.Clean(req.URL.Hostname(), 256), refused.addr)
	}
	return resp, err
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// guardedDialers returns the dialers of a clone of ht: the library's own,
// which checks each address before connecting to it, or ht's own, checked
// once connected.
func guardedDialers(ht *http.Transport, own bool) (dial, dialTLS dialFunc) {
	switch {
	case own || ht.DialContext == nil && ht.Dial == nil:
		// http.DefaultTransport's dialer, with the check.
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: dialResolver, Control: control}
		dial = d.DialContext
	case ht.DialContext != nil:
		dial = checkedAfter(ht.DialContext)
	default:
		legacy := ht.Dial
		dial = checkedAfter(func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) })
	}
	if own {
		return dial, nil
	}
	switch {
	case ht.DialTLSContext != nil:
		dialTLS = checkedAfter(ht.DialTLSContext)
	case ht.DialTLS != nil:
		legacy := ht.DialTLS
		dialTLS = checkedAfter(func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) })
	}
	return dial, dialTLS
}

// control is the library's dialer's net.Dialer.Control: it sees each
// address the dialer is about to connect to, after resolution.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedAddr{addr: address}
	}
	if InternalAddr(ap.Addr()) {
		return &refusedAddr{addr: ap.Addr().Unmap().String()}
	}
	return nil
}

// checkedAfter wraps a caller's dialer: a connection it made to an address
// that is not public is closed and refused.
func checkedAfter(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if a, ok := remoteIP(c); ok && InternalAddr(a) {
			c.Close()
			return nil, &refusedAddr{addr: a.Unmap().String()}
		}
		return c, nil
	}
}

// remoteIP is the IP address c is connected to, when it has one.
func remoteIP(c net.Conn) (netip.Addr, bool) {
	switch ra := c.RemoteAddr().(type) {
	case nil:
		return netip.Addr{}, false
	case *net.TCPAddr:
		a, ok := netip.AddrFromSlice(ra.IP)
		return a, ok
	default:
		ap, err := netip.ParseAddrPort(ra.String())
		return ap.Addr(), err == nil
	}
}

// refusedAddr is the guarded dialers' error: RoundTrip replaces it.
type refusedAddr struct{ addr string }

func (e *refusedAddr) Error() string {
	return fmt.Sprintf("%v: %s is not a public address", ErrEgress, e.addr)
}

func (e *refusedAddr) Is(target error) bool { return target == ErrEgress }

// dialResolver resolves names for the library's own dialer; nil is the
// system's, and this package's tests replace it.
var dialResolver *net.Resolver
