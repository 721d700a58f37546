package aauthtest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/aauthgo/aauth/wire"
)

// pendingPath is where a server's pending URLs live; consentPath is its
// interaction page.
const (
	pendingPath = "/aauth/pending/"
	consentPath = "/aauth/consent"
)

// InteractionCode is an interaction code a kit server handed out, with its
// state.
type InteractionCode struct {
	// URL is the interaction (consent) page; the person visits
	// URL?code=Code.
	URL string
	// Code is the interaction code, 8 Crockford base32 symbols.
	Code string
	// Completed and Denied report how it ended, if it has.
	Completed, Denied bool
}

// ErrUnknownCode is returned when an interaction code is not one the
// server handed out, or its interaction is over.
var ErrUnknownCode = errors.New("aauthtest: unknown or finished interaction code")

// pendingEntry is one deferred request.
type pendingEntry struct {
	id       string
	owner    string // thumbprint of the agent key allowed to poll
	dec      Decision
	idx      int  // current step
	answered int  // answers given by the current step
	done     bool // current step completed from outside (interaction, clarification)
	code     string
	ix       *InteractionCode // the current step's interaction record
	override *outcome         // an end forced from outside (a denied interaction)
	canceled bool
	finished bool
	payload  any // the server's: *grant (person server) or *heldCall (resource)
	asked    int // clarification questions asked (rounds), for the bound
}

// pendingStore holds a server's deferred requests and interaction codes.
type pendingStore struct {
	mu           sync.Mutex
	byID         map[string]*pendingEntry
	byCode       map[string]*pendingEntry
	interactions []*InteractionCode

	// maxRounds bounds the clarification questions one request is asked;
	// zero means no bound (a resource's store).
	maxRounds int
}

func newPendingStore() *pendingStore {
	return &pendingStore{byID: map[string]*pendingEntry{}, byCode: map[string]*pendingEntry{}}
}

func (s *pendingStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID = map[string]*pendingEntry{}
	s.byCode = map[string]*pendingEntry{}
	s.interactions = nil
}

func (s *pendingStore) create(owner string, d Decision, payload any) *pendingEntry {
	e := &pendingEntry{id: randomID(16), owner: owner, dec: d, payload: payload}
	s.mu.Lock()
	s.byID[e.id] = e
	s.mu.Unlock()
	return e
}

func (s *pendingStore) get(id string) *pendingEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

// answer is what a deferred request says next.
type answer struct {
	step *Step    // a step to answer (code set for interaction)
	code string   // the interaction code of step
	end  *outcome // the end to answer
	gone bool     // the request is finished or canceled: 410
}

// first returns e's answer at the original endpoint: its first step, or a
// plain pending 202 when that step is a transient error (an error there
// would end the exchange), which is then answered on the first poll.
func (s *pendingStore) first(e *pendingEntry, consentURL string) answer {
	if len(e.dec.steps) > 0 && e.dec.steps[0].kind == stepStatus {
		p := Pending()
		return answer{step: &p}
	}
	return s.next(e, consentURL)
}

