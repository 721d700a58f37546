package aauthtest

import (
	"context"
	"crypto"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/resource"
	"github.com/aauthgo/aauth/wire"
)

// AccessMode is how a Resource protects its handler: an access mode of
// package resource.
type AccessMode = resource.Mode

// The access modes (the resource metadata's access_mode values).
const (
	// AccessAgentToken lets through any request signed with a valid
	// agent token (or a valid person or auth token).
	AccessAgentToken = resource.AgentToken
	// AccessPersonToken wants a person token from the person server:
	// an agent token gets 401 requirement=person-token. Auth tokens are
	// accepted too. The seed profile has no person tokens; there it
	// behaves as AccessAuthToken.
	AccessPersonToken = resource.PersonToken
	// AccessAuthToken runs the whole flow. Current profile: agent token
	// → 401 requirement=person-token; person token → 401
	// requirement=auth-token with a resource token; auth token → the
	// handler. Seed profile: agent token → 401 requirement=auth-token
	// directly.
	AccessAuthToken = resource.AuthToken
	// AccessSessionToken is resource-managed access: a request signed
	// with the agent token is served with a new session token in
	// AAuth-Access, which later requests send as Authorization: AAuth
	// <token>, covered by the signature (seed profile: Bearer, not
	// covered). A session token that is unknown, revoked or bound to
	// another key is disregarded: the call gets a new session token, as
	// one without any would.
	AccessSessionToken = resource.SessionToken
)

// scriptedPath is the path prefix of the pending URLs of the kit
// resource's scripted deferrals; those of package resource (deferred
// auth-token challenges) are under pendingPath, the package's default.
const scriptedPath = "/aauth/scripted/"

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
	// when the agent token names no ps, and on a step-up.
	PersonServer string

	// TrustedAgents lists the agent providers whose agent tokens are
	// accepted; empty means any.
	TrustedAgents []string

	// Scope is the scope the resource asks for in resource tokens and
	// wants in auth tokens; "" means "read".
	Scope string

	// Components are covered components the resource requires besides
	// the profile's; a request without them gets 401 Signature-Error:
	// error=invalid_input, required_input=(…). They are advertised as
	// additional_signature_components.
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

	// RetryAfter is the Retry-After of 202 answers, in seconds; "" means
	// "0", so that tests poll at once.
	RetryAfter string

	// RelativeLocation makes 202 answers carry a relative Location.
	RelativeLocation bool

	// PersonTokenJTI makes a resource token issued to a call presenting
	// a person token also carry that token's jti as person_token_jti
	// (current profile). It is the name published -11 gave presented_jti,
	// and person servers of that generation, such as @hellocoop/mockin
	// 2.0.0, read only it.
	PersonTokenJTI bool

	// R3 authorizes an MCP server's tools one by one (see resource.R3):
	// Handler must then be an MCP server, since every call's body is
	// read as MCP JSON-RPC. The person server's R3Policy decides what
	// is granted. The resource also serves an authorization endpoint at
	// /aauth/authorize, where an agent asks for tools up front.
	R3 *resource.R3

	// Logf, when set, receives a line per request, tokens redacted.
	Logf func(format string, args ...any)
}

