package resource

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestCachedTokenStillChecked: a token kept taken apart is still checked
// on every request: revocation, expiry and trust.
func TestCachedTokenStillChecked(t *testing.T) {
	var revoked, distrust atomic.Bool
	w := newWorld(t, func(rs *Resource) {
		rs.Revoked = func(context.Context, string, string) bool { return revoked.Load() }
		rs.AgentProviders = func(string) bool { return !distrust.Load() }
	})
	at := w.agentToken(map[string]any{"exp": w.clock.Now().Add(10 * time.Minute).Unix()})
	wantStatus(t, w.do("GET", "/a", "", at), http.StatusOK, "")
	c, _ := w.rs.config()
	if c.tokens.get(at) == nil {
		t.Fatal("the verified token was not kept")
	}
	wantStatus(t, w.do("GET", "/b", "", at), http.StatusOK, "")
	revoked.Store(true)
	wantStatus(t, w.do("GET", "/c", "", at), http.StatusUnauthorized, "revoked_jwt")
	revoked.Store(false)
	distrust.Store(true)
	wantStatus(t, w.do("GET", "/d", "", at), http.StatusUnauthorized, "invalid_jwt")
	distrust.Store(false)
	w.clock.Advance(11 * time.Minute)
	wantStatus(t, w.do("GET", "/e", "", at), http.StatusUnauthorized, "expired_jwt")
}

// TestTokenCacheKeepsOnlyVerified: a token whose signature fails is not
// kept, and the cache is bounded.
func TestTokenCacheKeepsOnlyVerified(t *testing.T) {
	w := newWorld(t, nil)
	forged := handToken(map[string]any{"alg": "Ed25519", "typ": typAgent, "kid": w.ap.kid}, w.agentClaims(), func([]byte) []byte { return make([]byte, 64) })
	wantStatus(t, w.do("GET", "/a", "", forged), http.StatusUnauthorized, "invalid_jwt")
	c, _ := w.rs.config()
	if c.tokens.get(forged) != nil {
		t.Fatal("a token that failed was kept")
	}
	for i := range 3 * maxCachedTokens {
		c.tokens.put(&token{raw: randomID(8) + string(rune('a'+i%26))})
	}
	c.tokens.mu.RLock()
	n := len(c.tokens.m)
	c.tokens.mu.RUnlock()
	if n > maxCachedTokens {
		t.Errorf("%d tokens kept, at most %d", n, maxCachedTokens)
	}
	c.tokens.put(&token{raw: string(make([]byte, maxCachedTokenLen+1))})
	if c.tokens.get(string(make([]byte, maxCachedTokenLen+1))) != nil {
		t.Error("an oversized token was kept")
	}
}
