package aauthtest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/resource"
	"github.com/aauthgo/aauth/wire"
)

// TokenKind names a kind of AAuth token.
type TokenKind string

// The token kinds. A request presents at most one token in Signature-Key
// (agent, person or auth) and may carry a session token in Authorization.
const (
	TokenNone     TokenKind = ""         // nothing presented
	TokenAgent    TokenKind = "agent"    // typ aa-agent+jwt
	TokenPerson   TokenKind = "person"   // typ aa-person+jwt
	TokenAuth     TokenKind = "auth"     // typ aa-auth+jwt
	TokenResource TokenKind = "resource" // typ aa-resource+jwt (never presented; issued in challenges)
	TokenSession  TokenKind = "session"  // an AAuth-Access session token, sent in Authorization
	TokenUnknown  TokenKind = "unknown"  // a JWT with another or no typ
)

// typ values of the JWTs AAuth defines.
const (
	typAgent    = "aa-agent+jwt"
	typPerson   = "aa-person+jwt"
	typAuth     = "aa-auth+jwt"
	typResource = "aa-resource+jwt"
)

func kindOfTyp(typ string) TokenKind {
	switch typ {
	case typAgent:
		return TokenAgent
	case typPerson:
		return TokenPerson
	case typAuth:
		return TokenAuth
	case typResource:
		return TokenResource
	}
	return TokenUnknown
}

// Endpoint names what a recorded request was addressed to.
type Endpoint string

// The endpoints of the kit's servers.
const (
	EndpointMetadata    Endpoint = "metadata"     // /.well-known/aauth-*.json
	EndpointJWKS        Endpoint = "jwks"         // the server's JWK Set
	EndpointPersonToken Endpoint = "person-token" // the person server's person-token endpoint
	EndpointAuthToken   Endpoint = "auth-token"   // the person server's auth-token (seed: token) endpoint
	EndpointPending     Endpoint = "pending"      // a pending URL (poll, clarification answer, cancel)
	EndpointConsent     Endpoint = "consent"      // the interaction (consent) page
	EndpointInteraction Endpoint = "interaction"  // the person server's interaction relay endpoint
	EndpointResource    Endpoint = "resource"     // a protected resource call
	EndpointUnknown     Endpoint = "unknown"      // anything else (answered 404)
)

// RecordedRequest is what a kit server saw of one request and how it
// answered. Token values are kept as they were sent, for assertions; the
// kit never logs them.
type RecordedRequest struct {
	// Time is the server's clock when the request arrived.
	Time time.Time
	// Endpoint is what the request was addressed to.
	Endpoint Endpoint
	// Method, Path and RawQuery are the request line.
	Method, Path, RawQuery string
	// Header is a copy of the request headers.
	Header http.Header
	// Body is the request body (up to 1 MiB).
	Body []byte

	// Signed reports whether the request carried a signature that
	// verified. SignatureError is the Signature-Error code the server
	// answered with ("" when none), and Problem the detail.
	Signed         bool
	SignatureError string
	Problem        string

	// Scheme, Token and Presented describe the Signature-Key: its scheme,
	// the raw token and the token's kind (from its typ). Presented is
	// set from the token whether or not it proved valid.
	Scheme    wire.Scheme
	Token     string
	Presented TokenKind
	// Claims are the presented token's claims as decoded, whether or
	// not the token proved valid (SignatureError says when it did not).
	Claims map[string]any
	// Session is the session token from Authorization, if any.
	Session string
	// Thumbprint is the RFC 7638 thumbprint of the signing key.
	Thumbprint string
	// Components are the covered components, in signature order, and
	// Created the signature's created time.
	Components []string
	Created    time.Time

	// Status and ResponseHeader are the answer.
	Status         int
	ResponseHeader http.Header
}

// Covers reports whether the request's signature covered component.
func (r RecordedRequest) Covers(component string) bool {
	return slices.Contains(r.Components, component)
}

// String describes r for logs, without token values.
func (r RecordedRequest) String() string {
	s := fmt.Sprintf("%s %s → %d", r.Method, r.Path, r.Status)
	if r.Presented != TokenNone {
		s += fmt.Sprintf(" (presented %s %s)", r.Presented, aauth.Redact(r.Token))
	}
	if v := r.ResponseHeader.Get("AAuth-Requirement"); v != "" {
		if c, err := wire.ParseRequirement(v); err == nil {
			s += " requirement=" + string(c.Requirement)
		} else {
			s += " (malformed AAuth-Requirement)"
		}
	}
	if r.SignatureError != "" {
		s += " Signature-Error " + r.SignatureError
	}
	return s
}

// recorder keeps a server's records. The zero value is ready.
type recorder struct {
	mu   sync.Mutex
	reqs []RecordedRequest
}

func (rc *recorder) add(r RecordedRequest) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, r)
	rc.mu.Unlock()
}

func (rc *recorder) all() []RecordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// filter returns the requests to e with method ("" for any), in order.
func (rc *recorder) filter(e Endpoint, method string) []RecordedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []RecordedRequest
	for _, r := range rc.reqs {
		if r.Endpoint == e && (method == "" || r.Method == method) {
			out = append(out, r)
		}
	}
	return out
}

func (rc *recorder) count(e Endpoint, method string) int { return len(rc.filter(e, method)) }

func (rc *recorder) reset() {
	rc.mu.Lock()
	rc.reqs = nil
	rc.mu.Unlock()
}

// Caller is who made a call that a Resource let through to its handler.
// The handler finds it with [CallerFromContext].
type Caller struct {
	// Presented is the kind of token that authorized the call: agent,
	// person, auth or session.
	Presented TokenKind
	// Agent is the agent identifier (the agent token's sub) when known:
	// for agent tokens and session tokens, and in the seed profile also
	// from the auth token's agent claim.
	Agent string
	// Subject is the person's directed identifier (sub of a person or
	// auth token).
	Subject string
	// Scope is the auth token's scope.
	Scope string
	// Thumbprint is the thumbprint of the agent's signing key.
	Thumbprint string
	// Claims are the presented token's claims.
	Claims map[string]any
	// Verified is the caller as package resource verified it (what
	// resource.FromContext returns in the handler).
	Verified *resource.Caller
}

type callerKey struct{}

// CallerFromContext returns the Caller a Resource stored in the context of
// the request it passed to its handler.
func CallerFromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}

func withCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}
