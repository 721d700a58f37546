package aauth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/internal/whatwg"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

type profileTable = profile.Table

// credKind is the kind of token a request presents.
type credKind uint8

const (
	credAgent   credKind = iota // the agent token from Keys
	credPerson                  // a person token in Signature-Key
	credAuth                    // an auth token in Signature-Key
	credSession                 // the agent token plus Authorization: AAuth <session token>
)

func (k credKind) String() string {
	switch k {
	case credPerson:
		return "person"
	case credAuth:
		return "auth"
	case credSession:
		return "session"
	}
	return "agent"
}

// credential is what one send presents: a kind, the token value for the
// person, auth and session kinds, and the cache key it came from; when it
// was read for the origin's state, its header value formatted once.
type credential struct {
	kind  credKind
	token string
	key   string
	skey  string // Signature-Key value of a person or auth token; "": format it when signing
	authz string // Authorization value of a session token; "": format it when signing
}

// Cache keys. The key's thumbprint is part of the auth and person keys:
// those tokens are bound to the signing key (cnf.jwk) and worthless once it
// rotates.
//
// An auth token obtained under a mission is kept apart from the others:
// mission, when given and not empty, is its s256.
func authKey(origin, ps, jkt string, mission ...string) string {
	k := "auth " + origin + " " + ps + " " + jkt
	if len(mission) > 0 && mission[0] != "" {
		k += " " + mission[0]
	}
	return k
}

func (t *Transport) personKey(resource, mission, jkt string) string {
	return "person " + resource + " " + mission + " " + jkt
}

// sessionKey includes the key's thumbprint: a resource binds its session
// token to the key that signed, so a cache shared by agents with different
// keys must not hand one agent's session to another.
func sessionKey(origin, jkt string) string { return "session " + origin + " " + jkt }

// pick returns the best credential held for the run's origin.
//
// With a MemoryCache, a warm request finds it in the origin's state with
// atomic loads; otherwise it is read from the cache, formatted and kept
// there. The cache stays the source of truth: the Transport forgets what it
// kept for an origin whenever it stores or deletes one of the origin's
// tokens, and no other process writes a MemoryCache.
//
// Any other TokenCache may be shared with other processes (a file or
// Redis store), which store and delete tokens too: it is read on every
// request, as before, and only the formatting of what it returns is kept.
func (r *run) pick() credential {
	keys := r.t.keysFor(r.o, r.ps, r.jkt, r.mission())
	now := r.t.clock().Now()
	if !r.t.inProcess {
		c, until := r.t.lookup(r.ctx, keys, now)
		if c.kind == credAgent {
			return r.agentCred()
		}
		if p := r.o.cred.Load(); p != nil && p.keys == keys && p.kind == c.kind && p.token == c.token {
			return p.credential
		}
		next := &presented{credential: r.t.formatted(c), keys: keys, until: until}
		r.o.cred.Store(next)
		return next.credential
	}
	for try := 0; ; try++ {
		epoch := r.t.credEpoch.Load()
		p := r.o.cred.Load()
		if p.usable(keys, epoch, now) {
			return r.with(p.credential)
		}
		c, until := r.t.lookup(r.ctx, keys, now)
		next := &presented{credential: r.t.formatted(c), keys: keys, epoch: epoch, until: until}
		// Kept only if nothing changed meanwhile: a token stored or
		// forgotten while the cache was read makes the read stale.
		if r.o.cred.CompareAndSwap(p, next) || try == 1 {
			return r.with(next.credential)
		}
	}
}

// with returns c, or the agent's own credential when c is of the agent kind.
func (r *run) with(c credential) credential {
	if c.kind == credAgent {
		return r.agentCred()
	}
	return c
}

// lookup returns the best credential the TokenCache holds under keys at
// now, and when it stops being usable (zero: when the cache changes).
func (t *Transport) lookup(ctx context.Context, keys *credKeys, now time.Time) (credential, time.Time) {
	tab := profile.For(t.Profile)
	if keys.ps != "" || t.PersonServerMetadata != nil {
		if tok := t.cachedAt(ctx, keys.auth, now); tok != nil {
			return credential{kind: credAuth, token: tok.Value, key: keys.auth}, usableUntil(tok, tab)
		}
	}
	if tok, err := t.tokens.Token(ctx, keys.session); err == nil && tok != nil && tok.Value != "" {
		return credential{kind: credSession, token: tok.Value, key: keys.session}, time.Time{}
	}
	if tab.PersonTokens {
		if tok := t.cachedAt(ctx, keys.person, now); tok != nil {
			return credential{kind: credPerson, token: tok.Value, key: keys.person}, usableUntil(tok, tab)
		}
	}
	return credential{kind: credAgent}, time.Time{}
}

