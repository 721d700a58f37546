package aauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/clock"
	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/lru"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/wire"
)

// Transport is an http.RoundTripper that makes requests as an AAuth agent:
// it signs every request, answers AAuth challenges by obtaining tokens from
// the agent's person server, polls deferred (202) work to the end, caches
// the tokens it obtains and retries. It is the Go form of the JavaScript
// createAAuthFetch. Most code uses Client:
//
//	client := (&aauth.Transport{Keys: keys, PersonServer: ps}).Client()
//
// For each request, in a bounded loop:
//
//  1. Present the best credential held for the resource's origin: a cached
//     auth token, else a session token (AAuth-Access), else a cached
//     person token, else the agent token from Keys.
//  2. Sign and send. Keep any AAuth-Access the answer carries.
//  3. On 401 with AAuth-Requirement: agent-token presents the agent token;
//     person-token gets a person token from the person server;
//     auth-token checks the resource token and exchanges it for an auth
//     token (presented_token is the token just presented). Then retry.
//  4. On 401 with Signature-Error: clock_skew and invalid_input get one
//     corrected retry; invalid_signature is signed once more in the next
//     second (a resource's replay check refuses a request made twice in
//     one second, which is signed byte for byte alike); an expired or
//     revoked token is dropped and the flow starts again from the agent
//     token, once.
//  5. On 202 with a Location: poll it (see psclient.FollowDeferred), calling
//     OnInteraction and OnClarification as the server asks; a deferred
//     auth-token requirement is exchanged and polling goes on with the
//     auth token.
//  6. Anything else is returned as it came.
//
// Tokens are cached per resource origin, person server and signing key,
// and are not presented within the profile's refresh margin of their
// expiry (5 minutes current, 60 s seed). When many goroutines need the same
// missing token at once, one request fetches it and the others wait; when
// Tokens is a TokenLocker, so do many processes.
//
// What the Transport keeps per origin (the credential it presents, and what
// Signature-Error answers taught it) is bounded: at most 8,192 origins,
// those reached by following a redirect on probation as in MemoryCache, so
// that a server cannot make it forget the origins the caller uses. A warm
// request takes no lock.
//
// The caller's request is never modified. A request body is sent again
// only through req.GetBody; when a retry is needed and the body cannot be
// replayed, RoundTrip returns a *NotReplayableError holding the server's
// answer.
//
// A Transport must not be copied after first use. Its fields must not be
// changed while it is in use.
type Transport struct {
	// Base sends the signed requests; nil means http.DefaultTransport.
	// Requests a server steered (see ErrEgress) have the address they
	// connect to checked when Base is nil or an *http.Transport.
	Base http.RoundTripper

	// Keys supplies the agent's key material: its signing key and its
	// agent token (JWT). Required.
	Keys KeySource

	// PersonServer is the agent's person server URL (the agent token's ps
	// claim). When it and PersonServerMetadata are both unset, the
	// Transport reads the ps claim of the agent token Keys returns (from
	// the JWT payload, unverified: the token is the agent's own), and uses
	// it if it is an https URL, or http on a loopback host, with no query
	// or fragment. Without a person server, person-token and auth-token
	// requirements cannot be met and give ErrNoPersonServer.
	PersonServer string

	// PersonServerMetadata, when set, is used instead of discovering
	// {PersonServer}/.well-known/aauth-person.json.
	PersonServerMetadata *psclient.Metadata

	// Capabilities the agent declares: in AAuth-Capabilities on resource
	// requests, and in the body of person-server token requests. In the
	// current profile the Transport adds budget (CapabilityBudget) last
	// when the list lacks it, since it reads AAuth-Budget, checks it
	// against the auth token's budget claim and reports a challenge's
	// reason (Budgets draft §Capability Negotiation); the seed profile
	// declares only what is listed.
	Capabilities []wire.Capability

	// Mission, when set, names the mission requests belong to: mission_s256
	// in person-token requests (current); the AAuth-Mission header on
	// agent-signed requests (seed).
	Mission *wire.Mission

	// OnInteraction is called when the person must visit url (with
	// ?code=code) to approve. It is called once per distinct (url, code),
	// and only for an https URL, or http on a loopback host: any other
	// URL a server names ends the request with a
	// *psclient.InteractionURLError (matching ErrInteraction). An error
	// cancels the pending request.
	OnInteraction func(ctx context.Context, url, code string) error

	// OnClarification is called when the person server asks a question;
	// its answer is sent back. An error cancels the pending request.
	OnClarification func(ctx context.Context, q psclient.Clarification) (string, error)

	// Hints for the person server, sent with token requests when set.
	Justification string
	LoginHint     string
	Tenant        string
	DomainHint    string
	Prompt        string

	// Profile selects the wire generation.
	Profile wire.Profile

	// MaxPollDuration bounds the polling of one deferred request; zero
	// means the profile's default (900 s current, 300 s seed).
	MaxPollDuration time.Duration

	// Tokens caches the tokens obtained; nil means a MemoryCache owned by
	// the Transport. It is the source of truth. A MemoryCache (or a type
	// embedding one) is not read on every request: the Transport keeps, per
	// origin, the credential it presents there, reads the cache when it has
	// none, and drops it whenever it stores or deletes one of the origin's
	// tokens. Any other TokenCache, which other processes may share, is
	// read on every request.
	Tokens TokenCache

	// OnEvent, when set, is told about each step of the flow. Events never
	// carry token values.
	OnEvent func(Event)

	// Logger, when set, logs each step at debug level (warn for errors),
	// with token values redacted.
	Logger *slog.Logger

	// Clock is the time source for signatures, token expiry and polling;
	// nil means the system clock.
	Clock psclient.Clock

	// DisableRelay makes the Transport send the person to interaction
	// URLs itself (OnInteraction) and never relay them through the person
	// server's interaction_endpoint. By default it relays first, as -11
	// says an agent with a person server should: a resource's interaction
	// (not the person server's own page) goes to the person server, which
	// may reach the person on a better channel, while the Transport keeps
	// polling the resource; OnInteraction is called only when the person
	// server cannot relay it (424 interaction_unavailable). A 403
	// user_unreachable from the relay ends the request (ErrUserUnreachable).
	DisableRelay bool

	// AuditQueueSize bounds the audit records waiting to be sent (see
	// Audit); zero means 256.
	AuditQueueSize int

	// Operations declares, per resource origin (scheme://host[:port]),
	// the R3 operations the agent means to call there, such as
	// r3.Tools("search", "send_email") for an MCP server's tools. Before
	// the first request to such an origin, the Transport asks the
	// resource's authorization endpoint for exactly those (r3_operations)
	// and exchanges the resource token it gives, so that the person
	// approves them at once (R3 §Authorization Endpoint Extensions). A
	// resource without one, or not advertising the vocabulary in
	// r3_vocabularies, is left to challenge as usual.
	//
	// Whatever it says, an auth token carrying an R3 grant is presented
	// for every call it grants; a call it grants per call (r3_per_call)
	// is challenged by the resource, and the Transport answers with a
	// narrow token for that call alone, presented once and never cached.
	// A call the resource refuses ends in an *r3.OperationError
	// (ErrOperationNotGranted, …).
	Operations map[string]r3.OperationSet

	// Parent, when set, makes this Transport a sub-agent's (AAuth -11
	// "Sub-Agents"): every person token and auth token it needs comes from
	// Parent.SubagentToken, never from a person server, so PersonServer,
	// PersonServerMetadata and Mission are not used. Keys must give a
	// sub-agent token (with parent_agent), such as agentprovider's
	// Keys.Subagent makes. A *Transport is a Parent; so is a
	// psclient.ParentFunc that reaches a parent in another process.
	Parent Parent

	// OnSubagent, when set, is asked before this Transport, as a parent,
	// requests a token for one of its sub-agents (SubagentToken); an
	// error refuses the request. It may refuse, rate-limit or log them.
	OnSubagent func(ctx context.Context, subagent string, req psclient.SubagentRequest) error

	// Chain makes a request whose context carries an upstream token (see
	// WithUpstream) on behalf of the caller who presented it (AAuth -11
	// "Call Chaining"): its person-server requests go to that token's
	// person server, with upstream_token, signed with this Transport's own
	// agent token, which must have been issued by this server as its own
	// agent provider (package intermediary sets this up).
	// It opens with a person token for the downstream resource, and
	// PersonServer, PersonServerMetadata and Mission are not used for such
	// requests. A request without an upstream token is made as this
	// agent, as without Chain.
	Chain bool

	// MaxChainRequests bounds the person-server token requests made on
	// callers' behalf under one upstream context (one served request,
	// whatever goroutines share it); zero means 16. Cached tokens cost
	// nothing. Beyond it requests fail with a *ChainError matching
	// ErrTooManySteps.
	MaxChainRequests int

	// InsecureEgress relaxes the egress checks for development (see
	// WithInsecureEgress): URLs a server names (token endpoints, redirect
	// targets) may then be plain http and on private addresses. Without
	// it they must be https (or loopback http) and may lead to a private
	// network only when the server that named them is on one too.
	InsecureEgress bool

	initOnce  sync.Once
	tokens    TokenCache
	inProcess bool // tokens is a MemoryCache: see run.pick
	metadata  psclient.MetadataCache
	flights   flights

	origins    *lru.Map[originKey, *originState] // what the Transport keeps per origin (origin.go)
	maxOrigins int                               // the table's bound; zero means maxOrigins (tests set it)

	credEpoch atomic.Uint64 // see forgetCredentials

	lastJKT  atomic.Pointer[keyThumbprint]
	lastPS   atomic.Pointer[tokenPS]
	lastSK   atomic.Pointer[agentSignatureKey]
	lastCaps atomic.Pointer[formattedCapabilities]

	withBudgetCaps atomic.Pointer[budgetCapabilities] // see withBudget

	gov governance  // the mission and the audit queue (transport_mission.go)
	r3  transportR3 // resource metadata and budgets (transport_r3.go)
}

