package resource

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/wire"
)

// This file is resource-managed (two-party) access (AAuth -11,
// Resource-Managed Authorization and AAuth-Access): the resource decides
// itself, through Resource.Approve, whether an agent may use it, possibly
// after a person approved at the resource's own page, and then hands the
// agent a session token in AAuth-Access. The agent sends it back as
// Authorization: AAuth <token>, covered by its signature, and keeps
// signing with its agent token; the token is bound to that key and is
// worth nothing without it.

// Session is what the resource granted an agent in SessionToken mode.
type Session struct {
	// Thumbprint is the key the session is bound to.
	Thumbprint string

	// Agent and AgentProvider identify the agent it was granted to; for
	// a grant to a person or auth token, Subject and PersonServer
	// identify the person.
	Agent, AgentProvider  string
	Subject, PersonServer string

	// Scope and Data are what the approval granted (Approval.Scope and
	// Approval.Data).
	Scope string
	Data  map[string]string

	// Created and Expiry bound the session.
	Created, Expiry time.Time
}

// SessionStore holds session tokens. The in-memory store serves one
// process; a fleet needs a shared one.
type SessionStore interface {
	// Put stores s under token until s.Expiry.
	Put(ctx context.Context, token string, s *Session) error
	// Get returns the session of token, or nil when there is none or it
	// has expired.
	Get(ctx context.Context, token string) (*Session, error)
	// Delete forgets token.
	Delete(ctx context.Context, token string) error
}

// DefaultSessionCapacity is the number of sessions the in-memory store
// holds when given no capacity.
const DefaultSessionCapacity = 100_000

// MemorySessionStore is a SessionStore in memory. When full, expired
// sessions are dropped, then the one expiring soonest.
type MemorySessionStore struct {
	max int

	mu sync.Mutex
	m  map[string]*Session
}

// NewMemorySessionStore returns a store holding at most capacity
// sessions; 0 means DefaultSessionCapacity.
func NewMemorySessionStore(capacity int) *MemorySessionStore {
	if capacity <= 0 {
		capacity = DefaultSessionCapacity
	}
	return &MemorySessionStore{max: capacity, m: map[string]*Session{}}
}

// Put implements SessionStore.
func (s *MemorySessionStore) Put(_ context.Context, token string, sess *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[token]; !ok && len(s.m) >= s.max {
		now := time.Now()
		var soonest string
		for t, v := range s.m {
			if v.Expiry.Before(now) {
				delete(s.m, t)
			} else if soonest == "" || v.Expiry.Before(s.m[soonest].Expiry) {
				soonest = t
			}
		}
		if len(s.m) >= s.max && soonest != "" {
			delete(s.m, soonest)
		}
	}
	cp := *sess
	s.m[token] = &cp
	return nil
}

// Get implements SessionStore. Expiry is left to the caller, which
// judges it by its own clock.
func (s *MemorySessionStore) Get(_ context.Context, token string) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[token]
	if !ok {
		return nil, nil
	}
	cp := *v
	return &cp, nil
}

// Delete implements SessionStore.
func (s *MemorySessionStore) Delete(_ context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
	return nil
}

// Decision is the outcome of an approval.
type Decision int

// The decisions. The zero Decision is Pending: an Approve that says
// nothing keeps the agent waiting, it never grants.
const (
	Pending Decision = iota
	Granted
	Denied
)

// ApprovalRequest is what Resource.Approve decides on.
type ApprovalRequest struct {
	// Caller is the verified caller asking for a session.
	Caller *Caller
	// Request is the call it made (its body can be read), or the
	// poll, which carries the held call's headers.
	Request *http.Request
	// PendingID is "" on the call itself and the pending call's id on
	// each poll; Polls counts the polls so far.
	PendingID string
	Polls     int
	// InteractionCode is the code the first Approval handed out, if
	// any, so that the decision can be looked up by it.
	InteractionCode string
}

// Approval is Resource.Approve's answer.
type Approval struct {
	// Decision grants, denies, or keeps the call pending (the zero
	// value). Approve is asked again on every poll until it grants or
	// denies.
	Decision Decision

	// InteractionURL and InteractionCode, on a Pending decision, send
	// the person to the resource's page (202 requirement=interaction,
	// answered with the first values given); without them the answer is
	// requirement=approval. NewInteractionCode makes a code.
	InteractionURL, InteractionCode string

	// Scope and Data are stored with a granted session.
	Scope string
	Data  map[string]string

	// Lifetime overrides Resource.SessionLifetime for this session.
	Lifetime time.Duration
}

