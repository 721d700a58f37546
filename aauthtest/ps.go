package aauthtest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// Paths of the person server.
const (
	psMetadataPath    = "/.well-known/aauth-person.json"
	psJWKSPath        = "/aauth/jwks"
	psPersonTokenPath = "/aauth/token/person"
	psAuthTokenPath   = "/aauth/token/auth"
	psSeedTokenPath   = "/aauth/token"
	psInteractionPath = "/aauth/interaction"
)

// Token lifetimes.
const (
	defaultTokenLifetime  = time.Hour
	resourceTokenLifetime = 5 * time.Minute
)

// PersonServerOptions configures a PersonServer. The zero value serves the
// current profile, trusts any agent provider and resource whose keys it can
// fetch, and approves every request at once.
type PersonServerOptions struct {
	// Profile selects the wire generation.
	Profile wire.Profile

	// Now is the server's clock; nil means time.Now. Tokens are issued
	// and checked, and signatures' created times judged, against it.
	Now func() time.Time

	// Person names the person the server issues tokens for; "" means
	// "alice". Token subjects are directed: see PersonServer.Subject.
	Person string

	// TrustedAgents lists the agent providers (issuer URLs) whose agent
	// tokens are accepted; empty means any. Their keys are fetched from
	// {issuer}/.well-known/aauth-agent.json and its jwks_uri (loopback
	// URLs only), unless added with TrustKey.
	TrustedAgents []string

	// TrustedResources lists the resources (issuer URLs) whose resource
	// tokens are accepted; empty means any. Keys are fetched from
	// {issuer}/.well-known/aauth-resource.json.
	TrustedResources []string

	// TokenLifetime is the lifetime of issued person and auth tokens;
	// zero means one hour. Auth tokens never outlive the presented token
	// or the agent token.
	TokenLifetime time.Duration

	// RetryAfter is the Retry-After value of scripted 202 answers; ""
	// means "0", so that tests poll at once.
	RetryAfter string

	// RelativeLocation makes 202 answers carry a relative Location
	// (/aauth/pending/…) instead of an absolute URL.
	RelativeLocation bool

	// RelayInteractions makes the interaction relay endpoint accept
	// relays (202 {"status":"interacting"} with a Location, then 200 on
	// the poll); by default it answers 424 interaction_unavailable, so
	// that the agent sends the person itself. Mission approvals then list
	// the interaction capability. A relay asking for max_wait is held no
	// longer, on the server's clock: the first poll after the window gets
	// 408 expired, however the relay was scripted.
	RelayInteractions bool

	// RelayVisits makes the server reach the person for every relay it
	// accepts (it implies RelayInteractions): before answering, it opens
	// url?code=… itself, as the person tapping a notification would, so
	// that a relayed interaction completes without the agent directing
	// anyone. Loopback URLs only.
	RelayVisits bool

	// Governance decides the mission, permission, audit and relay
	// requests that no queued decision answers (see QueueAt); nil
	// approves them all, but relays (see RelayInteractions). It may be
	// called concurrently.
	Governance func(*GovernanceRequest) Decision

	// MaxSkew bounds how far a signature's created may be from the
	// server's clock; zero means 60 s.
	MaxSkew time.Duration

	// Policy decides token requests that no queued decision answers; nil
	// approves them all. It may be called concurrently.
	Policy func(*TokenRequest) Decision

	// Metadata, when set, edits the metadata document before each time
	// it is served: set a wrong issuer, delete an endpoint, point one
	// elsewhere.
	Metadata func(doc map[string]any)

	// Logf, when set, receives a line per request. Token values are
	// redacted.
	Logf func(format string, args ...any)

	// Persons names other people the server knows besides Person: a
	// token request whose login_hint is one of them is for that person.
	// Person and auth tokens name their person through directed subjects
	// (see SubjectOf), and a chained request is for the person of its
	// upstream token.
	Persons []string

	// MaxChainDepth bounds call chains (AAuth -11 "Call Chaining"): a
	// token requested with an upstream_token that is already this many
	// intermediaries away from the first agent is denied (403 denied).
	// Zero means 4.
	MaxChainDepth int

	// AllowChainLoops lets a chained request name a resource the chain
	// has already passed through; by default it is denied (403 denied),
	// so that two intermediaries cannot call each other for ever.
	AllowChainLoops bool

	// MaxClarificationRounds bounds the clarification questions one
	// pending request is asked (AAuth -11 Clarification Limits: a PS
	// must bound them, 5 recommended). A request whose script would ask
	// one more ends instead with 403 denied, the pending URL then gone.
	// Zero means 5; a negative value means no bound, to test an agent's
	// own.
	MaxClarificationRounds int

	// MissionFailureLimit rate-limits each agent's failures at the
	// mission endpoint (AAuth -11 Mission Endpoint Errors: a PS SHOULD
	// rate-limit repeated failures): once an agent's requests there
	// (proposals, updates, completions) have been answered with an error
	// this many times within MissionFailureWindow, its next ones get 429
	// {"error":"slow_down"} with Retry-After, the seconds left in the
	// window, and are not served. Zero means 10; a negative value means
	// no limit. At most 1024 agents are tracked, the oldest window
	// forgotten first; each line Logf gets names the agent limited.
	MissionFailureLimit int

	// MissionFailureWindow is the window of MissionFailureLimit, from an
	// agent's first failure, on the server's clock; zero means a minute.
	MissionFailureWindow time.Duration
}

// defaultClarificationRounds is the draft's recommended bound.
const defaultClarificationRounds = 5

