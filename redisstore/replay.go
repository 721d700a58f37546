package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/aauthgo/aauth/resource"
)

// ReplayStore is the resource.ReplayStore of a Store: the signatures a
// fleet of resource replicas has accepted, so that one replayed to any of
// them is refused. Get it from Store.Replay.
type ReplayStore struct {
	s *Store
	// local, with LocalOnly, records every signature in this process's
	// memory too, for when Redis is unavailable.
	local *resource.MemoryReplayStore
}

var _ resource.ReplayStore = (*ReplayStore)(nil)

func newReplayStore(s *Store) *ReplayStore {
	r := &ReplayStore{s: s}
	if s.opts.ReplayOutage == LocalOnly {
		r.local = resource.NewMemoryReplayStore(0)
	}
	return r
}

// Replay returns the store's replay store, for resource.Resource.Replay.
func (s *Store) Replay() *ReplayStore { return s.replay }

// Seen records key until expiry, plus Options.ClockSkew, and reports
// whether it was recorded already: one SET NX PX, atomic across every
// process on the Redis. A value already under the key, whatever it is,
// counts as seen.
//
// While Redis is unavailable it returns an error matching ErrUnavailable
// (FailClosed, the default), or the answer of this process's own memory
// (LocalOnly).
func (r *ReplayStore) Seen(ctx context.Context, key string, expiry time.Time) (bool, error) {
	seenHere := false
	if r.local != nil {
		var err error
		if seenHere, err = r.local.Seen(ctx, key, expiry); err != nil {
			return false, err
		}
	}
	// PX rather than PXAT: Redis's clock plays no part, only the
	// replicas', and ClockSkew covers their differences.
	ttl := max(expiry.Sub(r.s.now())+r.s.opts.ClockSkew, time.Millisecond)
	var set bool
	err := r.s.do(ctx, func(ctx context.Context) error {
		var err error
		set, err = r.s.client.SetNX(ctx, r.s.key("replay", key), "1", ttl).Result()
		return err
	})
	switch {
	case errors.Is(err, ErrUnavailable) && r.local != nil:
		return seenHere, nil
	case err != nil:
		return false, err
	}
	return seenHere || !set, nil
}
