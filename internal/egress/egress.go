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
// addresses, or trusted is itself on a private network. It is Target
// without the context.
func CheckHost(ctx context.Context, trusted, target *url.URL) error {
	_, err := Target(ctx, trusted, target)
	return err
}

type publicOnlyKey struct{}

// WithPublicOnly returns ctx marked with whether the connections of the
// requests made under it may reach public addresses only. RoundTrip
// enforces the mark when it dials.
func WithPublicOnly(ctx context.Context, publicOnly bool) context.Context {
	if v, ok := ctx.Value(publicOnlyKey{}).(bool); v == publicOnly && (ok || !publicOnly) {
		return ctx // nothing changes: no new context
	}
	return context.WithValue(ctx, publicOnlyKey{}, publicOnly)
}

// Trusted returns ctx for requests to a URL the caller configured (its
// person server), which may be on any address: it drops a PublicOnly mark
// ctx inherited from a request a server steered.
func Trusted(ctx context.Context) context.Context { return WithPublicOnly(ctx, false) }

// PublicOnly reports whether connections made under ctx must reach public
// addresses only: ctx was marked so (see Target) and egress is not relaxed.
func PublicOnly(ctx context.Context) bool {
	v, _ := ctx.Value(publicOnlyKey{}).(bool)
	return v && !Insecure(ctx)
}

// Target decides whether target, named by the server at trusted (a URL
// the caller configured or called, or one reached under ctx's rule), may
// be fetched, and returns ctx carrying the rule target's connections are
// held to when they are dialled (see RoundTrip):
//
//   - on trusted's host, target is fetched under ctx's rule;
//   - otherwise target must resolve to public addresses only, and is
//     fetched under PublicOnly, unless trusted is itself on a private
//     network (and ctx is not already PublicOnly, which says trusted was
//     public when it was dialled): then target may be anywhere.
//
// The resolution here gives a clear early error; the rule in the context
// is what closes the window between it and the dial, in which a name may
// come to resolve elsewhere.
func Target(ctx context.Context, trusted, target *url.URL) (context.Context, error) {
	if Insecure(ctx) || strings.EqualFold(trusted.Hostname(), target.Hostname()) {
		return ctx, nil
	}
	internal, err := resolvesInternal(ctx, target.Hostname())
	if err != nil {
		return ctx, fmt.Errorf("%w: resolving %s: %v", ErrEgress, safetext.Clean(target.Hostname(), 256), err)
	}
	trustedInternal := false
	if !PublicOnly(ctx) {
		trustedInternal, err = resolvesInternal(ctx, trusted.Hostname())
		trustedInternal = trustedInternal && err == nil
	}
	switch {
	case trustedInternal:
		return WithPublicOnly(ctx, false), nil
	case internal:
		return ctx, fmt.Errorf("%w: %s is on a private network and %s is not", ErrEgress, safetext.Clean(target.Hostname(), 256), safetext.Clean(trusted.Hostname(), 256))
	}
	return WithPublicOnly(ctx, true), nil
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

// notPublic4 and notPublic6 are the special-purpose ranges (IANA's
// registries, RFC 6890) that netip's predicates do not name and that never
// reach a public host: this network, shared address space, protocol
// assignments, documentation, benchmarking, reserved; discard-only,
// documentation and the deprecated site-local range.
var (
	notPublic4 = prefixes("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4")
	notPublic6 = prefixes("::/96", "100::/64", "2001:db8::/32", "fec0::/10", "3fff::/20", "64:ff9b:1::/48")

	// Prefixes that embed the IPv4 address the packet ends up at: the
	// well-known NAT64 prefix (RFC 6052) in the last 32 bits, 6to4
	// (RFC 3056) in bits 16 to 47. The local-use NAT64 prefix (RFC 8215)
	// is internal by definition.
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
	// Teredo (RFC 4380) hides the client's IPv4 address: refused outright.
	teredo = netip.MustParsePrefix("2001::/32")
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// InternalAddr reports whether a is loopback, private, link-local,
// unspecified, multicast or otherwise not a public unicast address, looking
// through the IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4).
func InternalAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	if a.Is4() {
		return inAny(notPublic4, a)
	}
	b := a.As16()
	switch {
	case inAny(notPublic6, a), teredo.Contains(a):
		return true
	case nat64.Contains(a):
		return InternalAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixTo4.Contains(a):
		return InternalAddr(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return false
}
