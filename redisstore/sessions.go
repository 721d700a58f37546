package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/tokenstore"
	"github.com/aauthgo/aauth/resource"
)

// SessionStore is the resource.SessionStore of a Store: the session
// tokens a fleet of resource replicas has granted, so that a session
// granted by one is honoured by all. Get it from Store.Sessions.
//
// A session is stored under the hash of its token, as JSON with a format
// marker; the token itself is never written to Redis, so that reading
// Redis does not hand out sessions.
type SessionStore struct {
	s *Store

	// local, with LocalOnly, holds the sessions this process granted or
	// read, under their names, for when Redis is unavailable.
	local *resource.MemorySessionStore

	mu sync.Mutex
	// unsynced names the sessions of local granted while Redis was
	// unavailable: the first Get that misses in Redis copies them there.
	unsynced map[string]struct{}
}

var _ resource.SessionStore = (*SessionStore)(nil)

// sessionFormat is the marker of a stored session; a value without it is
// not one of ours.
const sessionFormat = "aauth-session/1"

// MaxSessionSize bounds a stored session, Data included: Put refuses a
// larger one, and Get reads no more.
const MaxSessionSize = 256 << 10

// errNotSession means a value under a session key is not a session this
// store wrote.
var errNotSession = errors.New("not a session entry")

func newSessionStore(s *Store) *SessionStore {
	ss := &SessionStore{s: s}
	if s.opts.SessionOutage == LocalOnly {
		ss.local = resource.NewMemorySessionStore(0)
		ss.unsynced = map[string]struct{}{}
	}
	return ss
}

// Sessions returns the store's session store, for
// resource.Resource.Sessions.
func (s *Store) Sessions() *SessionStore { return s.sessions }

// sessionEntry is a session as stored.
type sessionEntry struct {
	Format        string            `json:"format"`
	Thumbprint    string            `json:"jkt"`
	Agent         string            `json:"agent,omitempty"`
	AgentProvider string            `json:"agent_provider,omitempty"`
	Subject       string            `json:"sub,omitempty"`
	PersonServer  string            `json:"ps,omitempty"`
	Scope         string            `json:"scope,omitempty"`
	Data          map[string]string `json:"data,omitempty"`
	Created       time.Time         `json:"created"`
	Expiry        time.Time         `json:"expiry"`
}

// encodeSession returns what Put stores for sess.
func encodeSession(sess *resource.Session) ([]byte, error) {
	data, err := json.Marshal(sessionEntry{
		Format:     sessionFormat,
		Thumbprint: sess.Thumbprint,
		Agent:      sess.Agent, AgentProvider: sess.AgentProvider,
		Subject: sess.Subject, PersonServer: sess.PersonServer,
		Scope: sess.Scope, Data: sess.Data,
		Created: sess.Created, Expiry: sess.Expiry,
	})
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSessionSize {
		return nil, fmt.Errorf("the session is %d bytes stored, more than %d", len(data), MaxSessionSize)
	}
	return data, nil
}

// decodeSession reads a stored session. Anything else, including a
// session of another format version, is errNotSession.
func decodeSession(data []byte) (*resource.Session, error) {
	if len(data) > MaxSessionSize {
		return nil, fmt.Errorf("%w: longer than %d bytes", errNotSession, MaxSessionSize)
	}
	var e sessionEntry
	if err := json.Unmarshal(data, &e); err != nil {
		// Not err's text: a time that does not parse is quoted in it.
		return nil, fmt.Errorf("%w: not JSON of a session", errNotSession)
	}
	switch {
	case e.Format != sessionFormat:
		// The value is not quoted: whatever is there may be a secret.
		return nil, fmt.Errorf("%w: another format", errNotSession)
	case e.Thumbprint == "":
		return nil, fmt.Errorf("%w: no key thumbprint", errNotSession)
	case e.Expiry.IsZero():
		return nil, fmt.Errorf("%w: no expiry", errNotSession)
	}
	if len(e.Data) == 0 {
		e.Data = nil // as Put stores it
	}
	return &resource.Session{
		Thumbprint: e.Thumbprint,
		Agent:      e.Agent, AgentProvider: e.AgentProvider,
		Subject: e.Subject, PersonServer: e.PersonServer,
		Scope: e.Scope, Data: e.Data,
		Created: e.Created, Expiry: e.Expiry,
	}, nil
}

