package aauthtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// Paths a Resource keeps for itself; every other path goes to its handler.
const (
	resMetadataPath = "/.well-known/aauth-resource.json"
	resJWKSPath     = "/aauth/jwks"
)

// AccessMode is how a Resource protects its handler.
type AccessMode string

// The access modes (the resource metadata's access_mode values).
const (
	// AccessAgentToken lets through any request signed with a valid
	// agent token (or a valid person or auth token).
	AccessAgentToken AccessMode = "agent-token"
	// AccessPersonToken wants a person token from the person server:
	// an agent token gets 401 requirement=person-token. Auth tokens are
	// accepted too. The seed profile has no person tokens; there it
	// behaves as AccessAuthToken.
	AccessPersonToken AccessMode = "person-token"
	// AccessAuthToken runs the whole flow. Current profile: agent token
	// → 401 requirement=person-token; person token → 401
	// requirement=auth-token with a resource token; auth token → the
	// handler. Seed profile: agent token → 401 requirement=auth-token
	// directly.
	AccessAuthToken AccessMode = "auth-token"
	// AccessSessionToken is resource-managed access: a request signed
	// with the agent token is served with a new session token in
	// AAuth-Access, which later requests send as Authorization: AAuth
	// <token>, covered by the signature (seed profile: Bearer, not
	// covered). A session token that is unknown, revoked or bound to
	// another key gets 401 {"error":"invalid_session_token"}, without
	// AAuth-Requirement.
	AccessSessionToken AccessMode = "session-token"
)

// ResourceOptions configures a Resource. The zero value protects a small
// JSON echo handler with the whole auth-token flow of the current profile,
// trusting any person server and agent provider whose keys it can fetch.
type ResourceOptions struct {
	// Profile selects the wire generation.
	Profile wire.Profile

	// Now is the server's clock; nil means time.Now.
	Now func() time.Time

	// Handler serves the calls that pass the access check; nil means a
	// handler answering 200 with a JSON description of the call and the
	// caller (see CallerFromContext).
	Handler http.Handler

	// Mode is the access mode; "" means AccessAuthToken.
	Mode AccessMode

	// PersonServer is the person server whose person and auth tokens are
	// accepted (its issuer URL); "" accepts any whose keys can be
	// fetched. In the seed profile it is also the resource token's aud
	// when the agent token names no ps.
	PersonServer string

	// TrustedAgents lists the agent providers whose agent tokens are
	// accepted; empty means any.
	TrustedAgents []string

	// Scope is the scope the resource asks for in resource tokens and
	// wants in auth tokens; "" means "read".
	Scope string

	// Components are covered components the resource requires besides
	// the profile's; a request without them gets 401 Signature-Error:
	// error=invalid_input, required_input=(…).
	Components []string

	// MaxSkew bounds how far a signature's created may be from the
	// server's clock; zero means 60 s.
	MaxSkew time.Duration

	// ClockOffset shifts the clock the resource judges signatures and
	// tokens by: -2*time.Minute makes every fresh signature look 2
	// minutes in the future (Signature-Error: error=clock_skew).
	ClockOffset time.Duration

	// DeferAuthToken makes auth-token challenges 202 Accepted with a
	// Location that holds the call (AAuth -11), instead of 401: the agent
	// exchanges the resource token and polls with the auth token.
	DeferAuthToken bool

	// RotateSessionTokens issues a new session token on every call in
	// session-token mode, replacing the one presented.
	RotateSessionTokens bool

	// RetryAfter is the Retry-After of scripted 202 answers; "" means
	// "0".
	RetryAfter string

	// RelativeLocation makes 202 answers carry a relative Location.
	RelativeLocation bool

	// PersonTokenJTI makes a resource token issued to a call presenting
	// a person token also carry that token's jti as person_token_jti
	// (current profile). It is the name published -11 gave presented_jti,
	// and person servers of that generation, such as @hellocoop/mockin
	// 2.0.0, read only it.
	PersonTokenJTI bool

	// Logf, when set, receives a line per request, tokens redacted.
	Logf func(format string, args ...any)
}

