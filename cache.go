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

// TokenLocker is implemented by a TokenCache that several processes share
// (github.com/aauthgo/aauth/filestore, github.com/aauthgo/aauth/redisstore)
// to keep them from fetching the same token at once. A Transport whose
// Tokens is a TokenLocker takes the lock on a token's key around each
// fetch of it and, once it holds the lock, looks in the cache again: the
// process that held the lock before may have stored the token meanwhile.
// Within one process, requests needing the same token already share one
// fetch.
//
// LockToken blocks until the caller holds the lock, ctx ends, or the
// implementation gives up waiting; unlock releases it and may be called
// more than once. A lock must not outlive a process that dies holding it
// (a lease, or a lock the kernel releases). When LockToken fails for
// another reason than ctx, the Transport fetches without the lock, and
// reports it in an event.
type TokenLocker interface {
	LockToken(ctx context.Context, key string) (unlock func(), err error)
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
