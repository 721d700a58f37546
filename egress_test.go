package aauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// fakeDNS makes the egress checks resolve names from a table.
func fakeDNS(t *testing.T, table map[string]string) {
	t.Helper()
	restore := egress.SetResolverForTest(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	})
	t.Cleanup(restore)
}

// Metadata naming a token endpoint on a private network, when the person
// server is public, is refused before any token request.
func TestMetadataPrivateEndpointRefused(t *testing.T) {
	fakeDNS(t, map[string]string{"ps.example": "93.184.216.34", "internal.example": "10.0.0.7"})
	md := &PersonServerMetadata{
		Issuer:              "https://ps.example",
		AuthTokenEndpoint:   "https://internal.example/token",
		PersonTokenEndpoint: "https://ps.example/person",
	}
	err := md.check(context.Background(), "https://ps.example", "https://ps.example/.well-known/aauth-person.json", wire.ProfileCurrent)
	var me *MetadataError
	if !errors.As(err, &me) || me.Code != MetadataInvalidEndpoint || !errors.Is(err, ErrEgress) {
		t.Fatalf("error %v, want an invalid_endpoint MetadataError wrapping ErrEgress", err)
	}
}

var dialer net.Dialer

// A redirect from a public origin to a loopback or private address is not
// followed with the agent's signature.
func TestTransportRedirectEgress(t *testing.T) {
	var hits int
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer internal.Close()
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/admin", http.StatusFound)
	}))
	defer public.Close()
	fakeDNS(t, map[string]string{"public.example": "93.184.216.34"})
	// public.example is dialled at the local test server.
	base := &http.Transport{}
	base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "public.example:") {
			addr = strings.TrimPrefix(public.URL, "http://")
		}
		return dialer.DialContext(ctx, network, addr)
	}
	key, _ := keys.Generate()
	tr := &Transport{Base: base, Keys: StaticKeys(key, HWK())}
	port := public.URL[strings.LastIndexByte(public.URL, ':'):]
	_, err := tr.Client().Get("http://public.example" + port + "/start")
	if !errors.Is(err, ErrEgress) {
		t.Fatalf("error %v, want ErrEgress", err)
	}
	if hits != 0 {
		t.Error("the internal server was reached")
	}
	tr.InsecureEgress = true
	resp, err := tr.Client().Get("http://public.example" + port + "/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits != 1 {
		t.Error("InsecureEgress did not allow the redirect")
	}
}
