package aauthtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/resource"
	"github.com/aauthgo/aauth/wire"
)

// This file is the resource's scripting around package resource: every
// request goes through the package's Require, whose Policy applies the
// kit's mode, scope, step-up and queued answers, and whose handler holds
// scripted deferrals or runs the test's handler.

// Paths of package resource, which the kit records under their endpoint.
const (
	resMetadataPath = "/.well-known/aauth-resource.json"
	resJWKSPath     = "/.well-known/aauth-resource-jwks.json"
)

// reqState is what the kit knows of one request while the package serves
// it; it travels in the request's context.
type reqState struct {
	rec      *RecordedRequest
	endpoint Endpoint
	pre      *Decision         // a queued answer that replaces the access check
	session  *resource.Session // the session the presented session token named
	answered bool              // the kit, not the package, wrote the answer
}

type stateKey struct{}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// verified notes that the package verified the request's signature and
// token.
func (st *reqState) verified() {
	st.rec.Signed = true
	if t, err := parseToken(st.rec.Token); err == nil {
		if _, tp, err := t.cnfKey(); err == nil {
			st.rec.Thumbprint = tp
		}
	}
}

// noteCaller fills the record from the verified caller.
func (st *reqState) noteCaller(c *resource.Caller) {
	st.rec.Signed = true
	st.rec.Thumbprint = c.Thumbprint
	st.rec.Components = c.Components
	st.rec.Created = c.Created
}

func (st *reqState) setSession(s *resource.Session) { st.session = s }

func (rs *Resource) route(w http.ResponseWriter, r *http.Request) {
	e := EndpointResource
	switch p := r.URL.Path; {
	case p == consentPath:
		rs.serve(w, r, EndpointConsent, consentHandler(rs.pend))
		return
	case p == resMetadataPath:
		e = EndpointMetadata
	case p == resJWKSPath:
		e = EndpointJWKS
	case strings.HasPrefix(p, pendingPath), strings.HasPrefix(p, scriptedPath):
		e = EndpointPending
	}
	rs.serve(w, r, e, func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
		rec.notePresented(r.Header)
		if tok, ok := sessionFrom(r); ok {
			rec.Session = tok
		}
		st := &reqState{rec: rec, endpoint: e}
		aw := &answerWriter{ResponseWriter: w, rs: rs}
		rs.inner.ServeHTTP(aw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
		rs.noteAnswer(st, w.Header(), aw.body.Bytes())
	})
}

// answerWriter makes the package's Locations relative when the options
// ask for it, and keeps the start of problem bodies for the record.
type answerWriter struct {
	http.ResponseWriter
	rs     *Resource
	status int
	body   bytes.Buffer
}

