package resource

import (
	"container/list"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
)

// This file finds the keys that token issuers sign with, the way HTTP
// Signature Keys and AAuth -11 (JWKS Discovery and Caching) describe:
// {iss}/.well-known/{dwk} names a jwks_uri whose keys are selected by
// kid. Documents are bounded in size, cached for their max-age (between
// one minute and a day; an hour when they say nothing), fetched once for
// all the requests that need them at the same moment, and fetched again
// for an unknown kid at most once a minute. A failed fetch is remembered
// briefly so that a broken issuer is not asked on every request, and keys
// already held stay in use while their issuer is unreachable.

// Cache timings; the zero values of the fields that set them.
const (
	defaultMinRefresh = time.Minute    // the draft's floor between fetches of one issuer
	maxKeyAge         = 24 * time.Hour // the draft's ceiling on a cached JWKS
	failureMemory     = 10 * time.Second
	maxIssuers        = 1024
	maxJWKSKeys       = 64
)

// issuerKey is one usable key of an issuer.
type issuerKey struct {
	pub crypto.PublicKey
	alg string // the JWS alg it verifies: Ed25519, ES256 (or EdDSA, seed)
}

// issuerID names one issuer's documents.
type issuerID struct{ iss, dwk string }

// issuerEntry is what the cache holds for one (issuer, dwk).
type issuerEntry struct {
	id        issuerID
	raw       map[string][]json.RawMessage // kid → JWKs as published
	parsed    map[string]issuerKey         // kid → the key, once parsed
	fetchedAt time.Time
	expires   time.Time
	fetchErr  error
	errUntil  time.Time
	inflight  chan struct{} // closed when the fetch under way ends
	elem      *list.Element
}

// keyCache holds issuers' keys.
type keyCache struct {
	fetch      *fetcher
	now        func() time.Time
	seed       bool // alg may be absent or EdDSA on JWKS keys
	minRefresh time.Duration

	mu      sync.Mutex
	entries map[issuerID]*issuerEntry
	lru     list.List // of *issuerEntry, most recently used first
}

func newKeyCache(f *fetcher, now func() time.Time, seed bool, minRefresh time.Duration) *keyCache {
	if minRefresh <= 0 {
		minRefresh = defaultMinRefresh
	}
	return &keyCache{fetch: f, now: now, seed: seed, minRefresh: minRefresh, entries: map[issuerID]*issuerEntry{}}
}

// key returns the key of iss (published under dwk) with the given kid for
// a token signed with alg. Errors are *Error with unknown_key,
// issuer_missing or issuer_mismatch. refresh asks for the documents to be
// fetched again, if the once-a-minute floor allows, because the key held
// for kid just failed to verify a token: the issuer may have replaced it
// under the same kid.
func (c *keyCache) key(ctx context.Context, iss, dwk, kid, alg string, refresh bool) (issuerKey, error) {
	id := issuerID{iss, dwk}
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		e := c.entry(id)
		now := c.now()
		fresh := !e.fetchedAt.IsZero() && now.Before(e.expires)
		mayFetch := e.fetchedAt.IsZero() || now.Sub(e.fetchedAt) >= c.minRefresh
		wantFetch := attempt == 0 && mayFetch && (!fresh || refresh)
		if fresh && !wantFetch {
			k, ok, err := c.lookup(e, kid, alg)
			switch {
			case ok || err != nil:
				c.mu.Unlock()
				return k, err
			case attempt == 0 && mayFetch:
				wantFetch = true // an unknown kid: the issuer may have rotated
			default:
				c.mu.Unlock()
				return issuerKey{}, sigErr(codeUnknownKey, "issuer %q has no key %q", shorten(iss), shorten(kid))
			}
		}
		if !wantFetch {
			// Our fetch (or the one we waited for) ended without a
			// usable document.
			err := e.fetchErr
			c.mu.Unlock()
			if err == nil {
				err = sigErr(codeUnknownKey, "issuer %q has no key %q", shorten(iss), shorten(kid))
			}
			return issuerKey{}, err
		}
		if e.inflight == nil && e.fetchErr != nil && now.Before(e.errUntil) {
			// A fetch failed moments ago: do not ask again yet.
			err := e.fetchErr
			var k issuerKey
			ok := false
			if fresh {
				var lerr error
				if k, ok, lerr = c.lookup(e, kid, alg); lerr != nil {
					err = lerr
				}
			}
			c.mu.Unlock()
			if ok {
				return k, nil
			}
			return issuerKey{}, err
		}
		done := e.inflight
		if done == nil {
			done = make(chan struct{})
			e.inflight = done
			// The fetch is shared: it must not end because the
			// request that started it went away.
			go c.run(context.WithoutCancel(ctx), e, iss, dwk, done)
		}
		c.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return issuerKey{}, &Error{Status: 401, Code: codeUnknownKey, Detail: "gave up waiting for the keys of " + shorten(iss), Err: ctx.Err()}
		}
	}
}

