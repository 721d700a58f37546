package resource

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RevocationStore holds the tokens revoked at the resource's revocation
// endpoint (AAuth -11, Revocation), keyed by (issuer, jti): the issuer is
// the server that revoked, as its signature proved, so that a server can
// revoke only the tokens it issued. The in-memory store serves one
// process; a fleet behind a load balancer needs a shared one, or a token
// revoked at one replica is still served by the others.
type RevocationStore interface {
	// Revoke records that the token (issuer, jti) is revoked until
	// until, after which the token has expired anyway and the record
	// may be dropped. Recording a token twice keeps the later until. A
	// store that cannot hold another record without dropping one still
	// in force returns a *RevocationStoreFullError.
	Revoke(ctx context.Context, issuer, jti string, until time.Time) error

	// Revoked reports whether the token (issuer, jti) is revoked. An
	// error means the store cannot tell; the resource then refuses the
	// token (503), as a revoked token must never be served.
	Revoked(ctx context.Context, issuer, jti string) (bool, error)
}

// DefaultRevocationCapacity is the number of revocations the in-memory
// store holds when given no capacity. Each is kept for at most an hour
// and a signature window, the longest a person or auth token lives.
const DefaultRevocationCapacity = 100_000

// RevocationStoreFullError is returned by a RevocationStore that is full
// of revocations still in force: dropping one would let a revoked token
// be served again. The revocation endpoint answers 429 rate_limited with
// Retry-After.
type RevocationStoreFullError struct {
	// RetryAfter is when a record is next due to expire, freeing room.
	RetryAfter time.Duration
}

// Error says the store is full and when room is next due.
func (e *RevocationStoreFullError) Error() string {
	return fmt.Sprintf("aauth: the revocation store is full of revocations in force; room in %s", e.RetryAfter.Round(time.Second))
}

// MemoryRevocationStore is a RevocationStore in memory, bounded in size.
// Unlike MemoryReplayStore it never evicts a record before its time: when
// full of revocations in force, Revoke returns a
// *RevocationStoreFullError. The zero value is not ready: use
// NewMemoryRevocationStore.
type MemoryRevocationStore struct {
	max int
	now func() time.Time

	mu sync.RWMutex
	m  map[revocationKey]time.Time
	// earliest is at or before the earliest until held, and exactly it
	// when exact: a full store sweeps its expired records only once that
	// time has passed (or to learn it exactly), so that a flood against a
	// full store costs no sweep per request.
	earliest time.Time
	exact    bool
}

type revocationKey struct{ issuer, jti string }

// NewMemoryRevocationStore returns a store holding at most capacity
// revocations; capacity 0 means DefaultRevocationCapacity.
func NewMemoryRevocationStore(capacity int) *MemoryRevocationStore {
	if capacity <= 0 {
		capacity = DefaultRevocationCapacity
	}
	return &MemoryRevocationStore{max: capacity, m: map[revocationKey]time.Time{}}
}

func (s *MemoryRevocationStore) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// Revoke implements RevocationStore. A record whose until has passed is
// not kept.
func (s *MemoryRevocationStore) Revoke(_ context.Context, issuer, jti string, until time.Time) error {
	now := s.clock()
	if until.Before(now) {
		return nil
	}
	k := revocationKey{issuer, jti}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		if until.After(old) {
			s.m[k] = until
			if old.Equal(s.earliest) {
				s.exact = false
			}
		}
		return nil
	}
	if len(s.m) >= s.max {
		if now.After(s.earliest) || !s.exact {
			s.sweep(now)
		}
		if len(s.m) >= s.max {
			return &RevocationStoreFullError{RetryAfter: s.earliest.Sub(now)}
		}
	}
	if len(s.m) == 0 {
		s.earliest, s.exact = until, true
	} else if until.Before(s.earliest) {
		s.earliest = until
	}
	s.m[k] = until
	return nil
}

// sweep drops the records expired at now and finds the earliest until
// left. s.mu is held.
func (s *MemoryRevocationStore) sweep(now time.Time) {
	var earliest time.Time
	for k, until := range s.m {
		if until.Before(now) {
			delete(s.m, k)
		} else if earliest.IsZero() || until.Before(earliest) {
			earliest = until
		}
	}
	s.earliest, s.exact = earliest, true
}

// Revoked implements RevocationStore.
func (s *MemoryRevocationStore) Revoked(_ context.Context, issuer, jti string) (bool, error) {
	s.mu.RLock()
	if len(s.m) == 0 {
		s.mu.RUnlock()
		return false, nil
	}
	until, ok := s.m[revocationKey{issuer, jti}]
	s.mu.RUnlock()
	return ok && !until.Before(s.clock()), nil
}

// Len returns the number of revocations held, expired ones not yet
// dropped included.
func (s *MemoryRevocationStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
