package lru

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// check verifies the invariants: bounds, list links, segment counts, and
// that the map and the lists hold the same entries.
func (m *Map[K, V]) check(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prob.w > m.probMax {
		t.Fatalf("probation weighs %d, bound %d", m.prob.w, m.probMax)
	}
	if w := m.prob.w + m.prot.w; w > m.max {
		t.Fatalf("weight %d, bound %d", w, m.max)
	}
	inLists := map[K]*entry[K, V]{}
	for _, l := range []*list[K, V]{&m.prob, &m.prot} {
		n, w := 0, 0
		for e := l.root.next; e != &l.root; e = e.next {
			w += e.w
			if e.seg != l || e.next.prev != e {
				t.Fatalf("broken links at %v", e.key)
			}
			if _, dup := inLists[e.key]; dup {
				t.Fatalf("%v twice in the lists", e.key)
			}
			inLists[e.key] = e
			n++
		}
		if n != l.n || w != l.w {
			t.Fatalf("a list counts %d (weight %d) and holds %d (weight %d)", l.n, l.w, n, w)
		}
	}
	inMap := 0
	m.m.Range(func(k, v any) bool {
		inMap++
		if inLists[k.(K)] != v.(*entry[K, V]) {
			t.Fatalf("%v is in the map and not in the lists", k)
		}
		return true
	})
	if inMap != len(inLists) {
		t.Fatalf("%d entries in the map, %d in the lists", inMap, len(inLists))
	}
}

func TestPutGetDelete(t *testing.T) {
	m := New[string, int](8, nil)
	if _, ok := m.Get("a", true); ok {
		t.Fatal("empty map has a")
	}
	m.Put("a", 1, true)
	m.Put("b", 2, false)
	if v, ok := m.Get("a", true); !ok || v != 1 {
		t.Fatalf("a = %v, %v", v, ok)
	}
	m.Put("a", 3, false)
	if v, _ := m.Get("a", false); v != 3 {
		t.Fatalf("a = %v after replacing", v)
	}
	if p, q := m.Segments(); p != 1 || q != 1 {
		t.Fatalf("segments %d, %d: a replaced untrusted must stay protected", p, q)
	}
	m.Delete("a")
	m.Delete("missing")
	if _, ok := m.Get("a", true); ok || m.Len() != 1 {
		t.Fatalf("after delete: len %d", m.Len())
	}
	m.check(t)
}

// Past its bound the map evicts one entry at a time, the least recently
// used: never all of them.
func TestEvictsLeastRecentlyUsed(t *testing.T) {
	m := New[int, int](100, nil)
	for i := 0; i < 100; i++ {
		m.Put(i, i, true)
	}
	// Read the first half; the second half goes first.
	for i := 0; i < 50; i++ {
		m.Get(i, true)
	}
	for i := 100; i < 150; i++ {
		m.Put(i, i, true)
		m.check(t)
	}
	if m.Len() != 100 {
		t.Fatalf("len %d", m.Len())
	}
	for i := 0; i < 50; i++ {
		if _, ok := m.Get(i, true); !ok {
			t.Errorf("%d was read and is evicted", i)
		}
	}
	for i := 50; i < 100; i++ {
		if _, ok := m.Get(i, true); ok {
			t.Errorf("%d was not read and is kept", i)
		}
	}
}

// A flood of untrusted entries does not evict a protected one, read or not,
// and keeps to its quarter of the bound.
func TestUntrustedFloodKeepsProtected(t *testing.T) {
	m := New[string, int](64, nil)
	for i := 0; i < 40; i++ {
		m.Put(fmt.Sprint("caller", i), i, true)
	}
	for i := 0; i < 10000; i++ {
		m.Put(fmt.Sprint("flood", i), i, false)
		m.Get(fmt.Sprint("flood", i-1), false) // read again: still untrusted
	}
	m.check(t)
	for i := 0; i < 40; i++ {
		if _, ok := m.Get(fmt.Sprint("caller", i), true); !ok {
			t.Errorf("caller%d evicted by untrusted entries", i)
		}
	}
	if p, _ := m.Segments(); p != 16 {
		t.Errorf("probation holds %d, want its bound 16", p)
	}
}

// An untrusted entry that a trusted party reads is protected from then on.
func TestTrustedReadProtects(t *testing.T) {
	m := New[string, int](64, nil)
	m.Put("redirected", 1, false)
	m.Get("redirected", true)
	for i := 0; i < 1000; i++ {
		m.Put(fmt.Sprint("flood", i), i, false)
	}
	if _, ok := m.Get("redirected", true); !ok {
		t.Fatal("an entry the caller read was evicted by a flood")
	}
	m.check(t)
}