// tokenPS is the person server named by the last agent token read: the
// token is the same for many requests, and decoding it each time is waste.
type tokenPS struct {
	token string
	ps    string // "" when the token names none that may be used
}

// keyThumbprint is the thumbprint of the last key Keys returned: keys
// rarely change, and hashing the key on every request is measurable.
type keyThumbprint struct {
	pub crypto.PublicKey
	jkt string
}

// agentSignatureKey is the Signature-Key value of the last agent key
// material signed with: formatted once, not per request.
type agentSignatureKey struct {
	key     SignatureKey
	jkt     string
	profile wire.Profile
	value   string
}

// formattedCapabilities is the AAuth-Capabilities value of the last list
// declared.
type formattedCapabilities struct {
	caps  []wire.Capability
	value string
}

// maxSends bounds the requests one RoundTrip sends to the resource: enough
// for agent token, person token, auth token, a step-up and a corrected
// signature, not enough to loop.
const maxSends = 8

// maxExtraComponents bounds the components one origin may ask, through
// Signature-Error: error=invalid_input, to have covered.
const maxExtraComponents = 16

// maxExchanges bounds the auth-token exchanges of one RoundTrip: the first
// one and one step-up.
const maxExchanges = 2

// Client returns an *http.Client that uses t. It has no Timeout: deferred
// requests may legitimately wait for a person for many minutes; bound them
// with the request context or MaxPollDuration.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

