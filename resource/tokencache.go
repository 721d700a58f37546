package resource

import "sync"

// tokenCache keeps tokens taken apart, keyed by their exact text: an agent
// presents the same token on every request for up to an hour, and taking
// it apart (base64, JSON) is most of what verifying a request costs
// besides the two signatures. Only a token that verified completely is
// kept, so junk cannot push good ones out; its signature, times, trust and
// revocation are still checked on every request. It holds at most
// maxCachedTokens tokens of at most maxCachedTokenLen bytes; when full, a
// random one makes room.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]*token
}

const (
	maxCachedTokens   = 1024
	maxCachedTokenLen = 4 << 10
)

func (c *tokenCache) get(raw string) *token {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[raw]
}

// put keeps t, which must not be changed afterwards.
func (c *tokenCache) put(t *token) {
	if len(t.raw) > maxCachedTokenLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*token, 64)
	}
	if len(c.m) >= maxCachedTokens {
		for k := range c.m { // map order is random: a random victim
			delete(c.m, k)
			break
		}
	}
	c.m[t.raw] = t
}
