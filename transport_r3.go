package aauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/lru"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/wire"
)

// This file is the Transport's part of R3 (Rich Resource Requests, -02)
// and of the Budgets draft: authorizing declared operations before the
// first call, telling a per-call challenge from a step-up and answering it
// with a narrow token that is presented once and never kept, turning a
// resource's R3 refusals into typed errors, and keeping what resources
// report in AAuth-Budget.

// transportR3 is what a Transport keeps for R3 and budgets.
//
// Both tables are bounded and evict one origin at a time (least recently
// used first), an origin reached through a redirect on probation, so that
// a flood of origins cannot empty what the caller's own resources keep.
type transportR3 struct {
	once     sync.Once
	metadata *lru.Map[string, resourceMetadataEntry] // by origin
	budgets  *lru.Map[string, r3.Budget]             // the last AAuth-Budget, by origin

	mu        sync.Mutex
	lastGrant *grantPeek // the grant of the last auth token read
}

// tables returns the two tables, made on first use.
func (x *transportR3) tables() (*lru.Map[string, resourceMetadataEntry], *lru.Map[string, r3.Budget]) {
	x.once.Do(func() {
		x.metadata = lru.New[string, resourceMetadataEntry](maxResourceMetadata, nil)
		x.budgets = lru.New[string, r3.Budget](maxBudgetOrigins, nil)
	})
	return x.metadata, x.budgets
}

type resourceMetadataEntry struct {
	md      *psclient.ResourceMetadata
	err     error
	expires time.Time
}

// grantPeek is an auth token's R3 grant, read from the token the agent
// obtained (not verified: it is the agent's own).
type grantPeek struct {
	token string
	grant *r3.Grant
}

// Bounds.
const (
	resourceMetadataTTL   = 5 * time.Minute
	resourceMetadataRetry = 30 * time.Second // after a failed discovery
	maxResourceMetadata   = 256              // origins remembered
	maxBudgetOrigins      = 1024
	maxPerCallExchanges   = 1 // per RoundTrip
)

// r3Run is the state of one RoundTrip for R3.
type r3Run struct {
	classified bool
	vocab      string
	ops        []r3.Operation // the operations the request invokes, when known
	single     bool           // the request is exactly one tools/call
	unknown    bool           // the request has a body that could not be read as MCP
	perCalls   int            // per-call exchanges made
	narrow     bool           // r.cred is a per-call token
}

// grantOf returns the R3 grant of an auth token the agent holds, or nil.
func (t *Transport) grantOf(token string) *r3.Grant {
	t.r3.mu.Lock()
	last := t.r3.lastGrant
	t.r3.mu.Unlock()
	if last != nil && last.token == token {
		return last.grant
	}
	var g *r3.Grant
	if parts := strings.Split(token, "."); len(parts) == 3 && len(token) <= maxTokenPeek {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			g, _ = r3.ParseGrant(payload) // a grant that cannot be read is none
		}
	}
	t.r3.mu.Lock()
	t.r3.lastGrant = &grantPeek{token: token, grant: g}
	t.r3.mu.Unlock()
	return g
}

// maxTokenPeek bounds a token the Transport reads a grant from.
const maxTokenPeek = 64 << 10

// classify reads which operations the request invokes, once: for MCP, the
// tools/call messages of its JSON-RPC body, read through GetBody so the
// caller's body is left alone. A request it cannot read is of unknown
// operations: the held token is presented and the resource decides.
func (r *run) classify() {
	if r.r3.classified {
		return
	}
	r.r3.classified = true
	req := r.req
	if req.Body == nil || req.Body == http.NoBody {
		return // no operation: nothing to invoke
	}
	r.r3.unknown = true
	if req.GetBody == nil || req.ContentLength > r3.DefaultMaxMCPBody || req.Header.Get("Content-Encoding") != "" {
		return
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return
	}
	rc, err := req.GetBody()
	if err != nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(rc, r3.DefaultMaxMCPBody+1))
	rc.Close()
	if err != nil {
		return
	}
	mcp, err := r3.ClassifyMCP(body)
	if err != nil {
		return
	}
	r.r3.unknown = false
	r.r3.vocab, r.r3.ops = r3.VocabularyMCP, mcp.Operations()
	r.r3.single = !mcp.Batch && len(mcp.Messages) == 1 && len(r.r3.ops) == 1
}