// Resource is an in-process protected resource on an httptest server. It
// verifies every call's signature and presented token, answers with AAuth
// challenges per its access mode, issues real resource tokens and session
// tokens, and hands the calls it lets through to a handler. It can be
// scripted (step-up, deferred answers, revocation, clock skew, required
// components, malformed challenges) and records what it saw.
//
// The resource keeps these paths for itself (relative to URL); every other
// path is protected and goes to the handler:
//
//	GET    /.well-known/aauth-resource.json  metadata
//	GET    /aauth/jwks                       JWK Set (resource-token key)
//	GET    /aauth/pending/{id}               poll a deferred call
//	POST   /aauth/pending/{id}               clarification answer
//	DELETE /aauth/pending/{id}               cancel
//	GET    /aauth/consent?code=…             complete an interaction
//
// All methods are safe for concurrent use.
type Resource struct {
	// URL is the resource's base URL, its issuer.
	URL string

	base
	srv     *httptest.Server
	opts    ResourceOptions
	handler http.Handler
	key     *issuerKey
	agents  *keyring
	persons *keyring
	pend    *pendingStore
	revoked revocations

	mu         sync.Mutex
	mode       AccessMode
	scope      string
	stepUp     string
	offset     time.Duration
	components []string
	queue      []Decision
	sessions   map[string]session
	issued     []IssuedToken
	answers    []ClarificationAnswer
	served     int
}

// session is a session token the resource issued.
type session struct {
	thumbprint string
	agent      string
}

// NewResource starts a resource. Close it when done.
func NewResource(opts ResourceOptions) *Resource {
	key, err := newIssuerKey(opts.Profile)
	if err != nil {
		panic(err) // only crypto/rand failing gets here
	}
	if opts.Mode == "" {
		opts.Mode = AccessAuthToken
	}
	if opts.Scope == "" {
		opts.Scope = "read"
	}
	if opts.RetryAfter == "" {
		opts.RetryAfter = defaultRetryAfter
	}
	rs := &Resource{
		base:       base{name: "resource", profile: opts.Profile, clock: opts.Now, logf: opts.Logf, askAgentToken: true},
		opts:       opts,
		handler:    opts.Handler,
		key:        key,
		agents:     newKeyring(),
		persons:    newKeyring(),
		pend:       newPendingStore(),
		mode:       opts.Mode,
		scope:      opts.Scope,
		offset:     opts.ClockOffset,
		components: slices.Clone(opts.Components),
		sessions:   map[string]session{},
	}
	if rs.handler == nil {
		rs.handler = http.HandlerFunc(echo)
	}
	rs.agents.trust(opts.TrustedAgents...)
	rs.persons.trust(opts.PersonServer)
	rs.srv, rs.URL = startServer(http.HandlerFunc(rs.route))
	rs.base.url = rs.URL
	rs.srv.Start()
	return rs
}

// Close shuts the resource down and waits for the requests in flight.
func (rs *Resource) Close() {
	rs.srv.Close()
	rs.agents.close()
	rs.persons.close()
}

// Issuer returns the resource's identifier, URL.
func (rs *Resource) Issuer() string { return rs.URL }

// PublicKey returns the key the resource signs resource tokens with.
func (rs *Resource) PublicKey() crypto.PublicKey { return rs.key.public() }

// SetMode changes the access mode.
func (rs *Resource) SetMode(m AccessMode) {
	if m == "" {
		m = AccessAuthToken
	}
	rs.mu.Lock()
	rs.mode = m
	rs.mu.Unlock()
}

// SetPersonServer sets the trusted person server (see
// ResourceOptions.PersonServer).
func (rs *Resource) SetPersonServer(issuer string) {
	rs.mu.Lock()
	rs.opts.PersonServer = issuer
	rs.mu.Unlock()
	rs.persons.trust(issuer)
}

// TrustAgentProvider adds an agent provider to TrustedAgents.
func (rs *Resource) TrustAgentProvider(issuer string) { rs.agents.trust(issuer) }

// TrustKey makes tokens from issuer (an agent provider or a person server)
// signed under kid verify with pub, without fetching. kid "" matches any.
func (rs *Resource) TrustKey(issuer, kid string, pub crypto.PublicKey) {
	rs.agents.add(issuer, kid, pub)
	rs.persons.add(issuer, kid, pub)
}