// sessionAccess serves SessionToken mode: a valid session token is
// served; otherwise Approve decides. A session token that is unknown,
// expired or bound to another key is disregarded, so the call goes
// through Approve as one without a session would, and a grant replaces
// the token.
func (c *config) sessionAccess(w http.ResponseWriter, r *http.Request, caller *Caller, next http.Handler) {
	if tok, ok := sessionToken(r.Header); ok {
		s, err := c.sessions.Get(r.Context(), tok)
		if err != nil {
			c.refuse(w, r, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Detail: "the session store failed", Err: err})
			return
		}
		if s != nil && s.Thumbprint == caller.Thumbprint && c.rs.now().Before(s.Expiry) {
			caller.Session = s
			if c.rs.RotateSessions {
				fresh := randomID(32)
				if err := c.sessions.Put(r.Context(), fresh, s); err == nil {
					_ = c.sessions.Delete(r.Context(), tok)
					w.Header().Set("AAuth-Access", fresh)
				}
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), caller)))
			return
		}
	}
	a := c.approve(r, ApprovalRequest{Caller: caller, Request: r})
	switch a.Decision {
	case Granted:
		tok, err := c.grant(r.Context(), caller, a)
		if err != nil {
			c.refuse(w, r, asError(err))
			return
		}
		w.Header().Set("AAuth-Access", tok)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), caller)))
	case Denied:
		c.deny(w, "denied", "the resource refused access")
	default:
		e, err := c.hold(r, caller, pendingApproval, next)
		if err != nil {
			c.refuse(w, r, asError(err))
			return
		}
		c.pend.update(e, func(e *pendingEntry) { e.interactionURL, e.interactionCode = a.InteractionURL, a.InteractionCode })
		c.writeApprovalPending(w, e)
	}
}

func (c *config) writeApprovalPending(w http.ResponseWriter, e *pendingEntry) {
	if e.interactionURL != "" && e.interactionCode != "" {
		c.writePending(w, e, "interaction", "", e.interactionURL, e.interactionCode)
		return
	}
	c.writePending(w, e, "approval", "", "", "")
}

// approve asks Resource.Approve; nil grants.
func (c *config) approve(r *http.Request, req ApprovalRequest) Approval {
	if c.rs.Approve == nil {
		return Approval{Decision: Granted}
	}
	return c.rs.Approve(r.Context(), req)
}

// grant stores a new session for caller and returns its token.
func (c *config) grant(ctx context.Context, caller *Caller, a Approval) (string, error) {
	life := a.Lifetime
	if life <= 0 {
		life = c.sessLife
	}
	now := c.rs.now()
	s := &Session{
		Thumbprint: caller.Thumbprint,
		Scope:      a.Scope,
		Data:       a.Data,
		Created:    now,
		Expiry:     now.Add(life),
	}
	switch caller.Kind {
	case KindAgent:
		s.Agent, s.AgentProvider = caller.Agent, caller.Issuer
	case KindPerson, KindAuth:
		s.Subject, s.PersonServer = caller.Subject, caller.PersonServer
	}
	tok := randomID(32)
	if err := c.sessions.Put(ctx, tok, s); err != nil {
		return "", &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Detail: "the session store failed", Err: err}
	}
	caller.Session = s
	return tok, nil
}

// pollApproval answers a poll of a call waiting for approval.
func (c *config) pollApproval(w http.ResponseWriter, r *http.Request, e *pendingEntry, caller *Caller) {
	if res := c.resultOf(e); res != nil {
		writeRecorded(w, res)
		return
	}
	var polls int
	var running bool
	c.pend.update(e, func(e *pendingEntry) { e.polls++; polls, running = e.polls, e.running })
	if running {
		c.writeApprovalPending(w, e)
		return
	}
	held, err := http.NewRequestWithContext(r.Context(), e.method, e.target, nil)
	if err == nil {
		held.Header, held.Host = e.header.Clone(), e.host
	} else {
		held = r
	}
	a := c.approve(r, ApprovalRequest{Caller: e.caller, Request: held, PendingID: e.id, Polls: polls, InteractionCode: e.interactionCode})
	switch a.Decision {
	case Granted:
		start := false
		c.pend.update(e, func(e *pendingEntry) {
			if !e.running && e.result == nil {
				e.running, start = true, true
			}
		})
		if !start {
			c.writeApprovalPending(w, e)
			return
		}
		tok, err := c.grant(r.Context(), e.caller, a)
		var res *recorded
		if err != nil {
			ae := asError(err)
			res = problemRecord(ae.Status, ae.Code, ae.Detail)
		} else {
			res = c.runHeld(r.Context(), e, e.caller, tok)
		}
		c.pend.finish(e, res, time.Time{})
		writeRecorded(w, res)
	case Denied:
		res := problemRecord(http.StatusForbidden, "denied", "the resource refused access")
		c.pend.finish(e, res, time.Time{})
		writeRecorded(w, res)
	default:
		c.writeApprovalPending(w, e)
	}
}

// sessionToken reads Authorization: AAuth <token68>, or the seed
// generation's Bearer (both are read in either profile). ok is false when
// there is none or it is malformed: more than one line, another scheme, a
// value that is not one token68 of at most 8 KiB (the rules of
// AAuth-Access, wire.ParseAccess).
func sessionToken(h http.Header) (string, bool) {
	lines := header(h, "Authorization")
	if len(lines) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(lines[0], " ")
	if !ok || !(strings.EqualFold(scheme, "AAuth") || strings.EqualFold(scheme, "Bearer")) {
		return "", false
	}
	tok, ok, err := wire.ParseAccess(http.Header{"Aauth-Access": {tok}})
	return tok, ok && err == nil
}