// perCall reports whether an auth-token requirement answering the
// current send is a per-call challenge (R3 §Per-Call Proposals): the
// request is one call of an operation that the auth token presented
// grants per call, not outright. A request whose body cannot be read is
// taken for one too, when the token grants anything per call: the token
// the challenge leads to is then used for this request only, never kept
// for others it might not fit.
func (r *run) perCall() bool {
	if r.cred.kind != credAuth || r.r3.narrow {
		return false
	}
	g := r.t.grantOf(r.cred.token)
	if g == nil || g.PerCall == nil {
		return false
	}
	r.classify()
	return r.r3.unknown || (r.r3.single && g.Decide(r.r3.vocab, r.r3.ops[0]) == r3.ChallengePerCall)
}

// answerAuthToken answers an auth-token requirement whose resource token
// is rt: a per-call challenge with a narrow token used for this request
// only, anything else with an auth token from the cache or the exchange.
// again reports that the resource challenged a per-call token: the
// request ends with the resource's answer.
func (r *run) answerAuthToken(rt string) (cred credential, again bool, err error) {
	if r.r3.narrow && r.up == nil {
		return credential{}, true, nil
	}
	if r.up == nil && r.perCall() { // not for a caller (chain.go): the narrow exchange is the agent's own
		if r.r3.perCalls == maxPerCallExchanges {
			return credential{}, true, nil
		}
		r.r3.perCalls++
		cred, err := r.perCallToken(rt)
		return cred, false, err
	}
	tok, err := r.authToken(rt)
	if err != nil {
		return credential{}, false, err
	}
	return credential{kind: credAuth, token: tok.Value, key: r.authCacheKey()}, false, nil
}

// perCallToken exchanges a per-call challenge's resource token for the
// narrow token that approves this one call (R3 §Flow, steps 1 and 2),
// presenting the auth token the call was made with. The narrow token is
// not cached, not shared with other requests and not logged: it is
// presented for this call only (a retry, or the polls of a held call).
func (r *run) perCallToken(rt string) (credential, error) {
	presented := r.cred.token
	if err := checkResourceToken(rt, resourceCheck{
		resource:     r.origin,
		personServer: r.ps,
		jkt:          r.jkt,
		presented:    presented,
		now:          r.t.clock().Now(),
	}); err != nil {
		return credential{}, err
	}
	r.t.emit(r.ctx, Event{Step: StepExchange, URL: r.ps, Detail: "exchanging a per-call resource token of " + r.origin + " for " + r.opNames()})
	tok, err := psclient.ExchangeToken(r.pollCtx(), r.t.psClient(r.km), r.exchangeRequest(rt, presented, r.t.capabilities()))
	if err != nil {
		return credential{}, &r3.OperationError{Vocabulary: r.r3.vocab, Operations: r.r3.ops, Code: r3.CodePerCallDenied, Err: err}
	}
	r.r3.narrow = true
	return credential{kind: credAuth, token: tok.Value}, nil // no key: never stored, never forgotten
}

// exchangeRequest is the exchange of the resource token rt, presenting
// the token presented and declaring caps, with the Transport's hints.
func (r *run) exchangeRequest(rt, presented string, caps []wire.Capability) psclient.ExchangeRequest {
	return psclient.ExchangeRequest{
		PersonServer:   r.ps,
		Metadata:       r.t.PersonServerMetadata,
		Cache:          &r.t.metadata,
		Profile:        r.t.Profile,
		ResourceToken:  rt,
		PresentedToken: presented,
		Justification:  r.t.Justification,
		LoginHint:      r.t.LoginHint,
		Tenant:         r.t.Tenant,
		DomainHint:     r.t.DomainHint,
		Prompt:         r.t.Prompt,
		Capabilities:   caps,
		Poll:           r.pollOptions(""),
	}
}

