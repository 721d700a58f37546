package aauth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// fakeDNS makes the egress checks resolve names from a table.
func fakeDNS(t *testing.T, table map[string]string) {
	t.Helper()
	old := lookupNetIP
	lookupNetIP = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	}
	t.Cleanup(func() { lookupNetIP = old })
}

func TestCheckEgressHost(t *testing.T) {
	fakeDNS(t, map[string]string{
		"ps.example":       "93.184.216.34",
		"other.example":    "93.184.216.35",
		"internal.example": "10.1.2.3",
		"meta.example":     "169.254.169.254",
		"ps.corp":          "192.168.1.10",
	})
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	bg := context.Background()
	for _, c := range []struct {
		trusted, target string
		ok              bool
	}{
		{"https://ps.example", "https://ps.example/token", true},
		{"https://ps.example", "https://other.example/token", true},
		{"https://ps.example", "https://internal.example/token", false},
		{"https://ps.example", "https://meta.example/latest", false},
		{"https://ps.example", "http://127.0.0.1:8080/", false},
		{"https://ps.example", "https://[::]/", false},
		{"https://ps.example", "https://0.0.0.0/", false},
		{"https://ps.example", "https://unresolvable.example/", false},
		{"https://ps.corp", "https://internal.example/token", true}, // the PS itself is internal
		{"http://127.0.0.1:1", "http://localhost:2/x", true},
	} {
		err := checkEgressHost(bg, u(c.trusted), u(c.target))
		if (err == nil) != c.ok {
			t.Errorf("%s → %s: %v, want ok=%v", c.trusted, c.target, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrEgress) {
			t.Errorf("%s → %s: %v is not ErrEgress", c.trusted, c.target, err)
		}
		if err := checkEgressHost(WithInsecureEgress(bg), u(c.trusted), u(c.target)); err != nil {
			t.Errorf("insecure egress still refused %s: %v", c.target, err)
		}
	}
}

func TestCheckSecureURL(t *testing.T) {
	bg := context.Background()
	for raw, ok := range map[string]bool{
		"https://ps.example/x":    true,
		"http://127.0.0.1:9/x":    true,
		"http://localhost/x":      true,
		"http://[::1]:8080/":      true,
		"http://ps.example/x":     false,
		"ftp://ps.example/":       false,
		"/relative":               false,
		"https:opaque":            false,
		"http://ps.example.local": false,
	} {
		if err := checkSecureURL(bg, raw); (err == nil) != ok {
			t.Errorf("checkSecureURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	if err := checkSecureURL(WithInsecureEgress(bg), "http://ps.internal:8080/"); err != nil {
		t.Errorf("insecure egress refused http: %v", err)
	}
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
	err := md.check(context.Background(), "https://ps.example", "https://ps.example/.well-known/aauth-person.json", ProfileCurrent)
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
	key, _ := GenerateKey()
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