// TokenRequest is a token request as the person server decoded it, passed
// to the policy and recorded.
type TokenRequest struct {
	// Kind is what is asked for: TokenPerson or TokenAuth.
	Kind TokenKind

	// Agent is the agent identifier (the agent token's sub), AgentIssuer
	// its agent provider and AgentToken the token itself. Thumbprint is
	// the thumbprint of the agent's signing key.
	Agent, AgentIssuer, AgentToken, Thumbprint string

	// Resource is the resource the token is for: the resource parameter
	// of a person-token request, the resource token's iss otherwise.
	Resource string

	// Scope is the resource token's scope.
	Scope string

	// ResourceToken, ResourceClaims: the resource token and its claims.
	ResourceToken  string
	ResourceClaims map[string]any

	// PresentedToken is the presented_token parameter and PresentedKind
	// its kind.
	PresentedToken string
	PresentedKind  TokenKind

	// The optional request parameters, as sent.
	MissionS256, Justification, LoginHint, Tenant, DomainHint, Prompt string
	Platform, Device, UpstreamToken, SubagentToken, LocalhostCallback string
	Capabilities                                                      []string

	// Subagent is the sub-agent identifier (the sub of the subagent_token,
	// verified), SubagentIssuer its agent provider and SubagentThumbprint
	// the thumbprint of its key, when the request carried a
	// subagent_token. Agent is then the parent: the signer.
	Subagent, SubagentIssuer, SubagentThumbprint string

	// Upstream describes the verified upstream_token of a chained request
	// (AAuth -11 "Call Chaining"); nil otherwise. Agent is then the
	// intermediary.
	Upstream *UpstreamInfo

	// Person is the person the token would be for (see
	// PersonServerOptions.Persons).
	Person string

	// Body is the request body as sent.
	Body []byte
}

// UpstreamInfo is the upstream token of a chained token request, as the
// person server verified it.
type UpstreamInfo struct {
	// Kind is TokenPerson or TokenAuth.
	Kind TokenKind
	// Issuer, PersonServer (an auth token's ps), Audience (the
	// intermediary), Subject, JTI and MissionS256 are its claims.
	Issuer, PersonServer, Audience, Subject, JTI, MissionS256 string
	// Expiry is its exp.
	Expiry time.Time
	// Caller is the agent the upstream token was issued to (from the
	// server's records): the intermediary's caller.
	Caller string
	// Lineage lists the resources the chain passed through before this
	// request, the first agent's first: the intermediaries upstream.
	Lineage []string
}

// ClarificationAnswer is what an agent posted to a pending URL in answer to
// a clarification.
type ClarificationAnswer struct {
	// Location is the pending URL the answer was posted to.
	Location string
	// Question is the clarification that was asked.
	Question string
	// Action is the action member: "clarification_response",
	// "updated_request", or "" (the seed agent sends none).
	Action string
	// Response is the clarification_response member.
	Response string
	// Body is the request body as sent.
	Body []byte
}

// IssuedToken is a token a kit server issued.
type IssuedToken struct {
	// Kind is TokenPerson, TokenAuth or TokenResource.
	Kind TokenKind
	// Token is the compact JWT and Claims its claims.
	Token  string
	Claims map[string]any
	// Expiry is its exp.
	Expiry time.Time

	// Agent is the agent that requested it (the signer) and Subagent the
	// sub-agent it was issued for, if any (person and auth tokens).
	Agent, Subagent string
	// Person is the person it is for (person and auth tokens).
	Person string
	// Upstream is the jti of the upstream token it was issued with, for
	// a chained request.
	Upstream string
}

// PersonServer is an in-process AAuth person server on an httptest
// server: it serves its metadata and JWKS, issues person tokens (current
// profile) and auth tokens, defers requests as scripted (interaction,
// approval, clarification, transient errors) on pending URLs, and records
// everything it sees. In the current profile it also governs: it approves
// missions (with person tokens for the proposed resources), takes their
// updates and completions, answers permission requests, records audit
// records and relays interactions and questions, each scriptable with
// QueueAt and the Governance policy.
//
// Every request to a token, pending, mission, permission, audit or relay
// endpoint must be signed with
// an agent token (Signature-Key jwt), and is verified with the same
// verifier as the interop tests, with the profile's rules: in the current
// profile the key must carry a fully specified alg and a body must be
// covered by content-type and content-digest.
//
// Endpoints (relative to URL):
//
//	GET    /.well-known/aauth-person.json   metadata
//	GET    /aauth/jwks                      JWK Set
//	POST   /aauth/token/person              person token (current)
//	POST   /aauth/token/auth                auth token (current)
//	POST   /aauth/token                     auth token (seed)
//	GET    /aauth/pending/{id}              poll
//	POST   /aauth/pending/{id}              clarification answer
//	DELETE /aauth/pending/{id}              cancel
//	GET    /aauth/consent?code=…            complete an interaction (&action=deny to deny)
//	POST   /aauth/interaction               interaction, payment and question relay (current)
//	POST   /aauth/mission                   mission proposal (current)
//	POST   /aauth/mission/{s256}            mission update or completion (current)
//	POST   /aauth/permission                permission (current)
//	POST   /aauth/audit                     audit record (current)
//	POST   /aauth/revoke                    agent-token revocation by its agent provider (current)
//
// All methods are safe for concurrent use.
type PersonServer struct {
	// URL is the server's base URL (http://127.0.0.1:port), its issuer.
	URL string

	base
	srv       *httptest.Server
	opts      PersonServerOptions
	key       *issuerKey
	agents    *keyring
	resources *keyring
	pend      *pendingStore
	revoked   revocations

	missions missionStore

	mu         sync.Mutex
	policy     func(*TokenRequest) Decision
	queues     map[TokenKind][]Decision
	govQueues  map[Endpoint][]Decision
	governance func(*GovernanceRequest) Decision
	govReqs    []GovernanceRequest
	editMeta   func(map[string]any)
	tokenReqs  []TokenRequest
	answers    []ClarificationAnswer
	issued     []IssuedToken
	records    map[string]*issueRecord // jti → what the server issued

	r3 psR3 // R3 documents fetched and what they grant (ps_r3.go)

	budget psBudget // how budgets are sized (ps_budget.go)

	missionFailures *failureLimit // see PersonServerOptions.MissionFailureLimit
}

// NewPersonServer starts a person server. Close it when done.
func NewPersonServer(opts PersonServerOptions) *PersonServer {
	key, err := newIssuerKey(opts.Profile)
	if err != nil {
		panic(err) // only crypto/rand failing gets here
	}
	if opts.Person == "" {
		opts.Person = "alice"
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = defaultTokenLifetime
	}
	if opts.RetryAfter == "" {
		opts.RetryAfter = defaultRetryAfter
	}
	ps := &PersonServer{
		base:       base{name: "person server", profile: opts.Profile, clock: opts.Now, logf: opts.Logf},
		opts:       opts,
		key:        key,
		agents:     newKeyring(),
		resources:  newKeyring(),
		pend:       newPendingStore(),
		policy:     opts.Policy,
		governance: opts.Governance,
		editMeta:   opts.Metadata,
		queues:     map[TokenKind][]Decision{},

		missionFailures: newFailureLimit(opts.MissionFailureLimit, opts.MissionFailureWindow),
	}
	switch {
	case opts.MaxClarificationRounds == 0:
		ps.pend.maxRounds = defaultClarificationRounds
	case opts.MaxClarificationRounds > 0:
		ps.pend.maxRounds = opts.MaxClarificationRounds
	}
	ps.agents.trust(opts.TrustedAgents...)
	ps.resources.trust(opts.TrustedResources...)
	ps.srv, ps.URL = startServer(http.HandlerFunc(ps.route))
	ps.base.url = ps.URL
	ps.srv.Start()
	return ps
}