// formatted returns c with its header value formatted. A token longer than
// tokenUnit is formatted when signing instead: what the Transport keeps per
// origin stays small, however long the tokens a server hands out.
func (t *Transport) formatted(c credential) credential {
	if len(c.token) >= tokenUnit {
		return c
	}
	tab := profile.For(t.Profile)
	switch c.kind {
	case credPerson, credAuth:
		// A token that cannot be sent is refused when signing, as before.
		c.skey, _ = formatSignatureKey(wire.DefaultLabel, KeyMaterial{Key: JWT(c.token)}, tab.HWKAlg, tab.JKTJWTScheme)
	case credSession:
		c.authz = tab.SessionScheme + " " + c.token
	}
	return c
}

// usableUntil is when tok enters the profile's refresh margin of its
// expiry; zero for a token without one.
func usableUntil(tok *psclient.Token, tab *profileTable) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	return tok.Expiry.Add(-tab.RefreshMargin)
}

// cached returns the token under key if it may still be presented: outside
// the profile's refresh margin of its expiry.
func (t *Transport) cached(ctx context.Context, key string) *psclient.Token {
	return t.cachedAt(ctx, key, t.clock().Now())
}

func (t *Transport) cachedAt(ctx context.Context, key string, now time.Time) *psclient.Token {
	tok, err := t.tokens.Token(ctx, key)
	if err != nil || tok == nil || tok.Value == "" {
		return nil
	}
	if !tok.Expiry.IsZero() && !tok.Expiry.After(now.Add(profile.For(t.Profile).RefreshMargin)) {
		return nil
	}
	return tok
}

func (t *Transport) store(ctx context.Context, key string, tok *psclient.Token, kind string) {
	if kind != "session" {
		// No token of a mission outlives the mission.
		tok = t.capToMission(tok)
	}
	if err := t.tokens.SetToken(ctx, key, tok); err != nil {
		t.emit(ctx, Event{Step: StepError, Detail: "caching the " + kind + " token failed", Err: err})
		return
	}
	t.emit(ctx, Event{Step: StepTokenCached, Credential: kind, Token: Redact(tok.Value), Detail: kind + " token cached"})
}

// forget drops a credential the server refused, unless another request has
// already replaced it.
func (r *run) forget(c credential) {
	if c.key != "" {
		r.forgetKey(c.key, c.token)
	}
}

// forgetKey deletes the token value under key, then what the origin's state
// kept: in this order, so that no request keeps it again (see pick).
func (r *run) forgetKey(key, value string) {
	if tok, err := r.t.tokens.Token(r.ctx, key); err == nil && tok != nil && tok.Value == value {
		r.t.tokens.DeleteToken(r.ctx, key)
	}
	r.o.forgetCredential()
}

// keepSessionToken stores the AAuth-Access session token a resource sent,
// replacing an older one: the resource rolls it forward this way. The one
// being presented is not stored again in a MemoryCache.
func (t *Transport) keepSessionToken(ctx context.Context, resp *http.Response, o *originState, jkt string) {
	tok, ok, err := wire.ParseAccess(resp.Header)
	if !ok {
		return
	}
	if err != nil {
		t.emit(ctx, Event{Step: StepError, URL: o.name, Status: resp.StatusCode, Detail: "ignored a malformed AAuth-Access header", Err: err})
		return
	}
	if p := o.cred.Load(); t.inProcess && p != nil && p.keys != nil && p.kind == credSession && p.token == tok {
		return
	}
	t.store(ctx, sessionKey(o.name, jkt), &psclient.Token{Value: tok}, "session")
	o.forgetCredential()
}

func normalizeAuthority(scheme, hostport string) (string, error) {
	a, err := whatwg.Authority(scheme, hostport)
	if err != nil {
		return "", fmt.Errorf("aauth: invalid host %q", safetext.Clean(hostport, 256))
	}
	return a, nil
}
