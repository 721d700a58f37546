package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/redisstore"
)

func TestLockToken(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	unlock, err := f.c.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := f.raw.PTTL(ctx, redisKey("lock", authKey)).Val(); ttl <= 0 || ttl > redisstore.DefaultLease {
		t.Fatalf("lock PTTL %v, want a lease of at most %v", ttl, redisstore.DefaultLease)
	}
	other := f.open(t, redisstore.Options{}).Tokens() // another replica
	// Another key is not held up.
	u2, err := other.LockToken(ctx, sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	u2()
	// The other replica waits for the first.
	got := make(chan error, 1)
	go func() {
		u, err := other.LockToken(ctx, authKey)
		if err == nil {
			u()
		}
		got <- err
	}()
	for f.ev.Count(redisstore.StepLockWait) == 0 {
		select {
		case err := <-got:
			t.Fatalf("took a held lock: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	unlock()
	unlock() // twice is harmless
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if f.raw.Exists(ctx, redisKey("lock", authKey)).Val() != 0 {
		t.Fatal("the lock outlived its release")
	}
	// The wait ends with the context, and with LockWait.
	unlock, _ = f.c.LockToken(ctx, authKey)
	defer unlock()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := other.LockToken(cctx, authKey); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	short := f.open(t, redisstore.Options{LockWait: 20 * time.Millisecond}).Tokens()
	if _, err := short.LockToken(ctx, authKey); !errors.Is(err, redisstore.ErrLockTimeout) {
		t.Fatalf("LockWait: %v", err)
	}
}

// TestLockLeaseExpires: a lock whose holder is gone (nobody renews it) is
// free once its lease runs out.
func TestLockLeaseExpires(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := storetest.Context(t)
	k := redisKey("lock", authKey)
	// What a holder that died leaves: its id, its lease still running.
	if err := f.raw.Set(ctx, k, "dead-holder", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		unlock, err := f.c.LockToken(ctx, authKey)
		if err == nil {
			unlock()
		}
		got <- err
	}()
	waitFor(t, "the wait for the lock", func() bool { return f.ev.Count(redisstore.StepLockWait) == 1 })
	// The rest of the lease runs out.
	if err := f.raw.PExpire(ctx, k, 20*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestLockHolderKilled: a process holding the lock renews its lease while
// it lives; once it is killed the lease runs out and another takes the
// lock.
func TestLockHolderKilled(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	const lease = 300 * time.Millisecond
	p := storetest.Start(t, "holder", childStore{Addr: f.srv.Addr, Lease: lease})
	p.Expect(t, "locked")
	waitRenewed(t, f, redisKey("lock", authKey))
	p.Kill()
	unlock, err := f.c.LockToken(storetest.Context(t), authKey)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

// TestLockRenewed: a holder renews its lease while it works.
func TestLockRenewed(t *testing.T) {
	f := newFixture(t, redisstore.Options{Lease: 300 * time.Millisecond})
	unlock, err := f.c.LockToken(storetest.Context(t), authKey)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	waitRenewed(t, f, redisKey("lock", authKey))
}

// waitRenewed waits, bounded, until the PTTL of the lock k goes up: its
// holder renewed the lease.
func waitRenewed(t *testing.T, f *fixture, k string) {
	t.Helper()
	ctx := context.Background()
	last := f.raw.PTTL(ctx, k).Val()
	waitFor(t, "a renewal of the lease", func() bool {
		ttl := f.raw.PTTL(ctx, k).Val()
		if ttl <= 0 {
			t.Fatal("no lock: the lease ran out, or was never taken")
		}
		up := ttl > last
		last = ttl
		return up
	})
}

// waitFor polls cond, bounded, every few milliseconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in time", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestUnlockOnlyOwn: a holder whose lease ran out, and whose lock another
// took since, neither releases nor renews the other's lock.
func TestUnlockOnlyOwn(t *testing.T) {
	f := newFixture(t, redisstore.Options{Lease: 150 * time.Millisecond})
	ctx := storetest.Context(t)
	unlock, err := f.c.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	// The lease ran out and another holder took the lock.
	k := redisKey("lock", authKey)
	if err := f.raw.Set(ctx, k, "another-holder", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "notice by the renewal that the lock was lost", func() bool { return f.ev.Count(redisstore.StepLockLost) == 1 })
	unlock()
	if id := f.raw.Get(ctx, k).Val(); id != "another-holder" {
		t.Fatalf("released another's lock: holder now %q", id)
	}
	if ttl := f.raw.PTTL(ctx, k).Val(); ttl < 50*time.Second {
		t.Fatalf("renewed another's lock: PTTL %v", ttl)
	}
}
