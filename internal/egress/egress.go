// Package egress decides which URLs the library fetches on a server's
// word: https (or loopback http), and no private network unless the server
// that named the URL is on one too. The public face of these checks is
// aauth.WithInsecureEgress and aauth.ErrEgress. It imports only
// internal/safetext of this module.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
)

// ErrEgress is returned when a server names a URL the library will not
// fetch on its word: plain http to a host that is not loopback, or a host
// on a private, loopback, link-local or unspecified address when the server
// that named it is not itself on such a network. It stops a hostile server
// from steering the agent, and its signed requests, at internal services.
var ErrEgress = errors.New("aauth: refused egress")

type insecureKey struct{}

// WithInsecure returns a context under which the egress checks are
// relaxed: any http URL and any address are accepted (see
// aauth.WithInsecureEgress).
func WithInsecure(ctx context.Context) context.Context {
	return context.WithValue(ctx, insecureKey{}, true)
}

// Insecure reports whether ctx relaxes the egress checks.
func Insecure(ctx context.Context) bool {
	v, _ := ctx.Value(insecureKey{}).(bool)
	return v
}

// CheckSecureURL accepts an absolute https URL, or http to a loopback host
// (for development and tests), or any http URL under WithInsecure.
func CheckSecureURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) || Insecure(ctx) {
			return nil
		}
	}
	return errors.New("not an https URL")
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// lookupNetIP resolves host names for the egress checks; tests replace it.
var lookupNetIP = net.DefaultResolver.LookupNetIP

// egressLookupTimeout bounds one egress resolution.
const egressLookupTimeout = 5 * time.Second

// CheckHost decides whether target, named by the server at trusted
// (a URL the caller configured or called), may be fetched: always when it
// is on trusted's host; otherwise only when target resolves to public
// addresses, or trusted is itself on a private network.
func CheckHost(ctx context.Context, trusted, target *url.URL) error {
	if Insecure(ctx) || strings.EqualFold(trusted.Hostname(), target.Hostname()) {
		return nil
	}
	internal, err := resolvesInternal(ctx, target.Hostname())
	if err != nil {
		return fmt.Errorf("%w: resolving %s: %v", ErrEgress, safetext.Clean(target.Hostname(), 256), err)
	}
	if !internal {
		return nil
	}
	if trustedInternal, err := resolvesInternal(ctx, trusted.Hostname()); err == nil && trustedInternal {
		return nil
	}
	return fmt.Errorf("%w: %s is on a private network and %s is not", ErrEgress, safetext.Clean(target.Hostname(), 256), safetext.Clean(trusted.Hostname(), 256))
}

// resolvesInternal reports whether host is, or resolves to, any address
// that is not public.
func resolvesInternal(ctx context.Context, host string) (bool, error) {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return InternalAddr(a), nil
	}
	if IsLoopback(host) {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, egressLookupTimeout)
	defer cancel()
	addrs, err := lookupNetIP(ctx, "ip", host)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if InternalAddr(a) {
			return true, nil
		}
	}
	return false, nil
}

var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")
)

// InternalAddr reports whether a is loopback, private, link-local,
// unspecified, multicast or otherwise not a public unicast address.
func InternalAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() ||
		(a.Is4() && (thisNetwork.Contains(a) || sharedCGNAT.Contains(a)))
}
