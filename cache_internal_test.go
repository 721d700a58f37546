package aauth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

func cacheHas(c *MemoryCache, ctx context.Context, key string) bool {
	tok, err := c.Token(ctx, key)
	return err == nil && tok != nil
}

// A full cache evicts one token, the least recently used, never all.
func TestMemoryCacheEvictsOne(t *testing.T) {
	ctx := context.Background()
	c := &MemoryCache{MaxTokens: 100}
	for i := 0; i < 100; i++ {
		c.SetToken(ctx, fmt.Sprint("k", i), &psclient.Token{Value: "v"})
	}
	for i := 0; i < 100; i += 2 {
		cacheHas(c, ctx, fmt.Sprint("k", i))
	}
	c.SetToken(ctx, "new", &psclient.Token{Value: "v"})
	if n := c.Len(); n != 100 {
		t.Fatalf("len %d after one more than the bound", n)
	}
	for i := 0; i < 100; i += 2 {
		if !cacheHas(c, ctx, fmt.Sprint("k", i)) {
			t.Errorf("k%d was read and is evicted", i)
		}
	}
	if !cacheHas(c, ctx, "new") {
		t.Error("the token just stored is evicted")
	}
}

// An expired token goes first, by the cache's clock.
func TestMemoryCacheEvictsExpiredFirst(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := &MemoryCache{MaxTokens: 4, Now: func() time.Time { return now }}
	c.SetToken(ctx, "expired", &psclient.Token{Value: "v", Expiry: now.Add(-time.Second)})
	for i := 0; i < 3; i++ {
		c.SetToken(ctx, fmt.Sprint("k", i), &psclient.Token{Value: "v", Expiry: now.Add(time.Hour)})
	}
	cacheHas(c, ctx, "expired") // read: it would survive a plain LRU
	c.SetToken(ctx, "new", &psclient.Token{Value: "v"})
	if cacheHas(c, ctx, "expired") {
		t.Error("the expired token was kept")
	}
	for i := 0; i < 3; i++ {
		if !cacheHas(c, ctx, fmt.Sprint("k", i)) {
			t.Errorf("k%d evicted while an expired token was there", i)
		}
	}
	// Still returned while there is room: the Transport judges expiry.
	c.SetToken(ctx, "expired", &psclient.Token{Value: "v", Expiry: now.Add(-time.Second)})
	if !cacheHas(c, ctx, "expired") {
		t.Error("an expired token stored is not returned")
	}
}

// Tokens stored for redirect-reached requests take at most a quarter of the
// cache and never evict the caller's; one the caller reads is kept.
func TestMemoryCacheProbation(t *testing.T) {
	ctx := context.Background()
	redirected := withProbation(ctx)
	c := &MemoryCache{MaxTokens: 64}
	for i := 0; i < 60; i++ {
		c.SetToken(ctx, fmt.Sprint("caller", i), &psclient.Token{Value: "v"})
	}
	c.SetToken(redirected, "adopted", &psclient.Token{Value: "v"})
	cacheHas(c, ctx, "adopted")
	for i := 0; i < 5000; i++ {
		c.SetToken(redirected, fmt.Sprint("flood", i), &psclient.Token{Value: "v"})
		cacheHas(c, redirected, fmt.Sprint("flood", i))
	}
	for i := 0; i < 60; i++ {
		if !cacheHas(c, ctx, fmt.Sprint("caller", i)) {
			t.Errorf("caller%d evicted by the flood", i)
		}
	}
	if !cacheHas(c, ctx, "adopted") {
		t.Error("a token the caller read was evicted by the flood")
	}
	if n := c.Len(); n > 64 {
		t.Errorf("len %d, bound 64", n)
	}
}

func TestMemoryCacheDefaultBound(t *testing.T) {
	var c MemoryCache
	if got := c.tokens().Max(); got != DefaultMaxTokens {
		t.Fatalf("bound %d, want %d", got, DefaultMaxTokens)
	}
}

// Long tokens count for more: the cache's memory is bounded, not only the
// number of its tokens.
func TestMemoryCacheWeighsLongTokens(t *testing.T) {
	ctx := context.Background()
	c := &MemoryCache{MaxTokens: 30}
	long := &psclient.Token{Value: string(make([]byte, 2*tokenUnit))} // counts as 3
	for i := 0; i < 30; i++ {
		c.SetToken(ctx, fmt.Sprint("k", i), long)
	}
	if n := c.Len(); n != 10 {
		t.Fatalf("%d tokens of 8 KiB held, want 10", n)
	}
}
