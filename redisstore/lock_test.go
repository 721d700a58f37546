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
	for f.ev.count(redisstore.StepLockWait) == 0 {
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
	// What a holder that died leaves: its id, with a short lease left.
	if err := f.raw.Set(ctx, redisKey("lock", authKey), "dead-holder", 30*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	unlock, err := f.c.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if f.ev.count(redisstore.StepLockWait) != 1 {
		t.Fatal("took the lock without waiting for the lease")
	}
	if id := f.raw.Get(ctx, redisKey("lock", authKey)).Val(); id == "dead-holder" || len(id) != 32 {
		t.Fatalf("lock holder %q", id)
	}
}

// TestLockHolderKilled: a process holding the lock is killed; its lease
// runs out and another takes the lock.
func TestLockHolderKilled(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	p := storetest.Start(t, "holder", childStore{Addr: f.srv.Addr, Lease: 60 * time.Millisecond})
	p.Expect(t, "locked")
	short := f.open(t, redisstore.Options{LockWait: 150 * time.Millisecond}).Tokens()
	if _, err := short.LockToken(context.Background(), authKey); !errors.Is(err, redisstore.ErrLockTimeout) {
		t.Fatalf("took the lock a live process renews: %v", err)
	}
	p.Kill()
	unlock, err := f.c.LockToken(storetest.Context(t), authKey)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}

// TestLockRenewed: a holder renews its lease while it works.
func TestLockRenewed(t *testing.T) {
	f := newFixture(t, redisstore.Options{Lease: 60 * time.Millisecond})
	ctx := storetest.Context(t)
	unlock, err := f.c.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// Once the PTTL has gone up, the lease was renewed.
	k := redisKey("lock", authKey)
	last := f.raw.PTTL(ctx, k).Val()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ttl := f.raw.PTTL(ctx, k).Val()
		if ttl <= 0 {
			t.Fatal("the lease ran out while its holder lived")
		}
		if ttl > last {
			break
		}
		last = ttl
		if time.Now().After(deadline) {
			t.Fatal("the lease was never renewed")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestUnlockOnlyOwn: a holder whose lease ran out, and whose lock another
// took since, neither releases nor renews the other's lock.
func TestUnlockOnlyOwn(t *testing.T) {
	f := newFixture(t, redisstore.Options{Lease: 60 * time.Millisecond})
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
	deadline := time.Now().Add(5 * time.Second)
	for f.ev.count(redisstore.StepLockLost) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the renewal did not notice the lock was lost")
		}
		time.Sleep(2 * time.Millisecond)
	}
	unlock()
	if id := f.raw.Get(ctx, k).Val(); id != "another-holder" {
		t.Fatalf("released another's lock: holder now %q", id)
	}
	if ttl := f.raw.PTTL(ctx, k).Val(); ttl < 50*time.Second {
		t.Fatalf("renewed another's lock: PTTL %v", ttl)
	}
}