// Close shuts the server down and waits for the requests in flight.
func (ps *PersonServer) Close() {
	ps.srv.Close()
	ps.agents.close()
	ps.resources.close()
}

// Issuer returns the server's issuer identifier, URL.
func (ps *PersonServer) Issuer() string { return ps.URL }

// PublicKey returns the key the server signs its tokens with.
func (ps *PersonServer) PublicKey() crypto.PublicKey { return ps.key.public() }

// JWKS returns the server's JWK Set document, as served.
func (ps *PersonServer) JWKS() []byte { return ps.key.jwks() }

// Subject returns the directed subject identifier the server uses for its
// person at resource: sub of the person and auth tokens it issues for that
// audience.
func (ps *PersonServer) Subject(resource string) string {
	return ps.SubjectOf(ps.opts.Person, resource)
}

// SubjectOf returns the directed subject identifier of person (one of
// PersonServerOptions.Person and Persons) at resource.
func (ps *PersonServer) SubjectOf(person, resource string) string {
	sum := sha256.Sum256([]byte(person + "\x00" + resource))
	return "p_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}

// SetPolicy replaces the policy (see PersonServerOptions.Policy); nil
// approves everything.
func (ps *PersonServer) SetPolicy(policy func(*TokenRequest) Decision) {
	ps.mu.Lock()
	ps.policy = policy
	ps.mu.Unlock()
}

// Queue adds decisions for the next token requests of kind (TokenPerson or
// TokenAuth), one each, in order. Queued decisions come before the policy.
func (ps *PersonServer) Queue(kind TokenKind, decisions ...Decision) {
	ps.mu.Lock()
	ps.queues[kind] = append(ps.queues[kind], decisions...)
	ps.mu.Unlock()
}

// EditMetadata replaces the metadata editor (see
// PersonServerOptions.Metadata); nil serves the document unchanged.
func (ps *PersonServer) EditMetadata(edit func(doc map[string]any)) {
	ps.mu.Lock()
	ps.editMeta = edit
	ps.mu.Unlock()
}

// TrustAgentProvider adds an agent provider to TrustedAgents.
func (ps *PersonServer) TrustAgentProvider(issuer string) { ps.agents.trust(issuer) }

// TrustResource adds a resource to TrustedResources.
func (ps *PersonServer) TrustResource(issuer string) { ps.resources.trust(issuer) }

// TrustKey makes tokens from issuer (an agent provider or a resource)
// signed under kid verify with pub, without fetching anything. kid ""
// matches any kid. It does not restrict the trusted issuers.
func (ps *PersonServer) TrustKey(issuer, kid string, pub crypto.PublicKey) {
	ps.agents.add(issuer, kid, pub)
	ps.resources.add(issuer, kid, pub)
}

// CompleteInteraction completes the interaction with code, as if the person
// had approved at the consent page: the next poll moves on.
func (ps *PersonServer) CompleteInteraction(code string) error { return ps.pend.complete(code, false) }

// DenyInteraction ends the interaction with code as denied: the next poll
// gets 403 denied.
func (ps *PersonServer) DenyInteraction(code string) error { return ps.pend.complete(code, true) }

// Interactions returns the interaction codes handed out so far.
func (ps *PersonServer) Interactions() []InteractionCode { return ps.pend.list() }

// Revoke revokes a token (by its iss and jti): an agent token presented in
// Signature-Key then gets 401 revoked_jwt, and a presented_token or
// resource_token 400 revoked_presented_token or revoked_resource_token, a
// subagent_token 400 revoked_subagent_token, and an upstream_token (or an
// upstream token issued to the revoked agent) 400 revoked_upstream_token.
// Revoking a token that served as an upstream token also revokes the
// tokens issued with it, down the chain (AAuth -11 revocation cascade).
func (ps *PersonServer) Revoke(token string) {
	ps.revoked.add(token)
	ps.cascade(token)
}

// Requests returns every request the server received, in order.
func (ps *PersonServer) Requests() []RecordedRequest { return ps.rec.all() }

// TokenRequests returns the token requests that were decoded and decided,
// in order.
func (ps *PersonServer) TokenRequests() []TokenRequest {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.tokenReqs)
}

// ClarificationAnswers returns the clarification answers agents posted.
func (ps *PersonServer) ClarificationAnswers() []ClarificationAnswer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.answers)
}

// Issued returns the tokens the server issued, in order.
func (ps *PersonServer) Issued() []IssuedToken {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.issued)
}

// PersonTokenRequests returns the POSTs to the person-token endpoint, in
// order, whether or not they were decided (TokenRequests holds the decoded
// ones).
func (ps *PersonServer) PersonTokenRequests() []RecordedRequest {
	return ps.rec.filter(EndpointPersonToken, http.MethodPost)
}

// AuthTokenRequests returns the POSTs to the auth-token endpoint, in order:
// the exchanges the agent started, whether or not they were decided
// (TokenRequests holds the decoded ones).
func (ps *PersonServer) AuthTokenRequests() []RecordedRequest {
	return ps.rec.filter(EndpointAuthToken, http.MethodPost)
}

// Polls counts the GETs of pending URLs.
func (ps *PersonServer) Polls() int { return ps.rec.count(EndpointPending, http.MethodGet) }

// Reset forgets the records, queued decisions, pending requests,
// interaction codes, revocations and the mission endpoint's failure
// counts. Options, trust and the policy stay.
func (ps *PersonServer) Reset() {
	ps.rec.reset()
	ps.pend.reset()
	ps.revoked.reset()
	ps.missions.reset()
	ps.missionFailures.reset()
	ps.mu.Lock()
	ps.queues = map[TokenKind][]Decision{}
	ps.govQueues, ps.govReqs = nil, nil
	ps.tokenReqs, ps.answers, ps.issued, ps.records = nil, nil, nil, nil
	ps.mu.Unlock()
}

