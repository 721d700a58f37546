package aauth

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/lru"
)

// originState is what the Transport keeps about one resource origin: what
// its Signature-Error answers taught (its clock skew, the components it
// wants covered), the cache keys of its tokens, and the credential its
// requests present. A warm request reads it with atomic loads only.
type originState struct {
	name string // scheme://host[:port], as a browser serialises the origin

	skew  atomic.Int64             // the server's clock minus ours, in nanoseconds
	comps atomic.Pointer[[]string] // extra components to cover; replaced, never modified
	mu    sync.Mutex               // serialises changes to comps

	keys atomic.Pointer[credKeys]  // the cache keys, for the current key, person server and mission
	cred atomic.Pointer[presented] // what to present; nil or stale: look in the TokenCache
}

// originKey identifies an origin in the Transport's table: the scheme and
// the host as a browser serialises it. A URL whose host is written that way
// already (nearly all) is looked up without building its origin string.
type originKey struct {
	https bool
	host  string
}

// maxOrigins bounds the Transport's table of origins. An origin reached by
// a redirect takes a place on probation, which holds at most a quarter of
// the table (see internal/lru): a flood of them cannot evict the origins
// the caller calls. What an evicted origin taught is learnt again.
const maxOrigins = 8192

// maxComponentName bounds the length of a component name an origin may ask
// to have covered: header names are short, and every origin's list is kept.
const maxComponentName = 64

// origin returns the state of u's origin, adding it to the table when it is
// new. trusted says whether the caller named u (not a redirect).
func (t *Transport) origin(u *url.URL, trusted bool) (*originState, error) {
	https := u.Scheme == "https"
	if https || u.Scheme == "http" {
		if o, ok := t.origins.Get(originKey{https, u.Host}, trusted); ok {
			return o, nil
		}
	}
	name, err := originOf(u)
	if err != nil {
		return nil, err
	}
	scheme, host, _ := strings.Cut(name, "://")
	return t.origins.GetOrAdd(originKey{scheme == "https", host}, trusted, func() *originState {
		return &originState{name: name}
	}), nil
}

func newOriginTable(max int) *lru.Map[originKey, *originState] {
	if max <= 0 {
		max = maxOrigins
	}
	return lru.New[originKey, *originState](max, nil)
}

// credKeys are the TokenCache keys of one origin's tokens for one signing
// key (jkt), person server and mission: built once, not per request.
type credKeys struct {
	ps, jkt, mission string

	auth, session, person string
}

// keysFor returns o's cache keys for ps, jkt and mission.
func (t *Transport) keysFor(o *originState, ps, jkt, mission string) *credKeys {
	if k := o.keys.Load(); k != nil && k.ps == ps && k.jkt == jkt && k.mission == mission {
		return k
	}
	k := &credKeys{
		ps: ps, jkt: jkt, mission: mission,
		auth:    authKey(o.name, ps, jkt, mission),
		session: sessionKey(o.name, jkt),
		person:  t.personKey(o.name, mission, jkt),
	}
	o.keys.Store(k)
	return k
}

// presented is the credential an origin's requests present, as last read
// from the TokenCache, with its header values formatted once.
type presented struct {
	credential
	keys  *credKeys // the keys it was read under; nil marks it forgotten
	epoch uint64    // the Transport's credential epoch when it was read
	until time.Time // the end of its use (expiry less the refresh margin); zero: none
}

// usable reports whether p may be presented at now under keys, in epoch.
func (p *presented) usable(keys *credKeys, epoch uint64, now time.Time) bool {
	return p != nil && p.keys == keys && p.epoch == epoch && (p.until.IsZero() || now.Before(p.until))
}

// forgetCredentials makes every origin's next request look in the
// TokenCache again: for changes there that the Transport makes for many
// origins at once (a mission's person tokens). As forgetCredential, it
// comes after the change.
func (t *Transport) forgetCredentials() { t.credEpoch.Add(1) }

// forgetCredential makes o's next request look in the TokenCache again.
// Called after every change the Transport makes there for o, and after it
// deletes from the TokenCache, never before: a request that read the cache
// before the change then fails to install what it read (see pick). A run
// for no origin (a governance call) has a nil o.
func (o *originState) forgetCredential() {
	if o != nil {
		o.cred.Store(&presented{})
	}
}

// components returns the extra components o asked for that req carries.
func (o *originState) components(req *http.Request) []string {
	p := o.comps.Load()
	if p == nil {
		return nil
	}
	var extra []string
	for _, c := range *p {
		if coverableOn(req, c) {
			extra = append(extra, c)
		}
	}
	return extra
}

// addComponents keeps, for o, the components of list the signer knows how
// to cover (at most maxExtraComponents in all), and reports whether one of
// them is new and can be covered on req.
func (o *originState) addComponents(list []string, req *http.Request) (retry bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cur []string
	if p := o.comps.Load(); p != nil {
		cur = *p
	}
	next := cur
	for _, c := range list {
		c = strings.ToLower(c)
		if len(c) > maxComponentName || !signableComponent(c) || contains(next, c) || len(next) >= maxExtraComponents {
			continue
		}
		if len(next) == len(cur) {
			next = append(cur[:len(cur):len(cur)], c)
		} else {
			next = append(next, c)
		}
		if coverableOn(req, c) {
			retry = true
		}
	}
	if len(next) != len(cur) {
		o.comps.Store(&next)
	}
	return retry
}
