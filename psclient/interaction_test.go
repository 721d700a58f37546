package psclient_test

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

func TestCheckInteractionURL(t *testing.T) {
	for raw, scheme := range map[string]string{
		"https://ps.example/consent":              "",
		"HTTPS://ps.example:8443/consent?x=1#top": "",
		"http://127.0.0.1:8080/consent":           "",
		"http://localhost/consent":                "",
		"http://[::1]:9/consent":                  "",
		"http://app.localhost/consent":            "",

		"javascript:alert(document.cookie)":        "javascript",
		"JavaScript://%0aalert(1)":                 "javascript",
		"file:///etc/passwd":                       "file",
		"data:text/html,<script>alert(1)</script>": "data",
		"vbscript:msgbox":                          "vbscript",
		"http://ps.example/consent":                "http",
		"http://10.0.0.1/consent":                  "http",
		"https:opaque":                             "https",
		"https:///path-only":                       "https",
		"https://user:pass@ps.example/consent":     "https",
		"//ps.example/consent":                     "",
		"/consent":                                 "",
		"consent":                                  "",
		"":                                         "",
		"http://[::1/broken":                       "http",
		"ftp://ps.example/":                        "ftp",
		"chrome-extension://abcdef/page.html":      "chrome-extension",
		strings.Repeat("a", 40) + ":x":             strings.Repeat("a", 32) + "…",
		"ht\ttp://ps.example/":                     "",
		"https://ps.example/\x00":                  "https",
	} {
		err := psclient.CheckInteractionURL(raw)
		if strings.HasPrefix(strings.ToLower(raw), "http") && scheme == "" && !strings.Contains(raw, "\t") {
			if err != nil {
				t.Errorf("CheckInteractionURL(%q) = %v, want nil", raw, err)
			}
			continue
		}
		var ie *psclient.InteractionURLError
		if !errors.As(err, &ie) || !errors.Is(err, psclient.ErrInteraction) {
			t.Errorf("CheckInteractionURL(%q) = %v, want an *InteractionURLError matching ErrInteraction", raw, err)
			continue
		}
		if ie.Scheme != scheme {
			t.Errorf("CheckInteractionURL(%q): scheme %q, want %q", raw, ie.Scheme, scheme)
		}
		// The message names the scheme, never the URL.
		if rest := strings.TrimPrefix(raw, scheme+":"); len(rest) > 3 && strings.Contains(err.Error(), rest) {
			t.Errorf("CheckInteractionURL(%q): message %q shows the URL", raw, err)
		}
	}
}

// Polling refuses an interaction URL before OnInteraction sees it, and
// cancels the pending request; without OnInteraction too.
func TestPollRefusesInteractionURL(t *testing.T) {
	for _, p := range psProfiles {
		for _, withCallback := range []bool{true, false} {
			s := psPollServer(t, psInteraction("javascript:alert(1)", "AAAA1111", "pending"), psOK200)
			opts := psclient.PollOptions{Clock: psFake()}
			called := 0
			if withCallback {
				opts.OnInteraction = func(context.Context, string, string) error { called++; return nil }
			}
			_, err := psPoll(t, s, p, opts)
			var ie *psclient.InteractionURLError
			if !errors.As(err, &ie) || ie.Scheme != "javascript" || !errors.Is(err, psclient.ErrInteraction) {
				t.Fatalf("%s: err = %v", p, err)
			}
			if called != 0 {
				t.Errorf("%s: OnInteraction called", p)
			}
			if strings.Contains(err.Error(), "alert") {
				t.Errorf("%s: the message %q shows the URL", p, err)
			}
			if s.count("DELETE", "/pending/1") != 1 {
				t.Errorf("%s: pending request not cancelled: %+v", p, s.requests())
			}
		}
	}
}

// FuzzCheckInteractionURL: any text a server sends as an interaction URL is
// accepted only as https (or loopback http) with a host, and refused with a
// short error matching ErrInteraction that never quotes more than its
// scheme.
func FuzzCheckInteractionURL(f *testing.F) {
	for _, s := range []string{
		"https://ps.example/consent", "http://127.0.0.1:9/c", "http://localhost./c",
		"javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "//ps.example",
		"https://u@ps.example", "http://[::1]/", "http://[fe80::1%25eth0]/", "https:%2f%2fevil",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := psclient.CheckInteractionURL(raw)
		if err == nil {
			u, perr := url.Parse(raw)
			if perr != nil || u.Host == "" || u.User != nil || u.Opaque != "" {
				t.Fatalf("accepted %q", raw)
			}
			switch strings.ToLower(u.Scheme) {
			case "https":
			case "http":
				if h := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")); h != "localhost" && !strings.HasSuffix(h, ".localhost") {
					if a, err := netip.ParseAddr(h); err != nil || !a.IsLoopback() {
						t.Fatalf("accepted plain http to %q", u.Hostname())
					}
				}
			default:
				t.Fatalf("accepted scheme %q", u.Scheme)
			}
			return
		}
		if !errors.Is(err, psclient.ErrInteraction) {
			t.Fatalf("%q: %v does not match ErrInteraction", raw, err)
		}
		if n := len(err.Error()); n > 200 {
			t.Fatalf("%q: a message of %d bytes", raw, n)
		}
	})
}

// A relay hands the URL to the person server, which shows it to the
// person: the same rule, which relaxed egress does not loosen, and no
// request for a URL it refuses.
func TestRelayInteractionURL(t *testing.T) {
	for _, ctx := range []context.Context{context.Background(), egress.WithInsecure(context.Background())} {
		for raw, scheme := range map[string]string{
			"javascript:alert(1)":         "javascript",
			"http://consent.evil.example": "http",
			"file:///etc/passwd":          "file",
		} {
			_, err := psclient.RelayInteraction(ctx, psTestClient(wire.ProfileCurrent), psclient.InteractionRelay{
				PersonServer: "https://ps.invalid", URL: raw, Code: "ABCD1234",
			})
			var ie *psclient.InteractionURLError
			if !errors.As(err, &ie) || ie.Scheme != scheme || strings.Contains(err.Error(), raw) {
				t.Errorf("RelayInteraction(%q) = %v, want an *InteractionURLError naming %q only", raw, err, scheme)
			}
		}
	}
	_, err := psclient.RelayInteraction(context.Background(), psTestClient(wire.ProfileCurrent), psclient.InteractionRelay{
		PersonServer: "https://ps.invalid", URL: "https://consent.example/x?state=1", Code: "ABCD1234",
	})
	if err == nil || !strings.Contains(err.Error(), "no query or fragment") {
		t.Errorf("a relay URL with a query: %v", err)
	}
}
