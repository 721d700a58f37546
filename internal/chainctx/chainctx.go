// Package chainctx carries, in a request context, the upstream token of
// AAuth call chaining: the person or auth token a caller presented on a
// request a server is serving, which a Transport making requests for that
// caller sends as upstream_token. The resource middleware sets it; the
// root package's WithUpstream too; the Transport reads it. The value also
// holds the budget of person-server requests made under it, shared by
// every goroutine using the context. It imports nothing of this module.
package chainctx

import (
	"context"
	"sync"
	"sync/atomic"
)

type key struct{}

// Upstream is the upstream token of one served request.
type Upstream struct {
	// Token is the token the caller presented.
	Token string

	spent atomic.Int32 // person-server requests made under it

	once   sync.Once
	parsed any // what the Transport read of Token, once
}

// With returns ctx carrying token as its upstream token, with a fresh
// budget; "" returns ctx without one. It costs one allocation: servers
// call it for every request they serve.
func With(ctx context.Context, token string) context.Context {
	c := &upstreamCtx{Context: ctx, removed: token == ""}
	c.up.Token = token
	return c
}

// WithValue is context.WithValue(With(ctx, token), k, v) in one
// allocation, for a server that stores its caller and the caller's token
// for every request it serves. k must be comparable.
func WithValue(ctx context.Context, k, v any, token string) context.Context {
	c := &upstreamCtx{Context: ctx, removed: token == "", k: k, v: v}
	c.up.Token = token
	return c
}

// upstreamCtx is a context carrying an Upstream (and one other value), in
// one allocation.
type upstreamCtx struct {
	context.Context
	up      Upstream
	removed bool
	k, v    any
}

func (c *upstreamCtx) Value(k any) any {
	if _, ok := k.(key); ok {
		if c.removed {
			return (*Upstream)(nil)
		}
		return &c.up
	}
	if c.k != nil && k == c.k {
		return c.v
	}
	return c.Context.Value(k)
}

// From returns the upstream token ctx carries, or nil.
func From(ctx context.Context) *Upstream {
	u, _ := ctx.Value(key{}).(*Upstream)
	return u
}

// Spend counts one person-server request under u and reports whether it
// stays within limit.
func (u *Upstream) Spend(limit int) bool {
	return int(u.spent.Add(1)) <= limit
}

// Parsed returns what parse makes of u.Token, computed once per Upstream.
func (u *Upstream) Parsed(parse func(token string) any) any {
	u.once.Do(func() { u.parsed = parse(u.Token) })
	return u.parsed
}
