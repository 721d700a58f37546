package aauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/keys"
)

// fakeDNS makes the egress checks resolve names from a table.
func fakeDNS(t *testing.T, table map[string]string) {
	t.Helper()
	t.Cleanup(egress.SetResolverForTest(egress.TableResolver(table)))
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
