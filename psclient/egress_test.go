package psclient

import (
	"context"
	"errors"
	"testing"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/wire"
)

// fakeDNS makes the egress checks resolve names from a table.
func fakeDNS(t *testing.T, table map[string]string) {
	t.Helper()
	t.Cleanup(egress.SetResolverForTest(egress.TableResolver(table)))
}

// Metadata naming a token endpoint on a private network, when the person
// server is public, is refused before any token request.
func TestMetadataPrivateEndpointRefused(t *testing.T) {
	fakeDNS(t, map[string]string{"ps.example": "93.184.216.34", "internal.example": "10.0.0.7"})
	md := &Metadata{
		Issuer:              "https://ps.example",
		AuthTokenEndpoint:   "https://internal.example/token",
		PersonTokenEndpoint: "https://ps.example/person",
	}
	err := md.check(context.Background(), "https://ps.example", "https://ps.example/.well-known/aauth-person.json", wire.ProfileCurrent)
	var me *MetadataError
	if !errors.As(err, &me) || me.Code != MetadataInvalidEndpoint || !errors.Is(err, egress.ErrEgress) {
		t.Fatalf("error %v, want an invalid_endpoint MetadataError wrapping egress.ErrEgress", err)
	}
}
