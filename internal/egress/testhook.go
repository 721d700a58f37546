package egress

import (
	"context"
	"errors"
	"net/netip"
)

// SetResolverForTest makes the egress checks resolve host names with f, for
// the tests of the packages that use them; the returned function restores
// the resolver. Tests that use it must not run in parallel with others.
func SetResolverForTest(f func(ctx context.Context, network, host string) ([]netip.Addr, error)) (restore func()) {
	old := lookupNetIP
	lookupNetIP = f
	return func() { lookupNetIP = old }
}

// TableResolver returns a resolver for SetResolverForTest that answers
// each host of table with its one address, and fails for any other host.
func TableResolver(table map[string]string) func(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	}
}
