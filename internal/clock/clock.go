// Package clock is the time seam of the library: the flow code asks a Clock
// for the time and sleeps through it, so tests run on virtual time.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and sleeps. Sleep returns early with ctx.Err() when
// ctx is done, and returns ctx.Err() without sleeping when ctx is already
// done.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// System is the real clock.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time { return time.Now() }

func (system) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fake is a virtual clock for tests: Sleep advances the time at once and
// records the duration asked for. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration

	// OnSleep, when set, runs inside Sleep after the time has advanced and
	// before Sleep looks at the context again, so a test can cancel the
	// context "mid-sleep" or script what the servers do meanwhile.
	OnSleep func(d time.Duration)
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// Now returns the virtual time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Sleep records d, advances the virtual time by d (when positive) and
// returns ctx.Err().
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	if d > 0 {
		f.now = f.now.Add(d)
	}
	hook := f.OnSleep
	f.mu.Unlock()
	if hook != nil {
		hook(d)
	}
	return ctx.Err()
}

// Advance moves the virtual time forward by d without recording a sleep.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Sleeps returns the durations passed to Sleep so far, in order.
func (f *Fake) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

// Slept returns the total of the positive durations passed to Sleep.
func (f *Fake) Slept() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t time.Duration
	for _, d := range f.sleeps {
		if d > 0 {
			t += d
		}
	}
	return t
}
