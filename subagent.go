package aauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/agentid"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// Parent obtains a sub-agent's person tokens and auth tokens (AAuth -11
// "Parent-Mediated Authorization"): the parent agent asks its person
// server, signing with its own key and agent token and sending the
// sub-agent's agent token as subagent_token, and hands the token, bound to
// the sub-agent's key, back. A Transport whose Parent is set gets all its
// tokens this way.
//
// *Transport implements Parent for the agent it runs as, so sub-agents
// running as goroutines share their parent's Transport:
//
//	sub := &aauth.Transport{Keys: subKeys, Parent: parentTransport}
//
// A parent in another process is reached with a psclient.ParentFunc that
// sends the psclient.SubagentRequest there and reads the
// psclient.SubagentAnswer back.
type Parent interface {
	SubagentToken(ctx context.Context, req psclient.SubagentRequest) (*Token, error)
}

// parentScope stands for the person server in a sub-agent's cache keys
// when its token names none: its tokens all come through its parent.
const parentScope = "parent"

// viaParent reports whether the run's person-server operations go through
// a parent: Parent is set, or the agent token is a sub-agent's (which may
// not ask a person server itself).
func (r *run) viaParent() bool {
	return r.t.Parent != nil || r.parentAgent() != ""
}

// parentAgent is the parent_agent claim of the agent token, read without
// verifying it (the token is the agent's own).
func (r *run) parentAgent() string {
	if r.km.Key.Scheme != wire.SchemeJWT {
		return ""
	}
	return jwtpeek.ClaimString(r.km.Key.Token, "parent_agent")
}

// checkParentRoute refuses what cannot work before anything is sent.
func (r *run) checkParentRoute(what string) error {
	switch {
	case r.t.Parent == nil:
		// AAuth -11: a sub-agent never requests authorization itself.
		return fmt.Errorf("%w: %s asks for %s, and a sub-agent's tokens come through its parent: set Transport.Parent", ErrNoPersonServer, r.origin, what)
	case r.t.Parent == Parent(r.t):
		return errors.New("aauth: Transport.Parent is the Transport itself")
	case r.parentAgent() == "":
		return errors.New("aauth: Transport.Parent is set but Keys gives a top-level agent token (no parent_agent): a sub-agent needs a sub-agent token")
	}
	return nil
}

// personTokenFromParent is personToken for a sub-agent: the token comes
// from the parent, is checked to be bound to this sub-agent's key and for
// this resource, and is cached as any person token.
func (r *run) personTokenFromParent(rejected string) (*psclient.Token, error) {
	if err := r.checkParentRoute("a person token"); err != nil {
		return nil, err
	}
	key := r.t.personKey(r.origin, r.mission(), r.jkt)
	if rejected != "" {
		r.forgetKey(key, rejected)
	}
	tok, err := r.fetchOnce(key, "person", func(tok *psclient.Token) bool { return tok.Value != rejected }, func() (*psclient.Token, error) {
		r.t.emit(r.ctx, Event{Step: StepPersonToken, Detail: "asking the parent agent for a person token for " + r.origin})
		tok, err := r.t.Parent.SubagentToken(r.ctx, psclient.SubagentRequest{SubagentToken: r.km.Key.Token, Resource: r.origin})
		if err != nil {
			return nil, err
		}
		return tok, checkHandedToken(tok, "aa-person+jwt", r.origin, r.jkt)
	})
	if errors.Is(err, psclient.ErrExpiredSubagentToken) && !r.once("subagent-refresh") {
		// The parent (or its person server) found the sub-agent token
		// expired: ask Keys again, which renews it, and start over.
		if lerr := r.loadKeys(); lerr == nil {
			return r.personTokenFromParent(rejected)
		}
	}
	return tok, err
}

