package egress

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"testing"
)

// fakeDNS makes the egress checks resolve names from a table.
func fakeDNS(t *testing.T, table map[string]string) {
	t.Helper()
	t.Cleanup(SetResolverForTest(TableResolver(table)))
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
		err := CheckHost(bg, u(c.trusted), u(c.target))
		if (err == nil) != c.ok {
			t.Errorf("%s → %s: %v, want ok=%v", c.trusted, c.target, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrEgress) {
			t.Errorf("%s → %s: %v is not ErrEgress", c.trusted, c.target, err)
		}
		if err := CheckHost(WithInsecure(bg), u(c.trusted), u(c.target)); err != nil {
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
		if err := CheckSecureURL(bg, raw); (err == nil) != ok {
			t.Errorf("CheckSecureURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
	if err := CheckSecureURL(WithInsecure(bg), "http://ps.internal:8080/"); err != nil {
		t.Errorf("insecure egress refused http: %v", err)
	}
}

// Every special-purpose range is internal, including IPv4 addresses reached
// through the IPv6 forms that embed them; public addresses in those forms
// are not.
func TestInternalAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		internal bool
	}{
		{"93.184.216.34", false},
		{"2606:2800:220:1:248:1893:25c8:1946", false},
		{"127.0.0.1", true},
		{"10.1.2.3", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"0.1.2.3", true},
		{"192.0.0.8", true},
		{"192.0.2.1", true},
		{"198.18.0.1", true},
		{"198.51.100.7", true},
		{"203.0.113.9", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"224.0.0.1", true},
		{"::1", true},
		{"::", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:93.184.216.34", false},
		{"::127.0.0.1", true}, // IPv4-compatible, deprecated
		{"fe80::1", true},
		{"fc00::1", true},
		{"fec0::1", true},
		{"2001:db8::1", true},
		{"3fff::1", true},
		{"100::1", true},
		{"64:ff9b::7f00:1", true},                      // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true},                   // NAT64 of 169.254.169.254
		{"64:ff9b::5db8:d822", false},                  // NAT64 of 93.184.216.34
		{"64:ff9b:1::5db8:d822", true},                 // local-use NAT64
		{"2002:7f00:1::1", true},                       // 6to4 of 127.0.0.1
		{"2002:a01:203::1", true},                      // 6to4 of 10.1.2.3
		{"2002:5db8:d822::1", false},                   // 6to4 of 93.184.216.34
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true}, // Teredo
	} {
		a := netip.MustParseAddr(c.addr)
		if got := InternalAddr(a); got != c.internal {
			t.Errorf("InternalAddr(%s) = %v, want %v", c.addr, got, c.internal)
		}
	}
}