func (t *Transport) init() {
	t.initOnce.Do(func() {
		t.tokens = t.Tokens
		if t.tokens == nil {
			t.tokens = &MemoryCache{Now: t.clock().Now}
		}
		_, t.inProcess = t.tokens.(inProcessCache)
		if t.Clock != nil {
			t.metadata.Now = t.Clock.Now
		}
		t.origins = newOriginTable(t.maxOrigins)
	})
}

func (t *Transport) clock() psclient.Clock {
	if t.Clock != nil {
		return t.Clock
	}
	return clock.System
}

// RoundTrip sends req as an AAuth agent; see Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if t.Keys == nil {
		closeBody(req)
		return nil, errors.New("aauth: Transport.Keys is nil")
	}
	tab, err := profile.Check(t.Profile)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("aauth: request has no URL")
	}
	// A redirect the http.Client follows: the target was named by the
	// server, not by the caller.
	redirect := req.Response != nil && req.Response.Request != nil && req.Response.Request.URL != nil
	o, err := t.origin(req.URL, !redirect)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	ctx := req.Context()
	if t.InsecureEgress {
		ctx = WithInsecureEgress(ctx)
	}
	if redirect {
		if ctx, err = redirectContext(ctx, req.Response.Request, req.URL); err != nil {
			closeBody(req)
			return nil, err
		}
		// What is cached for it must not evict what the caller uses.
		ctx = withProbation(ctx)
	}
	if err := t.currentMissionErr(); err != nil {
		// The mission has ended: none of its tokens may be used.
		closeBody(req)
		return nil, err
	}
	r := &run{t: t, req: req, ctx: ctx, origin: o.name, o: o, tab: tab}
	r.observePS()
	resp, err := r.loop()
	resp, err = r.finishRelays(resp, err)
	if err != nil {
		t.noteMissionError(ctx, err)
		closeBody(req)
		t.emit(r.ctx, Event{Step: StepError, Method: req.Method, URL: redactURL(req.URL), Err: err, Detail: "request failed"})
		return nil, err
	}
	if t.observed() {
		t.emit(r.ctx, Event{Step: StepDone, Method: req.Method, URL: redactURL(req.URL), Status: resp.StatusCode, Credential: r.cred.kind.String(), Detail: "response returned"})
	}
	return resp, nil
}

