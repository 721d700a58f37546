package resource

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/jsonx"
)

// This file holds the resource's pending URLs: calls answered 202 and
// finished later, when the agent polls (AAuth -11, Deferred Responses).
// Three things defer a call: a handler's long work (Defer), an auth-token
// requirement delivered as a 202 (Need.Defer), and a session approval
// waiting for a person (SessionToken mode). Only the key that made the
// call may poll it; anyone else is told it does not exist.

// Bounds on pending calls.
const (
	maxPending       = 10_000
	pendingLifetime  = DeferTimeout    // a call not finished by then ends with 408
	resultLifetime   = 5 * time.Minute // a finished call's answer is kept this long for a lost response
	maxResultBody    = 4 << 20
	maxLongPoll      = 30 * time.Second
	defaultRetryPoll = time.Second
)

type pendingKind uint8

const (
	pendingWork     pendingKind = iota + 1 // Defer: work running in the background
	pendingAuth                            // an auth-token requirement holding the call
	pendingApproval                        // a session approval holding the call
)

// pendingEntry is one pending call.
type pendingEntry struct {
	id      string
	kind    pendingKind
	owner   string  // the thumbprint of the key that made the call
	caller  *Caller // who made it
	expires time.Time

	// The held call, run when the wait ends.
	next   http.Handler
	method string
	target string
	host   string
	remote string
	header http.Header
	body   []byte

	// pendingAuth.
	need          Need
	resourceToken string
	rtExpiry      time.Time

	// pendingApproval, and pendingWork relaying an interaction.
	interactionURL, interactionCode string
	polls                           int
	changed                         chan struct{} // closed when the interaction changes (SetInteraction)
	announced                       bool          // a poll has said the current interaction

	store     *pendingStore
	running   bool
	done      chan struct{} // closed once result is set
	result    *recorded
	resultJTI string             // pendingAuth: the auth token that ran it
	cancel    context.CancelFunc // pendingWork: stops the work
}

// recorded is an answer kept to be sent (again) on a poll.
type recorded struct {
	status int
	header http.Header
	body   []byte
}

type pendingStore struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]*pendingEntry
}

func newPendingStore(now func() time.Time) *pendingStore {
	return &pendingStore{now: now, m: map[string]*pendingEntry{}}
}

var errTooManyPending = &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Detail: "too many calls are pending"}

// add files e under a new id.
func (s *pendingStore) add(e *pendingEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxPending {
		s.sweep()
		if len(s.m) >= maxPending {
			return errTooManyPending
		}
	}
	e.id = randomID(18)
	e.store = s
	e.done = make(chan struct{})
	e.expires = s.now().Add(pendingLifetime)
	s.m[e.id] = e
	return nil
}

// sweep drops expired entries. s.mu is held.
func (s *pendingStore) sweep() {
	now := s.now()
	for id, e := range s.m {
		if now.After(e.expires) {
			if e.cancel != nil {
				e.cancel()
			}
			delete(s.m, id)
		}
	}
}

// get returns the entry id, whether it has expired, and whether it has
// an answer.
func (s *pendingStore) get(id string) (e *pendingEntry, expired, finished bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e = s.m[id]
	if e == nil {
		return nil, false, false
	}
	return e, s.now().After(e.expires), e.result != nil
}

func (s *pendingStore) remove(e *pendingEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.cancel != nil {
		e.cancel()
	}
	delete(s.m, e.id)
}

// update runs f on e under the store's lock.
func (s *pendingStore) update(e *pendingEntry, f func(e *pendingEntry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(e)
}

// finish records e's answer, keeps it for resultLifetime, and wakes the
// polls waiting for it.
func (s *pendingStore) finish(e *pendingEntry, res *recorded, keepUntil time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.result != nil {
		return
	}
	e.result, e.running = res, false
	e.expires = s.now().Add(resultLifetime)
	if keepUntil.After(e.expires) {
		e.expires = keepUntil
	}
	close(e.done)
}

// hold files the call r for later.
func (c *config) hold(r *http.Request, caller *Caller, kind pendingKind, next http.Handler) (*pendingEntry, error) {
	body, err := readHeldBody(r, c.maxBody)
	if err != nil {
		return nil, err
	}
	e := &pendingEntry{
		kind:   kind,
		owner:  caller.Thumbprint,
		caller: caller,
		next:   next,
		method: r.Method,
		target: r.URL.RequestURI(),
		host:   r.Host,
		remote: r.RemoteAddr,
		header: r.Header.Clone(),
		body:   body,
	}
	if err := c.pend.add(e); err != nil {
		return nil, err
	}
	return e, nil
}

// readHeldBody reads r's body (already buffered when its digest was
// checked) and puts it back.
func readHeldBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "cannot read the body", Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Detail: "the body is larger than the resource accepts"}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

