package aauth

import (
	"context"
	"net/netip"
)

// SetEgressResolverForTest makes the egress checks resolve host names with
// f, for tests outside the package; the returned function restores the
// resolver. Tests that use it must not run in parallel with others.
func SetEgressResolverForTest(f func(ctx context.Context, network, host string) ([]netip.Addr, error)) (restore func()) {
	old := lookupNetIP
	lookupNetIP = f
	return func() { lookupNetIP = old }
}