// next advances e and returns its next answer. consentURL is the page
// interaction codes point at.
func (s *pendingStore) next(e *pendingEntry, consentURL string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.canceled || e.finished {
		return answer{gone: true}
	}
	if e.override != nil {
		e.finished = true
		e.dec.ended(outcomeResult(*e.override))
		return answer{end: e.override}
	}
	for e.idx < len(e.dec.steps) {
		st := e.dec.steps[e.idx]
		if st.kind == stepAwait {
			if result, done := st.gate.result(); done {
				if result != consentApproved {
					e.dec.end = Deny().end
					e.dec.end.detail = "the person did not approve the request this one waited on"
				}
				s.endStep(e)
				continue
			}
			e.answered++
			return answer{step: &st}
		}
		waits := st.kind == stepInteraction || st.kind == stepClarification
		switch {
		case waits && e.done,
			waits && st.times > 0 && e.answered >= st.times,
			!waits && e.answered >= st.count():
			s.endStep(e)
			continue
		}
		if st.kind == stepClarification && e.answered == 0 {
			// A new question is a new round; the same question asked
			// again on a poll is not.
			if s.maxRounds > 0 && e.asked >= s.maxRounds {
				end := Deny().end
				end.detail = "the request reached the person server's limit of " + strconv.Itoa(s.maxRounds) + " clarification rounds"
				e.finished = true
				e.dec.ended(outcomeResult(end))
				return answer{end: &end}
			}
			e.asked++
		}
		e.answered++
		if st.kind == stepInteraction && e.code == "" {
			e.code = newCode()
			e.ix = &InteractionCode{URL: consentURL, Code: e.code}
			s.interactions = append(s.interactions, e.ix)
			s.byCode[normalizeCode(e.code)] = e
		}
		return answer{step: &st, code: e.code}
	}
	e.finished = true
	end := e.dec.end
	e.dec.ended(outcomeResult(end))
	return answer{end: &end}
}

// endStep moves e past its current step. s.mu is held.
func (s *pendingStore) endStep(e *pendingEntry) {
	if e.code != "" {
		delete(s.byCode, normalizeCode(e.code))
		if e.ix != nil && !e.ix.Denied {
			e.ix.Completed = true
		}
	}
	e.idx++
	e.answered = 0
	e.done = false
	e.code = ""
	e.ix = nil
}

// complete ends the interaction with code: approved (deny false) moves on
// to the next step; denied ends the request with 403 denied.
func (s *pendingStore) complete(code string, deny bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.byCode[normalizeCode(code)]
	if e == nil || e.canceled || e.finished {
		return ErrUnknownCode
	}
	if deny {
		end := Deny().end
		end.detail = "the person denied the request at the interaction page"
		e.override = &end
		e.dec.ended(consentDenied)
		if e.ix != nil {
			e.ix.Denied = true
		}
		delete(s.byCode, normalizeCode(code))
		return nil
	}
	e.done = true
	if e.ix != nil {
		e.ix.Completed = true
	}
	delete(s.byCode, normalizeCode(code))
	if e.idx == len(e.dec.steps)-1 {
		// The person's answer was the last thing the request waited for:
		// its end is decided now, not when the agent next polls.
		e.dec.ended(outcomeResult(e.dec.end))
	}
	return nil
}

// endNow makes o e's next answer, unless e is over or already has an end
// forced on it.
func (s *pendingStore) endNow(e *pendingEntry, o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !e.canceled && !e.finished && e.override == nil {
		e.override = &o
	}
}

// current returns e's current step if it has been answered and is not
// over: the step a clarification answer addresses.
func (s *pendingStore) current(e *pendingEntry) (Step, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.canceled || e.finished || e.idx >= len(e.dec.steps) || e.answered == 0 || e.done {
		return Step{}, false
	}
	return e.dec.steps[e.idx], true
}

// answerClarification marks e's current clarification step answered.
func (s *pendingStore) answerClarification(e *pendingEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.canceled || e.finished || e.idx >= len(e.dec.steps) || e.dec.steps[e.idx].kind != stepClarification || e.answered == 0 {
		return false
	}
	e.done = true
	return true
}

func (s *pendingStore) cancel(e *pendingEntry) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.canceled || e.finished {
		return false
	}
	e.canceled = true
	e.dec.ended(consentCanceled)
	if e.code != "" {
		delete(s.byCode, normalizeCode(e.code))
	}
	return true
}

func (s *pendingStore) list() []InteractionCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]InteractionCode, len(s.interactions))
	for i, ix := range s.interactions {
		out[i] = *ix
	}
	return out
}

