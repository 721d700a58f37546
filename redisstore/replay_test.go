package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth/redisstore"
)

// wantSeen fails t unless r.Seen(key, exp) answers want, without error.
func wantSeen(t *testing.T, what string, r *redisstore.ReplayStore, key string, exp time.Time, want bool) {
	t.Helper()
	seen, err := r.Seen(context.Background(), key, exp)
	if err != nil || seen != want {
		t.Fatalf("%s: Seen(%s) = %v, %v; want %v", what, key, seen, err, want)
	}
}

func TestReplaySeen(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	r := f.store.Replay()
	other := f.open(t, redisstore.Options{}).Replay() // another replica
	exp := f.clock.Now().Add(time.Minute)
	check := func(what string, r *redisstore.ReplayStore, key string, want bool) {
		t.Helper()
		wantSeen(t, what, r, key, exp, want)
	}
	check("first", r, "sig-1", false)
	check("again", r, "sig-1", true)
	check("at another replica", other, "sig-1", true)
	check("another signature", other, "sig-2", false)

	// Kept for the rest of the window plus ClockSkew, by PX: Redis's
	// clock plays no part.
	want := time.Minute + redisstore.DefaultClockSkew
	if ttl := f.raw.PTTL(ctx, redisKey("replay", "sig-1")).Val(); ttl > want || ttl < want-10*time.Second {
		t.Fatalf("PTTL %v, want about %v", ttl, want)
	}
	// A signature whose window is over by the store's clock (the
	// resource's clock accepted it) is still kept for ClockSkew.
	if seen, err := r.Seen(ctx, "sig-3", f.clock.Now().Add(-time.Second)); seen || err != nil {
		t.Fatalf("Seen at the end of the window: %v, %v", seen, err)
	}
	if ttl := f.raw.PTTL(ctx, redisKey("replay", "sig-3")).Val(); ttl <= 0 || ttl > redisstore.DefaultClockSkew {
		t.Fatalf("PTTL at the end of the window: %v", ttl)
	}
}

// TestReplayExpires: once its window (and ClockSkew) is over, Redis
// forgets a signature, and the same key is new again.
func TestReplayExpires(t *testing.T) {
	f := newFixture(t, redisstore.Options{ClockSkew: time.Millisecond})
	ctx := context.Background()
	r := f.store.Replay()
	if seen, _ := r.Seen(ctx, "sig", f.clock.Now().Add(20*time.Millisecond)); seen {
		t.Fatal("new signature seen")
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.raw.Exists(ctx, redisKey("replay", "sig")).Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatal("the signature outlived its window")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if seen, err := r.Seen(ctx, "sig", f.clock.Now().Add(time.Minute)); seen || err != nil {
		t.Fatalf("after expiry: %v, %v", seen, err)
	}
}

// TestReplayOnceAcrossReplicas: one signature presented at once to many
// replicas (stores on their own connections) is new to exactly one.
func TestReplayOnceAcrossReplicas(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	stores := []*redisstore.ReplayStore{f.store.Replay()}
	for range 3 {
		stores = append(stores, f.open(t, redisstore.Options{}).Replay())
	}
	exp := f.clock.Now().Add(time.Minute)
	for round := range 5 {
		key := "sig-" + string(rune('a'+round))
		var fresh, failed atomic.Int32
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				seen, err := stores[i%len(stores)].Seen(context.Background(), key, exp)
				if err != nil {
					failed.Add(1)
				} else if !seen {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		if fresh.Load() != 1 || failed.Load() != 0 {
			t.Fatalf("round %d: %d of 32 saw the signature as new, %d failed; want exactly 1 and 0", round, fresh.Load(), failed.Load())
		}
	}
}

// TestReplayNotOurs: whatever is under a replay key, it counts as seen:
// the request is refused, and the value is left alone.
func TestReplayNotOurs(t *testing.T) {
	cases := map[string]planter{
		"a string": func(ctx context.Context, r *redis.Client, k string) error { return r.Set(ctx, k, "x", 0).Err() },
		"a list":   func(ctx context.Context, r *redis.Client, k string) error { return r.RPush(ctx, k, "x").Err() },
		"a hash":   func(ctx context.Context, r *redis.Client, k string) error { return r.HSet(ctx, k, "f", "x").Err() },
	}
	f := newFixture(t, redisstore.Options{})
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			k := redisKey("replay", "sig")
			before := f.plantAt(t, k, plant)
			seen, err := f.store.Replay().Seen(ctx, "sig", f.clock.Now().Add(time.Minute))
			if !seen || err != nil {
				t.Fatalf("Seen: %v, %v; want true", seen, err)
			}
			if dump(t, f.raw, k) != before {
				t.Fatal("the value changed")
			}
		})
	}
}

