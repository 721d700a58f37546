package resource

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/aauthgo/aauth/r3"
)

// This file enforces an auth token's R3 grant on each request (R3
// §Resource Enforcement): a tools/call is served when r3_granted names
// the tool, challenged with a per-call proposal when r3_per_call does,
// and refused otherwise; a per-call token runs the one call its proposal
// describes, once.

// enforceR3 serves, challenges or refuses r, whose caller presented an
// auth token meeting need, under the token's grant.
func (c *config) enforceR3(w http.ResponseWriter, r *http.Request, caller *Caller, need Need, req *r3.MCPRequest, next http.Handler) {
	s := c.r3
	g, err := s.grants.of(caller)
	if err != nil {
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidGrant, Detail: "the auth token's R3 claims cannot be read", Err: err})
		return
	}
	calls := req.ToolCalls()
	if g == nil {
		if len(calls) > 0 {
			c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeNotGranted, Detail: "the auth token grants no tools"})
			return
		}
		c.serve(w, r, caller, next)
		return
	}
	if id, ok := strings.CutPrefix(g.URI, s.prefix+callPathSegment); ok {
		c.perCallPresented(w, r, caller, g, id, req, next)
		return
	}
	d := s.docs.get(g.S256)
	if d == nil || d.uri != g.URI {
		// Not a document this resource holds (now): ask for a grant
		// from one it does.
		c.challengeAuth(w, r, caller, c.withDocument(need, caller, s.all), next)
		return
	}
	if err := g.Within(d.enc.Document); err != nil {
		// The issuer granted what the document does not hold: its fault,
		// which a new challenge would not mend.
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidGrant, Detail: "the auth token grants operations outside its R3 document", Err: err})
		return
	}
	caller.Grant, caller.GrantDocument = g, d.enc.Document
	if len(calls) == 0 {
		c.serve(w, r, caller, next)
		return
	}
	ops := make([]r3.Operation, len(calls))
	for i, m := range calls {
		ops[i] = m.Operation()
	}
	switch g.DecideAll(s.vocab, ops) {
	case r3.Serve:
		c.serve(w, r, caller, next)
	case r3.ChallengePerCall:
		if req.Batch || len(calls) > 1 {
			// One approval binds one call.
			c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codePerCallBatch, Detail: "a tool that needs a per-call approval must be called alone, not in a batch"})
			return
		}
		c.challengePerCall(w, r, caller, need, calls[0], next)
	default:
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeNotGranted, Detail: "the auth token does not grant this tool"})
	}
}

// hasToolCall reports whether req holds a tools/call.
func hasToolCall(req *r3.MCPRequest) bool {
	for _, m := range req.Messages {
		if m.IsToolCall() {
			return true
		}
	}
	return false
}

// serve runs next for caller.
func (c *config) serve(w http.ResponseWriter, r *http.Request, caller *Caller, next http.Handler) {
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
}

// challengePerCall answers a call of a per-call tool with a proposal for
// it (R3 §Per-Call Proposals): a document naming the tool with this
// call's arguments, kept under a URI of its own, and a resource token
// referencing it; a 401, or with PerCallDeferred a 202 holding the call.
func (c *config) challengePerCall(w http.ResponseWriter, r *http.Request, caller *Caller, need Need, call r3.MCPMessage, next http.Handler) {
	s := c.r3
	op := call.Operation()
	opts := s.cfg.Proposal
	opts.Account, opts.Display = caller.Account, nil
	if s.cfg.PerCallDisplay != nil {
		opts.Display = s.cfg.PerCallDisplay(op, bytes.Clone(call.Arguments))
	}
	prop, err := r3.NewProposal(s.vocab, op, call.Arguments, opts)
	if err != nil {
		c.refuse(w, r, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "the call's arguments cannot be proposed", Err: err})
		return
	}
	enc, err := r3.Encode(prop)
	if err != nil {
		status := http.StatusInternalServerError
		if isR3Code(err, r3.CodeTooLarge) {
			status = http.StatusRequestEntityTooLarge
		}
		c.refuse(w, r, &Error{Status: status, Code: "invalid_request", Detail: "the per-call proposal cannot be written", Err: err})
		return
	}
	rec := &callRecord{enc: enc, op: op, entitled: c.audience(caller)}
	if err := s.calls.add(rec, s.prefix); err != nil {
		c.refuse(w, r, asError(err))
		return
	}
	claims := make(map[string]any, len(need.ResourceTokenClaims)+2)
	for k, v := range need.ResourceTokenClaims {
		claims[k] = v
	}
	claims["r3_uri"], claims["r3_s256"] = rec.uri, enc.S256
	need.ResourceTokenClaims = claims
	if s.cfg.PerCallDeferred {
		need.Defer = true
		need.Authorized = func(pc *Caller) bool { return c.perCallAuthorizes(pc, rec) }
	}
	c.challengeAuth(w, r, caller, need, next)
}

