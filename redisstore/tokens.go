package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/tokenstore"
	"github.com/aauthgo/aauth/psclient"
)

// TokenCache is the aauth.TokenCache of a Store, and its
// aauth.TokenLocker. Get it from Store.Tokens.
type TokenCache struct {
	s *Store
	// local is this process's copy of the tokens it wrote or read, for
	// when Redis is unavailable.
	local aauth.MemoryCache
}

// Tokens returns the store's token cache.
func (s *Store) Tokens() *TokenCache { return s.tokens }

// ours is the Lua test, shared by the scripts below, that the value cur
// under KEYS[1] is an entry of this store for the cache key ARGV[1]: an
// envelope with our format marker and that key. cur is false when the key
// is missing, a table (an error reply) when it holds another type.
const ours = `
local function ours(cur)
	if type(cur) ~= 'string' then return false end
	local ok, v = pcall(cjson.decode, cur)
	return ok and type(v) == 'table' and v.format == '` + tokenstore.Format + `' and v.key == ARGV[1]
end
`

// setScript stores ARGV[2] under KEYS[1] for ARGV[3] milliseconds, unless
// something that is not ours is there. It returns 1, or 0 when it left
// the value alone.
var setScript = redis.NewScript(ours + `
local cur = redis.pcall('GET', KEYS[1])
if cur and not ours(cur) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// deleteScript deletes KEYS[1] when it holds an entry of ours. It returns
// 1 (deleted or missing), or 0 when it left the value alone.
var deleteScript = redis.NewScript(ours + `
local cur = redis.pcall('GET', KEYS[1])
if not cur then return 1 end
if not ours(cur) then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// Token returns the token stored under key, or an error matching
// aauth.ErrNoToken when there is none, or the value there is not an entry
// of this store (with a StepSkipped event). When Redis is unavailable it
// returns this process's copy, if it has one.
func (c *TokenCache) Token(ctx context.Context, key string) (*psclient.Token, error) {
	var data string
	err := c.s.do(ctx, func(ctx context.Context) error {
		var err error
		// GETRANGE bounds what a foreign value can make us read.
		data, err = c.s.client.GetRange(ctx, c.s.key("token", key), 0, tokenstore.MaxEnvelope).Result()
		return err
	})
	switch {
	case errors.Is(err, ErrUnavailable):
		if tok, lerr := c.local.Token(ctx, key); lerr == nil && (tok.Expiry.IsZero() || tok.Expiry.After(c.s.now())) {
			return tok, nil
		}
		var ue *unavailableError
		errors.As(err, &ue)
		return nil, &unavailableError{cause: ue.cause, miss: true}
	case isDataError(err):
		c.skipped(ctx, key, errors.New("a value of another type"))
		return nil, aauth.ErrNoToken
	case err != nil:
		return nil, err
	case data == "":
		c.local.DeleteToken(ctx, key)
		return nil, aauth.ErrNoToken
	}
	e, err := tokenstore.Unmarshal([]byte(data), key)
	if err != nil {
		c.skipped(ctx, key, err)
		return nil, aauth.ErrNoToken
	}
	tok := &psclient.Token{Value: e.Value, ExpiresIn: e.ExpiresIn, Expiry: e.Expiry}
	c.local.SetToken(ctx, key, tok)
	return tok, nil
}

// skipped reports a value that is not ours. It names the key's kind, not
// the key.
func (c *TokenCache) skipped(ctx context.Context, key string, why error) error {
	err := fmt.Errorf("%w: %s: %v", ErrForeign, c.s.key("token", key), why)
	c.s.emit(ctx, aauth.Event{Step: StepSkipped, Detail: "left the value of " + c.s.key("token", key) + " alone: " + why.Error(), Err: err})
	return err
}

// SetToken stores tok under key until the token expires (or, without an
// expiry, for Options.DefaultTTL). A token that has already expired is not
// stored, and removes the entry. A value there that is not an entry of
// this store is left alone and gives an error matching ErrForeign.
func (c *TokenCache) SetToken(ctx context.Context, key string, tok *psclient.Token) error {
	if tok == nil {
		return errors.New("aauth: redis store: nil token")
	}
	now := c.s.now()
	until := tok.Expiry
	if until.IsZero() {
		until = now.Add(c.s.opts.DefaultTTL)
	}
	ttl := until.Sub(now)
	if ttl < time.Millisecond {
		return c.DeleteToken(ctx, key)
	}
	data, err := tokenstore.Marshal(tokenstore.Entry{Key: key, Value: tok.Value, ExpiresIn: tok.ExpiresIn, Expiry: tok.Expiry, Until: until})
	if err != nil {
		return fmt.Errorf("aauth: redis store: refusing to store the token: %w", err)
	}
	c.local.SetToken(ctx, key, tok)
	return c.run(ctx, setScript, key, string(data), ttl.Milliseconds())
}

// DeleteToken removes the entry under key; a missing entry is not an
// error. A value there that is not an entry of this store is left alone
// and gives an error matching ErrForeign.
func (c *TokenCache) DeleteToken(ctx context.Context, key string) error {
	c.local.DeleteToken(ctx, key)
	return c.run(ctx, deleteScript, key)
}

// run runs a script that guards the token key of key, and turns its 0
// into an ErrForeign error.
func (c *TokenCache) run(ctx context.Context, script *redis.Script, key string, args ...any) error {
	var done int64
	err := c.s.do(ctx, func(ctx context.Context) error {
		var err error
		done, err = script.Run(ctx, c.s.client, []string{c.s.key("token", key)}, append([]any{key}, args...)...).Int64()
		return err
	})
	if err != nil {
		return err
	}
	if done == 0 {
		return c.skipped(ctx, key, errors.New("not an entry of this store"))
	}
	return nil
}

// renewScript extends the lease of KEYS[1] to ARGV[2] ms if ARGV[1]
// still holds it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes KEYS[1] if ARGV[1] still holds it: a holder whose
// lease ran out must not release the lock another has taken since.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// LockToken takes the lock on key's fetch, waiting while another process
// holds it, at most Options.LockWait (then ErrLockTimeout) and as long as
// ctx allows. The lock's lease is renewed until the returned func releases
// it; the func may be called more than once. When Redis is unavailable it
// returns an error matching ErrUnavailable at once.
func (c *TokenCache) LockToken(ctx context.Context, key string) (unlock func(), err error) {
	var idb [16]byte
	rand.Read(idb[:])
	l := &lock{c: c, key: c.s.key("lock", key), id: hex.EncodeToString(idb[:]), stop: make(chan struct{}), done: make(chan struct{})}
	err = tokenstore.Acquire(ctx, c.s.opts.LockWait, func() (bool, error) {
		var ok bool
		err := c.s.do(ctx, func(ctx context.Context) error {
			var err error
			ok, err = c.s.client.SetNX(ctx, l.key, l.id, c.s.opts.Lease).Result()
			return err
		})
		return ok, err
	}, func() {
		c.s.emit(ctx, aauth.Event{Step: StepLockWait, Detail: "another process is fetching this token; waiting for it"})
	})
	if err != nil {
		return nil, err
	}
	go l.renew()
	return l.release, nil
}

// lock is a held lock.
type lock struct {
	c       *TokenCache
	key, id string
	once    sync.Once
	stop    chan struct{} // closed by release
	done    chan struct{} // closed when renew returns
}

// renew extends the lease every third of it until released, or until the
// lock turns out to be lost.
func (l *lock) renew() {
	defer close(l.done)
	lease := l.c.s.opts.Lease
	t := time.NewTicker(lease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), lease/3)
		var held int64
		err := l.c.s.do(ctx, func(ctx context.Context) error {
			var err error
			held, err = renewScript.Run(ctx, l.c.s.client, []string{l.key}, l.id, lease.Milliseconds()).Int64()
			return err
		})
		cancel()
		if err == nil && held == 0 {
			l.c.s.emit(context.Background(), aauth.Event{Step: StepLockLost, Detail: "the lease of this process's fetch ran out; another process may fetch the same token"})
			return
		}
	}
}

// release stops the renewal and deletes the lock if it is still ours.
func (l *lock) release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		l.c.s.do(ctx, func(ctx context.Context) error {
			return releaseScript.Run(ctx, l.c.s.client, []string{l.key}, l.id).Err()
		})
	})
}