// run is the state of one RoundTrip.
type run struct {
	t      *Transport
	req    *http.Request
	ctx    context.Context
	origin string
	o      *originState // what the Transport keeps for origin
	tab    *profileTable

	up   *upstream   // the caller's upstream token, in chain mode (chain.go)
	km   KeyMaterial // the agent's material from Keys
	jkt  string      // thumbprint of its public key
	ps   string      // the person server: PersonServer, or the agent token's ps
	cred credential  // what the next send presents

	sends     int
	exchanges int
	done      map[string]bool // corrections already made (one each)

	relay *relaySession // interaction relays (transport_relay.go)
	r3    r3Run         // the request's operations and per-call state (transport_r3.go)

	polledWith atomic.Uint32 // credKind of the last pending-URL request credClient signed (event.go)
}

func (r *run) loop() (*http.Response, error) {
	if err := r.loadKeys(); err != nil {
		return nil, err
	}
	if err := r.startChain(); err != nil {
		return nil, err
	}
	cred, err := r.opening()
	if err != nil {
		return nil, err
	}
	r.cred = cred
	if r.up == nil {
		// R3's authorize-first asks the agent's own person server; a
		// request on a caller's behalf goes to the caller's.
		if err := r.authorizeFirst(); err != nil {
			return nil, err
		}
	}
	for {
		if r.sends == maxSends {
			return nil, fmt.Errorf("%w: %d requests sent to %s", ErrTooManySteps, r.sends, r.origin)
		}
		resp, err := r.send()
		if err != nil {
			return nil, err
		}
		out, retry, err := r.handle(resp)
		if err != nil {
			return nil, err
		}
		if !retry {
			return out, nil
		}
		if !replayable(r.req) {
			return nil, &NotReplayableError{Response: resp, Reason: "the request body has no GetBody"}
		}
		httpx.DrainClose(resp)
		r.t.emit(r.ctx, Event{Step: StepRetry, Method: r.req.Method, URL: redactURL(r.req.URL), Credential: r.cred.kind.String(), Detail: "retrying with " + r.cred.kind.String() + " token"})
	}
}

// loadKeys asks Keys for the agent's material and computes the key's
// thumbprint, which binds cached tokens to the key they were issued for.
func (r *run) loadKeys() error {
	km, err := r.t.Keys.KeyMaterial(r.ctx)
	if err != nil {
		return safetext.Wrap("key material", err)
	}
	if km.Signer == nil {
		return errors.New("aauth: key material has no signer")
	}
	jkt, err := r.t.signerThumbprint(km.Signer)
	if err != nil {
		return err
	}
	r.km, r.jkt = km, jkt
	r.ps = r.t.personServer(km.Key)
	if r.ps == "" && r.t.Parent != nil {
		r.ps = parentScope // scopes the sub-agent's cached tokens (subagent.go)
	}
	return nil
}

// personServer is the person server of the agent presenting key:
// PersonServer when set; else, without PersonServerMetadata either, the ps
// claim of the agent token, remembered for the last token read.
func (t *Transport) personServer(key SignatureKey) string {
	if t.PersonServer != "" || t.PersonServerMetadata != nil {
		return t.PersonServer
	}
	if key.Scheme != wire.SchemeJWT || key.Token == "" {
		return ""
	}
	if last := t.lastPS.Load(); last != nil && last.token == key.Token {
		return last.ps
	}
	ps := psClaim(key.Token)
	t.lastPS.Store(&tokenPS{token: key.Token, ps: ps})
	return ps
}

// psClaim returns the ps claim of an agent token if it is a person server
// URL the Transport may talk to on the token's word: https, or http on a
// loopback host, with a host and no user info, query or fragment. It
// returns "" otherwise.
func psClaim(token string) string { return usablePS(jwtpeek.ClaimString(token, "ps")) }

// usablePS returns ps if a token may name it as a person server (see
// psClaim), else "".
func usablePS(ps string) string {
	if ps == "" || len(ps) > httpx.LocationMaxLen {
		return ""
	}
	u, err := url.Parse(ps)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(ps, "#") {
		return ""
	}
	switch u.Scheme {
	case "https":
		return ps
	case "http":
		if egress.IsLoopback(u.Hostname()) {
			return ps
		}
	}
	return ""
}

// signerThumbprint is the thumbprint of s's public key. An Ed25519 private
// key holds its public half: compared in place, it costs no copy.
func (t *Transport) signerThumbprint(s crypto.Signer) (string, error) {
	if k, ok := s.(ed25519.PrivateKey); ok && len(k) == ed25519.PrivateKeySize {
		if last := t.lastJKT.Load(); last != nil {
			if pub, ok := last.pub.(ed25519.PublicKey); ok && bytes.Equal(k[ed25519.SeedSize:], pub) {
				return last.jkt, nil
			}
		}
	}
	return t.thumbprint(s.Public())
}