// authTokenFromParent is authToken for a sub-agent: the resource token is
// checked as for any agent (with the person server of the token presented:
// the sub-agent has none of its own), the parent exchanges it, and what it
// hands back is checked as any auth token response.
func (r *run) authTokenFromParent(resourceToken string) (*psclient.Token, error) {
	if err := r.checkParentRoute("an auth token"); err != nil {
		return nil, err
	}
	presented, err := r.startExchange(resourceToken, presentedPS(r.cred.token), false)
	if err != nil {
		return nil, err
	}
	return r.fetchOnce(authKey(r.origin, r.ps, r.jkt, r.mission()), "auth", r.notRefused, func() (*psclient.Token, error) {
		r.t.emit(r.ctx, Event{Step: StepExchange, Detail: "asking the parent agent to exchange the resource token of " + r.origin})
		tok, err := r.t.Parent.SubagentToken(r.ctx, psclient.SubagentRequest{
			SubagentToken:  r.km.Key.Token,
			Resource:       r.origin,
			ResourceToken:  resourceToken,
			PresentedToken: presented,
		})
		if err != nil {
			return nil, err
		}
		if err := checkHandedToken(tok, "aa-auth+jwt", r.origin, r.jkt); err != nil {
			return nil, err
		}
		return tok, psclient.CheckAuthToken(tok.Value, resourceToken, presented)
	})
}

// presentedPS is the person server of a person token (its iss) or an auth
// token (its ps): what a resource token issued for it must name.
func presentedPS(presented string) string {
	if ps := jwtpeek.ClaimString(presented, "ps"); ps != "" {
		return ps
	}
	return jwtpeek.ClaimString(presented, "iss")
}

// checkHandedToken checks, without verifying its signature, a token a
// parent (or a person server, for a parent) returned for a sub-agent:
// its typ, that it is for resource, and that its cnf.jwk is the key whose
// thumbprint is jkt (AAuth -11 "Auth Token Response Verification"; the same
// for person tokens).
func checkHandedToken(tok *psclient.Token, typ, resource, jkt string) error {
	if tok == nil || tok.Value == "" {
		return fmt.Errorf("%w: no token", psclient.ErrIssuedToken)
	}
	hdr, claims, err := jwtpeek.Decode(tok.Value)
	if err != nil {
		return fmt.Errorf("%w: %v", psclient.ErrIssuedToken, err)
	}
	if got, _ := hdr["typ"].(string); got != typ {
		return fmt.Errorf("%w: typ %q, want %s", psclient.ErrIssuedToken, safetext.Clean(got, 64), typ)
	}
	if aud, _ := claims["aud"].(string); strings.TrimSuffix(aud, "/") != resource {
		return fmt.Errorf("%w: the token is for %q, not %s", psclient.ErrIssuedToken, safetext.Clean(aud, 256), resource)
	}
	if got, err := cnfThumbprint(claims); err != nil || got != jkt {
		return fmt.Errorf("%w: the token is not bound to the sub-agent's key", psclient.ErrIssuedToken)
	}
	return nil
}

// cnfThumbprint is the RFC 7638 thumbprint of a token's cnf.jwk.
func cnfThumbprint(claims map[string]any) (string, error) {
	cnf, _ := claims["cnf"].(map[string]any)
	jwk, ok := cnf["jwk"].(map[string]any)
	if !ok {
		return "", errors.New("no cnf.jwk")
	}
	b, err := json.Marshal(jwk)
	if err != nil {
		return "", err
	}
	pub, err := keys.ParsePublicJWK(b, wire.ProfileSeed) // liberal: the thumbprint ignores alg
	if err != nil {
		// Said inside other messages: without its own prefix.
		return "", errors.New(safetext.Unprefixed(err.Error()))
	}
	jkt, err := keys.Thumbprint(pub)
	if err != nil {
		return "", errors.New(safetext.Unprefixed(err.Error()))
	}
	return jkt, nil
}

// subagentClaims is what the parent reads of a sub-agent token before
// sending it: the person server verifies it; the parent refuses early what
// it can tell is wrong.
type subagentClaims struct {
	sub, jkt string
}