// pendingURL is the absolute pending URL of e.
func (c *config) pendingURL(e *pendingEntry) string { return c.issuer + c.pending + e.id }

// writePending answers 202 for e, with an AAuth-Requirement when
// requirement is set.
func (c *config) writePending(w http.ResponseWriter, e *pendingEntry, requirement, resourceToken, url, code string) {
	h := w.Header()
	if requirement != "" {
		v, err := formatRequirement(requirement, resourceToken, url, code)
		if err != nil {
			c.problem(w, http.StatusInternalServerError, "server_error", "cannot format the requirement")
			return
		}
		h.Set("AAuth-Requirement", v)
	}
	h.Set("Location", c.pendingURL(e))
	h.Set("Retry-After", strconv.Itoa(int(c.retryAfter().Seconds())))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"pending"}`))
}

// retryAfter is the polling interval announced in Retry-After.
func (c *config) retryAfter() time.Duration {
	switch d := c.rs.PollInterval; {
	case d == 0:
		return defaultRetryPoll
	case d < 0:
		return 0
	default:
		return d
	}
}

// servePending answers a poll (GET), or a cancel (DELETE), of a pending
// URL.
func (c *config) servePending(w http.ResponseWriter, r *http.Request, _ http.Handler) {
	id := strings.TrimPrefix(r.URL.Path, c.pending)
	caller, verr := c.verify(r)
	if verr != nil {
		c.refuse(w, r, verr)
		return
	}
	caller.res = c
	e, expired, finished := c.pend.get(id)
	if e == nil || e.owner != caller.Thumbprint {
		c.problem(w, http.StatusNotFound, "not_found", "no such pending call")
		return
	}
	if expired {
		c.pend.remove(e)
		if !finished {
			c.problem(w, http.StatusRequestTimeout, "expired", "the pending call timed out")
		} else {
			c.problem(w, http.StatusGone, "invalid_code", "the pending call is finished")
		}
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodDelete:
		c.pend.remove(e)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, DELETE")
		c.problem(w, http.StatusMethodNotAllowed, "invalid_request", "poll with GET, cancel with DELETE")
		return
	}
	switch e.kind {
	case pendingWork:
		c.pollWork(w, r, e)
	case pendingAuth:
		c.pollAuth(w, r, e, caller)
	case pendingApproval:
		c.pollApproval(w, r, e, caller)
	}
}

// pollWork answers a poll of a Defer: its answer once the work is done
// (waiting up to Prefer: wait for it), 202 until then. An interaction the
// work waits for is said at once (the wait ends when it is set), then
// polls wait again.
func (c *config) pollWork(w http.ResponseWriter, r *http.Request, e *pendingEntry) {
	c.pend.mu.Lock()
	unannounced := e.interactionURL != "" && !e.announced
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	changed := e.changed
	c.pend.mu.Unlock()
	if wait := preferWait(r.Header); wait > 0 && !unannounced {
		t := time.NewTimer(wait)
		select {
		case <-e.done:
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
	}
	if res := c.resultOf(e); res != nil {
		writeRecorded(w, res)
		return
	}
	c.pend.mu.Lock()
	url, code := e.interactionURL, e.interactionCode
	e.announced = url != ""
	c.pend.mu.Unlock()
	if url != "" {
		c.writePending(w, e, "interaction", "", url, code)
		return
	}
	c.writePending(w, e, "", "", "", "")
}

func (c *config) resultOf(e *pendingEntry) *recorded {
	c.pend.mu.Lock()
	defer c.pend.mu.Unlock()
	return e.result
}

// preferWait reads Prefer: wait=N (RFC 7240), capped.
func preferWait(h http.Header) time.Duration {
	for _, line := range h.Values("Prefer") {
		if len(line) > 256 {
			continue
		}
		for _, p := range strings.Split(line, ",") {
			name, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`))
			if err != nil || n <= 0 {
				return 0
			}
			if n >= int(maxLongPoll/time.Second) {
				return maxLongPoll // before multiplying, which could overflow
			}
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// pollAuth answers a poll of a call held for an auth token: the call's
// answer on the first poll presenting an auth token that meets the need,
// the same answer again to that same token, and the requirement again
// (with a fresh resource token once the first nears its expiry) until
// then (AAuth -11, Deferred Delivery).
func (c *config) pollAuth(w http.ResponseWriter, r *http.Request, e *pendingEntry, caller *Caller) {
	c.pend.mu.Lock()
	res, jti, running := e.result, e.resultJTI, e.running
	rt, rtExpiry, need := e.resourceToken, e.rtExpiry, e.need
	c.pend.mu.Unlock()
	if res != nil {
		if caller.Kind == KindAuth && caller.JTI == jti {
			writeRecorded(w, res)
			return
		}
		c.problem(w, http.StatusGone, "invalid_code", "the held call was served to another auth token")
		return
	}
	if caller.Kind != KindAuth || !authorized(caller, need) || running {
		if !running && c.rs.now().Add(time.Minute).After(rtExpiry) {
			if fresh, exp, err := c.resourceToken(r.Context(), e.caller, need); err == nil {
				c.pend.update(e, func(e *pendingEntry) { e.resourceToken, e.rtExpiry = fresh, exp })
				rt = fresh
			}
		}
		c.writePending(w, e, "auth-token", rt, "", "")
		return
	}
	start := false
	c.pend.update(e, func(e *pendingEntry) {
		if !e.running && e.result == nil {
			e.running, e.resultJTI, start = true, caller.JTI, true
		}
	})
	if !start {
		c.writePending(w, e, "", "", "", "")
		return
	}
	res = c.runHeld(r.Context(), e, caller, "")
	c.pend.finish(e, res, caller.Expiry)
	writeRecorded(w, res)
}