// thumbprint is keys.Thumbprint(pub), reusing the last one computed when pub
// is the same key.
func (t *Transport) thumbprint(pub crypto.PublicKey) (string, error) {
	if last := t.lastJKT.Load(); last != nil {
		if eq, ok := last.pub.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(pub) {
			return last.jkt, nil
		}
	}
	jkt, err := keys.Thumbprint(pub)
	if err != nil {
		return "", err
	}
	if ed, ok := pub.(ed25519.PublicKey); ok {
		pub = ed25519.PublicKey(bytes.Clone(ed))
	}
	t.lastJKT.Store(&keyThumbprint{pub: pub, jkt: jkt})
	return jkt, nil
}

func (r *run) agentCred() credential { return credential{kind: credAgent, token: r.km.Key.Token} }

// send signs a clone of the caller's request with the current credential
// and sends it.
func (r *run) send() (*http.Response, error) {
	out := r.req.Clone(r.ctx)
	if r.sends > 0 && r.req.Body != nil && r.req.Body != http.NoBody {
		body, err := r.req.GetBody()
		if err != nil {
			return nil, safetext.Wrap("replaying the request body", err)
		}
		out.Body = body
	}
	r.sends++
	if err := r.t.signFor(out, r.km, r.jkt, r.cred, r.o, true); err != nil {
		closeBody(out)
		return nil, err
	}
	resp, err := sendVia(r.t.Base, out)
	if err != nil {
		return nil, err
	}
	budget := r.noteBudget(resp)
	if r.t.observed() {
		r.t.emit(r.ctx, Event{Step: StepSigned, Method: out.Method, URL: redactURL(out.URL), Status: resp.StatusCode, Credential: r.cred.kind.String(), Budget: budget, Detail: "sent " + out.Method + " presenting the " + r.cred.kind.String() + " token"})
	}
	r.t.keepSessionToken(r.ctx, resp, r.o, r.jkt)
	return resp, nil
}

// signFor signs req as the agent presenting cred to origin o. toResource
// says whether req goes to the resource (capabilities and, in the seed
// profile, the mission header are only sent there). jkt is the thumbprint of
// agent's key.
func (t *Transport) signFor(req *http.Request, agent KeyMaterial, jkt string, cred credential, o *originState, toResource bool) error {
	tab := profile.For(t.Profile)
	km := agent
	skey := cred.skey
	switch cred.kind {
	case credPerson, credAuth:
		km.Key = JWT(cred.token)
	case credSession:
		authz := cred.authz
		if authz == "" {
			authz = tab.SessionScheme + " " + cred.token
		}
		req.Header["Authorization"] = []string{authz}
	}
	if cred.kind == credAgent || cred.kind == credSession {
		skey = t.agentSignatureKey(agent, jkt, tab)
	}
	agentSigned := cred.kind == credAgent
	if caps := t.capabilities(); toResource && len(caps) > 0 && (agentSigned || tab.CapabilitiesOnTokens) {
		req.Header[keyCapabilities] = []string{t.capabilitiesValue(caps)}
	}
	if toResource && agentSigned && t.Mission != nil && tab.MissionHeader {
		req.Header.Set("AAuth-Mission", wire.FormatMission(*t.Mission))
	}
	now := t.clock().Now()
	s := Signer{Profile: t.Profile}
	if o != nil {
		if skew := o.skew.Load(); skew != 0 {
			now = now.Add(time.Duration(skew))
		}
		s.ExtraComponents = o.components(req)
	}
	_, err := s.signAt(req, km, skey, now.Unix(), false)
	return err
}

// agentSignatureKey returns the Signature-Key value for the agent's own key
// material, formatted once per agent token (or key). "" when it cannot be
// formatted: signing then formats it and says why.
func (t *Transport) agentSignatureKey(km KeyMaterial, jkt string, tab *profileTable) string {
	if last := t.lastSK.Load(); last != nil && last.key == km.Key && last.jkt == jkt && last.profile == t.Profile {
		return last.value
	}
	v, err := formatSignatureKey(wire.DefaultLabel, km, tab.HWKAlg, tab.JKTJWTScheme)
	if err != nil {
		return ""
	}
	t.lastSK.Store(&agentSignatureKey{key: km.Key, jkt: jkt, profile: t.Profile, value: v})
	return v
}

// capabilitiesValue returns caps as AAuth-Capabilities says them, formatted
// once per list.
func (t *Transport) capabilitiesValue(caps []wire.Capability) string {
	if last := t.lastCaps.Load(); last != nil && slices.Equal(last.caps, caps) {
		return last.value
	}
	v := wire.FormatCapabilities(caps)
	t.lastCaps.Store(&formattedCapabilities{caps: slices.Clone(caps), value: v})
	return v
}