// decide picks the decision for tr: the queue first, then the policy.
func (ps *PersonServer) decide(tr *TokenRequest) Decision {
	ps.mu.Lock()
	ps.tokenReqs = append(ps.tokenReqs, *tr)
	if q := ps.queues[tr.Kind]; len(q) > 0 {
		d := q[0]
		ps.queues[tr.Kind] = q[1:]
		ps.mu.Unlock()
		return d
	}
	policy := ps.policy
	ps.mu.Unlock()
	if policy == nil {
		return Approve()
	}
	// Called without the lock: a policy may call back into the server.
	return policy(tr)
}

func (ps *PersonServer) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == psMetadataPath:
		ps.serve(w, r, EndpointMetadata, ps.handleMetadata)
	case p == psJWKSPath:
		ps.serve(w, r, EndpointJWKS, func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Content-Type", "application/json")
			w.Write(ps.key.jwks())
		})
	case p == psPersonTokenPath && ps.current():
		ps.serve(w, r, EndpointPersonToken, ps.handleToken(TokenPerson))
	case p == psAuthTokenPath && ps.current(), p == psSeedTokenPath && !ps.current():
		ps.serve(w, r, EndpointAuthToken, ps.handleToken(TokenAuth))
	case strings.HasPrefix(p, pendingPath):
		ps.serve(w, r, EndpointPending, ps.handlePending)
	case p == consentPath:
		ps.serve(w, r, EndpointConsent, consentHandler(ps.pend))
	case p == psInteractionPath && ps.current():
		ps.serve(w, r, EndpointInteraction, ps.handleGovernance)
	case (p == psMissionPath || strings.HasPrefix(p, psMissionPath+"/")) && ps.current():
		ps.serve(w, r, EndpointMission, ps.handleGovernance)
	case p == psPermissionPath && ps.current():
		ps.serve(w, r, EndpointPermission, ps.handleGovernance)
	case p == psAuditPath && ps.current():
		ps.serve(w, r, EndpointAudit, ps.handleGovernance)
	case p == psRevocationPath && ps.current():
		ps.serve(w, r, EndpointRevocation, ps.handleRevocation)
	default:
		ps.serve(w, r, EndpointUnknown, func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
			ps.problem(w, rec, http.StatusNotFound, "not_found", "no such endpoint")
		})
	}
}

// metadata builds the metadata document.
func (ps *PersonServer) metadata() map[string]any {
	doc := map[string]any{
		"issuer":   ps.URL,
		"jwks_uri": ps.URL + psJWKSPath,
	}
	if ps.current() {
		doc["auth_token_endpoint"] = ps.URL + psAuthTokenPath
		doc["person_token_endpoint"] = ps.URL + psPersonTokenPath
		doc["interaction_endpoint"] = ps.URL + psInteractionPath
		doc["mission_endpoint"] = ps.URL + psMissionPath
		doc["permission_endpoint"] = ps.URL + psPermissionPath
		doc["audit_endpoint"] = ps.URL + psAuditPath
		doc["revocation_endpoint"] = ps.URL + psRevocationPath
		doc["accept_signature_algs"] = []string{"Ed25519", "ES256"}
		doc["name"] = "aauthtest person server"
	} else {
		doc["token_endpoint"] = ps.URL + psSeedTokenPath
	}
	return doc
}

func (ps *PersonServer) handleMetadata(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		ps.problem(w, rec, http.StatusMethodNotAllowed, "invalid_request", "use GET")
		return
	}
	doc := ps.metadata()
	ps.mu.Lock()
	edit := ps.editMeta
	ps.mu.Unlock()
	if edit != nil {
		edit(doc)
	}
	writeJSON(w, http.StatusOK, "application/json", doc)
}

// agentCheck verifies the request signature and the agent token in
// Signature-Key. It answers the request and returns nil on failure.
func (ps *PersonServer) agentCheck(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, digest bool) (*sigverify.Result, *token) {
	res := ps.verifyRequest(w, r, rec, ps.opts.MaxSkew, 0, digest, nil)
	if res == nil {
		return nil, nil
	}
	t, err := parseToken(res.Token)
	if err != nil {
		ps.sigFail(w, rec, sigverify.CodeInvalidJWT, "Signature-Key does not hold a JWT", nil)
		return nil, nil
	}
	if t.kind != TokenAgent {
		ps.sigFail(w, rec, sigverify.CodeInvalidJWT, fmt.Sprintf("the person server wants the agent token in Signature-Key, not a %s token", t.kind), nil)
		return nil, nil
	}
	keys := func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
		return ps.agents.key(ctx, iss, dwkAgent, kid)
	}
	if terr := validate(r.Context(), ps.profile, t, TokenAgent, keys, ps.now(), &ps.revoked); terr != nil {
		ps.sigFail(w, rec, terr.code, terr.detail, nil)
		return nil, nil
	}
	if terr := bound(t, res.Thumbprint); terr != nil {
		ps.sigFail(w, rec, terr.code, terr.detail, nil)
		return nil, nil
	}
	return res, t
}

// agentPost takes a POST signed by an agent (agentCheck, with a digest)
// and decodes its JSON body exactly into body. It answers the request and
// returns nil on failure.
func (ps *PersonServer) agentPost(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, body any) (*sigverify.Result, *token) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		ps.problem(w, rec, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return nil, nil
	}
	res, agent := ps.agentCheck(w, r, rec, true)
	if res == nil {
		return nil, nil
	}
	if err := decodeExact(rec.Body, body); err != nil {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "the body is not a JSON object of the expected members: "+shorten(err.Error()))
		return nil, nil
	}
	return res, agent
}

// tokenBody is the JSON body of a token request. Fields are typed so that a
// wrongly typed member is a 400, never a panic.
type tokenBody struct {
	Resource          string   `json:"resource"`
	ResourceToken     string   `json:"resource_token"`
	PresentedToken    string   `json:"presented_token"`
	MissionS256       string   `json:"mission_s256"`
	Justification     string   `json:"justification"`
	LoginHint         string   `json:"login_hint"`
	Tenant            string   `json:"tenant"`
	DomainHint        string   `json:"domain_hint"`
	Prompt            string   `json:"prompt"`
	Platform          string   `json:"platform"`
	Device            string   `json:"device"`
	UpstreamToken     string   `json:"upstream_token"`
	SubagentToken     string   `json:"subagent_token"`
	LocalhostCallback string   `json:"localhost_callback"`
	Capabilities      []string `json:"capabilities"`
}

