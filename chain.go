package aauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/chainctx"
	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/lru"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/psclient"
)

// WithUpstream returns a copy of ctx carrying token: the person token or
// auth token a caller presented on a request this server is serving
// (AAuth -11 "Call Chaining"). A Transport with Chain set makes the
// requests it sends with that context on that caller's behalf: it asks
// the person server named by token (the iss of a person token, the ps of
// an auth token) for the downstream tokens, with token as upstream_token.
//
// The resource package's middleware calls it for every request it serves
// that presented a person or auth token; call it yourself only with a
// token you verified. "" removes the upstream token. Each call starts a
// new budget of person-server requests (Transport.MaxChainRequests),
// shared by every request made with the returned context.
func WithUpstream(ctx context.Context, token string) context.Context {
	return chainctx.With(ctx, token)
}

// ChainError is a request made on a caller's behalf (call chaining) that
// could not obtain its downstream tokens, or that was refused before
// anything was sent. errors.Is sees through it to Err:
// psclient.ErrInvalidUpstreamToken, ErrExpiredUpstreamToken and
// ErrRevokedUpstreamToken; ErrDenied, ErrUserUnreachable, ErrInteraction
// and the other person-server sentinels; psclient.ErrChainLoop; ErrTooManySteps
// (the fan-out bound, Transport.MaxChainRequests); ErrResourceToken.
type ChainError struct {
	// Resource is the downstream resource (its origin).
	Resource string

	// PersonServer is the upstream token's person server, where the
	// downstream tokens were asked for; "" when it was not read.
	PersonServer string

	// Err is what went wrong.
	Err error
}

// Error says "aauth: chaining to <resource>: " and Err's message.
func (e *ChainError) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = safetext.Unprefixed(e.Err.Error())
	}
	return safetext.Prefix + "chaining to " + safetext.Clean(e.Resource, 256) + ": " + msg
}

// Unwrap returns Err.
func (e *ChainError) Unwrap() error { return e.Err }

// defaultMaxChainRequests is Transport.MaxChainRequests's default.
const defaultMaxChainRequests = 16

// upstream is what a chaining Transport reads of an upstream token,
// without verifying it (the resource that served the caller did).
type upstream struct {
	token string
	err   error  // why the token cannot be used, if it cannot
	typ   string // aa-person+jwt or aa-auth+jwt
	ps    string // the person server: a person token's iss, an auth token's ps
	aud   string
	jti   string
	exp   time.Time
	jkt   string // thumbprint of its cnf.jwk: the caller's key
	scope string // cache-key scope of the tokens obtained under it
	limit int
	u     *chainctx.Upstream
}

// parseUpstream reads an upstream token (AAuth -11 "Upstream Token
// Verification", as far as the intermediary can check it): a person or
// auth token, naming a person server the Transport may talk to, with an
// audience, an expiry and a key.
func parseUpstream(token string) any {
	up := &upstream{token: token}
	hdr, claims, err := jwtpeek.Decode(token)
	if err != nil {
		up.err = fmt.Errorf("%w: %v", psclient.ErrInvalidUpstreamToken, err)
		return up
	}
	str := func(k string) string { s, _ := claims[k].(string); return s }
	up.typ, _ = hdr["typ"].(string)
	switch up.typ {
	case "aa-person+jwt":
		up.ps = str("iss")
	case "aa-auth+jwt":
		up.ps = str("ps")
	default:
		// AAuth -11: typ is checked before any token is acted on; only
		// these two may be upstream tokens.
		up.err = fmt.Errorf("%w: typ %q is not a person or auth token's", psclient.ErrInvalidUpstreamToken, safetext.Clean(up.typ, 64))
		return up
	}
	if usablePS(up.ps) == "" {
		up.err = fmt.Errorf("%w: it names no usable person server", psclient.ErrInvalidUpstreamToken)
		return up
	}
	up.aud, _ = claims["aud"].(string)
	up.jti = str("jti")
	exp, ok := claims["exp"].(float64)
	if up.aud == "" || !ok {
		up.err = fmt.Errorf("%w: no single aud or no exp", psclient.ErrInvalidUpstreamToken)
		return up
	}
	up.exp = time.Unix(int64(exp), 0)
	if up.jkt, err = cnfThumbprint(claims); err != nil {
		up.err = fmt.Errorf("%w: cnf.jwk: %v", psclient.ErrInvalidUpstreamToken, err)
		return up
	}
	sum := sha256.Sum256([]byte(token))
	up.scope = "upstream " + up.ps + " " + base64.RawURLEncoding.EncodeToString(sum[:16])
	return up
}

// upstreams remembers what was read of the upstream tokens seen lately: a
// caller presents one token for many requests (an hour's worth), and each
// served request would otherwise read it again. Bounded: the least
// recently used token is read again when it comes back. Process-wide, as
// what a token says does not depend on the Transport reading it.
var upstreams = lru.New[string, *upstream](maxUpstreams, nil)