// When protected entries fill the map, a new one evicts the protected
// entry read least recently (second chance), and untrusted entries find no
// room.
func TestProtectedFull(t *testing.T) {
	m := New[int, int](8, nil)
	for i := 0; i < 8; i++ {
		m.Put(i, i, true)
	}
	m.Put(100, 100, false)
	if _, ok := m.Get(100, false); ok {
		t.Error("an untrusted entry evicted a protected one")
	}
	m.Get(0, true)
	m.Put(8, 8, true)
	if _, ok := m.Get(0, true); !ok {
		t.Error("0 was read and is evicted")
	}
	if _, ok := m.Get(1, true); ok {
		t.Error("1 is the least recently used and is kept")
	}
	m.check(t)
}

// Stale entries go before any other.
func TestStaleFirst(t *testing.T) {
	stale := map[int]bool{}
	var mu sync.Mutex
	m := New[int, int](10, func(v int) bool { mu.Lock(); defer mu.Unlock(); return stale[v] })
	for i := 0; i < 10; i++ {
		m.Put(i, i, true)
		m.Get(i, true)
	}
	mu.Lock()
	stale[9] = true
	mu.Unlock()
	m.Put(10, 10, true)
	if _, ok := m.Get(9, true); ok {
		t.Error("the stale entry is kept")
	}
	for i := 0; i < 9; i++ {
		if _, ok := m.Get(i, true); !ok {
			t.Errorf("%d evicted while a stale entry was there", i)
		}
	}
	m.check(t)
}

func TestGetOrAdd(t *testing.T) {
	m := New[string, *int](4, nil)
	calls := 0
	mk := func() *int { calls++; v := calls; return &v }
	a := m.GetOrAdd("a", true, mk)
	if b := m.GetOrAdd("a", false, mk); b != a || calls != 1 {
		t.Fatalf("GetOrAdd made %d values", calls)
	}
	m.check(t)
}

func TestTinyBound(t *testing.T) {
	for _, max := range []int{-1, 0, 1, 2, 3} {
		m := New[int, int](max, nil)
		for i := 0; i < 20; i++ {
			m.Put(i, i, i%2 == 0)
			m.Get(i-1, i%3 == 0)
			m.check(t)
		}
		if _, ok := m.Get(18, false); !ok {
			t.Errorf("max %d: the last protected entry put is gone", max)
		}
	}
}

// Heavy entries count for more: the bound is on their weight.
func TestWeighted(t *testing.T) {
	m := NewWeighted[int, string](100, func(v string) int { return len(v) }, nil)
	for i := 0; i < 50; i++ {
		m.Put(i, "xxxx", true) // weight 4
		m.check(t)
	}
	if n, w := m.Len(), m.Weight(); n != 25 || w != 100 {
		t.Fatalf("%d entries weighing %d, want 25 weighing 100", n, w)
	}
	m.Put(100, "", true) // weight 1, not 0
	if w := m.Weight(); w > 100 {
		t.Fatalf("weight %d", w)
	}
	// Untrusted entries weigh at most a quarter.
	for i := 200; i < 300; i++ {
		m.Put(i, "xxxxxxxx", false)
		m.check(t)
	}
	if p, _ := m.Segments(); p > 3 {
		t.Fatalf("%d untrusted entries of weight 8 kept, bound 25 in weight", p)
	}
	// One heavier than probation's bound is not kept at all.
	m.Put(1000, strings.Repeat("x", 30), false)
	if _, ok := m.Get(1000, false); ok {
		t.Fatal("an untrusted entry heavier than probation's bound is kept")
	}
	m.check(t)
}

// Random operations from many goroutines (run with -race) keep the
// invariants.
func TestConcurrent(t *testing.T) {
	m := New[int, int](50, func(v int) bool { return v%7 == 0 })
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; i < 5000; i++ {
				k := r.IntN(200)
				switch r.IntN(10) {
				case 0:
					m.Delete(k)
				case 1, 2:
					m.Put(k, k, r.IntN(2) == 0)
				case 3:
					m.GetOrAdd(k, r.IntN(2) == 0, func() int { return k })
				default:
					if v, ok := m.Get(k, r.IntN(2) == 0); ok && v != k {
						t.Errorf("Get(%d) = %d", k, v)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	m.check(t)
}

// A read of an entry whose bits are set writes nothing: the benchmark's
// many goroutines reading one entry share its cache line.
func BenchmarkGetParallel(b *testing.B) {
	m := New[string, *int](1024, nil)
	v := 1
	m.Put("https://resource.example", &v, true)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := m.Get("https://resource.example", true); !ok {
				b.Fatal("miss")
			}
		}
	})
}