// Put stores sess under token until sess.Expiry; a session that has
// expired removes the entry instead. While Redis is unavailable it
// returns an error matching ErrUnavailable (FailClosed), or keeps the
// session in this process's memory and returns nil (LocalOnly, the
// default): the grant works at this replica now, and everywhere once it
// is copied to Redis.
func (ss *SessionStore) Put(ctx context.Context, token string, sess *resource.Session) error {
	if sess == nil {
		return errors.New("aauth: redis store: nil session")
	}
	ttl := sess.Expiry.Sub(ss.s.now())
	if ttl < time.Millisecond {
		return ss.Delete(ctx, token)
	}
	data, err := encodeSession(sess)
	if err != nil {
		return fmt.Errorf("aauth: redis store: refusing to store the session: %w", err)
	}
	name := tokenstore.Name(token)
	if ss.local != nil {
		ss.local.Put(ctx, name, sess)
	}
	err = ss.s.do(ctx, func(ctx context.Context) error {
		return ss.s.client.Set(ctx, ss.s.key("session", token), data, ttl).Err()
	})
	if ss.local != nil && errors.Is(err, ErrUnavailable) {
		ss.mark(name, true)
		return nil
	}
	if err == nil {
		ss.mark(name, false)
	}
	return err
}

// Get returns the session of token, or nil when there is none, it has
// expired, or the value stored for it is not a session of this store
// (with a StepSkipped event). While Redis is unavailable it returns an
// error matching ErrUnavailable (FailClosed), or this process's copy, if
// it has one (LocalOnly, the default).
func (ss *SessionStore) Get(ctx context.Context, token string) (*resource.Session, error) {
	var data string
	key := ss.s.key("session", token)
	err := ss.s.do(ctx, func(ctx context.Context) error {
		var err error
		// GETRANGE bounds what a foreign value can make us read.
		data, err = ss.s.client.GetRange(ctx, key, 0, MaxSessionSize).Result()
		return err
	})
	name := tokenstore.Name(token)
	switch {
	case errors.Is(err, ErrUnavailable) && ss.local != nil:
		return ss.localCopy(ctx, name), nil
	case isDataError(err):
		ss.skipped(ctx, key, errors.New("a value of another type"))
		return nil, nil
	case err != nil:
		return nil, err
	case data == "":
		return ss.missed(ctx, token, name), nil
	}
	sess, err := decodeSession([]byte(data))
	if err != nil {
		ss.skipped(ctx, key, err)
		return nil, nil
	}
	if ss.local != nil {
		ss.local.Put(ctx, name, sess)
		ss.mark(name, false)
	}
	return sess, nil
}

// missed handles a session Redis does not have: gone, or, if this process
// granted it while Redis was unavailable, not there yet. It copies the
// latter to Redis and returns it.
func (ss *SessionStore) missed(ctx context.Context, token, name string) *resource.Session {
	if ss.local == nil {
		return nil
	}
	ss.mu.Lock()
	_, unsynced := ss.unsynced[name]
	ss.mu.Unlock()
	sess := ss.localCopy(ctx, name)
	if !unsynced || sess == nil {
		ss.local.Delete(ctx, name)
		ss.mark(name, false)
		return nil
	}
	if data, err := encodeSession(sess); err == nil {
		// NX: a value someone else wrote meanwhile is not replaced.
		err = ss.s.do(ctx, func(ctx context.Context) error {
			return ss.s.client.SetNX(ctx, ss.s.key("session", token), data, sess.Expiry.Sub(ss.s.now())).Err()
		})
		if err == nil {
			ss.mark(name, false)
		}
	}
	return sess
}

// localCopy returns this process's copy of a session that has not
// expired, or nil.
func (ss *SessionStore) localCopy(ctx context.Context, name string) *resource.Session {
	sess, _ := ss.local.Get(ctx, name)
	if sess == nil || !ss.s.now().Before(sess.Expiry) {
		return nil
	}
	return sess
}

// mark records whether the session name is only in this process's memory.
func (ss *SessionStore) mark(name string, unsynced bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !unsynced {
		delete(ss.unsynced, name)
	} else if len(ss.unsynced) < resource.DefaultSessionCapacity {
		ss.unsynced[name] = struct{}{}
	}
}

// Delete forgets token's session; a missing one is not an error. While
// Redis is unavailable it returns an error matching ErrUnavailable, in
// either mode: with LocalOnly the session is forgotten in this process
// only, and the other replicas still honour their copies until Redis is
// back.
func (ss *SessionStore) Delete(ctx context.Context, token string) error {
	if ss.local != nil {
		name := tokenstore.Name(token)
		ss.local.Delete(ctx, name)
		ss.mark(name, false)
	}
	return ss.s.do(ctx, func(ctx context.Context) error {
		return ss.s.client.Del(ctx, ss.s.key("session", token)).Err()
	})
}

// skipped reports a value under a session key that is not ours. It names
// the key, which is a hash, never the token.
func (ss *SessionStore) skipped(ctx context.Context, key string, why error) {
	ss.s.emit(ctx, aauth.Event{Step: StepSkipped, Detail: "left the value of " + key + " alone: " + why.Error(), Err: fmt.Errorf("%w: %s: %v", ErrForeign, key, why)})
}