// Resource is an in-process protected resource on an httptest server: a
// [resource.Resource] (the library's production resource side, which
// verifies every call's signature and token, answers AAuth challenges,
// issues resource tokens and session tokens, and holds deferred calls)
// with scripting on top. It can be made to step up, defer calls through
// scripted steps, revoke tokens, skew its clock, require components and
// answer with malformed challenges, and it records what it saw.
//
// Besides the paths package resource serves (its metadata at
// /.well-known/aauth-resource.json, its JWK Set at
// /.well-known/aauth-resource-jwks.json, and the pending URLs of deferred
// auth-token challenges under /aauth/pending/), the kit keeps these for
// scripted deferrals; every other path is protected and goes to the
// handler:
//
//	GET    /aauth/scripted/{id}              poll a deferred call
//	POST   /aauth/scripted/{id}              clarification answer
//	DELETE /aauth/scripted/{id}              cancel
//	GET    /aauth/consent?code=…             complete an interaction
//
// The handler finds the verified caller with [CallerFromContext] or
// [resource.FromContext]. All methods are safe for concurrent use.
type Resource struct {
	// URL is the resource's base URL, its issuer.
	URL string

	base
	srv     *httptest.Server
	opts    ResourceOptions
	rs      *resource.Resource
	inner   http.Handler // rs.Require(the scripting and the handler)
	handler http.Handler
	key     *issuerKey // signs resource tokens, the package's and faulty ones
	pend    *pendingStore
	store   sessionStore
	revoked revocations

	mu            sync.Mutex
	mode          AccessMode
	scope         string
	stepUp        bool
	offset        time.Duration
	components    []string
	personServers []string
	agents        []string
	keys          map[string]map[string]crypto.PublicKey // issuer → kid → key (TrustKey)
	queue         []Decision
	issued        []IssuedToken
	answers       []ClarificationAnswer
	served        int
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
		base:    base{name: "resource", profile: opts.Profile, clock: opts.Now, logf: opts.Logf, pending: scriptedPath},
		opts:    opts,
		handler: opts.Handler,
		key:     key,
		pend:    newPendingStore(),
		mode:    opts.Mode,
		scope:   opts.Scope,
		offset:  opts.ClockOffset,
		agents:  slices.Clone(opts.TrustedAgents),
		keys:    map[string]map[string]crypto.PublicKey{},
	}
	if opts.PersonServer != "" {
		rs.personServers = []string{opts.PersonServer}
	}
	if rs.handler == nil {
		rs.handler = http.HandlerFunc(echo)
	}
	rs.store.SessionStore = resource.NewMemorySessionStore(0)
	rs.store.issued = rs.noteIssued
	rs.store.revoked = &rs.revoked
	rs.srv, rs.URL = startServer(http.HandlerFunc(rs.route))
	rs.base.url = rs.URL
	rs.rs = rs.newResource()
	rs.inner = rs.rs.Require(http.HandlerFunc(rs.handleCall))
	rs.srv.Start()
	return rs
}

// newResource maps the options onto the package's Resource: the clock
// with its offset, trust, revocation and keys by hook, the access mode,
// scope, step-ups and components by Policy.
func (rs *Resource) newResource() *resource.Resource {
	opts := rs.opts
	r := &resource.Resource{
		Issuer:          rs.URL,
		Profile:         opts.Profile,
		Mode:            opts.Mode,
		Scope:           opts.Scope,
		Components:      opts.Components,
		SignatureWindow: opts.MaxSkew,
		Policy:          rs.policy,
		AgentProviders:  func(iss string) bool { return rs.trusted(&rs.agents, iss) },
		PersonServers:   func(iss string) bool { return rs.trusted(&rs.personServers, iss) },
		IssuerKey:       rs.issuerKey,
		Revoked:         rs.isRevoked,
		SigningKeys:     []resource.SigningKey{{Signer: rs.key.priv, KeyID: rs.key.kid}},
		Sessions:        &rs.store,
		RotateSessions:  opts.RotateSessionTokens,
		PersonTokenJTI:  opts.PersonTokenJTI,
		R3:              opts.R3,
		Now:             func() time.Time { return rs.now().Add(rs.clockOffset()) },
		// The same server under another name: the cross-origin fault
		// points the agent there.
		Authorities: []string{strings.Replace(strings.TrimPrefix(rs.URL, "http://"), "127.0.0.1:", "localhost:", 1)},
	}
	if opts.R3 != nil {
		r.AuthorizationPath = "/aauth/authorize"
	}
	if opts.Profile == wire.ProfileSeed {
		// Seed resource tokens for a token that names no person server
		// go to the configured one.
		r.AccessServer = opts.PersonServer
	}
	r.PollInterval = -1 // Retry-After: 0
	if n, err := strconv.Atoi(opts.RetryAfter); err == nil && n > 0 {
		r.PollInterval = time.Duration(n) * time.Second
	}
	return r
}

func (rs *Resource) clockOffset() time.Duration {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.offset
}

// trusted reports whether iss is in *list, or the list is empty.
func (rs *Resource) trusted(list *[]string, iss string) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(*list) == 0 || slices.Contains(*list, iss)
}

// issuerKey is the package's IssuerKey hook: the keys added with
// TrustKey.
func (rs *Resource) issuerKey(_ context.Context, iss, kid string) (crypto.PublicKey, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if pub, ok := rs.keys[iss][kid]; ok {
		return pub, true
	}
	pub, ok := rs.keys[iss][""]
	return pub, ok
}

