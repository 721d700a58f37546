package resource

import (
	"context"
	"sync"
	"time"
)

// ReplayStore remembers request signatures for as long as they could be
// accepted, so that one seen before is refused. The in-memory store
// serves one process; a fleet behind a load balancer needs a shared one.
type ReplayStore interface {
	// Seen records key until expiry and reports whether it was already
	// recorded and not yet expired. It must be atomic: of two concurrent
	// calls with one key, exactly one reports false.
	Seen(ctx context.Context, key string, expiry time.Time) (bool, error)
}

// DefaultReplayCapacity is the number of signatures the in-memory replay
// store holds when given no capacity: at about 100 bytes each, some 10 MB.
const DefaultReplayCapacity = 100_000

// MemoryReplayStore is a ReplayStore in memory, bounded in size. When it
// is full, expired entries are dropped first and then the oldest: a burst
// of more signed requests than its capacity inside one signature window
// lets the oldest of them be replayed, instead of refusing new requests or
// growing without bound.
type MemoryReplayStore struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	seen  map[string]time.Time
	queue []replayEntry // in insertion order from head
	head  int
}

type replayEntry struct {
	key    string
	expiry time.Time
}

// NewMemoryReplayStore returns a store holding at most capacity
// signatures; capacity 0 means DefaultReplayCapacity.
func NewMemoryReplayStore(capacity int) *MemoryReplayStore {
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &MemoryReplayStore{max: capacity, seen: map[string]time.Time{}}
}

// Seen implements ReplayStore. An entry expires once expiry is before
// the current time.
func (s *MemoryReplayStore) Seen(_ context.Context, key string, expiry time.Time) (bool, error) {
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.seen[key]; ok && !exp.Before(now) {
		return true, nil
	}
	// Entries are queued in the order they came, which is nearly the
	// order they expire in: drop expired ones from the front, and the
	// oldest when full.
	for s.head < len(s.queue) && (s.queue[s.head].expiry.Before(now) || len(s.queue)-s.head >= s.max) {
		s.drop()
	}
	s.seen[key] = expiry
	s.queue = append(s.queue, replayEntry{key, expiry})
	return false, nil
}

// drop removes the entry at the front. s.mu is held.
func (s *MemoryReplayStore) drop() {
	e := s.queue[s.head]
	// The key may have been recorded again since (after it expired):
	// only its own entry removes it.
	if exp, ok := s.seen[e.key]; ok && exp.Equal(e.expiry) {
		delete(s.seen, e.key)
	}
	s.queue[s.head] = replayEntry{}
	s.head++
	if s.head > 1024 && s.head > len(s.queue)/2 {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
}

// Len returns the number of signatures held.
func (s *MemoryReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}