// The cache's bounds: at most maxUpstreams tokens of at most
// maxCachedUpstream bytes (2 MiB in all); longer ones, which no person
// server issues, are read each time.
const (
	maxUpstreams      = 256
	maxCachedUpstream = 8 << 10
)

// cachedUpstream is parseUpstream, remembered.
func cachedUpstream(token string) any {
	if len(token) > maxCachedUpstream {
		return parseUpstream(token)
	}
	if up, ok := upstreams.Get(token, true); ok {
		return up
	}
	up := parseUpstream(token).(*upstream)
	upstreams.Put(token, up, true)
	return up
}

// lastOwnIssuer is the iss of the last agent token ownIssuer read.
var lastOwnIssuer atomic.Pointer[[2]string]

// ownIssuer is the iss of the intermediary's own agent token.
func ownIssuer(token string) string {
	if last := lastOwnIssuer.Load(); last != nil && last[0] == token {
		return last[1]
	}
	iss := jwtpeek.ClaimString(token, "iss")
	lastOwnIssuer.Store(&[2]string{token, iss})
	return iss
}

// startChain reads the run's upstream token when the Transport chains and
// the context carries one, and refuses, before anything is sent, what
// cannot work: an upstream token of the wrong kind, expired, for another
// audience than this intermediary, bound to its own key, or a request back
// to the intermediary itself.
func (r *run) startChain() error {
	if !r.t.Chain {
		return nil
	}
	u := chainctx.From(r.ctx)
	if u == nil {
		return nil
	}
	up := u.Parsed(cachedUpstream).(*upstream)
	chainErr := func(err error) error { return &ChainError{Resource: r.origin, PersonServer: up.ps, Err: err} }
	if r.t.Parent != nil {
		return chainErr(errors.New("aauth: a sub-agent (Transport.Parent) cannot chain: set Chain or Parent, not both"))
	}
	if up.err != nil {
		return chainErr(up.err)
	}
	if err := egress.CheckSecureURL(r.ctx, up.ps); err != nil {
		return chainErr(fmt.Errorf("%w: %v", ErrEgress, err))
	}
	own := ownIssuer(r.km.Key.Token)
	switch {
	case !up.exp.After(r.t.clock().Now()):
		return chainErr(fmt.Errorf("%w: it expired at %s", psclient.ErrExpiredUpstreamToken, up.exp.UTC().Format(time.RFC3339)))
	case strings.TrimSuffix(up.aud, "/") != own || own == "":
		// Only a token the caller presented to this intermediary, which is
		// its own agent provider, can be passed on.
		return chainErr(fmt.Errorf("%w: it is for %q, not for this intermediary %q", psclient.ErrInvalidUpstreamToken, safetext.Clean(up.aud, 256), safetext.Clean(own, 256)))
	case up.jkt == r.jkt:
		return chainErr(fmt.Errorf("%w: the upstream token is bound to this intermediary's own key", psclient.ErrChainLoop))
	case r.origin == strings.TrimSuffix(up.aud, "/"):
		return chainErr(fmt.Errorf("%w: the request is for the intermediary itself (%s)", psclient.ErrChainLoop, r.origin))
	}
	copyUp := *up
	copyUp.u = u
	copyUp.limit = r.t.MaxChainRequests
	if copyUp.limit <= 0 {
		copyUp.limit = defaultMaxChainRequests
	}
	r.up = &copyUp
	return nil
}

func (r *run) chainErr(err error) error {
	var ce *ChainError
	if errors.As(err, &ce) {
		return err
	}
	return &ChainError{Resource: r.origin, PersonServer: r.up.ps, Err: err}
}

// opening is the credential the run presents first: in chain mode a
// downstream token held for this upstream token, or a person token
// obtained now (AAuth -11: the intermediary first obtains a person token
// for the downstream resource); otherwise the best one held.
func (r *run) opening() (credential, error) {
	if r.up == nil {
		return r.pick(), nil
	}
	if tok := r.t.cached(r.ctx, r.authCacheKey()); tok != nil {
		return credential{kind: credAuth, token: tok.Value, key: r.authCacheKey()}, nil
	}
	tok, err := r.chainPersonToken("")
	if err != nil {
		return credential{}, err
	}
	return credential{kind: credPerson, token: tok.Value, key: r.personCacheKey()}, nil
}

// personCacheKey and authCacheKey are where the run's person and auth
// tokens are cached: in chain mode, under the upstream token too, so that
// a token obtained for one caller's request never serves another's.
func (r *run) personCacheKey() string {
	if r.up != nil {
		return "person " + r.origin + " " + r.up.scope + " " + r.jkt
	}
	return r.t.personKey(r.origin, r.mission(), r.jkt)
}

func (r *run) authCacheKey() string {
	if r.up != nil {
		return "auth " + r.origin + " " + r.up.scope + " " + r.jkt
	}
	return authKey(r.origin, r.ps, r.jkt, r.mission())
}