// handle decides what a resource's answer means: the response to return,
// or a retry with r.cred changed.
func (r *run) handle(resp *http.Response) (out *http.Response, retry bool, err error) {
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return r.on401(resp)
	case resp.StatusCode == http.StatusAccepted && resp.Header.Get("Location") != "":
		// A bare 202 (MCP answers notifications so) is not AAuth: only a
		// 202 with a Location is deferred work to poll.
		out, err := r.poll(resp)
		return out, false, err
	case resp.StatusCode == http.StatusForbidden:
		if err := r.refusal(resp); err != nil {
			httpx.DrainClose(resp)
			return nil, false, err
		}
	}
	return resp, false, nil
}

func (r *run) on401(resp *http.Response) (*http.Response, bool, error) {
	if se, ok, err := wire.ParseSignatureErrorHeader(resp.Header); ok && err == nil {
		r.t.emit(r.ctx, Event{Step: StepChallenge, Method: r.req.Method, URL: redactURL(r.req.URL), Status: 401, Credential: r.cred.kind.String(), Detail: "signature rejected: " + safetext.Clean(se.Code, 64)})
		if r.onSignatureError(resp, se) {
			return resp, true, nil
		}
	}
	ch, present, err := wire.ParseRequirementHeader(resp.Header)
	if !present {
		if r.cred.kind != credAgent && !r.once("fallback") {
			// A cached token was refused without saying why: forget it
			// and start again from the agent token.
			r.forget(r.cred)
			r.cred = r.agentCred()
			return resp, true, nil
		}
		return resp, false, nil
	}
	if err != nil {
		httpx.DrainClose(resp)
		return nil, false, err
	}
	r.t.emit(r.ctx, Event{Step: StepChallenge, Method: r.req.Method, URL: redactURL(r.req.URL), Status: 401, Credential: r.cred.kind.String(), Reason: safetext.Clean(ch.Extensions["reason"], 64), Detail: "requirement=" + string(ch.Requirement)})
	switch ch.Requirement {
	case wire.RequirementAgentToken:
		if r.cred.kind == credAgent {
			// Nothing better to present: a resource that asks for the
			// agent token it was given is returned as it answered.
			return resp, false, nil
		}
		r.forget(r.cred)
		r.cred = r.agentCred()
		return resp, true, nil
	case wire.RequirementPersonToken:
		if !r.tab.PersonTokens {
			return resp, false, nil
		}
		rejected := ""
		if r.cred.kind == credPerson {
			if r.once("person-token") {
				return resp, false, nil
			}
			rejected = r.cred.token
		}
		tok, err := r.personToken(rejected)
		if err != nil {
			httpx.DrainClose(resp)
			return nil, false, err
		}
		r.cred = credential{kind: credPerson, token: tok.Value, key: r.personCacheKey()}
		return resp, true, nil
	case wire.RequirementAuthToken:
		if !replayable(r.req) && r.perCall() {
			// A per-call approval binds this call's body, which cannot
			// be sent again: ask for none.
			return nil, false, &NotReplayableError{Response: resp, Reason: "a per-call approval needs the request sent again, and the body has no GetBody"}
		}
		cred, again, err := r.answerAuthToken(ch.ResourceToken)
		if err != nil {
			httpx.DrainClose(resp)
			return nil, false, err
		}
		if again {
			return resp, false, nil // a per-call token refused: no second one
		}
		r.cred = cred
		return resp, true, nil
	}
	// approval, interaction, clarification and claims are not asked for
	// with a 401; there is nothing the agent can do but return it.
	return resp, false, nil
}

// onSignatureError makes one correction per kind of signature problem and
// reports whether a retry is worth it.
func (r *run) onSignatureError(resp *http.Response, se *wire.SignatureError) bool {
	switch se.Code {
	case wire.SigErrClockSkew:
		date, err := http.ParseTime(httpx.ShortHeader(resp.Header, "Date"))
		if err != nil || r.once("clock_skew") {
			return false
		}
		skew := date.Sub(r.t.clock().Now()).Truncate(time.Second)
		r.o.skew.Store(int64(skew))
		return true
	case wire.SigErrInvalidInput:
		if len(se.RequiredInput) == 0 || r.once("invalid_input") {
			return false
		}
		// Keep, for the origin, the components the signer knows how to
		// cover (at most maxExtraComponents); retry when one of them is new
		// and can be covered on this request. A component this request
		// lacks is still kept for later requests, and left out of the
		// signature of any request that lacks it (see signFor).
		return r.o.addComponents(se.RequiredInput, r.req)
	case wire.SigErrInvalidSignature:
		// A resource may refuse a signature it has seen in the window as
		// a replay (AAuth -11 freshness and replay), and two requests the
		// caller made alike within one second are signed byte for byte
		// alike: Ed25519 is deterministic, created has whole seconds, and
		// the profile has no nonce. Sign once more in the next second.
		if r.once("resign") || !replayable(r.req) {
			return false
		}
		now := r.t.clock().Now()
		return r.t.clock().Sleep(r.ctx, now.Truncate(time.Second).Add(time.Second).Sub(now)) == nil
	case wire.SigErrExpiredJWT, wire.SigErrRevokedJWT, wire.SigErrInvalidJWT:
		if r.once("refresh") {
			return false
		}
		if r.cred.kind == credAgent || r.cred.kind == credSession {
			// The agent token itself: ask Keys again, which renews it.
			if err := r.loadKeys(); err != nil {
				return false
			}
		} else {
			r.forget(r.cred)
		}
		r.cred = r.agentCred()
		return true
	}
	return false
}

