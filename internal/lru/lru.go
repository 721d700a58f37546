// Package lru is a bounded map whose reads take no lock, for caches that
// untrusted parties can fill.
//
// It evicts as a segmented LRU with two segments. An entry put or read on
// behalf of a trusted party (for the Transport: a request the caller made
// itself) is protected; any other entry is on probation, which holds at
// most a quarter of the bound. A flood of untrusted entries therefore
// evicts only entries on probation, and a protected entry leaves its
// segment only to make room for other protected entries.
//
// Recency is approximated with reference bits (CLOCK, or "second chance"):
// a read sets a bit on its entry, with an atomic operation and no lock, and
// without any write once the bit is set, so that many goroutines reading
// one entry do not contend. The eviction sweep, under the map's one mutex,
// which only adding and deleting take, moves an entry read since the last
// sweep to the front of its segment instead of evicting it. Entries that
// the stale function reports are evicted first wherever the sweep meets
// them.
package lru

import (
	"sync"
	"sync/atomic"
)

// Map is a bounded map from K to V. Create it with New or NewWeighted.
type Map[K comparable, V any] struct {
	max, probMax int
	weigh        func(V) int
	stale        func(V) bool

	m  sync.Map // K → *entry[K, V]; reads go here, lock-free
	mu sync.Mutex
	// Guarded by mu.
	prob, prot list[K, V]
}

// New returns a Map holding at most max entries (at least one). stale, when
// not nil, reports entries to evict before any other (expired tokens).
func New[K comparable, V any](max int, stale func(V) bool) *Map[K, V] {
	return NewWeighted[K](max, nil, stale)
}

// NewWeighted returns a Map whose entries weigh what weigh says (at least
// one each; nil: one) and that holds at most max in weight: large values
// count for more, so that the bound is one on memory too.
func NewWeighted[K comparable, V any](max int, weigh func(V) int, stale func(V) bool) *Map[K, V] {
	if max < 1 {
		max = 1
	}
	m := &Map[K, V]{max: max, probMax: max / 4, weigh: weigh, stale: stale}
	if m.probMax < 1 {
		m.probMax = 1
	}
	m.prob.init()
	m.prot.init()
	return m
}

// Max returns the bound.
func (m *Map[K, V]) Max() int { return m.max }

const (
	refBit     = 1 << iota // read since the sweep last looked at the entry
	trustedBit             // read on a trusted party's behalf while on probation
)

type entry[K comparable, V any] struct {
	key  K
	val  V // never changes: a new value is a new entry
	w    int
	bits atomic.Uint32

	// Guarded by Map.mu.
	seg        *list[K, V]
	prev, next *entry[K, V]
}

// touch records a read. Once the bits are set it only loads them.
func (e *entry[K, V]) touch(trusted bool) {
	want := uint32(refBit)
	if trusted {
		want |= trustedBit
	}
	if e.bits.Load()&want != want {
		e.bits.Or(want)
	}
}

// Get returns the value under k. trusted says whether the read is on a
// trusted party's behalf: such a read protects an entry on probation.
func (m *Map[K, V]) Get(k K, trusted bool) (V, bool) {
	x, ok := m.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	e := x.(*entry[K, V])
	e.touch(trusted)
	return e.val, true
}

// Put stores v under k, replacing any value there. A trusted put is
// protected; an untrusted one replacing a protected entry stays protected.
func (m *Map[K, V]) Put(k K, v V, trusted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := &entry[K, V]{key: k, val: v}
	seg := &m.prob
	if trusted {
		seg = &m.prot
	}
	if x, ok := m.m.Load(k); ok {
		old := x.(*entry[K, V])
		if old.seg == &m.prot {
			seg = &m.prot
		}
		e.bits.Store(old.bits.Load())
		old.seg.remove(old)
	}
	m.add(e, seg)
}

