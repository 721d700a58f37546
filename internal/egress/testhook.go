package egress

import (
	"context"
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