// grant is what an approved token request issues.
type grant struct {
	kind    TokenKind
	aud     string
	sub     string
	cnf     map[string]any
	scope   string
	agent   string
	mission string
	tenant  string
	capExp  time.Time // the token may not outlive this
	capWhy  string

	jkt      string         // thumbprint of the key the token binds: the signer's, or the sub-agent's
	signer   *token         // the agent token in Signature-Key
	subagent *token         // the verified subagent_token, if any
	upstream *token         // the verified upstream_token, if any
	person   string         // whom the token is for
	lineage  []string       // resources the chain passed through, for a chained request
	caller   string         // the agent the upstream token was issued to, for a chained request
	r3       map[string]any // the R3 claims of an auth token (ps_r3.go)
	budget   map[string]any // the budget claim of an auth token (ps_budget.go)
}

// missionOwner is the agent whose mission the token is under: the signer,
// or for a chained request the caller the upstream token was issued to
// (it carries the caller's mission).
func (g *grant) missionOwner() string {
	if g.upstream != nil {
		return g.caller
	}
	return g.agent
}

func (ps *PersonServer) handleToken(kind TokenKind) func(http.ResponseWriter, *http.Request, *RecordedRequest) {
	return func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
		var body tokenBody
		res, agent := ps.agentPost(w, r, rec, &body)
		if res == nil {
			return
		}
		tr := &TokenRequest{
			Kind:              kind,
			Agent:             agent.str("sub"),
			AgentIssuer:       agent.str("iss"),
			AgentToken:        agent.raw,
			Thumbprint:        res.Thumbprint,
			Resource:          body.Resource,
			ResourceToken:     body.ResourceToken,
			PresentedToken:    body.PresentedToken,
			MissionS256:       body.MissionS256,
			Justification:     body.Justification,
			LoginHint:         body.LoginHint,
			Tenant:            body.Tenant,
			DomainHint:        body.DomainHint,
			Prompt:            body.Prompt,
			Platform:          body.Platform,
			Device:            body.Device,
			UpstreamToken:     body.UpstreamToken,
			SubagentToken:     body.SubagentToken,
			LocalhostCallback: body.LocalhostCallback,
			Capabilities:      body.Capabilities,
			Body:              rec.Body,
		}
		g := &grant{kind: kind, cnf: publicJWK(res.PublicKey, ps.current()), agent: tr.Agent, tenant: body.Tenant, jkt: res.Thumbprint, signer: agent}
		if exp, ok := agent.time("exp"); ok {
			g.capExp, g.capWhy = exp, "agent token"
		}
		if !ps.checkDelegation(w, r, rec, tr, g) {
			return
		}
		var ok bool
		if kind == TokenPerson {
			ok = ps.checkPersonRequest(w, rec, tr, g)
		} else {
			ok = ps.checkAuthRequest(w, r, rec, tr, g, g.jkt) && ps.checkChainedAuth(w, rec, tr, g)
		}
		if !ok {
			return
		}
		// A mission named (by the request, or by the resource token) must
		// exist, be this agent's and be active; its tokens never outlive
		// it.
		if g.mission != "" && ps.current() {
			exp, ok := ps.missionState(w, rec, g.missionOwner(), g.mission)
			if !ok {
				return
			}
			if !exp.IsZero() && (g.capExp.IsZero() || exp.Before(g.capExp)) {
				g.capExp, g.capWhy = exp, "mission"
			}
		}
		d := ps.decide(tr)
		if len(d.steps) == 0 {
			d.ended(outcomeResult(d.end))
			ps.writeEnd(w, r, rec, &d.end, g, d, res.Thumbprint)
			return
		}
		e := ps.pend.create(res.Thumbprint, d, g)
		ps.writeAnswer(w, r, rec, e, ps.pend.first(e, ps.URL+consentPath))
	}
}

// checkPersonRequest validates a person-token request.
func (ps *PersonServer) checkPersonRequest(w http.ResponseWriter, rec *RecordedRequest, tr *TokenRequest, g *grant) bool {
	if tr.Resource == "" {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "resource is required")
		return false
	}
	u, err := url.Parse(tr.Resource)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "resource is not an absolute URL")
		return false
	}
	g.aud = tr.Resource
	g.sub = ps.SubjectOf(g.person, tr.Resource)
	if g.upstream == nil {
		g.mission = tr.MissionS256
	}
	return true
}

