package psclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// A token endpoint on another host than the person server resolves to a
// public address when it is checked, and to loopback when the token
// request connects (a rebinding DNS, which the client's dialer consults):
// the connection is refused and nothing reaches the internal service. The
// client is a standalone SigningTransport over an *http.Transport.
func TestTokenEndpointRebinding(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer internal.Close()
	u, _ := url.Parse(internal.URL)
	lookup := func(_ context.Context, network, host string) ([]netip.Addr, error) {
		switch {
		case host == "ps.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		case host != "tokens.example":
			return nil, errors.New("no such host")
		case network == "ip":
			// The checks (of the metadata, then of the request) ask first.
			return []netip.Addr{netip.MustParseAddr("93.184.216.35")}, nil
		}
		// The dialer asks last, and is told loopback.
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	t.Cleanup(egress.SetResolverForTest(lookup))
	var dialled atomic.Int32
	pool := x509.NewCertPool()
	pool.AddCert(internal.Certificate())
	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"}, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, _ := net.SplitHostPort(addr)
		addrs, err := lookup(ctx, "ip4", host)
		if err != nil || len(addrs) == 0 || !addrs[0].IsLoopback() {
			return nil, errors.New("test network: no route to " + host)
		}
		dialled.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(addrs[0].String(), port))
	}}
	defer base.CloseIdleConnections()
	client := (&aauth.SigningTransport{
		Base:    base,
		Keys:    aauth.StaticKeys(psTestKey(), aauth.JWT(psTestAgentToken)),
		Profile: wire.ProfileCurrent,
		Now:     func() time.Time { return psTestT0 },
	}).Client()

	endpoint := "https://tokens.example:" + u.Port() + "/token"
	md := &psclient.Metadata{Issuer: "https://ps.example", AuthTokenEndpoint: endpoint, PersonTokenEndpoint: endpoint}
	_, err := psclient.ExchangeToken(context.Background(), client, psclient.ExchangeRequest{
		PersonServer:   "https://ps.example",
		Metadata:       md,
		ResourceToken:  "rt",
		PresentedToken: psTestAgentToken,
	})
	if !errors.Is(err, egress.ErrEgress) || !strings.Contains(err.Error(), "when connecting") {
		t.Fatalf("err = %v, want ErrEgress at the connection", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the internal service", hits.Load())
	}
	if dialled.Load() == 0 {
		t.Fatal("the dialer was not asked")
	}
}