// StepUp makes the next call presenting an auth token get a new
// requirement=auth-token challenge (a step-up), for a resource token whose
// scope adds scope to the resource's. From then on auth tokens must carry
// scope too.
func (rs *Resource) StepUp(scope string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.scope = unionScope(rs.scope, scope)
	rs.stepUp = rs.scope
}

// Scope returns the scope auth tokens must carry.
func (rs *Resource) Scope() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.scope
}

// SetClockOffset changes ResourceOptions.ClockOffset.
func (rs *Resource) SetClockOffset(d time.Duration) {
	rs.mu.Lock()
	rs.offset = d
	rs.mu.Unlock()
}

// RequireComponents replaces ResourceOptions.Components.
func (rs *Resource) RequireComponents(components ...string) {
	rs.mu.Lock()
	rs.components = slices.Clone(components)
	rs.mu.Unlock()
}

// Queue adds decisions for the next calls, one each, in order. A decision
// with no steps that does not approve (Deny, Fail, Respond, Malformed)
// replaces the answer of the next call whose signature and token verify,
// whatever token it presents. Approve and Defer decisions are used by the next call that
// passes the access check: Defer answers 202 with a pending URL on the
// resource, and the call is served when its polling gets to the end.
func (rs *Resource) Queue(decisions ...Decision) {
	rs.mu.Lock()
	rs.queue = append(rs.queue, decisions...)
	rs.mu.Unlock()
}

// Revoke revokes a token: a presented agent, person or auth token (by iss
// and jti) then gets 401 Signature-Error: error=revoked_jwt, and a session
// token is no longer accepted.
func (rs *Resource) Revoke(token string) { rs.revoked.add(token) }

// CompleteInteraction completes a resource-run interaction with code.
func (rs *Resource) CompleteInteraction(code string) error { return rs.pend.complete(code, false) }

// DenyInteraction denies a resource-run interaction with code.
func (rs *Resource) DenyInteraction(code string) error { return rs.pend.complete(code, true) }

// Interactions returns the interaction codes the resource handed out.
func (rs *Resource) Interactions() []InteractionCode { return rs.pend.list() }

// Requests returns every request the resource received, in order.
func (rs *Resource) Requests() []RecordedRequest { return rs.rec.all() }

// Issued returns the resource tokens and session tokens the resource
// issued, in order. Session tokens have Kind TokenSession and no claims.
func (rs *Resource) Issued() []IssuedToken {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.issued)
}

// ClarificationAnswers returns the clarification answers posted to the
// resource's pending URLs.
func (rs *Resource) ClarificationAnswers() []ClarificationAnswer {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.answers)
}

// Served counts the calls handed to the handler, directly or at the end
// of a deferral.
func (rs *Resource) Served() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.served
}

// Reset forgets records, queued decisions, pending calls, sessions,
// revocations and a pending step-up. Options and trust stay.
func (rs *Resource) Reset() {
	rs.rec.reset()
	rs.pend.reset()
	rs.revoked.reset()
	rs.mu.Lock()
	rs.queue, rs.issued, rs.answers, rs.stepUp, rs.served = nil, nil, nil, "", 0
	rs.sessions = map[string]session{}
	rs.scope = rs.opts.Scope
	rs.mu.Unlock()
}

func (rs *Resource) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == resMetadataPath:
		rs.serve(w, r, EndpointMetadata, rs.handleMetadata)
	case p == resJWKSPath:
		rs.serve(w, r, EndpointJWKS, func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Write(rs.key.jwks())
		})
	case strings.HasPrefix(p, pendingPath):
		rs.serve(w, r, EndpointPending, rs.handlePending)
	case p == consentPath:
		rs.serve(w, r, EndpointConsent, consentHandler(rs.pend))
	default:
		rs.serve(w, r, EndpointResource, rs.handleCall)
	}
}