// known reports whether keys of (iss, dwk) are held: the issuer was
// checked when they were first fetched.
func (c *keyCache) known(iss, dwk string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[issuerID{iss, dwk}]
	return ok && !e.fetchedAt.IsZero()
}

// entry returns the entry for id, making it (and evicting the least
// recently used when full). c.mu is held.
func (c *keyCache) entry(id issuerID) *issuerEntry {
	if e, ok := c.entries[id]; ok {
		c.lru.MoveToFront(e.elem)
		return e
	}
	if len(c.entries) >= maxIssuers {
		for el := c.lru.Back(); el != nil; el = el.Prev() {
			old := el.Value.(*issuerEntry)
			if old.inflight == nil {
				c.lru.Remove(el)
				delete(c.entries, old.id)
				break
			}
		}
	}
	e := &issuerEntry{id: id}
	e.elem = c.lru.PushFront(e)
	c.entries[id] = e
	return e
}

// lookup finds kid in e. ok is false when the kid is not published; err
// is set when it is published but unusable for alg. c.mu is held.
func (c *keyCache) lookup(e *issuerEntry, kid, alg string) (issuerKey, bool, error) {
	if k, ok := e.parsed[kid]; ok && keyFitsAlg(k, alg) {
		return k, true, nil
	}
	raws, ok := e.raw[kid]
	if !ok {
		return issuerKey{}, false, nil
	}
	var firstErr error
	for _, raw := range raws {
		k, err := parseIssuerJWK(raw, c.seed)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if keyFitsAlg(k, alg) {
			if e.parsed == nil {
				e.parsed = map[string]issuerKey{}
			}
			e.parsed[kid] = k
			return k, true, nil
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("its alg is %s, the token's %s", k.alg, shorten(alg))
		}
	}
	return issuerKey{}, false, &Error{Status: 401, Code: codeUnknownKey, Detail: fmt.Sprintf("the issuer's key %q cannot verify this token", shorten(kid)), Err: firstErr}
}

// keyFitsAlg reports whether a token signed with alg verifies with k. An
// empty alg (a server's request signature, which names none) takes the
// key's own.
func keyFitsAlg(k issuerKey, alg string) bool {
	return alg == "" || k.alg == alg || (k.alg == "Ed25519" && alg == "EdDSA") || (k.alg == "EdDSA" && alg == "Ed25519")
}

// parseIssuerJWK reads one published key. In the current profile it must
// carry a fully specified alg (AAuth -11, JWKS Discovery).
func parseIssuerJWK(raw json.RawMessage, seed bool) (issuerKey, error) {
	jp := jsonParsers.Get()
	defer jsonParsers.Put(jp)
	v, err := parseStrict(jp, raw)
	if err != nil {
		return issuerKey{}, errors.New("the key is not JSON")
	}
	j, err := decodeJWK(v)
	if err != nil {
		return issuerKey{}, errors.New("the key is not a JWK of strings")
	}
	pub, err := sigverify.KeyFromJWK(sigverify.JWK{Kty: j.Kty, Crv: j.Crv, X: j.X, Y: j.Y, Alg: j.Alg, Private: j.Private}, !seed, "the JWKS key")
	if err != nil {
		return issuerKey{}, err
	}
	alg := j.Alg
	if alg == "" {
		alg = "Ed25519"
		if j.Kty == "EC" {
			alg = "ES256"
		}
	}
	return issuerKey{pub: pub, alg: alg}, nil
}

