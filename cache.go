package aauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/lru"
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
//
// It holds at most MaxTokens tokens, a token of 4 KiB or more counting as
// one more per 4 KiB, so that the bound is one on memory too: about 4 KiB
// per token. When full, it evicts an expired token if it
// meets one, else the token used least recently (approximately: see
// below), one at a time. Tokens stored or read for a request that an
// http.Client made to follow a redirect (the server chose the origin, not
// the caller) are on probation: they take at most a quarter of the cache,
// and a flood of them evicts only each other, never a token stored or read
// for a request the caller made itself. A token on probation that the
// caller's own request reads is protected from then on.
//
// Reads take no lock; recency is kept with a bit per token that a read
// sets, and that eviction (under the cache's lock, taken only to store and
// delete) clears as it gives the token a second chance.
type MemoryCache struct {
	// MaxTokens bounds the number of tokens held (long tokens count for
	// more, see above); zero means DefaultMaxTokens. It must not change
	// after first use.
	MaxTokens int

	// Now is the clock by which a token has expired, for eviction; nil
	// means time.Now. A token past its expiry is still returned: the
	// Transport decides what it presents by its own clock.
	Now func() time.Time

	once sync.Once
	m    *lru.Map[string, *psclient.Token]
}

// DefaultMaxTokens is the bound of a MemoryCache whose MaxTokens is zero:
// room for about 2,700 resources with an auth, a session and a person
// token each, in at most about 34 MB.
const DefaultMaxTokens = 8192

// tokenUnit is the length of token that counts as one more.
const tokenUnit = 4 << 10

func tokenWeight(tok *psclient.Token) int {
	if tok == nil {
		return 1
	}
	return 1 + len(tok.Value)/tokenUnit
}

func (c *MemoryCache) tokens() *lru.Map[string, *psclient.Token] {
	c.once.Do(func() {
		n := c.MaxTokens
		if n <= 0 {
			n = DefaultMaxTokens
		}
		c.m = lru.NewWeighted[string](n, tokenWeight, c.expired)
	})
	return c.m
}

func (c *MemoryCache) expired(tok *psclient.Token) bool {
	if tok == nil {
		return true
	}
	if tok.Expiry.IsZero() {
		return false
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return !tok.Expiry.After(now())
}

// Token returns the token stored under key, or ErrNoToken.
func (c *MemoryCache) Token(ctx context.Context, key string) (*psclient.Token, error) {
	if t, ok := c.tokens().Get(key, !onProbation(ctx)); ok {
		return t, nil
	}
	return nil, ErrNoToken
}

// SetToken stores tok under key.
func (c *MemoryCache) SetToken(ctx context.Context, key string, tok *psclient.Token) error {
	c.tokens().Put(key, tok, !onProbation(ctx))
	return nil
}

// DeleteToken removes the token under key.
func (c *MemoryCache) DeleteToken(_ context.Context, key string) error {
	c.tokens().Delete(key)
	return nil
}

// Len reports how many tokens the cache holds.
func (c *MemoryCache) Len() int { return c.tokens().Len() }

// inProcessCache is a TokenCache that only this process writes, through the
// Transports using it: a MemoryCache, or a type embedding one.
type inProcessCache interface{ inProcess() }

func (*MemoryCache) inProcess() {}

// probationKey marks the context of a request an http.Client made to follow
// a redirect: what is cached for it is on probation.
type probationKey struct{}

func withProbation(ctx context.Context) context.Context {
	return context.WithValue(ctx, probationKey{}, true)
}

func onProbation(ctx context.Context) bool {
	v, _ := ctx.Value(probationKey{}).(bool)
	return v
}