func (rs *Resource) handleMetadata(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	rs.mu.Lock()
	mode, comps := rs.mode, slices.Clone(rs.components)
	rs.mu.Unlock()
	doc := map[string]any{"issuer": rs.URL, "jwks_uri": rs.URL + resJWKSPath}
	if rs.current() {
		doc["access_mode"] = string(mode)
		if len(comps) > 0 {
			doc["additional_signature_components"] = comps
		}
	}
	writeJSON(w, http.StatusOK, "application/json", doc)
}

// presented is a verified call: its signature and token.
type presented struct {
	res     *sigverify.Result
	tok     *token
	session string // the session token, when one was sent and is valid
	caller  *Caller
}

// check verifies the call's signature, its presented token and any
// session token. It answers the call and returns nil on failure.
func (rs *Resource) check(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) *presented {
	rs.mu.Lock()
	offset, comps := rs.offset, slices.Clone(rs.components)
	personServer := rs.opts.PersonServer
	rs.mu.Unlock()

	// The Date header tells the agent the server's time, from which it
	// corrects a clock_skew.
	w.Header().Set("Date", rs.now().Add(offset).UTC().Format(http.TimeFormat))

	sessionTok, hasSession := sessionFrom(r)
	if hasSession && rs.current() {
		comps = append(comps, "authorization")
	}
	res := rs.verifyRequest(w, r, rec, rs.opts.MaxSkew, offset, false, comps)
	if res == nil {
		return nil
	}
	t, err := parseToken(res.Token)
	if err != nil {
		rs.sigFail(w, rec, sigverify.CodeInvalidJWT, "Signature-Key does not hold a JWT", nil)
		return nil
	}
	now := rs.now().Add(offset)
	var keys keyFunc
	switch t.kind {
	case TokenAgent:
		keys = func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
			return rs.agents.key(ctx, iss, dwkAgent, kid)
		}
	case TokenPerson, TokenAuth:
		keys = func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
			if personServer != "" && iss != personServer {
				return nil, tokErr(sigverify.CodeInvalidJWT, "the token was not issued by the trusted person server")
			}
			return rs.persons.key(ctx, iss, dwkPerson, kid)
		}
	default:
		rs.sigFail(w, rec, sigverify.CodeInvalidJWT, fmt.Sprintf("typ %q is not an agent, person or auth token", shorten(t.typ)), nil)
		return nil
	}
	if terr := validate(r.Context(), rs.profile, t, t.kind, keys, now, &rs.revoked); terr != nil {
		rs.sigFail(w, rec, terr.code, terr.detail, nil)
		return nil
	}
	if t.kind != TokenAgent && !t.audience(rs.URL) {
		rs.sigFail(w, rec, sigverify.CodeInvalidJWT, fmt.Sprintf("the %s token is for another audience", t.kind), nil)
		return nil
	}
	if terr := bound(t, res.Thumbprint); terr != nil {
		rs.sigFail(w, rec, terr.code, terr.detail, nil)
		return nil
	}
	p := &presented{res: res, tok: t, caller: &Caller{
		Presented:  t.kind,
		Subject:    t.str("sub"),
		Scope:      t.str("scope"),
		Thumbprint: res.Thumbprint,
		Claims:     t.claims,
	}}
	switch t.kind {
	case TokenAgent:
		p.caller.Agent = t.str("sub")
		p.caller.Subject = ""
	case TokenAuth:
		p.caller.Agent = t.str("agent")
	}
	if hasSession {
		rec.Session = sessionTok
		rs.mu.Lock()
		s, ok := rs.sessions[sessionTok]
		rs.mu.Unlock()
		if !ok || s.thumbprint != res.Thumbprint || rs.revoked.hasOpaque(sessionTok) {
			rs.problem(w, rec, http.StatusUnauthorized, "invalid_session_token", "the session token is unknown, revoked, or bound to another key")
			return nil
		}
		p.session = sessionTok
		p.caller.Presented = TokenSession
		if p.caller.Agent == "" {
			p.caller.Agent = s.agent
		}
	}
	return p
}