// run fetches the documents of (iss, dwk) into e and closes done.
func (c *keyCache) run(ctx context.Context, e *issuerEntry, iss, dwk string, done chan struct{}) {
	raw, ttl, err := c.download(ctx, iss, dwk)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if err != nil {
		e.fetchErr, e.errUntil = err, now.Add(min(failureMemory, c.minRefresh))
		switch {
		case e.fetchedAt.IsZero():
		case now.Sub(e.fetchedAt) < maxKeyAge:
			// Keys held stay in use while the issuer is unreachable,
			// within the day's ceiling (AAuth -11, JWKS Discovery).
			keep := now.Add(c.minRefresh)
			if ceiling := e.fetchedAt.Add(maxKeyAge); ceiling.Before(keep) {
				keep = ceiling
			}
			if keep.After(e.expires) {
				e.expires = keep
			}
		default:
			e.raw, e.parsed, e.fetchedAt, e.expires = nil, nil, time.Time{}, time.Time{}
		}
	} else {
		if ttl <= 0 {
			ttl = defaultFetchTTL
		}
		ttl = max(c.minRefresh, min(ttl, maxKeyAge))
		e.raw, e.parsed, e.fetchErr = raw, nil, nil
		e.fetchedAt, e.expires = now, now.Add(ttl)
	}
	e.inflight = nil
	close(done)
}

// download reads the metadata document and the JWK Set it names.
func (c *keyCache) download(ctx context.Context, iss, dwk string) (map[string][]json.RawMessage, time.Duration, error) {
	var md struct {
		Issuer  *string `json:"issuer"`
		JWKSURI string  `json:"jwks_uri"`
	}
	mdTTL, err := c.fetch.getJSON(ctx, iss+"/.well-known/"+dwk, maxMetadataBody, &md)
	if err != nil {
		return nil, 0, &Error{Status: 401, Code: codeUnknownKey, Detail: "cannot read the issuer's metadata", Err: err}
	}
	switch {
	case md.Issuer == nil || *md.Issuer == "":
		return nil, 0, sigErr(codeIssuerMissing, "the metadata of %q has no issuer", shorten(iss))
	case *md.Issuer != iss:
		return nil, 0, sigErr(codeIssuerMismatch, "the metadata fetched for %q names issuer %q", shorten(iss), shorten(*md.Issuer))
	case md.JWKSURI == "":
		return nil, 0, sigErr(codeUnknownKey, "the metadata of %q has no jwks_uri", shorten(iss))
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	jwksTTL, err := c.fetch.getJSON(ctx, md.JWKSURI, maxJWKSBody, &set)
	if err != nil {
		return nil, 0, &Error{Status: 401, Code: codeUnknownKey, Detail: "cannot read the issuer's JWK Set", Err: err}
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, 0, sigErr(codeUnknownKey, "the JWK Set of %q has %d keys, more than %d", shorten(iss), len(set.Keys), maxJWKSKeys)
	}
	raw := map[string][]json.RawMessage{}
	for _, k := range set.Keys {
		var id struct {
			Kid string `json:"kid"`
		}
		// A key whose kid cannot be read is skipped, not fatal: only
		// the key a token names has to be usable.
		if json.Unmarshal(k, &id) == nil && id.Kid != "" {
			raw[id.Kid] = append(raw[id.Kid], k)
		}
	}
	ttl := jwksTTL
	if mdTTL > 0 && (ttl <= 0 || mdTTL < ttl) {
		ttl = mdTTL
	}
	return raw, ttl, nil
}
