package psclient

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/httpx"
)

// Header values longer than their caps are treated as malformed, never cut
// and parsed.
func TestHeaderCaps(t *testing.T) {
	now := time.Unix(1730217600, 0)
	if d, ok := parseRetryAfter(strings.Repeat("9", httpx.ShortHeaderMaxLen+1), now); ok || d != 0 {
		t.Errorf("oversized Retry-After: %v, %v", d, ok)
	}
	if d, ok := parseRetryAfter(strings.Repeat(" ", httpx.ShortHeaderMaxLen-1)+"7", now); !ok || d != 7*time.Second {
		t.Errorf("Retry-After at the cap: %v, %v", d, ok)
	}

	cc := http.Header{"Cache-Control": {"max-age=600", strings.Repeat("a", httpx.CacheControlMaxLen)}}
	if ttl := cacheLifetime(cc, now, time.Minute, time.Hour); ttl != 0 {
		t.Errorf("oversized Cache-Control cached for %v", ttl)
	}
	exp := http.Header{"Expires": {now.Add(time.Hour).UTC().Format(http.TimeFormat) + strings.Repeat(" ", httpx.ShortHeaderMaxLen)}}
	if ttl := cacheLifetime(exp, now, time.Minute, time.Hour); ttl != 0 {
		t.Errorf("oversized Expires cached for %v", ttl)
	}

	p, err := newPoller(http.DefaultClient, PollOptions{}, "https://ps.example/token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.resolve("/pending/"+strings.Repeat("p", httpx.LocationMaxLen), ""); !errors.Is(err, ErrLocation) {
		t.Errorf("oversized Location: %v", err)
	}
}

func TestCacheLifetime(t *testing.T) {
	now := time.Unix(1730217600, 0)
	date := now.UTC().Format(http.TimeFormat)
	def, max := 5*time.Minute, time.Hour
	cases := []struct {
		h    map[string]string
		want time.Duration
	}{
		{nil, def},
		{map[string]string{"Cache-Control": "max-age=60"}, time.Minute},
		{map[string]string{"Cache-Control": "private, max-age=\"120\""}, 2 * time.Minute},
		{map[string]string{"Cache-Control": "max-age=60", "Age": "20"}, 40 * time.Second},
		{map[string]string{"Cache-Control": "max-age=60", "Age": "90"}, 0},
		{map[string]string{"Cache-Control": "max-age=999999999999999"}, max},
		{map[string]string{"Cache-Control": "max-age=-1"}, 0},
		{map[string]string{"Cache-Control": "max-age=soon"}, 0},
		{map[string]string{"Cache-Control": "no-cache"}, 0},
		{map[string]string{"Cache-Control": "max-age=60, No-Store"}, 0},
		{map[string]string{"Expires": now.Add(10 * time.Minute).UTC().Format(http.TimeFormat)}, 10 * time.Minute},
		{map[string]string{"Expires": now.Add(10 * time.Minute).UTC().Format(http.TimeFormat), "Date": now.Add(-time.Minute).UTC().Format(http.TimeFormat)}, 11 * time.Minute},
		{map[string]string{"Expires": "0", "Date": date}, 0},
		{map[string]string{"Expires": now.Add(-time.Minute).UTC().Format(http.TimeFormat)}, 0},
		{map[string]string{"Expires": now.Add(48 * time.Hour).UTC().Format(http.TimeFormat)}, max},
		{map[string]string{"Cache-Control": "max-age=30", "Expires": now.Add(48 * time.Hour).UTC().Format(http.TimeFormat)}, 30 * time.Second},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.h {
			h.Set(k, v)
		}
		if got := cacheLifetime(h, now, def, max); got != c.want {
			t.Errorf("%v: %v, want %v", c.h, got, c.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Unix(1730217600, 0)
	cases := []struct {
		v  string
		d  time.Duration
		ok bool
	}{
		{"", 0, false},
		{"  ", 0, false},
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"1.5", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1e3", 0, false},
		{"9223372036", 9223372036 * time.Second, true},
		{"9223372037", 1<<63 - 1, true},
		{"99999999999999999999999999", 1<<63 - 1, true},
		{now.Add(time.Minute).UTC().Format(http.TimeFormat), time.Minute, true},
		{now.Add(time.Minute).UTC().Format(time.RFC850), time.Minute, true},
		{now.Add(time.Minute).UTC().Format(time.ANSIC), time.Minute, true},
		{now.Add(-time.Minute).UTC().Format(http.TimeFormat), 0, true},
		{"Tue, 32 Foo 2026 25:00:00 GMT", 0, false},
	}
	for _, c := range cases {
		d, ok := parseRetryAfter(c.v, now)
		if d != c.d || ok != c.ok {
			t.Errorf("%q: %v %v, want %v %v", c.v, d, ok, c.d, c.ok)
		}
	}
}