// sessionFrom reads a session token from Authorization: AAuth <token>
// (current) or Bearer <token> (seed); either is accepted in both profiles.
func sessionFrom(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || (!strings.EqualFold(scheme, "AAuth") && !strings.EqualFold(scheme, "Bearer")) {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// takeQueued returns the next queued decision if it applies now: before
// the access check (pre) only a final non-approving answer applies.
func (rs *Resource) takeQueued(pre bool) (Decision, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.queue) == 0 {
		return Decision{}, false
	}
	d := rs.queue[0]
	terminal := len(d.steps) == 0 && d.end.kind != endApprove
	if pre != terminal {
		return Decision{}, false
	}
	rs.queue = rs.queue[1:]
	return d, true
}

func (rs *Resource) handleCall(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	p := rs.check(w, r, rec)
	if p == nil {
		return
	}
	if d, ok := rs.takeQueued(true); ok {
		rs.writeEnd(w, r, rec, &d.end, p, nil)
		return
	}
	rs.mu.Lock()
	mode, scope, stepUp := rs.mode, rs.scope, rs.stepUp
	rs.mu.Unlock()
	if mode == AccessPersonToken && !rs.current() {
		mode = AccessAuthToken
	}
	issueSession := false
	switch mode {
	case AccessSessionToken:
		issueSession = p.session == "" || rs.opts.RotateSessionTokens
	case AccessPersonToken:
		if p.tok.kind == TokenAgent && p.session == "" {
			rs.challengePerson(w, rec)
			return
		}
	case AccessAuthToken:
		switch {
		case p.tok.kind == TokenAgent && rs.current():
			rs.challengePerson(w, rec)
			return
		case p.tok.kind == TokenAuth && stepUp == "" && hasScope(p.tok.str("scope"), scope):
			// Authorized.
		default:
			if p.tok.kind == TokenAuth && stepUp != "" {
				rs.mu.Lock()
				rs.stepUp = ""
				rs.mu.Unlock()
			}
			rs.challengeAuth(w, r, rec, p, scope)
			return
		}
	}
	call := &heldCall{caller: p.caller, issueSession: issueSession, replaces: p.session}
	if d, ok := rs.takeQueued(false); ok && len(d.steps) > 0 {
		call.hold(r, rec.Body)
		e := rs.pend.create(p.res.Thumbprint, d, call)
		rs.writeAnswer(w, r, rec, e, rs.pend.first(e, rs.URL+consentPath))
		return
	}
	rs.serveCall(w, r, call)
}

// heldCall is a call waiting for its deferral to end, or being served.
type heldCall struct {
	caller       *Caller
	issueSession bool
	replaces     string // the session token a rotation replaces

	// The held request, for calls served after a deferral.
	method string
	target string
	header http.Header
	body   []byte

	// needAuth is set while a deferred auth-token challenge holds the
	// call; resourceToken is the challenge's.
	needAuth      bool
	resourceToken string
	scope         string
}

func (c *heldCall) hold(r *http.Request, body []byte) {
	c.method, c.target, c.header, c.body = r.Method, r.URL.RequestURI(), r.Header.Clone(), body
}

// serveCall runs the handler for a call that passed, with its Caller in
// the context; r may be the original request or a poll standing in for
// it.
func (rs *Resource) serveCall(w http.ResponseWriter, r *http.Request, c *heldCall) {
	req := r
	if c.method != "" {
		req = httptest.NewRequestWithContext(r.Context(), c.method, c.target, bytes.NewReader(c.body))
		req.Header = c.header.Clone()
		req.Host = r.Host
		req.RemoteAddr = r.RemoteAddr
	}
	rs.mu.Lock()
	rs.served++
	rs.mu.Unlock()
	if c.issueSession {
		tok := randomID(24)
		rs.mu.Lock()
		rs.sessions[tok] = session{thumbprint: c.caller.Thumbprint, agent: c.caller.Agent}
		if c.replaces != "" {
			delete(rs.sessions, c.replaces)
		}
		rs.issued = append(rs.issued, IssuedToken{Kind: TokenSession, Token: tok})
		rs.mu.Unlock()
		w.Header().Set("AAuth-Access", tok)
	}
	rs.handler.ServeHTTP(w, req.WithContext(withCaller(req.Context(), c.caller)))
}

func (rs *Resource) challengePerson(w http.ResponseWriter, rec *RecordedRequest) {
	v, err := wire.FormatRequirement(wire.Challenge{Requirement: wire.RequirementPersonToken})
	if err != nil {
		rs.problem(w, rec, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("AAuth-Requirement", v)
	rs.problem(w, rec, http.StatusUnauthorized, "person_token_required", "present a person token from your person server")
}

// challengeAuth answers requirement=auth-token with a fresh resource
// token: 401, or 202 holding the call when DeferAuthToken is set.
func (rs *Resource) challengeAuth(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, p *presented, scope string) {
	rt, err := rs.resourceToken(p, scope, nil)
	if err != nil {
		rs.problem(w, rec, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	v, err := wire.FormatRequirement(wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: rt})
	if err != nil {
		rs.problem(w, rec, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	w.Header().Set("AAuth-Requirement", v)
	if !rs.opts.DeferAuthToken {
		rs.problem(w, rec, http.StatusUnauthorized, "auth_token_required", "exchange the resource token at your person server")
		return
	}
	call := &heldCall{caller: p.caller, needAuth: true, resourceToken: rt, scope: scope}
	call.hold(r, rec.Body)
	e := rs.pend.create(p.res.Thumbprint, Approve(), call)
	w.Header().Set("Location", rs.pendingURL(e, rs.opts.RelativeLocation))
	w.Header().Set("Retry-After", rs.opts.RetryAfter)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, "application/json", map[string]any{"status": "pending"})
}

// resourceToken mints a resource token for the call p, asking for scope.
func (rs *Resource) resourceToken(p *presented, scope string, tw tweak) (string, error) {
	now := rs.now()
	c := map[string]any{
		"iss":       rs.URL,
		"dwk":       dwkResource,
		"jti":       randomID(16),
		"agent_jkt": p.res.Thumbprint,
		"iat":       now.Unix(),
		"exp":       now.Add(resourceTokenLifetime).Unix(),
	}
	if scope != "" {
		c["scope"] = scope
	}
	t := p.tok
	if rs.current() {
		ps := t.str("iss")
		if t.kind == TokenAgent {
			ps = t.str("ps")
		}
		c["aud"] = ps
		c["ps"] = ps
		if t.kind != TokenAgent {
			c["sub"] = t.str("sub")
		}
		c["presented_jti"] = t.str("jti")
		if rs.opts.PersonTokenJTI && t.kind == TokenPerson {
			c["person_token_jti"] = t.str("jti")
		}
		if m := t.str("mission_s256"); m != "" {
			c["mission_s256"] = m
		}
	} else {
		aud := t.str("ps")
		if t.kind != TokenAgent {
			aud = t.str("iss")
		}
		if aud == "" {
			rs.mu.Lock()
			aud = rs.opts.PersonServer
			rs.mu.Unlock()
		}
		c["aud"] = aud
		agent := t.str("sub")
		if t.kind != TokenAgent {
			agent = t.str("agent")
		}
		c["agent"] = agent
	}
	if tw != nil {
		tw(c)
	}
	tok, err := rs.key.mint(typResource, c)
	if err != nil {
		return "", err
	}
	parsed, _ := parseToken(tok)
	exp, _ := parsed.time("exp")
	rs.mu.Lock()
	rs.issued = append(rs.issued, IssuedToken{Kind: TokenResource, Token: tok, Claims: parsed.claims, Expiry: exp})
	rs.mu.Unlock()
	return tok, nil
}

func (rs *Resource) handlePending(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	id := strings.TrimPrefix(r.URL.Path, pendingPath)
	p := rs.check(w, r, rec)
	if p == nil {
		return
	}
	e := rs.pend.get(id)
	if e == nil {
		rs.problem(w, rec, http.StatusNotFound, "invalid_code", "no such pending call")
		return
	}
	if e.owner != p.res.Thumbprint {
		rs.problem(w, rec, http.StatusForbidden, "invalid_request", "the pending call belongs to another agent key")
		return
	}
	call, _ := e.payload.(*heldCall)
	switch r.Method {
	case http.MethodGet:
		var needAuth bool
		var scope, rt string
		if call != nil {
			rs.pend.mu.Lock()
			needAuth, scope, rt = call.needAuth, call.scope, call.resourceToken
			rs.pend.mu.Unlock()
		}
		if needAuth {
			if p.tok.kind != TokenAuth || !hasScope(p.tok.str("scope"), scope) {
				// Still waiting for the auth token: say so again.
				v, _ := wire.FormatRequirement(wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: rt})
				w.Header().Set("AAuth-Requirement", v)
				w.Header().Set("Location", rs.pendingURL(e, rs.opts.RelativeLocation))
				w.Header().Set("Retry-After", rs.opts.RetryAfter)
				w.Header().Set("Cache-Control", "no-store")
				writeJSON(w, http.StatusAccepted, "application/json", map[string]any{"status": "pending"})
				return
			}
			rs.pend.mu.Lock()
			call.needAuth = false
			call.caller = p.caller
			rs.pend.mu.Unlock()
		}
		rs.writeAnswer(w, r, rec, e, rs.pend.next(e, rs.URL+consentPath))
	case http.MethodDelete:
		if !rs.pend.cancel(e) {
			rs.problem(w, rec, http.StatusGone, "invalid_code", "the pending call is finished or was canceled")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		rs.takeClarification(w, rec, rs.pend, e, rs.pendingURL(e, false), func(a ClarificationAnswer) {
			rs.mu.Lock()
			rs.answers = append(rs.answers, a)
			rs.mu.Unlock()
		})
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		rs.problem(w, rec, http.StatusMethodNotAllowed, "invalid_request", "use GET, POST or DELETE")
	}
}

func (rs *Resource) writeAnswer(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, e *pendingEntry, a answer) {
	switch {
	case a.gone:
		rs.problem(w, rec, http.StatusGone, "invalid_code", "the pending call is finished or was canceled")
	case a.step != nil:
		rs.writeStep(w, rec, e, a.step, a.code, rs.opts.RelativeLocation, rs.opts.RetryAfter)
	default:
		call, _ := e.payload.(*heldCall)
		rs.writeEnd(w, r, rec, a.end, nil, call)
	}
}

// writeEnd answers a decision's end for the call (p is the verified call
// when the end is answered directly; call the held call after a deferral).
func (rs *Resource) writeEnd(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, o *outcome, p *presented, call *heldCall) {
	switch o.kind {
	case endFail:
		rs.writeFail(w, rec, o)
	case endRespond:
		writeRespond(w, o)
	case endMalformed:
		rs.writeMalformed(w, r, rec, o.fault, p, call)
	default:
		if o.retryAfter != "" {
			w.Header().Set("Retry-After", o.retryAfter)
		}
		if call == nil {
			call = &heldCall{caller: p.caller}
		}
		rs.serveCall(w, r, call)
	}
}

// writeMalformed answers a Malformed end at the resource.
func (rs *Resource) writeMalformed(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, f Fault, p *presented, call *heldCall) {
	if call == nil && p != nil {
		call = &heldCall{caller: p.caller}
		call.hold(r, rec.Body)
	}
	realChallenge := func(tw tweak, comma bool) {
		if p == nil {
			rs.problem(w, rec, http.StatusInternalServerError, "server_error", fmt.Sprintf("aauthtest: fault %q applies to a call, not a poll", f))
			return
		}
		rt, err := rs.resourceToken(p, rs.Scope(), tw)
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
			owner := ""
			if call != nil && call.caller != nil {
				owner = call.caller.Thumbprint
			}
			loc = rs.pendingURL(rs.pend.create(owner, Approve(), call), false)
		}
		rs.writeSharedFault(w, rec, f, loc, status)
	default:
		rs.problem(w, rec, http.StatusInternalServerError, "server_error", fmt.Sprintf("aauthtest: fault %q does not apply to a resource", f))
	}
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

// hasScope reports whether the space-separated scope have holds every
// scope in want.
func hasScope(have, want string) bool {
	got := strings.Fields(have)
	for _, s := range strings.Fields(want) {
		if !slices.Contains(got, s) {
			return false
		}
	}
	return true
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