func (w *answerWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		if loc := w.Header().Get("Location"); loc != "" && status == http.StatusAccepted && w.rs.opts.RelativeLocation {
			if p, ok := strings.CutPrefix(loc, w.rs.URL); ok && strings.HasPrefix(p, "/") {
				w.Header().Set("Location", p)
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *answerWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status >= 400 && w.body.Len() < 4<<10 {
		w.body.Write(p[:min(len(p), 4<<10-w.body.Len())])
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets handlers stream.
func (w *answerWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the writer beneath.
func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteAnswer records what the package answered: its Signature-Error
// code, its problem, and the resource token it issued.
func (rs *Resource) noteAnswer(st *reqState, h http.Header, body []byte) {
	rec := st.rec
	if !st.answered {
		if se, err := wire.ParseSignatureError(h.Get("Signature-Error")); err == nil && rec.SignatureError == "" {
			rec.SignatureError = se.Code
		}
		var p struct{ Error, Detail string }
		if rec.Problem == "" && json.Unmarshal(body, &p) == nil && p.Error != "" {
			rec.Problem = p.Error + ": " + p.Detail
		}
	}
	ch, err := wire.ParseRequirement(h.Get("AAuth-Requirement"))
	if err != nil || ch.ResourceToken == "" {
		return
	}
	t, err := parseToken(ch.ResourceToken)
	if err != nil || t.kind != TokenResource || t.verifySignature(rs.key.public()) != nil {
		return // a scripted answer's, not the resource's
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if slices.ContainsFunc(rs.issued, func(it IssuedToken) bool { return it.Token == t.raw }) {
		return // a deferred challenge repeated on a poll
	}
	exp, _ := t.time("exp")
	rs.issued = append(rs.issued, IssuedToken{Kind: TokenResource, Token: t.raw, Claims: t.claims, Expiry: exp})
}

// policy is the package's Policy: what the call needs, by the kit's
// current mode, scope and components, and the queued answer that
// replaces the access check.
func (rs *Resource) policy(r *http.Request, c *resource.Caller) resource.Need {
	st := stateOf(r.Context())
	if st != nil {
		st.noteCaller(c)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	need := resource.Need{Mode: rs.mode, Scope: rs.scope, Components: slices.Clone(rs.components)}
	if st == nil || strings.HasPrefix(r.URL.Path, scriptedPath) {
		// A poll of a scripted deferral: any verified token may poll.
		need.Mode = resource.AgentToken
		return need
	}
	for _, comp := range need.Components {
		if !slices.Contains(c.Components, strings.ToLower(comp)) {
			return need // refused for the component: nothing scripted is used up
		}
	}
	if len(rs.queue) > 0 && len(rs.queue[0].steps) == 0 && rs.queue[0].end.kind != endApprove {
		d := rs.queue[0]
		rs.queue = rs.queue[1:]
		st.pre = &d
		need.Mode = resource.AgentToken // answered whatever was presented
		return need
	}
	mode := need.Mode
	if mode == resource.PersonToken && !rs.current() {
		mode = resource.AuthToken
	}
	if mode == resource.AuthToken {
		need.Defer = rs.opts.DeferAuthToken
		if rs.stepUp && c.Kind == resource.KindAuth {
			// The step-up: this auth token is challenged once more,
			// whatever scope it holds.
			rs.stepUp = false
			stale := c.JTI
			need.Authorized = func(c *resource.Caller) bool { return c.JTI != stale }
		}
	}
	return need
}

// takeApproving returns the next queued decision if it is one that the
// calls passing the access check take (Approve, Defer).
func (rs *Resource) takeApproving() (Decision, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.queue) == 0 || (len(rs.queue[0].steps) == 0 && rs.queue[0].end.kind != endApprove) {
		return Decision{}, false
	}
	d := rs.queue[0]
	rs.queue = rs.queue[1:]
	return d, true
}

// handleCall runs behind the package's Require: for a call that passed
// (or that a queued answer replaces), and for polls of the kit's own
// pending URLs.
func (rs *Resource) handleCall(w http.ResponseWriter, r *http.Request) {
	st := stateOf(r.Context())
	rc, ok := resource.FromContext(r.Context())
	if st == nil || !ok {
		http.Error(w, "aauthtest: a call reached the handler unverified", http.StatusInternalServerError)
		return
	}
	st.noteCaller(rc)
	if strings.HasPrefix(r.URL.Path, scriptedPath) {
		st.answered = true
		rs.handlePending(w, r, st.rec, rc)
		return
	}
	call := &heldCall{caller: callerOf(rc, st.session != nil && st.session == rc.Session), verified: rc}
	if st.pre != nil {
		st.answered = true
		rs.writeEnd(w, r, st.rec, &st.pre.end, call, true)
		return
	}
	if d, ok := rs.takeApproving(); ok && len(d.steps) > 0 {
		st.answered = true
		if v := w.Header().Get("AAuth-Access"); v != "" {
			// A session granted to a call the script holds goes with
			// the held call's answer.
			call.access = v
			w.Header().Del("AAuth-Access")
		}
		if err := call.hold(r); err != nil {
			rs.problem(w, st.rec, http.StatusBadRequest, "invalid_request", "cannot read the body")
			return
		}
		e := rs.pend.create(rc.Thumbprint, d, call)
		rs.writeAnswer(w, r, st.rec, e, rs.pend.first(e, rs.URL+consentPath))
		return
	}
	rs.serveCall(w, r, call)
}

// callerOf is the kit's Caller for the package's.
func callerOf(c *resource.Caller, session bool) *Caller {
	kc := &Caller{Presented: TokenKind(c.Kind), Agent: c.Agent, Subject: c.Subject, Scope: c.Scope, Thumbprint: c.Thumbprint, Verified: c}
	kc.Claims, _ = c.Claims()
	if session {
		kc.Presented = TokenSession
	}
	return kc
}

// heldCall is a call waiting for its scripted deferral to end, or being
// served.
type heldCall struct {
	caller   *Caller
	verified *resource.Caller
	access   string // a session token to send with the answer

	// The held request, for calls served after a deferral.
	method string
	target string
	header http.Header
	body   []byte
}

// hold keeps r to be served later.
func (c *heldCall) hold(r *http.Request) error {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			return err
		}
		body = b
	}
	c.method, c.target, c.header, c.body = r.Method, r.URL.RequestURI(), r.Header.Clone(), body
	return nil
}

// serveCall runs the handler for a call that passed, with its Caller in
// the context; r may be the original request or a poll standing in for
// it.
func (rs *Resource) serveCall(w http.ResponseWriter, r *http.Request, c *heldCall) {
	req := r
	if c.method != "" {
		req = httptest.NewRequestWithContext(resource.NewContext(r.Context(), c.verified), c.method, c.target, bytes.NewReader(c.body))
		req.Header = c.header.Clone()
		req.Host = r.Host
		req.RemoteAddr = r.RemoteAddr
	}
	rs.mu.Lock()
	rs.served++
	rs.mu.Unlock()
	if c.access != "" {
		w.Header().Set("AAuth-Access", c.access)
	}
	rs.handler.ServeHTTP(w, req.WithContext(withCaller(req.Context(), c.caller)))
}

// handlePending answers a poll, a clarification answer or a cancel of a
// scripted deferral.
func (rs *Resource) handlePending(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, c *resource.Caller) {
	poll := func(e *pendingEntry) {
		rs.writeAnswer(w, r, rec, e, rs.pend.next(e, rs.URL+consentPath))
	}
	record := func(a ClarificationAnswer) {
		rs.mu.Lock()
		rs.answers = append(rs.answers, a)
		rs.mu.Unlock()
	}
	rs.servePending(w, r, rec, rs.pend, strings.TrimPrefix(r.URL.Path, scriptedPath), c.Thumbprint, "call", poll, record)
}

func (rs *Resource) writeAnswer(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, e *pendingEntry, a answer) {
	switch {
	case a.gone:
		rs.problem(w, rec, http.StatusGone, "invalid_code", "the pending call is finished or was canceled")
	case a.step != nil:
		rs.writeStep(w, rec, e, a.step, a.code, rs.opts.RelativeLocation, rs.opts.RetryAfter)
	default:
		call, _ := e.payload.(*heldCall)
		rs.writeEnd(w, r, rec, a.end, call, false)
	}
}

// writeEnd answers a decision's end for call: directly (on the call
// itself) or at the end of a deferral.
func (rs *Resource) writeEnd(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, o *outcome, call *heldCall, direct bool) {
	switch o.kind {
	case endFail:
		rs.writeFail(w, rec, o)
	case endRespond:
		writeRespond(w, o)
	case endMalformed:
		rs.writeMalformed(w, r, rec, o.fault, call, direct)
	default:
		if o.retryAfter != "" {
			w.Header().Set("Retry-After", o.retryAfter)
		}
		rs.serveCall(w, r, call)
	}
}

// writeMalformed answers a Malformed end at the resource.
func (rs *Resource) writeMalformed(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, f Fault, call *heldCall, direct bool) {
	realChallenge := func(tw tweak, comma bool) {
		if !direct {
			rs.problem(w, rec, http.StatusInternalServerError, "server_error", fmt.Sprintf("aauthtest: fault %q applies to a call, not a poll", f))
			return
		}
		rt, err := rs.resourceToken(call.verified, tw)
		if err != nil {
			rs.problem(w, rec, http.StatusInternalServerError, "server_error", err.Error())
			return
		}
		sep := "; "
		if comma {
			sep = ", "
		}
		w.Header().Set("AAuth-Requirement", `requirement=auth-token`+sep+`resource-token="`+rt+`"`)
		rs.problem(w, rec, http.StatusUnauthorized, "auth_token_required", "scripted challenge")
	}
	switch f {
	case FaultResourceTokenOtherKey:
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		tp, _ := sigverify.ThumbprintOf(pub)
		realChallenge(func(c map[string]any) { c["agent_jkt"] = tp }, false)
	case FaultResourceTokenExpired:
		now := rs.now()
		realChallenge(func(c map[string]any) {
			c["iat"] = now.Add(-10 * time.Minute).Unix()
			c["exp"] = now.Add(-5 * time.Minute).Unix()
		}, false)
	case FaultRequirementCommaFormat:
		realChallenge(nil, true)
	case FaultAccessTokenWhitespace, FaultAccessTokenMultiple:
		if f == FaultAccessTokenWhitespace {
			w.Header().Set("AAuth-Access", "a b")
		} else {
			w.Header().Add("AAuth-Access", randomID(12))
			w.Header().Add("AAuth-Access", randomID(12))
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"ok": true})
	case FaultNoLocation, FaultCrossOriginLocation, FaultRequirementGarbage, FaultRequirementUnknown,
		FaultAuthTokenNoResource, FaultResourceTokenGarbage, FaultInteractionNoURL,
		FaultSignatureErrorGarbage, FaultSignatureErrorUnknown:
		status := http.StatusUnauthorized
		loc := ""
		if f == FaultNoLocation || f == FaultCrossOriginLocation {
			status = http.StatusAccepted
			if direct {
				if err := call.hold(r); err != nil {
					rs.problem(w, rec, http.StatusBadRequest, "invalid_request", "cannot read the body")
					return
				}
			}
			loc = rs.pendingURL(rs.pend.create(call.verified.Thumbprint, Approve(), call), false)
		}
		rs.writeSharedFault(w, rec, f, loc, status)
	default:
		rs.problem(w, rec, http.StatusInternalServerError, "server_error", fmt.Sprintf("aauthtest: fault %q does not apply to a resource", f))
	}
}

// resourceToken mints a resource token for the caller, as the package
// does, its claims changed by tw and signed again with the same key. An
// agent token is taken for a person token: the package mints only for
// person and auth tokens (current profile), and the faults apply to the
// agent's first call.
func (rs *Resource) resourceToken(c *resource.Caller, tw tweak) (string, error) {
	basis := *c
	if basis.Kind == resource.KindAgent && rs.current() {
		basis.Kind = resource.KindPerson
	}
	tok, _, err := rs.rs.ResourceToken(&basis, resource.Need{Scope: rs.Scope()})
	if err != nil || tw == nil {
		return tok, err
	}
	t, err := parseToken(tok)
	if err != nil {
		return "", err
	}
	tw(t.claims)
	return rs.key.mint(typResource, t.claims)
}

// echo is the default handler: it describes the call and the caller.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxBody))
	out := map[string]any{"ok": true, "method": r.Method, "path": r.URL.Path}
	if len(body) > 0 {
		out["body_bytes"] = len(body)
	}
	if c, ok := CallerFromContext(r.Context()); ok {
		out["presented"] = string(c.Presented)
		if c.Agent != "" {
			out["agent"] = c.Agent
		}
		if c.Subject != "" {
			out["sub"] = c.Subject
		}
		if c.Scope != "" {
			out["scope"] = c.Scope
		}
	}
	writeJSON(w, http.StatusOK, "application/json", out)
}

// sessionFrom reads a session token from Authorization: AAuth <token>
// (current) or Bearer <token> (seed), for the record.
func sessionFrom(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || (!strings.EqualFold(scheme, "AAuth") && !strings.EqualFold(scheme, "Bearer")) {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// unionScope joins two space-separated scopes without repeats.
func unionScope(a, b string) string {
	out := strings.Fields(a)
	for _, s := range strings.Fields(b) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}