// TestReplayOutageFailClosed: by default, with Redis down, Seen fails
// (the resource answers 503) until Redis answers again.
func TestReplayOutageFailClosed(t *testing.T) {
	f := newFixture(t, redisstore.Options{RetryAfter: time.Minute})
	ctx := context.Background()
	r := f.store.Replay()
	exp := f.clock.Now().Add(time.Minute)
	if seen, err := r.Seen(ctx, "before", exp); seen || err != nil {
		t.Fatalf("Redis up: %v, %v", seen, err)
	}
	f.srv.Stop()
	for _, key := range []string{"before", "during", "during"} {
		seen, err := r.Seen(ctx, key, exp)
		if !errors.Is(err, redisstore.ErrUnavailable) || seen {
			t.Fatalf("Redis down, Seen(%s): %v, %v; want an ErrUnavailable error", key, seen, err)
		}
		if strings.Count(err.Error(), "aauth:") != 1 {
			t.Fatalf("error prefixes: %v", err)
		}
	}
	if n := f.ev.Count(redisstore.StepUnavailable); n != 1 {
		t.Fatalf("%d unavailable events, want 1", n)
	}
	f.srv.Restart()
	f.clock.Advance(2 * time.Minute)
	if seen, err := r.Seen(ctx, "after", f.clock.Now().Add(time.Minute)); seen || err != nil {
		t.Fatalf("Redis back: %v, %v", seen, err)
	}
	if n := f.ev.Count(redisstore.StepAvailable); n != 1 {
		t.Fatalf("%d available events, want 1", n)
	}
}

// TestReplayOutageLocalOnly: with LocalOnly, a replica whose Redis is
// down refuses what it saw itself (before the outage too), and accepts
// what only another replica saw: the documented cost of the mode.
func TestReplayOutageLocalOnly(t *testing.T) {
	opts := redisstore.Options{RetryAfter: time.Minute, ReplayOutage: redisstore.LocalOnly}
	f := newFixture(t, opts)
	r, other := f.store.Replay(), f.open(t, opts).Replay()
	exp := f.clock.Now().Add(time.Minute)
	check := func(what string, r *redisstore.ReplayStore, key string, want bool) {
		t.Helper()
		wantSeen(t, what, r, key, exp, want)
	}
	check("Redis up", r, "before", false)
	f.srv.Stop()
	check("Redis down, seen here before the outage", r, "before", true)
	check("Redis down, new", r, "during", false)
	check("Redis down, again here", r, "during", true)
	check("Redis down, at another replica", other, "during", false)
	if n := f.ev.Count(redisstore.StepUnavailable); n != 2 {
		t.Fatalf("%d unavailable events, want 2 (one per replica)", n)
	}

	f.srv.Restart() // empty
	f.clock.Advance(2 * time.Minute)
	exp = f.clock.Now().Add(time.Minute) // else kept for ClockSkew only
	check("Redis back, seen here before", r, "before", true)
	check("Redis back, new", r, "after", false)
	check("Redis back, at another replica", other, "after", true)
}
