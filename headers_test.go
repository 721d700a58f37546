package aauth

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
