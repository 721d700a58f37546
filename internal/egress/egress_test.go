package egress

import (
	"context"
	"errors"
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
