package resource

import (
	"context"
	"crypto"
	"encoding/json"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/chainctx"
	"github.com/aauthgo/aauth/r3"
)

// Kind is the kind of token a request presented in Signature-Key.
type Kind string

// The token kinds, named after their JWT typ (aa-agent+jwt,
// aa-person+jwt, aa-auth+jwt).
const (
	// KindAgent is an agent token: the agent's identity, from its agent
	// provider.
	KindAgent Kind = "agent"
	// KindPerson is a person token: which person the agent acts for,
	// from the person server. It authorizes nothing by itself.
	KindPerson Kind = "person"
	// KindAuth is an auth token: what the person server (or the
	// resource's access server) authorized.
	KindAuth Kind = "auth"
)

// Caller is the verified sender of a request: the key that signed it and
// what the token presented in Signature-Key says, after its signature,
// issuer, audience, times and key binding were checked. Handlers get it
// from the request context with [FromContext].
//
// (Issuer, Subject) identifies the person for person and auth tokens;
// Subject is directed (different at each resource) and opaque. Agent
// identifies the agent for agent tokens; person and auth tokens carry no
// agent identifier, only the key (Thumbprint).
type Caller struct {
	// Kind is the kind of token presented.
	Kind Kind

	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the key that
	// signed the request, which is the token's cnf.jwk.
	Thumbprint string

	// PublicKey is that key: an ed25519.PublicKey or a P-256
	// *ecdsa.PublicKey.
	PublicKey crypto.PublicKey

	// Issuer is the token's iss: the agent provider, the person server,
	// or the resource's access server.
	Issuer string

	// Audience is the token's aud (person and auth tokens: it holds
	// this resource).
	Audience []string

	// Agent is the agent identifier (aauth:local@domain), the sub of an
	// agent token; empty for person tokens and current auth tokens, which
	// name no agent (seed-generation auth tokens carried one).
	Agent string

	// ParentAgent is the parent_agent claim of a sub-agent's agent token.
	ParentAgent string

	// PersonServer is the person server: the ps claim of an agent or auth
	// token, the iss of a person token.
	PersonServer string

	// Subject is the person's directed identifier, the sub of a person or
	// auth token; empty for agent tokens.
	Subject string

	// Scope is the auth token's space-separated scope; see HasScope.
	Scope string

	// MissionS256 is the mission the agent works under (mission_s256).
	MissionS256 string

	// Tenant is the person's organization (tenant), not part of the
	// person's identifier.
	Tenant string

	// Account is the auth token's account claim.
	Account string

	// JTI is the token's jti.
	JTI string

	// IssuedAt and Expiry are the token's iat and exp.
	IssuedAt, Expiry time.Time

	// Token is the verified token as it was presented, for passing on
	// (call chaining presents it upstream as upstream_token).
	Token string

	// Session is the session (resource-managed access) the request
	// presented in Authorization: AAuth, when it had a valid one.
	Session *Session

	// Capabilities are the AAuth-Capabilities the request declared, such
	// as "interaction".
	Capabilities []string

	// Created is the signature's created time; Components are the
	// components it covered.
	Created    time.Time
	Components []string

	// Grant is the auth token's verified R3 grant (Resource.R3): the
	// tools it grants outright and those it grants per call. Nil when
	// the resource does not use R3 or the token carries no grant.
	Grant *r3.Grant

	// GrantDocument is the R3 document Grant was drawn from, as the
	// resource issued it; for a per-call token, the proposal of the one
	// call it approved (its Parameters are that call's arguments).
	GrantDocument *r3.Document

	// PerCall reports a per-call token: the request is the one call its
	// proposal describes, run once.
	PerCall bool

	// Budget is the auth token's granted budget (the Budgets draft), set
	// while the resource meters the request (Resource.Budgets); nil
	// otherwise. Charge takes costs in its unit and scale.
	Budget *r3.BudgetClaim

	payload []byte      // the token's decoded payload, for Claims
	budget  *budgetOnce // its budget claim, read once per token
	res     *config     // the resource that verified it, for Defer
	body    []byte      // the request body, when it was read for its digest
}

// HasScope reports whether the caller's scope holds every one of scopes.
func (c *Caller) HasScope(scopes ...string) bool {
	return hasScope(c.Scope, strings.Join(scopes, " "))
}

// Claims decodes every claim of the token, including those Caller has no
// field for (an auth token's identity claims, R3 grants). Numbers are
// json.Number.
func (c *Caller) Claims() (map[string]any, error) {
	return decodeClaims(c.payload)
}

// hasScope reports whether the space-separated scope have holds every
// scope in want. It allocates nothing: it runs on every request.
func hasScope(have, want string) bool {
	for want != "" {
		var w string
		w, want = nextField(want)
		if w == "" {
			continue
		}
		found := false
		for h := have; h != "" && !found; {
			var f string
			f, h = nextField(h)
			found = f == w
		}
		if !found {
			return false
		}
	}
	return true
}

// nextField splits off the first space-separated field of s.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

type callerKey struct{}

// FromContext returns the verified caller the middleware stored in ctx.
func FromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}

// NewContext returns a copy of ctx carrying c, for handlers tested
// without the middleware. When c presented a person or auth token, the
// context also carries it as the upstream token of call chaining (see
// aauth.WithUpstream): an aauth.Transport with Chain set then makes the
// requests it sends with that context on c's behalf. The middleware serves
// every request with such a context.
func NewContext(ctx context.Context, c *Caller) context.Context {
	if c != nil && (c.Kind == KindPerson || c.Kind == KindAuth) && c.Token != "" {
		return chainctx.WithValue(ctx, callerKey{}, c, c.Token) // one allocation, as without
	}
	return context.WithValue(ctx, callerKey{}, c)
}

// decodeClaims decodes a JWT payload, keeping numbers exact.
func decodeClaims(payload []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}