// spend counts one person-server request under the upstream token.
func (r *run) spend() error {
	if !r.up.u.Spend(r.up.limit) {
		return fmt.Errorf("%w: more than %d person-server requests on behalf of one caller's request", ErrTooManySteps, r.up.limit)
	}
	return nil
}

// chainPersonToken obtains a downstream person token from the upstream
// token's person server, with upstream_token (no mission: the upstream
// token carries it).
func (r *run) chainPersonToken(rejected string) (*psclient.Token, error) {
	key := r.personCacheKey()
	if rejected != "" {
		r.forgetKey(key, rejected)
	}
	tok, err := r.fetchOnce(key, "person", func(tok *psclient.Token) bool { return tok.Value != rejected }, func() (*psclient.Token, error) {
		if err := r.spend(); err != nil {
			return nil, err
		}
		r.t.emit(r.ctx, Event{Step: StepPersonToken, URL: r.up.ps, Detail: "requesting a person token for " + r.origin + " on behalf of the caller (upstream " + kindOfTyp(r.up.typ) + " token)"})
		tok, err := psclient.RequestPersonToken(r.ctx, r.t.psClient(r.km), psclient.PersonTokenRequest{
			PersonServer:  r.up.ps,
			Cache:         &r.t.metadata,
			Profile:       r.t.Profile,
			Resource:      r.origin,
			UpstreamToken: r.up.token,
			Capabilities:  r.t.Capabilities,
			Justification: r.t.Justification,
			Poll:          r.chainPollOptions(),
		})
		if err != nil {
			return nil, err
		}
		return tok, checkHandedToken(tok, "aa-person+jwt", r.origin, r.jkt)
	})
	if err != nil {
		return nil, r.chainErr(err)
	}
	return tok, nil
}

// chainAuthToken exchanges a downstream resource token at the upstream
// token's person server, with upstream_token.
func (r *run) chainAuthToken(resourceToken string) (*psclient.Token, error) {
	if r.cred.kind != credPerson && r.cred.kind != credAuth {
		return nil, r.chainErr(fmt.Errorf("%w: an auth-token requirement to a request that presented no person or auth token", ErrResourceToken))
	}
	presented, err := r.startExchange(resourceToken, r.up.ps, false)
	if err != nil {
		return nil, r.chainErr(err)
	}
	// A downstream must not answer with the resource token the caller
	// was given for the upstream token, nor about it.
	if pj := jwtpeek.ClaimString(resourceToken, "presented_jti"); presented == r.up.token || (pj != "" && pj == r.up.jti) {
		return nil, r.chainErr(fmt.Errorf("%w: it is about the upstream token, not the token presented downstream", ErrResourceToken))
	}
	tok, err := r.fetchOnce(r.authCacheKey(), "auth", r.notRefused, func() (*psclient.Token, error) {
		if err := r.spend(); err != nil {
			return nil, err
		}
		r.t.emit(r.ctx, Event{Step: StepExchange, URL: r.up.ps, Detail: "exchanging the resource token of " + r.origin + " on behalf of the caller (upstream " + kindOfTyp(r.up.typ) + " token)"})
		return psclient.ExchangeToken(r.ctx, r.t.psClient(r.km), psclient.ExchangeRequest{
			PersonServer:   r.up.ps,
			Cache:          &r.t.metadata,
			Profile:        r.t.Profile,
			ResourceToken:  resourceToken,
			PresentedToken: presented,
			UpstreamToken:  r.up.token,
			Capabilities:   r.t.Capabilities,
			Justification:  r.t.Justification,
			Poll:           r.chainPollOptions(),
		})
	})
	if err != nil {
		return nil, r.chainErr(err)
	}
	return tok, nil
}

// errNoInteractionChaining is why a chained request cannot wait for the
// person when nothing relays the interaction to the caller.
var errNoInteractionChaining = errors.New("aauth: the person must act at the person server, and nothing relays the interaction to the caller (serve the call with resource.Defer on an intermediary's Transport)")

// chainPollOptions polls a deferred downstream token request: an
// interaction goes to OnInteraction, which an intermediary sets to relay
// it to its caller; without it, the request fails at once (and the
// pending request is cancelled) rather than wait for a person nobody
// told.
func (r *run) chainPollOptions() psclient.PollOptions {
	opts := r.pollOptions("")
	opts.OnInteraction = func(ctx context.Context, u, code string) error {
		cu := safetext.Clean(u, 256)
		r.t.emit(ctx, Event{Step: StepInteraction, URL: cu, Detail: "the person must visit " + cu + " for a request on the caller's behalf"})
		if r.t.OnInteraction == nil {
			return errNoInteractionChaining
		}
		return r.t.OnInteraction(ctx, u, code)
	}
	return opts
}

func kindOfTyp(typ string) string {
	return strings.TrimSuffix(strings.TrimPrefix(typ, "aa-"), "+jwt")
}