// peekSubagent checks a sub-agent token against the parent's own agent
// token (AAuth -11 "Sub-Agents"): an agent token, of a valid sub-agent
// identifier, whose parent_agent is the parent's identifier byte for byte
// and whose issuer is the parent's provider, with a key, not expired.
func peekSubagent(subToken, parentToken string, now time.Time) (subagentClaims, error) {
	invalid := func(format string, args ...any) (subagentClaims, error) {
		return subagentClaims{}, fmt.Errorf("%w: %s", psclient.ErrInvalidSubagentToken, fmt.Sprintf(format, args...))
	}
	hdr, claims, err := jwtpeek.Decode(subToken)
	if err != nil {
		return invalid("%v", err)
	}
	_, pclaims, err := jwtpeek.Decode(parentToken)
	if err != nil {
		return subagentClaims{}, fmt.Errorf("aauth: the parent's agent token: %v", err)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if typ := str(hdr, "typ"); typ != "aa-agent+jwt" {
		return invalid("typ %q is not aa-agent+jwt", safetext.Clean(typ, 64))
	}
	sub, parent := str(claims, "sub"), str(claims, "parent_agent")
	if _, _, err := agentid.Parse(sub); err != nil {
		return invalid("sub: %v", err)
	}
	switch {
	case parent == "":
		return invalid("no parent_agent: not a sub-agent's token")
	case parent != str(pclaims, "sub"):
		if _, _, err := agentid.Parse(parent); err != nil {
			return invalid("parent_agent: %v", err)
		}
		return invalid("parent_agent %q names another agent than this parent %q", safetext.Clean(parent, 128), safetext.Clean(str(pclaims, "sub"), 128))
	case str(claims, "iss") != str(pclaims, "iss"):
		return invalid("issued by %q, not by the parent's agent provider", safetext.Clean(str(claims, "iss"), 256))
	}
	jkt, err := cnfThumbprint(claims)
	if err != nil {
		return invalid("cnf.jwk: %v", err)
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return invalid("no exp")
	}
	if !time.Unix(int64(exp), 0).After(now) {
		return subagentClaims{}, fmt.Errorf("%w: expired at %s", psclient.ErrExpiredSubagentToken, time.Unix(int64(exp), 0).UTC().Format(time.RFC3339))
	}
	return subagentClaims{sub: sub, jkt: jkt}, nil
}

// SubagentToken makes t's agent the parent of a sub-agent (AAuth -11
// "Parent-Mediated Authorization"): it obtains from t's person server,
// signing with t's own key and agent token, the person token (when
// req.ResourceToken is empty) or the auth token the sub-agent asks for,
// sending req.SubagentToken as subagent_token. The token returned is bound
// to the sub-agent's key. It implements Parent.
//
// Before sending anything it checks what it can: that req.SubagentToken is
// a sub-agent token naming t's agent as parent_agent, issued by t's agent
// provider and not expired (errors match psclient.ErrInvalidSubagentToken
// or psclient.ErrExpiredSubagentToken); that the resource token was issued
// by req.Resource for the sub-agent's key and t's person server, about
// req.PresentedToken, which is bound to the sub-agent's key (ErrResourceToken);
// and OnSubagent. A person token request carries t's Mission (the person
// server evaluates the parent's grant), Capabilities and hints, and its
// deferrals are polled with t's OnInteraction and OnClarification: consent
// is asked of the person for the parent. What the person server returns is
// checked to be bound to the sub-agent's key and for the resource.
//
// The parent does not cache the tokens: the sub-agent does. Concurrent
// identical requests of one sub-agent make one request to the person
// server.
func (t *Transport) SubagentToken(ctx context.Context, req psclient.SubagentRequest) (*Token, error) {
	t.init()
	tab, err := profile.Check(t.Profile)
	if err != nil {
		return nil, err
	}
	if !tab.Delegation {
		return nil, fmt.Errorf("aauth: the %s profile has no sub-agents", tab.Name)
	}
	if t.Keys == nil {
		return nil, errors.New("aauth: Transport.Keys is nil")
	}
	u, err := url.Parse(req.Resource)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("aauth: SubagentRequest.Resource %q is not a resource URL", safetext.Clean(req.Resource, 256))
	}
	origin, err := originOf(u)
	if err != nil {
		return nil, err
	}
	if t.InsecureEgress {
		ctx = WithInsecureEgress(ctx)
	}
	r := &run{t: t, ctx: ctx, origin: origin, tab: tab}
	r.observePS() // the parent's OnEvent sees its requests to the person server
	if err := r.loadKeys(); err != nil {
		return nil, err
	}
	if r.km.Key.Scheme != wire.SchemeJWT {
		return nil, errors.New("aauth: a parent signs with its agent token (Signature-Key jwt)")
	}
	if r.parentAgent() != "" {
		return nil, errors.New("aauth: a sub-agent cannot be a parent: sub-agents have no sub-agents")
	}
	if r.ps == "" && t.PersonServerMetadata == nil {
		return nil, fmt.Errorf("%w: a sub-agent asks for a token for %s", ErrNoPersonServer, origin)
	}
	sa, err := peekSubagent(req.SubagentToken, r.km.Key.Token, t.clock().Now())
	if err != nil {
		return nil, err
	}
	if req.ResourceToken != "" {
		if err := checkSubagentExchange(req, origin, r.ps, sa.jkt, t.clock().Now()); err != nil {
			return nil, err
		}
	}
	if t.OnSubagent != nil {
		if err := t.OnSubagent(ctx, sa.sub, req); err != nil {
			return nil, safetext.Wrap("Transport.OnSubagent refused the sub-agent's request", err)
		}
	}
	if req.ResourceToken == "" {
		return r.subagentPersonToken(req, sa)
	}
	return r.subagentAuthToken(req, sa)
}

