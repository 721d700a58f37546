package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrLockTimeout is returned by a store's LockToken that waited its
// LockWait for another process's fetch, which was still running.
var ErrLockTimeout = errors.New("aauth: token store: gave up waiting for another process to fetch the token")

// Wait bounds and paces for taking a lock another process holds.
const (
	DefaultLockWait = 15 * time.Minute // as long as the Transport polls a person by default
	firstRetry      = 5 * time.Millisecond
	maxRetry        = 200 * time.Millisecond
)

// Acquire calls try until it takes the lock (true), fails, ctx ends or
// wait has passed (ErrLockTimeout); zero wait means DefaultLockWait.
// Retries start at a few milliseconds and back off, with jitter, to a
// fifth of a second, so that waiters neither hammer the lock nor leave it
// idle long after it is released. waiting is called once, before the
// first wait.
func Acquire(ctx context.Context, wait time.Duration, try func() (bool, error), waiting func()) error {
	if wait <= 0 {
		wait = DefaultLockWait
	}
	deadline := time.Now().Add(wait)
	delay := firstRetry
	for first := true; ; first = false {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := try()
		if err != nil || ok {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w (after %s)", ErrLockTimeout, wait)
		}
		if first && waiting != nil {
			waiting()
		}
		d := min(delay/2+rand.N(delay/2+1), left)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, maxRetry)
	}
}
