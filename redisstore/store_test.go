package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/redisstore"
)

const (
	authKey    = "auth https://r.example https://ps.example jkt-1"
	sessionKey = "session https://r.example"
	secret     = "eyJhbGciOiJFZDI1NTE5In0.c2VjcmV0LXRva2Vu.c2ln" // must never leak
)

// newClock returns a settable clock starting at the real time (Redis
// expires keys by its own).
func newClock() *aauthtest.FakeClock { return aauthtest.NewFakeClock(time.Now()) }

// fixture is a test's Redis, a raw client on it, and a store with a
// settable clock.
type fixture struct {
	srv   *redisServer
	raw   *redis.Client
	clock *aauthtest.FakeClock
	ev    *storetest.Events
	store *redisstore.Store
	c     *redisstore.TokenCache
}

func newFixture(t *testing.T, opts redisstore.Options) *fixture {
	t.Helper()
	f := &fixture{srv: startRedis(t), clock: newClock(), ev: storetest.NewEvents(t, secret)}
	f.raw = newClient(f.srv.Addr)
	t.Cleanup(func() { f.raw.Close() })
	f.store = f.open(t, opts)
	f.c = f.store.Tokens()
	return f
}

// open opens another store on the fixture's Redis: another process.
func (f *fixture) open(t *testing.T, opts redisstore.Options) *redisstore.Store {
	rdb := newClient(f.srv.Addr)
	t.Cleanup(func() { rdb.Close() })
	if opts.Now == nil {
		opts.Now = f.clock.Now
	}
	if opts.OnEvent == nil {
		opts.OnEvent = f.ev.Add
	}
	return redisstore.New(rdb, opts)
}

func redisKey(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "aauth:" + kind + ":" + hex.EncodeToString(sum[:])
}

func noLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestSetGetDelete(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	if _, err := f.c.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("empty: %v", err)
	}
	exp := f.clock.Now().Add(time.Hour).Truncate(time.Second)
	if err := f.c.SetToken(ctx, authKey, &psclient.Token{Value: secret, ExpiresIn: 3600, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	other := f.open(t, redisstore.Options{}).Tokens() // another replica
	got, err := other.Token(ctx, authKey)
	if err != nil || got.Value != secret || got.ExpiresIn != 3600 || !got.Expiry.Equal(exp) {
		t.Fatalf("another replica reads %v, %v", got, err)
	}
	// The key is the hash; the value names the key.
	val, err := f.raw.Get(ctx, redisKey("token", authKey)).Result()
	if err != nil || !strings.Contains(val, `"format":"aauth-token/1"`) || !strings.Contains(val, `"key":"`+authKey+`"`) {
		t.Fatalf("stored %q, %v", val, err)
	}
	if err := other.DeleteToken(ctx, authKey); err != nil {
		t.Fatal(err)
	}
	if err := other.DeleteToken(ctx, authKey); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := f.c.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("after delete: %v", err)
	}
	// Options.Prefix keeps stores apart.
	a := f.open(t, redisstore.Options{Prefix: "a:"}).Tokens()
	a.SetToken(ctx, authKey, &psclient.Token{Value: "a", Expiry: exp})
	if _, err := f.c.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("prefixes share: %v", err)
	}
	if n, _ := f.raw.Exists(ctx, "a:token:"+strings.TrimPrefix(redisKey("token", authKey), "aauth:token:")).Result(); n != 1 {
		t.Fatal("prefix not used")
	}
	if err := f.c.SetToken(ctx, authKey, nil); err == nil {
		t.Fatal("stored a nil token")
	}
}

// TestExpiry: entries expire in Redis with the token (PX), or after
// DefaultTTL without an expiry.
func TestExpiry(t *testing.T) {
	f := newFixture(t, redisstore.Options{DefaultTTL: 90 * time.Minute})
	ctx := context.Background()
	f.c.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: f.clock.Now().Add(time.Hour)})
	f.c.SetToken(ctx, sessionKey, &psclient.Token{Value: "session"})
	for key, want := range map[string]time.Duration{authKey: time.Hour, sessionKey: 90 * time.Minute} {
		ttl, err := f.raw.PTTL(ctx, redisKey("token", key)).Result()
		if err != nil || ttl > want || ttl < want-time.Minute {
			t.Errorf("%s: PTTL %v, want about %v (%v)", key, ttl, want, err)
		}
	}
	// Redis drops it when the token expires.
	f.c.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: f.clock.Now().Add(20 * time.Millisecond)})
	deadline := time.Now().Add(5 * time.Second)
	for f.raw.Exists(ctx, redisKey("token", authKey)).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the entry outlived its token")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// An expired token is not stored, and removes the entry.
	f.c.SetToken(ctx, sessionKey, &psclient.Token{Value: "session", Expiry: f.clock.Now().Add(-time.Second)})
	if f.raw.Exists(ctx, redisKey("token", sessionKey)).Val() != 0 {
		t.Fatal("an expired token replaced nothing")
	}
}

