package aauth

import (
	"context"
	"errors"
	"sync"

	"github.com/aauthgo/aauth/psclient"
)

// ErrNoToken is returned by a TokenCache that holds no token for a key.
var ErrNoToken = errors.New("aauth: no cached token")

// TokenCache stores the tokens a Transport obtains: auth tokens per
// (resource origin, person server, key), person tokens per (resource,
// mission, key) and session tokens per resource origin. Keys are opaque
// strings built by the Transport. A persistent implementation lets an agent
// reuse tokens across runs; the default is in memory.
//
// Implementations must be safe for concurrent use. The Transport never
// modifies a *Token it has stored or read.
type TokenCache interface {
	// Token returns the token stored under key, or ErrNoToken.
	Token(ctx context.Context, key string) (*psclient.Token, error)
	// SetToken stores tok under key, replacing any earlier token.
	SetToken(ctx context.Context, key string, tok *psclient.Token) error
	// DeleteToken removes the token under key; deleting a missing key is
	// not an error.
	DeleteToken(ctx context.Context, key string) error
}

// MemoryCache is an in-memory TokenCache. The zero value is ready to use.
type MemoryCache struct {
	mu sync.Mutex
	m  map[string]*psclient.Token
}

// maxMemoryTokens bounds a MemoryCache: an agent that talks to more
// resources than this starts over with an empty cache rather than grow
// without limit.
const maxMemoryTokens = 4096

// Token returns the token stored under key, or ErrNoToken.
func (c *MemoryCache) Token(_ context.Context, key string) (*psclient.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[key]; ok {
		return t, nil
	}
	return nil, ErrNoToken
}

// SetToken stores tok under key.
func (c *MemoryCache) SetToken(_ context.Context, key string, tok *psclient.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxMemoryTokens {
		c.m = make(map[string]*psclient.Token)
	}
	c.m[key] = tok
	return nil
}

// DeleteToken removes the token under key.
func (c *MemoryCache) DeleteToken(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// Len reports how many tokens the cache holds.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