// opNames names the request's operations for events.
func (r *run) opNames() string {
	names := make([]string, 0, len(r.r3.ops))
	for _, op := range r.r3.ops {
		names = append(names, safetext.Clean(op.String(), 64))
	}
	if len(names) == 0 {
		return "an operation"
	}
	return strings.Join(names, ", ")
}

// refusal turns a resource's R3 refusal (403 with one of r3's problem
// codes, to a request presenting an auth token) into an
// *r3.OperationError. Any other answer is left as it is (its body
// restored) and nil returned.
func (r *run) refusal(resp *http.Response) error {
	if r.cred.kind != credAuth || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, httpx.MaxBodySize+1))
	// The caller gets the body whole, whatever was read of it here.
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	if err != nil || len(body) > httpx.MaxBodySize {
		return nil
	}
	p, err := wire.ParseProblem(body)
	if err != nil || p == nil || !r3.IsRefusal(p.Error) {
		return nil
	}
	r.classify()
	r.t.emit(r.ctx, Event{Step: StepError, Method: r.req.Method, URL: redactURL(r.req.URL), Status: resp.StatusCode, Credential: r.cred.kind.String(), Detail: "the resource refused " + r.opNames() + ": " + safetext.Clean(p.Error, 64)})
	return &r3.OperationError{Vocabulary: r.r3.vocab, Operations: r.r3.ops, StatusCode: resp.StatusCode, Code: p.Error}
}

// authorizeFirst, when the caller declared the operations it means to
// call at this origin (Transport.Operations) and no auth token is held,
// asks the resource's authorization endpoint for them before the first
// call and exchanges the resource token it gives, so that the first call
// already presents an auth token (R3 §Authorization Endpoint Extensions).
// A resource with no authorization endpoint, or not advertising the
// operations' vocabulary, is left to challenge as usual.
func (r *run) authorizeFirst() error {
	ops, ok := r.t.Operations[r.origin]
	if !ok || r.cred.kind == credAuth || !r.tab.PersonTokens || (r.ps == "" && r.t.PersonServerMetadata == nil) {
		return nil
	}
	md, err := r.t.resourceMetadata(r.ctx, r.origin)
	if err != nil || md.AuthorizationEndpoint == "" || md.Vocabularies[ops.Vocabulary] == "" {
		detail := "the resource offers no authorization endpoint for " + safetext.Clean(ops.Vocabulary, 64) + ": waiting for its challenge"
		r.t.emit(r.ctx, Event{Step: StepChallenge, URL: r.origin, Detail: detail, Err: err})
		return nil
	}
	cred, err := r.authorize(md.AuthorizationEndpoint, ops, false)
	if err != nil {
		return err
	}
	r.cred = cred
	return nil
}

// authorize gets an auth token for ops through the resource's
// authorization endpoint: a person token, the resource token the endpoint
// gives for it, and its exchange, stored like any auth token. Unless
// replace, an auth token already held (or obtained meanwhile by another
// request) is used instead.
func (r *run) authorize(endpoint string, ops r3.OperationSet, replace bool) (credential, error) {
	key := authKey(r.origin, r.ps, r.jkt, r.mission())
	held := ""
	if replace {
		if tok := r.t.cached(r.ctx, key); tok != nil {
			held = tok.Value
		}
	}
	tok, err := r.fetchOnce(key, "auth", func(tok *psclient.Token) bool { return tok.Value != held }, func() (*psclient.Token, error) {
		pt, err := r.personToken("")
		if err != nil {
			return nil, err
		}
		person := credential{kind: credPerson, token: pt.Value, key: r.t.personKey(r.origin, r.mission(), r.jkt)}
		r.t.emit(r.ctx, Event{Step: StepExchange, URL: safetext.Clean(endpoint, 256), Credential: "person", Detail: "asking the resource to authorize " + safetext.Clean(ops.Vocabulary, 64) + " operations before the first call"})
		rt, err := psclient.Authorize(r.pollCtx(), r.credClient(person), psclient.AuthorizeRequest{
			Endpoint:   endpoint,
			Resource:   r.origin,
			Operations: &ops,
			Poll:       r.pollOptions(endpoint),
		})
		if err != nil {
			return nil, err
		}
		if err := checkResourceToken(rt, resourceCheck{resource: r.origin, personServer: r.ps, jkt: r.jkt, presented: pt.Value, now: r.t.clock().Now()}); err != nil {
			return nil, err
		}
		r.t.emit(r.ctx, Event{Step: StepExchange, URL: r.ps, Detail: "exchanging the resource token of " + r.origin})
		return psclient.ExchangeToken(r.pollCtx(), r.t.psClient(r.km), r.exchangeRequest(rt, pt.Value, r.t.capabilities()))
	})
	if err != nil {
		return credential{}, err
	}
	return credential{kind: credAuth, token: tok.Value, key: key}, nil
}