// checkAuthRequest validates an auth-token request: the resource token
// and, in the current profile, the presented token.
func (ps *PersonServer) checkAuthRequest(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, tr *TokenRequest, g *grant, thumbprint string) bool {
	fail := func(code, detail string) bool {
		ps.problem(w, rec, http.StatusBadRequest, code, detail)
		return false
	}
	if tr.ResourceToken == "" {
		return fail("invalid_request", "resource_token is required")
	}
	rt, err := parseToken(tr.ResourceToken)
	if err != nil {
		return fail("invalid_resource_token", "resource_token is not a JWT")
	}
	tr.ResourceClaims = rt.claims
	tr.Resource = rt.str("iss")
	tr.Scope = rt.str("scope")
	keys := func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
		return ps.resources.key(ctx, iss, dwkResource, kid)
	}
	if terr := validate(r.Context(), ps.profile, rt, TokenResource, keys, ps.now(), &ps.revoked); terr != nil {
		switch terr.code {
		case sigverify.CodeExpiredJWT:
			return fail("expired_resource_token", terr.detail)
		case sigverify.CodeRevokedJWT:
			return fail("revoked_resource_token", terr.detail)
		}
		return fail("invalid_resource_token", terr.detail)
	}
	if !rt.audience(ps.URL) {
		return fail("invalid_resource_token", "the resource token's aud is not this person server")
	}
	if rt.str("agent_jkt") != thumbprint {
		return fail("invalid_resource_token", "the resource token's agent_jkt is not the key the token is for (the signer's, or the sub-agent's)")
	}
	if p := rt.str("ps"); p != "" && p != ps.URL {
		return fail("invalid_resource_token", "the resource token's ps is not this person server")
	}
	g.aud = tr.Resource
	g.scope = tr.Scope
	g.mission = rt.str("mission_s256")
	if rt.str("tenant") != "" {
		g.tenant = rt.str("tenant")
	}
	if !ps.current() {
		g.sub = ps.Subject(tr.Resource)
		return true
	}

	// Current profile: presented_token is required and must be the token
	// the resource saw.
	if tr.PresentedToken == "" {
		return fail("invalid_request", "presented_token is required")
	}
	pt, err := parseToken(tr.PresentedToken)
	if err != nil {
		return fail("invalid_presented_token", "presented_token is not a JWT")
	}
	tr.PresentedKind = pt.kind
	if pt.kind != TokenPerson && pt.kind != TokenAuth {
		return fail("invalid_presented_token", fmt.Sprintf("presented_token is a %s token, not a person or auth token", pt.kind))
	}
	own := func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
		if iss != ps.URL {
			return nil, tokErr(sigverify.CodeInvalidJWT, "presented_token was not issued by this person server")
		}
		return ps.key.public(), nil
	}
	if terr := validate(r.Context(), ps.profile, pt, pt.kind, own, ps.now(), &ps.revoked); terr != nil {
		switch terr.code {
		case sigverify.CodeExpiredJWT:
			return fail("expired_presented_token", terr.detail)
		case sigverify.CodeRevokedJWT:
			return fail("revoked_presented_token", terr.detail)
		}
		return fail("invalid_presented_token", terr.detail)
	}
	if pt.str("jti") == "" || pt.str("jti") != rt.str("presented_jti") {
		// A mismatch between the two tokens is the resource token's fault
		// (AAuth -11 resource token verification, step 3).
		return fail("invalid_resource_token", "presented_token's jti is not the resource token's presented_jti")
	}
	if terr := bound(pt, thumbprint); terr != nil {
		return fail("invalid_presented_token", terr.detail)
	}
	// The resource token must be about the presented token: the same
	// person, mission and tenant, issued by the resource the presented
	// token is for. A mismatch is the resource token's fault (AAuth -11
	// resource token verification, step 3).
	switch {
	case rt.str("sub") != pt.str("sub"):
		return fail("invalid_resource_token", "the resource token's sub is not the presented token's sub")
	case !pt.audience(rt.str("iss")):
		return fail("invalid_resource_token", "the presented token's aud is not the resource token's issuer")
	case rt.str("mission_s256") != pt.str("mission_s256"):
		return fail("invalid_resource_token", "the resource token's mission_s256 is not the presented token's")
	case rt.str("tenant") != pt.str("tenant"):
		return fail("invalid_resource_token", "the resource token's tenant is not the presented token's")
	}
	g.sub = pt.str("sub")
	if g.upstream == nil {
		g.person = ps.personOf(pt.str("jti"), g.person)
	}
	if exp, ok := pt.time("exp"); ok && (g.capExp.IsZero() || exp.Before(g.capExp)) {
		g.capExp, g.capWhy = exp, "presented token"
	}
	_, hasURI := rt.claims["r3_uri"]
	_, hasS256 := rt.claims["r3_s256"]
	if hasURI || hasS256 {
		claims, denied, err := ps.r3Grant(r.Context(), rt.str("r3_uri"), rt.str("r3_s256"))
		if denied {
			ps.problem(w, rec, http.StatusForbidden, "denied", err.Error())
			return false
		}
		if err != nil {
			return fail("invalid_resource_token", err.Error())
		}
		g.r3 = claims
	}
	budget, err := ps.budgetFor(r.Context(), tr, rt)
	if err != nil {
		return fail("invalid_budget", "the resource token's budget is unusable: "+err.Error())
	}
	g.budget = budget
	return true
}

// writeAnswer writes a pending request's next answer.
func (ps *PersonServer) writeAnswer(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, e *pendingEntry, a answer) {
	switch {
	case a.gone:
		ps.problem(w, rec, http.StatusGone, "invalid_code", "the pending request is finished or was canceled")
	case a.step != nil:
		ps.writeStep(w, rec, e, a.step, a.code, ps.opts.RelativeLocation, ps.opts.RetryAfter)
	default:
		if gp, ok := e.payload.(*govPending); ok {
			ps.govEnd(w, rec, a.end, gp, e.dec)
			return
		}
		g, _ := e.payload.(*grant)
		ps.writeEnd(w, r, rec, a.end, g, e.dec, e.owner)
	}
}

// writeEnd answers a decision's end for grant g.
func (ps *PersonServer) writeEnd(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, o *outcome, g *grant, d Decision, owner string) {
	switch o.kind {
	case endFail:
		ps.writeFail(w, rec, o)
	case endRespond:
		writeRespond(w, o)
	case endMalformed:
		ps.writeMalformed(w, rec, o.fault, g, d, owner)
	default:
		if g != nil && g.mission != "" && ps.current() {
			// The mission may have ended while the request was deferred.
			if _, ok := ps.missionState(w, rec, g.missionOwner(), g.mission); !ok {
				return
			}
		}
		tok, exp, err := ps.issue(g, d, nil)
		if err != nil {
			ps.problem(w, rec, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		ps.writeToken(w, g.kind, tok, exp, o.retryAfter)
	}
}

func (ps *PersonServer) writeToken(w http.ResponseWriter, kind TokenKind, tok string, exp time.Time, retryAfter string) {
	w.Header().Set("Cache-Control", "no-store")
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		tokenMember(kind): tok,
		"expires_in":      exp.Unix() - ps.now().Unix(),
	})
}

func tokenMember(kind TokenKind) string {
	if kind == TokenPerson {
		return "person_token"
	}
	return "auth_token"
}

// tweak changes the claims of a token being issued, for faults.
type tweak func(claims map[string]any)

