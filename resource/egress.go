package resource

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/aauthgo/aauth/internal/egress"
)

// The resource fetches metadata and key sets from URLs that tokens name:
// with the default open trust, any client can make it fetch from a URL of
// its choosing. These are the agent's egress rules (the root package's
// egress.go), applied to that situation:
//
//   - a URL must be https, or http to a loopback host (development);
//   - no fetch may reach a loopback, private, link-local or otherwise
//     non-public address, unless the resource's own Issuer is itself on
//     such an address (a test or an internal deployment) or InsecureEgress
//     is set. The check is made on the address actually dialed, after
//     resolution, so a name that resolves differently the second time
//     (DNS rebinding) cannot slip through.

// errEgress is the library's sentinel for a URL it will not fetch
// (aauth.ErrEgress is the same value).
var errEgress = egress.ErrEgress

// checkFetchURL applies the scheme rule to raw (egress.CheckSecureURL),
// and refuses credentials in it.
func checkFetchURL(raw string, insecure bool) (*url.URL, error) {
	ctx := context.Background()
	if insecure {
		ctx = egress.WithInsecure(ctx)
	}
	if err := egress.CheckSecureURL(ctx, raw); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", errEgress, shorten(raw), err)
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return nil, fmt.Errorf("%w: %q carries credentials", errEgress, shorten(raw))
	}
	return u, nil
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool { return egress.IsLoopback(strings.Trim(host, "[]")) }

// hostIsInternal reports whether host is localhost or a literal address
// that is not public. Host names are not resolved: a resource whose
// Issuer is a name counts as public.
func hostIsInternal(host string) bool {
	if isLoopbackHost(host) {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && egress.InternalAddr(a)
}

// lookupFunc resolves a host name; tests replace it.
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// guardedDialer dials only addresses the egress rules allow.
type guardedDialer struct {
	dialer        net.Dialer
	lookup        lookupFunc
	allowInternal bool
}

func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		addrs = []netip.Addr{a}
	} else {
		lookup := d.lookup
		if lookup == nil {
			lookup = net.DefaultResolver.LookupNetIP
		}
		if addrs, err = lookup(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	var last error = fmt.Errorf("%w: %s resolves to no address", errEgress, shorten(host))
	for _, a := range addrs {
		if !d.allowInternal && egress.InternalAddr(a) {
			last = fmt.Errorf("%w: %s is on a non-public address", errEgress, shorten(host))
			continue
		}
		c, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