// Authorize asks the resource at resourceURL for an auth token granting
// ops before any call, through its authorization endpoint, and keeps it
// for the resource's later calls, replacing any auth token held for it:
// what the Transport does on its own for the operations declared in
// Operations, and what a caller does after an operation was refused
// (ErrOperationNotGranted) to ask for a wider set.
func (t *Transport) Authorize(ctx context.Context, resourceURL string, ops r3.OperationSet) error {
	t.init()
	if t.Keys == nil {
		return errors.New("aauth: Transport.Keys is nil")
	}
	tab, err := profile.Check(t.Profile)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, resourceURL, nil)
	if err != nil {
		return fmt.Errorf("aauth: Authorize: %w", err)
	}
	o, err := t.origin(req.URL, true)
	if err != nil {
		return err
	}
	origin := o.name
	if t.InsecureEgress {
		ctx = WithInsecureEgress(ctx)
	}
	r := &run{t: t, req: req, ctx: ctx, origin: origin, o: o, tab: tab}
	if err := r.loadKeys(); err != nil {
		return err
	}
	if !tab.PersonTokens || (r.ps == "" && t.PersonServerMetadata == nil) {
		return fmt.Errorf("%w: Authorize needs one", ErrNoPersonServer)
	}
	md, err := t.resourceMetadata(ctx, origin)
	if err != nil {
		return err
	}
	if md.AuthorizationEndpoint == "" {
		return fmt.Errorf("aauth: %s has no authorization endpoint", origin)
	}
	_, err = r.authorize(md.AuthorizationEndpoint, ops, true)
	return err
}

// ResourceMetadata returns the metadata of the resource at resourceURL's
// origin (its access_mode, authorization_endpoint and r3_vocabularies), as
// the Transport reads it before authorizing declared operations, cached
// for a few minutes: what an agent plans its first call with, before any
// challenge. The per-tool annotations of an MCP server are in its
// tools/list (see r3.MCPToolAccess and r3.EffectiveAccess).
func (t *Transport) ResourceMetadata(ctx context.Context, resourceURL string) (*psclient.ResourceMetadata, error) {
	u, err := url.Parse(resourceURL)
	if err != nil {
		return nil, fmt.Errorf("aauth: resource URL: %w", err)
	}
	origin, err := originOf(u)
	if err != nil {
		return nil, err
	}
	if t.InsecureEgress {
		ctx = WithInsecureEgress(ctx)
	}
	return t.resourceMetadata(ctx, origin)
}

// resourceMetadata returns the metadata of the resource at origin,
// discovered at most every few minutes (a failure is remembered briefly).
func (t *Transport) resourceMetadata(ctx context.Context, origin string) (*psclient.ResourceMetadata, error) {
	now := t.clock().Now()
	metadata, _ := t.r3.tables()
	trusted := !onProbation(ctx)
	e, ok := metadata.Get(origin, trusted)
	if ok && now.Before(e.expires) {
		return e.md, e.err
	}
	client := &http.Client{Transport: roundTripperFunc(func(req *http.Request) (*http.Response, error) { return sendVia(t.Base, req) }), CheckRedirect: noRedirects}
	md, err := psclient.DiscoverResource(ctx, client, origin)
	if err != nil && isContextError(err) {
		return nil, err
	}
	e = resourceMetadataEntry{md: md, err: err, expires: now.Add(resourceMetadataTTL)}
	if err != nil {
		e.expires = now.Add(resourceMetadataRetry)
	}
	metadata.Put(origin, e, trusted)
	return md, err
}