// TestNotOurs puts under a token key what the store did not write: each
// is a miss with an event, and is never overwritten or deleted.
func TestNotOurs(t *testing.T) {
	until := `"until":"2099-06-01T00:00:00Z"`
	cases := map[string]planter{
		"garbage": func(ctx context.Context, r *redis.Client, k string) error {
			return r.Set(ctx, k, "\x00garbage "+secret, 0).Err()
		},
		"other format": func(ctx context.Context, r *redis.Client, k string) error {
			return r.Set(ctx, k, `{"format":"aauth-token/2","key":"`+authKey+`","value":"`+secret+`",`+until+`}`, 0).Err()
		},
		"other json": func(ctx context.Context, r *redis.Client, k string) error {
			return r.Set(ctx, k, `{"token":"`+secret+`"}`, 0).Err()
		},
		"other key": func(ctx context.Context, r *redis.Client, k string) error {
			return r.Set(ctx, k, `{"format":"aauth-token/1","key":"x","value":"`+secret+`",`+until+`}`, 0).Err()
		},
		"huge": func(ctx context.Context, r *redis.Client, k string) error {
			return r.Set(ctx, k, strings.Repeat("x", 1<<20), 0).Err()
		},
		"a list": func(ctx context.Context, r *redis.Client, k string) error { return r.RPush(ctx, k, secret).Err() },
		"a hash": func(ctx context.Context, r *redis.Client, k string) error { return r.HSet(ctx, k, "f", secret).Err() },
	}
	f := newFixture(t, redisstore.Options{})
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			k := redisKey("token", authKey)
			before := f.plantAt(t, k, plant)
			skips := f.ev.Count(redisstore.StepSkipped)
			step := func(what string, err error, want error) {
				t.Helper()
				noLeak(t, err)
				if !errors.Is(err, want) {
					t.Fatalf("%s: %v, want %v", what, err, want)
				}
				if skips++; f.ev.Count(redisstore.StepSkipped) != skips {
					t.Fatalf("%s: %d skipped events, want %d", what, f.ev.Count(redisstore.StepSkipped), skips)
				}
				if dump(t, f.raw, k) != before {
					t.Fatalf("%s changed the value", what)
				}
			}
			c := f.open(t, redisstore.Options{}).Tokens() // nothing in its local copy
			_, err := c.Token(ctx, authKey)
			step("Token", err, aauth.ErrNoToken)
			step("SetToken", c.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: f.clock.Now().Add(time.Hour)}), redisstore.ErrForeign)
			step("DeleteToken", c.DeleteToken(ctx, authKey), redisstore.ErrForeign)
		})
	}
}

// planter writes under k a value the store did not write.
type planter func(ctx context.Context, r *redis.Client, k string) error

// plantAt empties k, plants a value there, and returns its DUMP, to
// check later that the store left it alone.
func (f *fixture) plantAt(t *testing.T, k string, plant planter) string {
	t.Helper()
	f.raw.Del(context.Background(), k)
	if err := plant(context.Background(), f.raw, k); err != nil {
		t.Fatal(err)
	}
	return dump(t, f.raw, k)
}

func dump(t *testing.T, r *redis.Client, k string) string {
	d, err := r.Dump(context.Background(), k).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRefusesUnstorableTokens(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	for _, v := range []string{"", "a\r\nInjected: 1", strings.Repeat("a", 65<<10)} {
		err := f.c.SetToken(context.Background(), authKey, &psclient.Token{Value: v, Expiry: f.clock.Now().Add(time.Hour)})
		if err == nil || strings.Contains(err.Error(), "Injected") {
			t.Errorf("SetToken(%.20q): %v", v, err)
		}
	}
}

// TestOutage: with Redis stopped, nothing fails: Token answers from this
// process's copy or misses, writes report ErrUnavailable, one event says
// so, and Redis is left alone until RetryAfter; then it is used again.
func TestOutage(t *testing.T) {
	f := newFixture(t, redisstore.Options{RetryAfter: time.Minute})
	ctx := context.Background()
	exp := f.clock.Now().Add(time.Hour)
	if err := f.c.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: exp}); err != nil {
		t.Fatal(err)
	}
	f.srv.Stop()

	tok, err := f.c.Token(ctx, authKey)
	if err != nil || tok.Value != secret {
		t.Fatalf("Token from the local copy: %v, %v", tok, err)
	}
	_, err = f.c.Token(ctx, sessionKey)
	if !errors.Is(err, aauth.ErrNoToken) || !errors.Is(err, redisstore.ErrUnavailable) || strings.Count(err.Error(), "aauth:") != 1 {
		t.Fatalf("a miss while Redis is down: %v", err)
	}
	noLeak(t, err)
	if err := f.c.SetToken(ctx, sessionKey, &psclient.Token{Value: "session"}); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("SetToken: %v", err)
	}
	if tok, err := f.c.Token(ctx, sessionKey); err != nil || tok.Value != "session" {
		t.Fatalf("a token written during the outage: %v, %v", tok, err)
	}
	if _, err := f.c.LockToken(ctx, authKey); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("LockToken: %v", err)
	}
	if err := f.c.DeleteToken(ctx, sessionKey); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("DeleteToken: %v", err)
	}
	if n := f.ev.Count(redisstore.StepUnavailable); n != 1 {
		t.Fatalf("%d unavailable events, want 1", n)
	}
	// An expired local copy is not returned.
	f.clock.Advance(2 * time.Hour)
	if _, err := f.c.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("expired local copy: %v", err)
	}

	// Redis comes back (empty); the store uses it after RetryAfter.
	f.srv.Restart()
	if err := f.c.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: f.clock.Now().Add(time.Hour)}); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("within RetryAfter: %v", err)
	}
	f.clock.Advance(2 * time.Minute)
	if err := f.c.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: f.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("after RetryAfter: %v", err)
	}
	if n := f.ev.Count(redisstore.StepAvailable); n != 1 {
		t.Fatalf("%d available events, want 1", n)
	}
	if f.raw.Exists(ctx, redisKey("token", authKey)).Val() != 1 {
		t.Fatal("not written to Redis after the outage")
	}
	if n := f.ev.Count(redisstore.StepUnavailable); n != 1 {
		t.Fatalf("%d unavailable events, want 1", n)
	}
}