// isRevoked is the package's Revoked hook. The package calls it for every
// token whose signature verified, with the request's context: the record
// learns there that the request verified.
func (rs *Resource) isRevoked(ctx context.Context, iss, jti string) bool {
	if st := stateOf(ctx); st != nil {
		st.verified()
	}
	return rs.revoked.has(&token{claims: map[string]any{"iss": iss, "jti": jti}})
}

// Close shuts the resource down, waits for the requests in flight, and
// closes its connections to the issuers whose keys it fetched.
func (rs *Resource) Close() {
	rs.srv.Close()
	rs.rs.CloseIdleConnections()
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

// SetPersonServer adds a person server whose person and auth tokens are
// accepted (see ResourceOptions.PersonServer).
func (rs *Resource) SetPersonServer(issuer string) {
	rs.mu.Lock()
	if !slices.Contains(rs.personServers, issuer) {
		rs.personServers = append(rs.personServers, issuer)
	}
	rs.mu.Unlock()
}

// TrustAgentProvider adds an agent provider to TrustedAgents.
func (rs *Resource) TrustAgentProvider(issuer string) {
	rs.mu.Lock()
	if !slices.Contains(rs.agents, issuer) {
		rs.agents = append(rs.agents, issuer)
	}
	rs.mu.Unlock()
}

// TrustKey makes tokens from issuer (an agent provider or a person server)
// signed under kid verify with pub, without fetching. kid "" matches any.
func (rs *Resource) TrustKey(issuer, kid string, pub crypto.PublicKey) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.keys[issuer] == nil {
		rs.keys[issuer] = map[string]crypto.PublicKey{}
	}
	rs.keys[issuer][kid] = pub
}

// StepUp makes the next call presenting an auth token get a new
// requirement=auth-token challenge (a step-up), for a resource token whose
// scope adds scope to the resource's. From then on auth tokens must carry
// scope too.
func (rs *Resource) StepUp(scope string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.scope = unionScope(rs.scope, scope)
	rs.stepUp = true
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

// RequireComponents sets covered components that calls must cover besides
// ResourceOptions.Components (which stay required); with none, it drops
// those set before.
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
// token is disregarded (the next call presenting it gets a new one).
func (rs *Resource) Revoke(token string) {
	rs.revoked.add(token)
}

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

// Reset forgets records, queued decisions, scripted pending calls,
// sessions, revocations and a pending step-up. Options and trust stay.
func (rs *Resource) Reset() {
	rs.rec.reset()
	rs.pend.reset()
	rs.store.reset()
	rs.revoked.reset()
	rs.mu.Lock()
	rs.queue, rs.issued, rs.answers, rs.stepUp, rs.served = nil, nil, nil, false, 0
	rs.scope = rs.opts.Scope
	rs.mu.Unlock()
}

// noteIssued records a token the resource issued.
func (rs *Resource) noteIssued(it IssuedToken) {
	rs.mu.Lock()
	rs.issued = append(rs.issued, it)
	rs.mu.Unlock()
}

// sessionStore is the package's session store, in memory, noting the
// session tokens it is given and the sessions it finds for a request.
type sessionStore struct {
	resource.SessionStore
	issued  func(IssuedToken)
	revoked *revocations // a revoked session token has no session
	mu      sync.Mutex
}

func (s *sessionStore) Put(ctx context.Context, token string, sess *resource.Session) error {
	s.mu.Lock()
	err := s.SessionStore.Put(ctx, token, sess)
	s.mu.Unlock()
	if err == nil {
		s.issued(IssuedToken{Kind: TokenSession, Token: token, Expiry: sess.Expiry})
	}
	return err
}

func (s *sessionStore) Get(ctx context.Context, token string) (*resource.Session, error) {
	if s.revoked.hasOpaque(token) {
		return nil, nil
	}
	s.mu.Lock()
	sess, err := s.SessionStore.Get(ctx, token)
	s.mu.Unlock()
	if st := stateOf(ctx); st != nil && sess != nil {
		st.setSession(sess)
	}
	return sess, err
}

func (s *sessionStore) Delete(ctx context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.SessionStore.Delete(ctx, token)
}

func (s *sessionStore) reset() {
	s.mu.Lock()
	s.SessionStore = resource.NewMemorySessionStore(0)
	s.mu.Unlock()
}
