package resource

import (
	"sync"
	"time"

	"github.com/aauthgo/aauth/r3"
)

// This file holds what R3 keeps in memory: the documents resource tokens
// reference, with who may fetch each; the per-call proposals and the
// answers of the calls they approved; and grants taken apart.

// storedDoc is a document a resource token referenced: the bytes served
// at uri, hashed once.
type storedDoc struct {
	enc    *r3.Encoded
	uri    string
	pinned bool // a definition, or all of them: never dropped

	// Guarded by docStore.mu.
	entitled map[string]time.Time // party → until when it may fetch
	used     time.Time
}

// docStore holds documents by r3_s256. Documents composed on request are
// bounded in number; the least recently used goes first.
type docStore struct {
	now func() time.Time

	mu       sync.Mutex
	m        map[string]*storedDoc
	unpinned int
}

// pin keeps enc for good.
func (s *docStore) pin(enc *r3.Encoded, uri string) *storedDoc {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.m[enc.S256]; ok {
		return d
	}
	if s.m == nil {
		s.m = map[string]*storedDoc{}
	}
	d := &storedDoc{enc: enc, uri: uri, pinned: true}
	s.m[enc.S256] = d
	return d
}

// put keeps enc, or returns the document already kept with its hash: the
// same combination of operations is the same document.
func (s *docStore) put(enc *r3.Encoded, uri string) *storedDoc {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if d, ok := s.m[enc.S256]; ok {
		d.used = now
		return d
	}
	if s.unpinned >= maxStoredDocs {
		var victim *storedDoc
		for _, d := range s.m {
			if !d.pinned && (victim == nil || d.used.Before(victim.used)) {
				victim = d
			}
		}
		if victim != nil {
			delete(s.m, victim.enc.S256)
			s.unpinned--
		}
	}
	d := &storedDoc{enc: enc, uri: uri, used: now}
	s.m[enc.S256] = d
	s.unpinned++
	return d
}

// get returns the document with hash s256, or nil.
func (s *docStore) get(s256 string) *storedDoc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[s256]
}

// entitle lets parties fetch d until the given time.
func (s *docStore) entitle(d *storedDoc, parties []string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.entitled == nil {
		d.entitled = map[string]time.Time{}
	}
	now := s.now()
	d.used = now
	for _, p := range parties {
		if p == "" {
			continue
		}
		if _, ok := d.entitled[p]; !ok && len(d.entitled) >= maxEntitled {
			// Make room: the expired first, else the one entitled
			// longest ago.
			var oldest string
			for q, t := range d.entitled {
				if !now.Before(t) {
					delete(d.entitled, q)
				} else if oldest == "" || t.Before(d.entitled[oldest]) {
					oldest = q
				}
			}
			if len(d.entitled) >= maxEntitled {
				delete(d.entitled, oldest)
			}
		}
		if until.After(d.entitled[p]) {
			d.entitled[p] = until
		}
	}
}

// mayFetch reports whether party is entitled to fetch d now.
func (s *docStore) mayFetch(d *storedDoc, party string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := d.entitled[party]
	return ok && s.now().Before(until)
}

// callRecord is one per-call proposal: the call it describes, who may
// fetch it, and once a per-call token ran the call, its answer.
type callRecord struct {
	id, uri  string
	enc      *r3.Encoded
	op       r3.Operation
	entitled []string

	// Guarded by callStore.mu.
	expires  time.Time
	usedBy   string        // the jti of the per-call token the call ran under
	deferred bool          // the call was held (202) and ran from its pending URL
	done     chan struct{} // closed once the call has run
	result   *recorded     // its answer; nil if too large to keep
}

// callStore holds per-call proposals by id.
type callStore struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]*callRecord
}

// add files rec under a new id and URI below prefix.
func (s *callStore) add(rec *callRecord, prefix string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*callRecord{}
	}
	now := s.now()
	if len(s.m) >= maxCallRecords {
		for id, r := range s.m {
			if now.After(r.expires) {
				delete(s.m, id)
			}
		}
		if len(s.m) >= maxCallRecords {
			return errTooManyPending
		}
	}
	rec.id = randomID(18)
	rec.uri = prefix + callPathSegment + rec.id
	rec.expires = now.Add(callRecordLife)
	rec.done = make(chan struct{})
	s.m[rec.id] = rec
	return nil
}

// get returns the record id, or nil when there is none or it expired.
func (s *callStore) get(id string) *callRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.m[id]
	if rec == nil {
		return nil
	}
	if s.now().After(rec.expires) {
		delete(s.m, id)
		return nil
	}
	return rec
}

// claimResult is what claim found.
type claimResult int

const (
	claimFirst claimResult = iota // the token may run the call: it is now marked used
	claimSame                     // the token ran it already: answer from the kept result
	claimOther                    // another token ran it: refuse
)

// claim marks rec used by the per-call token jti (valid until exp) when it
// is not used yet, atomically: of two presentations at once, one runs.
func (s *callStore) claim(rec *callRecord, jti string, exp time.Time, deferred bool) claimResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch rec.usedBy {
	case "":
		rec.usedBy, rec.deferred = jti, deferred
		keep := s.now().Add(minResultKeep)
		if exp.After(keep) {
			keep = exp
		}
		if keep.After(rec.expires) {
			rec.expires = keep // the result outlives the token that may ask again
		}
		return claimFirst
	case jti:
		return claimSame
	}
	return claimOther
}

// finish keeps the call's answer (nil when too large) and wakes those
// waiting for it.
func (s *callStore) finish(rec *callRecord, res *recorded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-rec.done:
		return
	default:
	}
	rec.result = res
	close(rec.done)
}

// resultOf returns the kept answer of rec, once it has run.
func (s *callStore) resultOf(rec *callRecord) (res *recorded, deferred bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return rec.result, rec.deferred
}

// grantEntry is a token's grant taken apart, or why it cannot be.
type grantEntry struct {
	g   *r3.Grant
	err error
}

// grantCache keeps grants taken apart by the token's exact text: an agent
// presents the same auth token on every call.
type grantCache struct {
	mu sync.RWMutex
	m  map[string]grantEntry
}

// of returns the grant of caller's verified token (nil when it carries no
// R3 claims).
func (gc *grantCache) of(caller *Caller) (*r3.Grant, error) {
	gc.mu.RLock()
	e, ok := gc.m[caller.Token]
	gc.mu.RUnlock()
	if ok {
		return e.g, e.err
	}
	g, err := r3.ParseGrant(caller.payload)
	if len(caller.Token) > maxCachedTokenLen {
		return g, err
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.m == nil {
		gc.m = make(map[string]grantEntry, 64)
	}
	if len(gc.m) >= maxGrantsCached {
		for k := range gc.m {
			delete(gc.m, k)
			break
		}
	}
	gc.m[caller.Token] = grantEntry{g, err}
	return g, err
}