// noteBudget reads the AAuth-Budget a resource sent (Budgets draft
// §AAuth-Budget Response Header) and keeps it for origin. A value that is
// malformed, or whose denomination disagrees with the presented auth
// token's budget claim (§Denomination Conflict), is ignored, and the
// event says why.
func (r *run) noteBudget(resp *http.Response) *r3.Budget {
	if len(resp.Header[keyBudget]) == 0 {
		return nil // the warm path: one map lookup, no allocation
	}
	b, ok, err := r3.BudgetFromResponse(resp)
	if err != nil || !ok {
		if err != nil {
			r.t.emit(r.ctx, Event{Step: StepError, URL: redactURL(r.req.URL), Status: resp.StatusCode, Detail: "ignored a malformed AAuth-Budget", Err: err})
		}
		return nil
	}
	if r.cred.kind == credAuth {
		if claim := budgetClaimOf(r.cred.token); claim != nil && !b.ConsistentWith(*claim) {
			r.t.emit(r.ctx, Event{Step: StepError, URL: redactURL(r.req.URL), Status: resp.StatusCode, Detail: "ignored an AAuth-Budget whose unit or decimals differ from the auth token's budget"})
			return nil
		}
	}
	_, budgets := r.t.r3.tables()
	trusted := !onProbation(r.ctx)
	budgets.Put(r.origin, b, trusted)
	if _, declared := resp.Trailer[keyBudget]; declared && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = &budgetTrailerBody{ReadCloser: resp.Body, resp: resp, budgets: budgets, origin: r.origin, header: b, trusted: trusted}
	}
	return &b
}

// budgetTrailerBody completes a streamed answer's budget (Budgets draft
// §Streaming, §Trailer Rules): once the caller has read the body to the
// end, the trailer's cost joins the header's figures, so that
// Transport.Budget's Balance is remaining + reserved - cost. A trailer
// that is missing or malformed leaves the header's figures, which are a
// floor; so does a newer report for the origin that came meanwhile.
type budgetTrailerBody struct {
	io.ReadCloser
	resp    *http.Response
	budgets *lru.Map[string, r3.Budget]
	origin  string
	header  r3.Budget
	trusted bool
	done    bool
}

func (b *budgetTrailerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		if tl := b.resp.Trailer.Values(r3.BudgetHeader); len(tl) > 0 {
			if t, terr := r3.ParseBudgetTrailer(tl); terr == nil {
				if cur, ok := b.budgets.Get(b.origin, b.trusted); ok && cur == b.header {
					b.budgets.Put(b.origin, b.header.WithTrailer(t), b.trusted)
				}
			}
		}
	}
	return n, err
}

// keyBudget is the net/http form of AAuth-Budget.
var keyBudget = http.CanonicalHeaderKey(r3.BudgetHeader)

// budgetClaimOf returns the budget claim of an auth token the agent holds.
func budgetClaimOf(token string) *r3.BudgetClaim {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > maxTokenPeek {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	c, err := r3.ParseBudgetClaim(payload)
	if err != nil {
		return nil
	}
	return c
}

// Budget returns what the resource at resourceURL last reported of the
// budget on the auth token presented to it (its AAuth-Budget header), and
// whether it reported any. The amounts are in the granted scale: see r3.Budget.
func (t *Transport) Budget(resourceURL string) (r3.Budget, bool) {
	u, err := url.Parse(resourceURL)
	if err != nil {
		return r3.Budget{}, false
	}
	origin, err := originOf(u)
	if err != nil {
		return r3.Budget{}, false
	}
	_, budgets := t.r3.tables()
	return budgets.Get(origin, true)
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