// perCallPresented serves a call presented with a per-call token (R3
// §Flow, steps 3 and 4, the 401 path): the call must be the one proposed,
// with the same arguments; the first presentation runs it, the same token
// again gets the same answer, and no other token runs it again.
func (c *config) perCallPresented(w http.ResponseWriter, r *http.Request, caller *Caller, g *r3.Grant, id string, req *r3.MCPRequest, next http.Handler) {
	s := c.r3
	rec := s.calls.get(id)
	if rec == nil || rec.uri != g.URI || rec.enc.S256 != g.S256 {
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidGrant, Detail: "the per-call token's proposal is unknown here or expired"})
		return
	}
	proposal := rec.enc.Document
	if err := g.Within(proposal); err != nil {
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidGrant, Detail: "the per-call token grants operations outside its proposal", Err: err})
		return
	}
	calls := req.ToolCalls()
	if req.Batch || len(req.Messages) != 1 || len(calls) != 1 {
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeNotGranted, Detail: "a per-call token runs the one call it approved, alone"})
		return
	}
	if err := r3.CheckPerCall(g, proposal, calls[0].Operation(), calls[0].Arguments); err != nil {
		code := codeInvalidGrant
		switch {
		case isR3Code(err, r3.CodeMismatch):
			code = codeParamsMismatch
		case isR3Code(err, r3.CodeNotCovered):
			code = codeNotGranted
		}
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: code, Detail: "the call is not the one the per-call token approved", Err: err})
		return
	}
	caller.Grant, caller.GrantDocument, caller.PerCall = g, proposal, true
	switch s.calls.claim(rec, caller.JTI, caller.Expiry, false) {
	case claimOther:
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeConsumed, Detail: "the approved call has run already, under another token"})
	case claimSame:
		if _, deferred := s.calls.resultOf(rec); deferred {
			c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeConsumed, Detail: "the approved call is held at its pending URL: poll it for the answer"})
			return
		}
		select {
		case <-rec.done:
		case <-r.Context().Done():
			return
		}
		res, _ := s.calls.resultOf(rec)
		switch {
		case res == nil:
			c.refuse(w, r, &Error{Status: http.StatusConflict, Code: codeConsumed, Detail: "the approved call has run, and its answer was too large to keep"})
		default:
			writeRecorded(w, res)
		}
	case claimFirst:
		tee := &teeWriter{w: w}
		finished := false
		defer func() {
			if !finished {
				s.calls.finish(rec, nil) // the handler panicked: release the waiters
			}
		}()
		c.serve(tee, r, caller, next)
		s.calls.finish(rec, tee.result())
		finished = true
	}
}

// perCallAuthorizes reports whether pc, polling the pending URL of a call
// held for a per-call approval, presents the per-call token for rec; the
// first such token is the only one that ever will.
func (c *config) perCallAuthorizes(pc *Caller, rec *callRecord) bool {
	s := c.r3
	g, err := s.grants.of(pc)
	if err != nil || g == nil || g.URI != rec.uri || g.S256 != rec.enc.S256 || g.PerCall != nil || g.Granted == nil {
		return false
	}
	proposal := rec.enc.Document
	if g.Within(proposal) != nil || !g.Granted.Covers(s.vocab, rec.op) {
		return false
	}
	if s.calls.claim(rec, pc.JTI, pc.Expiry, true) == claimOther {
		return false
	}
	pc.Grant, pc.GrantDocument, pc.PerCall = g, proposal, true
	return true
}

// teeWriter passes an answer through to the client and keeps a copy, up
// to maxCallResult bytes, for a repeated presentation of the same
// per-call token.
type teeWriter struct {
	w      http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
	over   bool
}

func (t *teeWriter) Header() http.Header { return t.w.Header() }

func (t *teeWriter) WriteHeader(status int) {
	if t.status == 0 && status >= 200 {
		t.status, t.header = status, t.w.Header().Clone()
	}
	t.w.WriteHeader(status)
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if !t.over {
		if t.body.Len()+len(p) > maxCallResult {
			t.over = true
			t.body = bytes.Buffer{}
		} else {
			t.body.Write(p)
		}
	}
	return t.w.Write(p)
}

// Flush sends what was written so far (an SSE stream).
func (t *teeWriter) Flush() {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(t.w).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (t *teeWriter) Unwrap() http.ResponseWriter { return t.w }

// result is the answer kept; nil when it was too large.
func (t *teeWriter) result() *recorded {
	if t.over {
		return nil
	}
	if t.status == 0 {
		t.status, t.header = http.StatusOK, t.w.Header().Clone()
	}
	return &recorded{status: t.status, header: t.header, body: bytes.Clone(t.body.Bytes())}
}