// GetOrAdd returns the value under k, adding mk() there first when there is
// none. mk runs under the map's lock: it must be quick and must not use m.
func (m *Map[K, V]) GetOrAdd(k K, trusted bool, mk func() V) V {
	if v, ok := m.Get(k, trusted); ok {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if x, ok := m.m.Load(k); ok {
		e := x.(*entry[K, V])
		e.touch(trusted)
		return e.val
	}
	e := &entry[K, V]{key: k, val: mk()}
	seg := &m.prob
	if trusted {
		seg = &m.prot
	}
	m.add(e, seg)
	return e.val
}

// add puts a new entry at the front of seg and makes room. Called with mu
// held.
func (m *Map[K, V]) add(e *entry[K, V], seg *list[K, V]) {
	e.w = 1
	if m.weigh != nil {
		e.w = max(1, m.weigh(e.val))
	}
	seg.pushFront(e)
	m.m.Store(e.key, e)
	m.shrink(e)
}

// Delete removes the entry under k, if any.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if x, ok := m.m.Load(k); ok {
		m.evict(x.(*entry[K, V]))
	}
}

// Weight returns the entries' total weight.
func (m *Map[K, V]) Weight() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prob.w + m.prot.w
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prob.n + m.prot.n
}

// Segments returns the number of entries on probation and protected.
func (m *Map[K, V]) Segments() (probation, protected int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prob.n, m.prot.n
}

// shrink evicts until probation weighs at most probMax and the map at most
// max. Room comes from probation while it holds anything; only
// when it is empty does the back of the protected segment move there. The
// entry just added, newest, is passed over, unless it is an untrusted one
// that probation has no room for. Called with mu held.
func (m *Map[K, V]) shrink(newest *entry[K, V]) {
	// Each step evicts an entry or clears its bits and moves it. Readers
	// may set bits again meanwhile, so past a number of steps the back
	// entry goes whatever its bits say.
	steps := 2*(m.prob.n+m.prot.n) + 4
	for m.prob.w > m.probMax || m.prob.w+m.prot.w > m.max {
		force := steps <= 0
		steps--
		if m.prob.n > 0 {
			e := m.prob.back()
			if e == newest && m.prob.n > 1 && !force {
				// Pass over it: there are others to look at first.
				m.prob.remove(e)
				m.prob.pushFront(e)
				continue
			}
			bits := e.bits.Swap(0)
			switch {
			case force || m.isStale(e) || e == newest:
				m.evict(e)
			case bits&trustedBit != 0:
				m.prob.remove(e)
				m.prot.pushFront(e)
			case bits&refBit != 0:
				m.prob.remove(e)
				m.prob.pushFront(e)
			default:
				m.evict(e)
			}
			continue
		}
		e := m.prot.back()
		switch {
		case force || m.isStale(e):
			m.evict(e)
		case e == newest:
			m.prot.remove(e)
			m.prot.pushFront(e)
		case e.bits.Load()&refBit != 0:
			e.bits.Store(0)
			m.prot.remove(e)
			m.prot.pushFront(e)
		default:
			m.prot.remove(e)
			m.prob.pushFront(e)
		}
	}
}

func (m *Map[K, V]) isStale(e *entry[K, V]) bool { return m.stale != nil && m.stale(e.val) }

// evict removes e from its segment and from the map. Called with mu held.
func (m *Map[K, V]) evict(e *entry[K, V]) {
	e.seg.remove(e)
	m.m.CompareAndDelete(e.key, e)
}

// list is a doubly linked ring of entries around a sentinel: root.next is
// the front (the most recently added or moved), root.prev the back.
type list[K comparable, V any] struct {
	root entry[K, V]
	n, w int // entries, weight
}

func (l *list[K, V]) init() { l.root.next, l.root.prev = &l.root, &l.root }

func (l *list[K, V]) pushFront(e *entry[K, V]) {
	e.seg, e.prev, e.next = l, &l.root, l.root.next
	l.root.next.prev = e
	l.root.next = e
	l.n++
	l.w += e.w
}

func (l *list[K, V]) remove(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.seg, e.prev, e.next = nil, nil, nil
	l.n--
	l.w -= e.w
}

func (l *list[K, V]) back() *entry[K, V] {
	if l.n == 0 {
		return nil
	}
	return l.root.prev
}