// servePending serves a scripted pending URL the same way at both
// servers: the entry id must exist and belong to the key that signed
// (owner); GET polls through poll, DELETE cancels, POST takes a
// clarification answer and hands it to record. what names the pending
// thing in problem details ("request", "call").
func (b *base) servePending(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, pend *pendingStore, id, owner, what string, poll func(*pendingEntry), record func(ClarificationAnswer)) {
	e := pend.get(id)
	if e == nil {
		b.problem(w, rec, http.StatusNotFound, "invalid_code", "no such pending "+what)
		return
	}
	if e.owner != owner {
		b.problem(w, rec, http.StatusForbidden, "invalid_request", "the pending "+what+" belongs to another agent key")
		return
	}
	switch r.Method {
	case http.MethodGet:
		poll(e)
	case http.MethodDelete:
		if !pend.cancel(e) {
			b.problem(w, rec, http.StatusGone, "invalid_code", "the pending "+what+" is finished or was canceled")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		b.takeClarification(w, rec, pend, e, b.pendingURL(e, false), record)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		b.problem(w, rec, http.StatusMethodNotAllowed, "invalid_request", "use GET, POST or DELETE")
	}
}

// pendingURL is where e is polled: absolute, or a path when the server
// hands out relative Locations.
func (b *base) pendingURL(e *pendingEntry, relative bool) string {
	prefix := pendingPath
	if b.pending != "" {
		prefix = b.pending
	}
	if relative {
		return prefix + e.id
	}
	return b.baseURL() + prefix + e.id
}

// crossOrigin returns u with its host 127.0.0.1 replaced by localhost: the
// same server, another origin.
func crossOrigin(u string) string {
	return strings.Replace(u, "://127.0.0.1:", "://localhost:", 1)
}

// writeStep answers one deferral step.
func (b *base) writeStep(w http.ResponseWriter, rec *RecordedRequest, e *pendingEntry, st *Step, code string, relative bool, retryDefault string) {
	h := w.Header()
	retry := retryDefault
	if st.retryAfter != nil {
		retry = *st.retryAfter
	}
	if st.kind == stepStatus {
		if retry != "" {
			h.Set("Retry-After", retry)
		}
		h.Set("Cache-Control", "no-store")
		errCode := "temporarily_unavailable"
		if st.status == http.StatusTooManyRequests {
			errCode = "slow_down"
		}
		b.problem(w, rec, st.status, errCode, "scripted transient answer")
		return
	}
	h.Set("Location", b.pendingURL(e, relative))
	if retry != "" {
		h.Set("Retry-After", retry)
	}
	h.Set("Cache-Control", "no-store")
	body := map[string]any{"status": "pending"}
	var req wire.Challenge
	switch st.kind {
	case stepApproval, stepAwait:
		req.Requirement = wire.RequirementApproval
	case stepInteraction:
		req = wire.Challenge{Requirement: wire.RequirementInteraction, URL: b.baseURL() + consentPath, Code: code}
	case stepInteracting:
		body["status"] = "interacting"
	case stepClarification:
		req.Requirement = wire.RequirementClarification
		body["clarification"] = st.question
		body["timeout"] = st.timeout
		if len(st.options) > 0 {
			body["options"] = st.options
		}
	}
	if req.Requirement != "" {
		v, err := wire.FormatRequirement(req)
		if err != nil {
			b.problem(w, rec, http.StatusInternalServerError, "server_error", "aauthtest: cannot format the requirement: "+err.Error())
			return
		}
		h.Set("AAuth-Requirement", v)
	}
	writeJSON(w, http.StatusAccepted, "application/json", body)
}

// writeFail answers a Fail end.
func (b *base) writeFail(w http.ResponseWriter, rec *RecordedRequest, o *outcome) {
	if o.retryAfter != "" {
		w.Header().Set("Retry-After", o.retryAfter)
	}
	b.problem(w, rec, o.status, o.code, o.detail)
}

// writeRespond answers a Respond end.
func writeRespond(w http.ResponseWriter, o *outcome) {
	for k, vs := range o.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if o.retryAfter != "" {
		w.Header().Set("Retry-After", o.retryAfter)
	}
	status := o.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(o.body)
}