// issue mints the token g grants.
func (ps *PersonServer) issue(g *grant, d Decision, tw tweak) (string, time.Time, error) {
	if g == nil {
		return "", time.Time{}, fmt.Errorf("aauthtest: nothing to issue")
	}
	now := ps.now()
	life := ps.opts.TokenLifetime
	if d.lifetime > 0 {
		life = d.lifetime
	}
	exp := now.Add(life).Truncate(time.Second)
	if !g.capExp.IsZero() && g.capExp.Before(exp) {
		exp = g.capExp
	}
	if !exp.After(now) {
		return "", time.Time{}, fmt.Errorf("the %s expired before the token could be issued", g.capWhy)
	}
	c := map[string]any{
		"iss": ps.URL,
		"dwk": dwkPerson,
		"aud": g.aud,
		"jti": randomID(16),
		"sub": g.sub,
		"cnf": map[string]any{"jwk": g.cnf},
		"iat": now.Unix(),
		"exp": exp.Unix(),
	}
	typ := typPerson
	if g.kind == TokenAuth {
		typ = typAuth
		scope := g.scope
		if d.scope != "" {
			scope = d.scope
		}
		if scope != "" {
			c["scope"] = scope
		}
		if ps.current() {
			c["ps"] = ps.URL
		} else {
			c["agent"] = g.agent
		}
	}
	if g.mission != "" && ps.current() {
		c["mission_s256"] = g.mission
	}
	if g.tenant != "" {
		c["tenant"] = g.tenant
	}
	maps.Copy(c, g.r3)
	if g.budget != nil && g.kind == TokenAuth {
		c["budget"] = g.budget
	}
	maps.Copy(c, d.claims)
	if tw != nil {
		tw(c)
	}
	tok, err := ps.key.mint(typ, c)
	if err != nil {
		return "", time.Time{}, err
	}
	parsed, _ := parseToken(tok)
	if e, ok := parsed.time("exp"); ok {
		exp = e
	}
	it := IssuedToken{Kind: g.kind, Token: tok, Claims: parsed.claims, Expiry: exp, Agent: g.agent, Person: g.person}
	if g.subagent != nil {
		it.Subagent = g.subagent.str("sub")
	}
	if g.upstream != nil {
		it.Upstream = g.upstream.str("jti")
	}
	ps.mu.Lock()
	ps.issued = append(ps.issued, it)
	ps.mu.Unlock()
	ps.record(g, parsed)
	return tok, exp, nil
}

func (ps *PersonServer) handlePending(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	res, _ := ps.agentCheck(w, r, rec, r.Method == http.MethodPost)
	if res == nil {
		return
	}
	poll := func(e *pendingEntry) {
		if gp, ok := e.payload.(*govPending); ok && !gp.until.IsZero() && !ps.now().Before(gp.until) {
			ps.pend.endNow(e, relayOverdue(gp.req.MaxWait))
		}
		if ps.upstreamStillValid(w, rec, e) {
			ps.writeAnswer(w, r, rec, e, ps.pend.next(e, ps.URL+consentPath))
		}
	}
	record := func(a ClarificationAnswer) {
		ps.mu.Lock()
		ps.answers = append(ps.answers, a)
		ps.mu.Unlock()
	}
	ps.servePending(w, r, rec, ps.pend, strings.TrimPrefix(r.URL.Path, pendingPath), res.Thumbprint, "request", poll, record)
}

// clarificationBody is a clarification POST.
type clarificationBody struct {
	Action                string `json:"action"`
	ClarificationResponse string `json:"clarification_response"`
	ResourceToken         string `json:"resource_token"`
	PresentedToken        string `json:"presented_token"`
	Justification         string `json:"justification"`
}

// takeClarification takes a clarification answer posted to e (both
// servers use it) and hands it to record.
func (b *base) takeClarification(w http.ResponseWriter, rec *RecordedRequest, pend *pendingStore, e *pendingEntry, loc string, record func(ClarificationAnswer)) {
	var body clarificationBody
	if err := decodeExact(rec.Body, &body); err != nil {
		b.problem(w, rec, http.StatusBadRequest, "invalid_request", "the body is not a JSON object of the expected members")
		return
	}
	st, ok := pend.current(e)
	if !ok || st.kind != stepClarification {
		b.problem(w, rec, http.StatusBadRequest, "invalid_request", "no clarification is pending")
		return
	}
	ans := ClarificationAnswer{Location: loc, Question: st.question, Action: body.Action, Response: body.ClarificationResponse, Body: rec.Body}
	switch body.Action {
	case "clarification_response":
	case "updated_request":
		if b.current() && body.PresentedToken == "" {
			b.problem(w, rec, http.StatusBadRequest, "invalid_request", "updated_request needs presented_token")
			return
		}
		if body.ResourceToken == "" {
			b.problem(w, rec, http.StatusBadRequest, "invalid_request", "updated_request needs resource_token")
			return
		}
		if g, ok := e.payload.(*grant); ok && b.current() {
			if detail := sameRequest(g, body.ResourceToken); detail != "" {
				b.problem(w, rec, http.StatusBadRequest, "invalid_resource_token", detail)
				return
			}
		}
	case "":
		if b.current() {
			b.problem(w, rec, http.StatusBadRequest, "invalid_request", "action is required")
			return
		}
	default:
		b.problem(w, rec, http.StatusBadRequest, "invalid_request", "unknown action "+strconv.Quote(shorten(body.Action)))
		return
	}
	if body.Action != "updated_request" && body.ClarificationResponse == "" {
		b.problem(w, rec, http.StatusBadRequest, "invalid_request", "clarification_response is required")
		return
	}
	pend.answerClarification(e)
	record(ans)
	if !b.current() {
		// What the April servers did: the answer is taken, poll on.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Retry-After", "0")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, "application/json", map[string]any{"status": "pending"})
}

// sameRequest says how the resource token of an updated_request differs
// from the request it replaces, or "" when it does not: it may change the
// scope or the operations, not who or what the request is about (-11
// updated request: the same iss, ps, sub, agent_jkt, mission_s256 and
// tenant).
func sameRequest(g *grant, resourceToken string) string {
	rt, err := parseToken(resourceToken)
	if err != nil || rt.kind != TokenResource {
		return "the updated resource token is not a resource token"
	}
	for _, c := range []struct{ claim, want string }{
		{"iss", g.aud}, {"sub", g.sub}, {"agent_jkt", g.jkt}, {"mission_s256", g.mission}, {"tenant", g.tenant},
	} {
		if rt.str(c.claim) != c.want {
			return "the updated resource token's " + c.claim + " is not the original request's"
		}
	}
	return ""
}

// consentHandler serves a server's interaction page: GET (or POST)
// ?code=…[&action=deny]. It is what a person's browser would open, so it
// is not signed.
func consentHandler(pend *pendingStore) func(http.ResponseWriter, *http.Request, *RecordedRequest) {
	return func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprintln(w, "use GET or POST")
			return
		}
		q := r.URL.Query()
		code := q.Get("code")
		if code == "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, "no code")
			return
		}
		deny := q.Get("action") == "deny"
		if err := pend.complete(code, deny); err != nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, "unknown or finished code")
			return
		}
		if deny {
			fmt.Fprintln(w, "denied")
			return
		}
		fmt.Fprintln(w, "approved")
	}
}