// runHeld serves the held call of e as caller, recording the answer.
// session, when set, is a new session token sent with it in AAuth-Access.
func (c *config) runHeld(ctx context.Context, e *pendingEntry, caller *Caller, session string) (res *recorded) {
	rec := newRecorder()
	if session != "" {
		rec.Header().Set("AAuth-Access", session)
	}
	req, err := http.NewRequestWithContext(NewContext(ctx, caller), e.method, e.target, bytes.NewReader(e.body))
	if err != nil || e.next == nil {
		return problemRecord(http.StatusInternalServerError, "server_error", "the held call cannot be served")
	}
	req.RequestURI = e.target
	req.Host = e.host
	req.RemoteAddr = e.remote
	req.Header = e.header.Clone()
	req.ContentLength = int64(len(e.body))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			res = problemRecord(http.StatusInternalServerError, "server_error", "the handler failed")
		}
	}()
	e.next.ServeHTTP(rec, req)
	return rec.result()
}

// recorder is an http.ResponseWriter that keeps the answer, up to
// maxResultBody.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(p) > maxResultBody {
		r.overflow = true
		return 0, errors.New("aauth: the deferred answer is larger than 4 MiB")
	}
	return r.body.Write(p)
}

// Flush is a no-op, so handlers that flush still work.
func (r *recorder) Flush() {}

func (r *recorder) result() *recorded {
	if r.overflow {
		return problemRecord(http.StatusInternalServerError, "server_error", "the answer is too large to keep")
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return &recorded{status: r.status, header: r.header, body: bytes.Clone(r.body.Bytes())}
}

func problemRecord(status int, code, detail string) *recorded {
	body, _ := jsonx.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "error": code, "detail": detail})
	return &recorded{status: status, header: http.Header{"Content-Type": {"application/problem+json"}}, body: body}
}

// writeRecorded sends a kept answer.
func writeRecorded(w http.ResponseWriter, res *recorded) {
	h := w.Header()
	for k, v := range res.header {
		h[k] = append([]string(nil), v...)
	}
	h.Set("Content-Length", strconv.Itoa(len(res.body)))
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
}
