package psclient

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/httpx"
)

// Fuzz targets for the header values of a server's answer that the
// library parses and that have no target of their own: the caching headers
// of metadata, the Location of a 202, the Content-Type that decides
// whether a body is read as JSON, and the AAuth headers as several field
// lines.

func FuzzCacheLifetime(f *testing.F) {
	now := time.Unix(1796299200, 0)
	date := now.UTC().Format(http.TimeFormat)
	later := now.Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, s := range [][4]string{
		{"max-age=600", "", "", ""},
		{"max-age=600", "100", "", ""},
		{"max-age=600", "700", "", ""},
		{"public, max-age=\"60\"", "", "", date},
		{"no-store", "", later, date},
		{"no-cache, max-age=60", "", "", ""},
		{"max-age=-1", "", "", ""},
		{"max-age=99999999999999999999", "", "", ""},
		{"", "", later, date},
		{"", "", later, ""},
		{"", "", "0", ""},
		{"", "", "Thu, 01 Jan 1970 00:00:00 GMT", date},
		{"", "", "", ""},
		{"max-age=60," + strings.Repeat("x", 2000), "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, cc, age, expires, date string) {
		h := http.Header{}
		for _, line := range strings.Split(cc, "\n") {
			if line != "" {
				h.Add("Cache-Control", line)
			}
		}
		for k, v := range map[string]string{"Age": age, "Expires": expires, "Date": date} {
			if v != "" {
				h.Set(k, v)
			}
		}
		const def, max = 5 * time.Minute, time.Hour
		ttl := cacheLifetime(h, now, def, max)
		if ttl < 0 || ttl > max {
			t.Fatalf("ttl %v for %q", ttl, h)
		}
		for _, d := range strings.FieldsFunc(strings.ToLower(cc), func(r rune) bool { return r == ',' || r == '\n' }) {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			if name = strings.TrimSpace(name); (name == "no-store" || name == "no-cache") && ttl != 0 {
				t.Fatalf("%s cached for %v: %q", name, ttl, cc)
			}
		}
	})
}

func FuzzPollLocation(f *testing.F) {
	for _, s := range [][3]string{
		{"https://ps.example/aauth/token", "/aauth/pending/1", ""},
		{"https://ps.example/aauth/token", "pending/1", ""},
		{"https://ps.example/aauth/token", "https://ps.example:443/p#frag", ""},
		{"https://ps.example/aauth/token", "http://localhost:4000/aauth/pending/x", ""},
		{"https://ps.example/aauth/token", "//other.example/p", ""},
		{"https://ps.example/aauth/token", "https://PS.EXAMPLE./p", ""},
		{"https://ps.example/aauth/token", "javascript:alert(1)", ""},
		{"https://ps.example/aauth/token", "p2", "https://ps.example/aauth/pending/1"},
		{"https://ps.example/aauth/token", "/p", "::"},
		{"http://127.0.0.1:8080/data", "/pending/" + strings.Repeat("p", httpx.LocationMaxLen), ""},
		{"", "https://ps.example/p", ""},
		{"", "/relative", ""},
		{"not a url", "/p", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, base, loc, ref string) {
		p, err := newPoller(http.DefaultClient, PollOptions{}, base)
		if err != nil {
			return
		}
		before := p.base
		out, err := p.resolve(loc, ref)
		if err != nil {
			if !errors.Is(err, ErrLocation) {
				t.Fatalf("resolve(%q, %q) on %q: %v is not ErrLocation", loc, ref, base, err)
			}
			if len(err.Error()) > 1024 {
				t.Fatalf("message of %d bytes", len(err.Error()))
			}
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("resolved to %q, not a URL: %v", out, err)
		}
		if s := strings.ToLower(u.Scheme); s != "https" && s != "http" || u.Host == "" || u.Fragment != "" {
			t.Fatalf("resolved to %q", out)
		}
		if before != nil && !sameOrigin(u, before) {
			t.Fatalf("resolved %q on %q to %q, another origin", loc, base, out)
		}
	})
}