// writeMalformed answers a Malformed end at the person server.
func (ps *PersonServer) writeMalformed(w http.ResponseWriter, rec *RecordedRequest, f Fault, g *grant, d Decision, owner string) {
	member := "auth_token"
	kind := TokenAuth
	if g != nil {
		member, kind = tokenMember(g.kind), g.kind
	}
	issueReal := func(tw tweak) (string, bool) {
		tok, _, err := ps.issue(g, d, tw)
		if err != nil {
			ps.problem(w, rec, http.StatusBadRequest, "invalid_request", err.Error())
			return "", false
		}
		return tok, true
	}
	raw := func(status int, ct, body string) {
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
	quoted := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch f {
	case FaultBodyNotJSON:
		raw(http.StatusOK, "text/plain; charset=utf-8", "this is not JSON")
	case FaultEmptyBody:
		raw(http.StatusOK, "application/json", "")
	case FaultNoToken:
		raw(http.StatusOK, "application/json", `{"expires_in":3600}`)
	case FaultTokenNotString:
		raw(http.StatusOK, "application/json", `{"`+member+`":12345,"expires_in":3600}`)
	case FaultNegativeExpiresIn, FaultAbsurdExpiresIn, FaultExpiresInString:
		tok, ok := issueReal(nil)
		if !ok {
			return
		}
		exp := map[Fault]string{FaultNegativeExpiresIn: "-60", FaultAbsurdExpiresIn: "99999999999999999999", FaultExpiresInString: `"3600"`}[f]
		raw(http.StatusOK, "application/json", `{"`+member+`":`+quoted(tok)+`,"expires_in":`+exp+`}`)
	case FaultHugeBody:
		tok, ok := issueReal(nil)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		pad := []byte(strings.Repeat(" ", 64<<10))
		for i := 0; i < (8<<20)/len(pad); i++ {
			if _, err := w.Write(pad); err != nil {
				return // the agent stopped reading, as it should
			}
		}
		fmt.Fprint(w, `{"`+member+`":`+quoted(tok)+`,"expires_in":3600}`)
	case FaultTokenOtherKey, FaultTokenWrongAud, FaultTokenWrongIssuer, FaultTokenExpired, FaultTokenBadSignature:
		var tw tweak
		switch f {
		case FaultTokenOtherKey:
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			tw = func(c map[string]any) { c["cnf"] = map[string]any{"jwk": publicJWK(pub, ps.current())} }
		case FaultTokenWrongAud:
			tw = func(c map[string]any) { c["aud"] = "https://other-resource.example" }
		case FaultTokenWrongIssuer:
			tw = func(c map[string]any) { c["iss"] = "https://other-ps.example" }
		case FaultTokenExpired:
			now := ps.now()
			tw = func(c map[string]any) {
				c["iat"] = now.Add(-2 * time.Hour).Unix()
				c["exp"] = now.Add(-time.Hour).Unix()
			}
		}
		if f == FaultTokenExpired && g != nil {
			// The cap would refuse to issue an expired token.
			g2 := *g
			g2.capExp = time.Time{}
			g = &g2
		}
		tok, ok := issueReal(tw)
		if !ok {
			return
		}
		if f == FaultTokenBadSignature {
			tok = corruptSignature(tok)
		}
		ps.writeToken(w, kind, tok, ps.now().Add(time.Hour), "")
	default:
		ps.writeFault(w, rec, f, g, owner)
	}
}

// writeFault answers the faults both servers share: broken 202s and
// challenges, and broken Signature-Error answers. payload is what the
// approving pending request behind a broken 202 would deliver.
func (ps *PersonServer) writeFault(w http.ResponseWriter, rec *RecordedRequest, f Fault, g *grant, owner string) {
	after := ps.pend.create(owner, Approve(), g)
	ps.base.writeSharedFault(w, rec, f, ps.pendingURL(after, false), http.StatusAccepted)
}

// writeSharedFault writes a broken 202 (status 202) or challenge. loc is a
// working pending URL to send where a Location is expected.
func (b *base) writeSharedFault(w http.ResponseWriter, rec *RecordedRequest, f Fault, loc string, status int) {
	h := w.Header()
	if status == http.StatusAccepted {
		h.Set("Retry-After", "0")
		h.Set("Cache-Control", "no-store")
	}
	body := map[string]any{"status": "pending"}
	switch f {
	case FaultNoLocation:
		h.Set("AAuth-Requirement", "requirement=approval")
		writeJSON(w, http.StatusAccepted, "application/json", body)
		return
	case FaultCrossOriginLocation:
		h.Set("AAuth-Requirement", "requirement=approval")
		h.Set("Location", crossOrigin(loc))
		writeJSON(w, http.StatusAccepted, "application/json", body)
		return
	case FaultSignatureErrorGarbage:
		h.Set("Signature-Error", "((not a dictionary")
		b.problem(w, rec, http.StatusUnauthorized, "invalid_signature", "scripted broken Signature-Error")
		return
	case FaultSignatureErrorUnknown:
		h.Set("Signature-Error", "error=something_new")
		b.problem(w, rec, http.StatusUnauthorized, "something_new", "scripted unknown Signature-Error")
		return
	case FaultRequirementGarbage:
		h.Set("AAuth-Requirement", "requirement=?! garbage (")
	case FaultRequirementUnknown:
		h.Set("AAuth-Requirement", "requirement=bogus")
	case FaultAuthTokenNoResource:
		h.Set("AAuth-Requirement", "requirement=auth-token")
	case FaultResourceTokenGarbage:
		h.Set("AAuth-Requirement", `requirement=auth-token; resource-token="not-a-jwt"`)
	case FaultInteractionNoURL:
		h.Set("AAuth-Requirement", `requirement=interaction; code="`+newCode()+`"`)
	default:
		b.problem(w, rec, http.StatusInternalServerError, "server_error", fmt.Sprintf("aauthtest: fault %q does not apply to the %s", f, b.name))
		return
	}
	if status == http.StatusAccepted {
		h.Set("Location", loc)
		writeJSON(w, http.StatusAccepted, "application/json", body)
		return
	}
	b.problem(w, rec, status, "unauthorized", "scripted broken challenge")
}

// corruptSignature flips a bit of a compact JWS's signature.
func corruptSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || i+1 >= len(tok) {
		return tok
	}
	sig := []byte(tok[i+1:])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	return tok[:i+1] + string(sig)
}