// once reports whether the correction named what was already made, and
// marks it made.
func (r *run) once(what string) bool {
	if r.done == nil {
		r.done = make(map[string]bool)
	}
	if r.done[what] {
		return true
	}
	r.done[what] = true
	return false
}

func (r *run) mission() string { return r.t.missionS256() }

// personToken returns a person token for the resource, from the cache or
// from the person server. rejected is a token the resource just refused,
// never to be returned again.
func (r *run) personToken(rejected string) (*psclient.Token, error) {
	if r.up != nil {
		return r.chainPersonToken(rejected)
	}
	if r.viaParent() {
		return r.personTokenFromParent(rejected)
	}
	if r.ps == "" && r.t.PersonServerMetadata == nil {
		return nil, fmt.Errorf("%w: %s asks for a person token", ErrNoPersonServer, r.origin)
	}
	key := r.t.personKey(r.origin, r.mission(), r.jkt)
	if rejected != "" {
		r.forgetKey(key, rejected)
	}
	return r.fetchOnce(key, "person", func(tok *psclient.Token) bool { return tok.Value != rejected }, func() (*psclient.Token, error) {
		r.t.emit(r.ctx, Event{Step: StepPersonToken, URL: r.ps, Detail: "requesting a person token for " + r.origin})
		return psclient.RequestPersonToken(r.pollCtx(), r.t.psClient(r.km), r.personTokenRequest(r.t.capabilities()))
	})
}

// personTokenRequest is the request for a person token for the run's
// resource and mission, declaring caps, with the Transport's hints.
func (r *run) personTokenRequest(caps []wire.Capability) psclient.PersonTokenRequest {
	return psclient.PersonTokenRequest{
		PersonServer:  r.ps,
		Metadata:      r.t.PersonServerMetadata,
		Cache:         &r.t.metadata,
		Profile:       r.t.Profile,
		Resource:      r.origin,
		MissionS256:   r.mission(),
		Capabilities:  caps,
		LoginHint:     r.t.LoginHint,
		Tenant:        r.t.Tenant,
		DomainHint:    r.t.DomainHint,
		Prompt:        r.t.Prompt,
		Justification: r.t.Justification,
		Poll:          r.pollOptions(""),
	}
}

// authToken exchanges resourceToken for an auth token, presenting the token
// r.cred holds now.
func (r *run) authToken(resourceToken string) (*psclient.Token, error) {
	if r.up != nil {
		return r.chainAuthToken(resourceToken)
	}
	if r.viaParent() {
		return r.authTokenFromParent(resourceToken)
	}
	if r.ps == "" && r.t.PersonServerMetadata == nil {
		return nil, fmt.Errorf("%w: %s asks for an auth token", ErrNoPersonServer, r.origin)
	}
	presented, err := r.startExchange(resourceToken, r.ps, !r.tab.PresentedToken)
	if err != nil {
		return nil, err
	}
	// Another request (or process) may have obtained a token while this
	// one was being refused; it is used unless it is the one just refused.
	return r.fetchOnce(authKey(r.origin, r.ps, r.jkt, r.mission()), "auth", r.notRefused, func() (*psclient.Token, error) {
		r.t.emit(r.ctx, Event{Step: StepExchange, URL: r.ps, Detail: "exchanging the resource token of " + r.origin})
		return psclient.ExchangeToken(r.pollCtx(), r.t.psClient(r.km), r.exchangeRequest(resourceToken, presented, r.t.capabilities()))
	})
}

// startExchange counts an exchange of the run and checks the resource
// token (expected to name ps) against the token presented; it returns that
// token. seed checks it as the seed generation's token, as the agent's own
// exchange does in the seed profile.
func (r *run) startExchange(resourceToken, ps string, seed bool) (string, error) {
	if r.exchanges == maxExchanges {
		return "", fmt.Errorf("%w: %s asked for an auth token %d times", ErrTooManySteps, r.origin, r.exchanges+1)
	}
	r.exchanges++
	presented := r.cred.token
	if r.cred.kind == credSession || presented == "" {
		presented = r.km.Key.Token
	}
	return presented, checkResourceToken(resourceToken, resourceCheck{
		resource:     r.origin,
		personServer: ps,
		jkt:          r.jkt,
		presented:    presented,
		now:          r.t.clock().Now(),
		seed:         seed,
	})
}