// checkSubagentExchange checks a sub-agent's resource token and presented
// token before the parent sends them: the resource token was issued by the
// resource for the sub-agent's key and the parent's person server, about
// the presented token, which is a person or auth token bound to the
// sub-agent's key (interop Surface 5, checks 1 to 3).
func checkSubagentExchange(req psclient.SubagentRequest, origin, ps, jkt string, now time.Time) error {
	if req.PresentedToken == "" {
		return fmt.Errorf("%w: no presented token with the resource token", ErrResourceToken)
	}
	if err := checkResourceToken(req.ResourceToken, resourceCheck{resource: origin, personServer: ps, jkt: jkt, presented: req.PresentedToken, now: now}); err != nil {
		return err
	}
	hdr, claims, err := jwtpeek.Decode(req.PresentedToken)
	if err != nil {
		return fmt.Errorf("%w: the presented token: %v", ErrResourceToken, err)
	}
	if typ, _ := hdr["typ"].(string); typ != "aa-person+jwt" && typ != "aa-auth+jwt" {
		return fmt.Errorf("%w: the presented token is not a person or auth token", ErrResourceToken)
	}
	if got, err := cnfThumbprint(claims); err != nil || got != jkt {
		return fmt.Errorf("%w: the presented token is not bound to the sub-agent's key", ErrResourceToken)
	}
	return nil
}

func (r *run) subagentPersonToken(req psclient.SubagentRequest, sa subagentClaims) (*Token, error) {
	key := "subagent person " + r.origin + " " + sa.jkt
	return r.t.flightToken(r.ctx, key, func() (*psclient.Token, error) {
		r.t.emit(r.ctx, Event{Step: StepPersonToken, URL: r.ps, Detail: "requesting a person token for " + r.origin + " for the sub-agent " + safetext.Clean(sa.sub, 128)})
		ptr := r.personTokenRequest(r.t.Capabilities)
		ptr.SubagentToken = req.SubagentToken
		tok, err := psclient.RequestPersonToken(r.ctx, r.t.psClient(r.km), ptr)
		if err != nil {
			return nil, err
		}
		if err := checkHandedToken(tok, "aa-person+jwt", r.origin, sa.jkt); err != nil {
			return nil, err
		}
		return tok, nil
	})
}

func (r *run) subagentAuthToken(req psclient.SubagentRequest, sa subagentClaims) (*Token, error) {
	sum := sha256.Sum256([]byte(req.ResourceToken))
	key := "subagent auth " + r.origin + " " + sa.jkt + " " + base64.RawURLEncoding.EncodeToString(sum[:16])
	return r.t.flightToken(r.ctx, key, func() (*psclient.Token, error) {
		r.t.emit(r.ctx, Event{Step: StepExchange, URL: r.ps, Detail: "exchanging the resource token of " + r.origin + " for the sub-agent " + safetext.Clean(sa.sub, 128)})
		xr := r.exchangeRequest(req.ResourceToken, req.PresentedToken, r.t.Capabilities)
		xr.SubagentToken = req.SubagentToken
		tok, err := psclient.ExchangeToken(r.ctx, r.t.psClient(r.km), xr)
		if err != nil {
			return nil, err
		}
		if err := checkHandedToken(tok, "aa-auth+jwt", r.origin, sa.jkt); err != nil {
			return nil, err
		}
		return tok, nil
	})
}
