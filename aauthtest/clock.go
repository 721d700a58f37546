package aauthtest

import (
	"context"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
)

// FakeClock is a clock a test moves by hand. Pass its Now method to the
// servers' and the agent's options so that they all agree; then expire
// tokens with Advance instead of sleeping. It satisfies aauth.Clock (and
// psclient.Clock), so a Transport or a poller given one sleeps on it. It
// is safe for concurrent use.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// FakeClock is an aauth.Clock.
var _ aauth.Clock = (*FakeClock)(nil)

// NewFakeClock returns a FakeClock reading t.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{t: t} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (back, if d is negative).
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Set sets the clock to t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Sleep advances the clock by d at once instead of waiting, so that a
// poller given this clock runs minutes of
// backoff in no time, and the servers see that time pass. It returns
// ctx.Err() if ctx is done.
func (c *FakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.Advance(d)
	}
	return nil
}