// notRefused says whether a cached token may replace the one the run
// presents: not when it is the one just refused.
func (r *run) notRefused(tok *psclient.Token) bool {
	return r.cred.kind != credAuth || tok.Value != r.cred.token
}

// poll follows a resource's 202 to its end, presenting the credential that
// received it (the agent token in the seed profile, as the JavaScript
// package does).
func (r *run) poll(resp *http.Response) (*http.Response, error) {
	cred := r.cred
	if r.tab.PollAsAgent {
		cred = r.agentCred()
	}
	r.t.emit(r.ctx, Event{Step: StepPending, URL: redactURL(r.req.URL), Status: 202, Credential: cred.kind.String(), Detail: "deferred; polling " + safetext.Clean(resp.Header.Get("Location"), 256)})
	opts := r.pollOptions(r.req.URL.String())
	out, err := psclient.FollowDeferred(r.pollCtx(), r.credClient(cred), resp, opts)
	for {
		var atr *psclient.AuthTokenRequiredError
		if !errors.As(err, &atr) {
			if err == nil && out != nil {
				r.noteBudget(out) // the held call's answer, metered when it ran
			}
			return out, err
		}
		cred, again, err2 := r.answerAuthToken(atr.Challenge.ResourceToken)
		if err2 != nil {
			return nil, err2
		}
		if again {
			return nil, &r3.OperationError{Vocabulary: r.r3.vocab, Operations: r.r3.ops, StatusCode: http.StatusAccepted, Code: r3.CodePerCallDenied,
				Err: errors.New("aauth: the resource still holds the call after the per-call token was presented")}
		}
		r.cred = cred
		out, err = psclient.PollDeferred(r.pollCtx(), r.credClient(r.cred), atr.Location, opts)
	}
}

func (r *run) pollOptions(requestURL string) psclient.PollOptions {
	opts := psclient.PollOptions{
		Profile:     r.t.Profile,
		RequestURL:  requestURL,
		MaxDuration: r.t.MaxPollDuration,
		Clock:       r.t.Clock,
		// Relayed through the person server first (transport_relay.go).
		OnInteraction: r.interaction,
	}
	if r.t.OnClarification != nil {
		// Without a callback the question is left unanswered and polling
		// goes on, as the person may answer elsewhere.
		opts.OnClarification = func(ctx context.Context, q psclient.Clarification) (string, error) {
			r.t.emit(ctx, Event{Step: StepClarification, Detail: "question: " + safetext.Clean(q.Question, 256)})
			return r.t.OnClarification(ctx, q)
		}
	}
	return opts
}

// psClient signs person-server requests with the agent token. In the
// current profile capabilities travel in the body only; the seed profile
// sends its headers on every agent-signed request, as the JavaScript does.
func (t *Transport) psClient(agent KeyMaterial) *http.Client {
	tab := profile.For(t.Profile)
	st := &SigningTransport{Base: t.Base, Keys: StaticKeys(agent.Signer, agent.Key), Profile: t.Profile, Now: t.clock().Now}
	if tab.CapabilitiesOnPS {
		st.Capabilities = t.capabilities()
		st.Mission = t.Mission
	}
	return &http.Client{Transport: st, CheckRedirect: noRedirects}
}

// credClient signs requests to the resource's pending URLs with cred.
func (r *run) credClient(cred credential) *http.Client {
	return &http.Client{Transport: roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		out := req.Clone(req.Context())
		if err := r.t.signFor(out, r.km, r.jkt, cred, r.o, true); err != nil {
			closeBody(req)
			return nil, err
		}
		r.polledWith.Store(uint32(cred.kind))
		return sendVia(r.t.Base, out)
	}), CheckRedirect: noRedirects}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// noRedirects keeps credentials on the origin they were meant for: a pending
// URL or person-server endpoint that redirects is answered as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// originOf returns the resource identifier of u: scheme://host[:port], as a
// browser would serialise its origin.
func originOf(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("aauth: unsupported URL scheme %q", u.Scheme)
	}
	host, err := normalizeAuthority(scheme, u.Host)
	if err != nil {
		return "", err
	}
	return scheme + "://" + host, nil
}

// redactURL returns u without its query and fragment, which may carry
// secrets, for events and logs.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.RawQuery, v.Fragment, v.RawFragment, v.User = "", "", "", nil
	return v.String()
}
