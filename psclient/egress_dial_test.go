package psclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// A token endpoint on another host than the person server resolves to a
// public address when it is checked, and to loopback when the token
// request connects (a rebinding DNS): the request is refused at the
// connection, with the library's own dialer (the SigningTransport's Base
// is nil), and never reaches the internal service.
func TestTokenEndpointRebinding(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer internal.Close()
	u, _ := url.Parse(internal.URL)
	var dialled atomic.Int32
	t.Cleanup(egress.SetResolverForTest(func(_ context.Context, network, host string) ([]netip.Addr, error) {
		switch {
		case host == "ps.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		case host != "tokens.example":
			return nil, errors.New("no such host")
		case network == "ip6":
			return nil, nil
		case network == "ip":
			// The checks (of the metadata, then of the request) ask first.
			return []netip.Addr{netip.MustParseAddr("93.184.216.35")}, nil
		}
		// The dialer asks last, and is told loopback.
		dialled.Add(1)
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}))
	// http to tokens.example is refused before any check: the endpoint is
	// https, on the internal service's port (no TLS is reached).
	endpoint := "https://tokens.example:" + u.Port() + "/token"
	md := &psclient.Metadata{Issuer: "https://ps.example", AuthTokenEndpoint: endpoint, PersonTokenEndpoint: endpoint}
	_, err := psclient.ExchangeToken(context.Background(), psTestClient(wire.ProfileCurrent), psclient.ExchangeRequest{
		PersonServer:   "https://ps.example",
		Metadata:       md,
		ResourceToken:  "rt",
		PresentedToken: psTestAgentToken,
	})
	if !errors.Is(err, egress.ErrEgress) || !strings.Contains(err.Error(), "when connecting") {
		t.Fatalf("err = %v, want ErrEgress", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the internal service", hits.Load())
	}
	if dialled.Load() == 0 {
		t.Fatal("the dialer did not resolve the endpoint's name")
	}
}
