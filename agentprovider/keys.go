package agentprovider

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/keys"
)

// Keys is a KeySource for an agent that is its own agent provider:
// it holds an ephemeral Ed25519 signing key and an agent token for it,
// issued by Issuer, and replaces both before the token expires.
//
// The first call to KeyMaterial mints a key and token. Later calls return
// them until the token is within RenewBefore of its expiry; then the next
// call mints a new key and token. Only one mint runs at a time: while it
// runs, other callers get the current material if it has not expired, and
// otherwise wait for the mint or for their context to end. If a renewal
// fails while the current token is still valid, the current material is
// returned and the next call tries again.
//
// Time comes from Issuer.Now. An Keys must not be copied after first
// use, and its fields must not change while it is in use.
type Keys struct {
	// Issuer mints the tokens. Required.
	Issuer *Issuer

	// Subject and PersonServer are the sub and ps of every token.
	Subject      string
	PersonServer string

	// ParentAgent, when set, is the parent_agent of every token: the Keys
	// are a sub-agent's, and Subject must be named under ParentAgent (see
	// TokenRequest.ParentAgent). Subagent sets it.
	ParentAgent string

	// Lifetime is the lifetime of each token; zero means Issuer's.
	Lifetime time.Duration

	// RenewBefore is how long before expiry a token is replaced. Zero
	// means 20% of the token's lifetime, as @aauth/local-keys does, or
	// the profile's refresh margin (5 minutes current, 60 seconds seed)
	// if that is longer and shorter than the lifetime.
	RenewBefore time.Duration

	mu      sync.Mutex
	cur     aauth.KeyMaterial
	expiry  time.Time
	renewAt time.Time
	minting chan struct{} // non-nil while a mint runs; closed when it ends
}

// KeyMaterial returns the current ephemeral key and agent token, minting
// new ones when needed.
func (a *Keys) KeyMaterial(ctx context.Context) (aauth.KeyMaterial, error) {
	if a == nil || a.Issuer == nil {
		return aauth.KeyMaterial{}, errors.New("aauth: agentprovider.Keys has no Issuer")
	}
	if a.RenewBefore < 0 {
		return aauth.KeyMaterial{}, errors.New("aauth: agentprovider.Keys.RenewBefore is negative")
	}
	for {
		if err := ctx.Err(); err != nil {
			return aauth.KeyMaterial{}, fmt.Errorf("aauth: agent keys: %w", err)
		}
		now := a.Issuer.now()
		a.mu.Lock()
		valid := a.cur.Signer != nil && now.Before(a.expiry)
		if valid && now.Before(a.renewAt) {
			m := a.cur
			a.mu.Unlock()
			return m, nil
		}
		if wait := a.minting; wait != nil {
			if valid {
				m := a.cur
				a.mu.Unlock()
				return m, nil
			}
			a.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return aauth.KeyMaterial{}, fmt.Errorf("aauth: agent keys: %w", ctx.Err())
			}
		}
		done := make(chan struct{})
		a.minting = done
		a.mu.Unlock()
		return a.mint(ctx, done)
	}
}

// mint makes a new key and token and installs them. The caller has set
// a.minting to done.
func (a *Keys) mint(ctx context.Context, done chan struct{}) (m aauth.KeyMaterial, err error) {
	var (
		expiry, renewAt time.Time
		ok              bool
	)
	// Deferred so that waiters are released even if a custom Signer panics.
	defer func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.minting = nil
		close(done)
		if ok {
			a.cur, a.expiry, a.renewAt = m, expiry, renewAt
			return
		}
		if err != nil && a.cur.Signer != nil && a.Issuer.now().Before(a.expiry) {
			m, err = a.cur, nil
		}
	}()

	key, err := keys.Generate()
	if err != nil {
		return aauth.KeyMaterial{}, err
	}
	start := a.Issuer.now()
	token, expiry, err := a.Issuer.Issue(ctx, TokenRequest{
		Subject:      a.Subject,
		Key:          key.Public(),
		PersonServer: a.PersonServer,
		Lifetime:     a.Lifetime,
		ParentAgent:  a.ParentAgent,
	})
	if err != nil {
		return aauth.KeyMaterial{}, err
	}
	lifetime := expiry.Sub(start)
	before := a.RenewBefore
	if before == 0 {
		before = lifetime / 5
		if margin := profile.For(a.Issuer.Profile).RefreshMargin; margin > before && margin < lifetime {
			before = margin
		}
	}
	renewAt = expiry.Add(-before)
	ok = true
	return aauth.KeyMaterial{Signer: key, Key: aauth.JWT(token)}, nil
}
