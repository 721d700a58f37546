package resource

import (
	"context"
	"crypto"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aauthgo/aauth/wire"
)

// Mode is an access mode: what a request must present before it is
// served. The values are those of access_mode in the resource's metadata.
type Mode string

// The access modes.
const (
	// AgentToken serves any request whose signature and token verify:
	// an agent token (agent identity access), or a person or auth token.
	AgentToken Mode = "agent-token"
	// PersonToken wants the person the agent acts for: an agent token is
	// answered 401 requirement=person-token; person and auth tokens are
	// served. (The seed profile has no person tokens; there it is
	// AuthToken.)
	PersonToken Mode = "person-token"
	// AuthToken wants an auth token holding Need.Scope: an agent token
	// is answered requirement=person-token (seed: requirement=auth-token
	// directly), a person token, or an auth token without the scope, is
	// answered requirement=auth-token with a resource token.
	AuthToken Mode = "auth-token"
	// SessionToken is resource-managed (two-party) access: a request
	// with a valid session token (Authorization: AAuth) is served;
	// others go through Resource.Approve, and once approved are served
	// with a new session token in AAuth-Access.
	SessionToken Mode = "session-token"
)

// Need is what one request needs before it is served: the decision of
// Resource.Policy, made after the request's signature and token verified.
type Need struct {
	// Mode is the access mode; "" means AgentToken.
	Mode Mode

	// Scope is, for AuthToken, the space-separated scope the auth token
	// must hold; a resource token asks for it.
	Scope string

	// Deny answers 403 (access_denied): the caller is known and
	// refused. A 403 never carries Signature-Error.
	Deny bool

	// Refuse, when set, is the answer instead: its Status (400, 403, 409,
	// …; not 401, which is the signature's) and Code, as a problem body,
	// such as 403 operation_not_granted.
	Refuse *Error

	// Defer delivers an auth-token requirement as a 202 that holds the
	// call, instead of a 401: the agent exchanges the resource token and
	// polls the pending URL with the auth token, and the call is served
	// then, once (AAuth -11, Deferred Delivery).
	Defer bool

	// ResourceTokenClaims are added to a resource token issued for this
	// request, such as login_hint, account, or an extension's claims
	// (R3's r3_uri and r3_s256). They cannot replace the claims the
	// package sets.
	ResourceTokenClaims map[string]any

	// Authorized, when set, must also accept an auth token holding Scope
	// for the request to be served; otherwise the request is challenged
	// again (an extension's per-call grants, for example).
	Authorized func(c *Caller) bool

	// Components are covered components this request must cover besides
	// Resource.Components; a request that does not is answered 401
	// invalid_input with required_input naming them all.
	Components []string
}

// Trust decides whether tokens from an issuer (an agent provider or a
// person server, by its identifier) are accepted. A nil Trust accepts
// every issuer whose keys can be fetched: AAuth's default posture, in
// which agents and persons need no registration (AAuth -11, Trust Posture
// in PS-Asserted Access), and the resource applies its own policy to who
// they are.
type Trust func(issuer string) bool

// TrustIssuers returns a Trust accepting exactly the listed issuers,
// compared byte for byte as the draft wants for server identifiers.
func TrustIssuers(issuers ...string) Trust {
	list := slices.Clone(issuers)
	return func(iss string) bool { return slices.Contains(list, iss) }
}

// SigningKey is a key the resource signs its resource tokens with.
type SigningKey struct {
	// Signer is an Ed25519 or ECDSA P-256 private key, or any
	// crypto.Signer for one (an HSM, a KMS).
	Signer crypto.Signer

	// KeyID is the kid in token headers and in the JWK Set; "" means
	// the key's RFC 7638 thumbprint.
	KeyID string
}

// Display holds the optional display members of the metadata document.
type Display struct {
	Name             string `json:"name,omitempty"`
	Description      string `json:"description,omitempty"`
	LogoURI          string `json:"logo_uri,omitempty"`
	LogoDarkURI      string `json:"logo_dark_uri,omitempty"`
	DocumentationURI string `json:"documentation_uri,omitempty"`
	TOSURI           string `json:"tos_uri,omitempty"`
	PolicyURI        string `json:"policy_uri,omitempty"`
}

// Resource is the AAuth side of a protected resource: it verifies the
// signature and the token of every request, answers the requests that
// need more with AAuth challenges, issues resource tokens and session
// tokens, and serves its metadata and keys. [Resource.Require] wraps any
// http.Handler with it.
//
// Only Issuer must be set. The zero values give agent identity access
// (any verified agent, person or auth token is served), trust every agent
// provider and person server whose keys can be fetched, refuse a replayed
// state-changing request, and sign resource tokens with a key generated
// in memory.
//
// A Resource is safe for concurrent use. Its fields are read when it
// serves its first request (or when Verify or Handler is first called with
// a valid Issuer) and must not change after that.
type Resource struct {
	// Issuer is the resource's identifier, such as
	// https://resource.example: the aud that person and auth tokens must
	// name, the iss of its resource tokens and metadata. It must be https
	// with a lower-case host and no port, path or trailing slash; http
	// and a port are allowed for loopback hosts, for development and
	// tests. It may be set after the handler is made (as with an
	// httptest.Server), but before the first request.
	Issuer string

	// Authorities are further host[:port] values requests may be signed
	// for, besides Issuer's own (a resource reached under several names).
	// A request signed for any other @authority is refused: it was meant
	// for another server, which may be replaying it here.
	Authorities []string

	// Profile selects the wire generation: the current one (AAuth -11
	// over HTTP Signature Keys -08/-09) by default, or the seed
	// generation of @aauth/mcp-agent 0.8.1.
	Profile wire.Profile

	// Mode and Scope are the access mode and the scope every request
	// needs when Policy is nil, and the access_mode the metadata
	// advertises. The zero Mode is AgentToken.
	Mode  Mode
	Scope string

	// Policy, when set, decides per request what it needs, after its
	// signature and token verified: the mode, the scope, a denial, a
	// deferred challenge. It may read the request (its body is
	// buffered and can be read again). Mode and Scope then apply only
	// to the metadata.
	Policy func(r *http.Request, c *Caller) Need

	// AgentProviders and PersonServers say whose agent tokens, and whose
	// person and auth tokens, are accepted; nil accepts any.
	AgentProviders Trust
	PersonServers  Trust

	// IssuerKey, when set, is asked first for the key an issuer signs
	// with under kid: an Ed25519 or P-256 key configured out of band
	// (ok false falls back to fetching the issuer's documents).
	IssuerKey func(ctx context.Context, issuer, kid string) (key crypto.PublicKey, ok bool)

	// AccessServer is the resource's own access server (four-party):
	// resource tokens name it as aud, and auth tokens it issues
	// (dwk aauth-access.json) are accepted. In the seed profile it is the
	// aud of resource tokens issued to agents whose token names no ps.
	AccessServer string

	// SigningKeys sign resource tokens: the first signs, and all are
	// published in the JWK Set, so that a new key can be added before
	// it signs and an old one kept until the tokens it signed have
	// expired. Empty means one Ed25519 key generated in memory.
	SigningKeys []SigningKey

	// Components are covered components every request must cover besides
	// @method, @authority, @path and signature-key, advertised as
	// additional_signature_components. Whatever it says, authorization
	// must be covered whenever an Authorization header is present, and
	// content-digest whenever there is a body (current profile), unless
	// OptionalContentDigest.
	Components []string

	// OptionalContentDigest stops requiring content-digest on requests
	// with a body. A Content-Digest that is sent is checked anyway.
	OptionalContentDigest bool

	// SignatureWindow bounds how far a signature's created may be from
	// the resource's clock; zero means 60 seconds. Advertised as
	// signature_window.
	SignatureWindow time.Duration

	// Algorithms lists the signing algorithms accepted for request keys,
	// advertised in Accept-Signature-Alg and accept_signature_algs; nil
	// means Ed25519 and ES256.
	Algorithms []string

	// Schemes lists the Signature-Key schemes accepted, advertised in
	// Accept-Signature-Scheme; nil means jwt, the only one AAuth agents
	// use. hwk may be added for clients outside AAuth: Verify accepts
	// their requests (Caller.Kind "", the key alone), and Require answers
	// them requirement=agent-token, since every access mode wants a token.
	Schemes []string

	// Replay remembers the signatures of state-changing requests (every
	// method but GET, HEAD and OPTIONS) for the signature window and
	// refuses one seen before; nil means an in-memory store of at most
	// DefaultReplayCapacity signatures. ReplayAllMethods extends it to
	// safe methods, at the cost of refusing two identical GETs signed in
	// the same second.
	Replay           ReplayStore
	ReplayAllMethods bool

	// Sessions holds session tokens (SessionToken mode); nil means an
	// in-memory store.
	Sessions SessionStore

	// SessionLifetime is how long a session token is valid; zero means
	// one day. RotateSessions replaces the session token on every request
	// that presents one (a new AAuth-Access each time, the old one
	// forgotten).
	SessionLifetime time.Duration
	RotateSessions  bool

	// Approve decides, in SessionToken mode, whether a caller without a
	// session gets one; see [Approval]. Nil grants every verified
	// caller a session at once.
	Approve func(ctx context.Context, req ApprovalRequest) Approval

	// Revoked, when set, reports whether the token (iss, jti) was
	// revoked; a revoked token is refused with revoked_jwt. It is asked
	// besides Revocations, first.
	Revoked func(ctx context.Context, issuer, jti string) bool

	// Revocations holds the tokens that person servers and the access
	// server revoked at the resource's revocation endpoint, which the
	// resource serves at /aauth/revoke and publishes as
	// revocation_endpoint (current profile; AAuth -11 §11.12): a revoked
	// person or auth token is refused with revoked_jwt, and no resource
	// token is issued naming it. Nil means an in-memory store of at most
	// DefaultRevocationCapacity revocations; a fleet of replicas needs a
	// shared one. A store that fails is answered 503: the resource never
	// serves a token it cannot tell is not revoked.
	Revocations RevocationStore

	// PersonTokenJTI adds person_token_jti, beside presented_jti, to a
	// resource token issued to a request that presented a person token.
	// It is the name an earlier -11 text gave presented_jti, and person
	// servers of that generation, such as @hellocoop/mockin 2.0.0, read
	// only it.
	PersonTokenJTI bool

	// MetadataMembers are further members of the metadata document; they
	// cannot replace the members the package writes.
	MetadataMembers map[string]any

	// R3, when set, authorizes an MCP server's tools one by one: see R3.
	R3 *R3

	// Budgets, when set, meters auth tokens that carry a budget claim,
	// as a hard cap per token: see Budgets and Charge.
	Budgets *Budgets

	// Display and ScopeDescriptions are published in the metadata. With
	// ScopeDescriptions set, the authorization endpoint refuses scopes it
	// does not describe (identity scopes such as openid aside).
	Display           Display
	ScopeDescriptions map[string]string

	// AuthorizationPath, when set (such as "/aauth/authorize"), serves the
	// resource's authorization endpoint there and publishes it as
	// authorization_endpoint: an agent POSTs {"scope", "account"?} signed
	// with a person token and gets {"resource_token"} for its person
	// server. AccountHolder, when set, decides whether the person holds
	// the account named (invalid_account otherwise).
	AuthorizationPath string
	AccountHolder     func(ctx context.Context, c *Caller, account string) bool

	// PublicPaths are further paths the resource answers itself, before
	// and without the AAuth checks, keyed by the exact request path: the
	// documents of an agent provider sharing the resource's origin (an
	// intermediary's, see package intermediary) or a page a person's
	// browser opens. They may not be the resource's own paths.
	PublicPaths map[string]http.Handler

	// PollInterval is the Retry-After of 202 answers, in whole seconds;
	// zero means one second, and a negative value Retry-After: 0 (poll
	// at once; tests). A poll that sends Prefer: wait is held until the
	// deferred work is done, for up to that long (30 seconds at most).
	PollInterval time.Duration

	// PendingPath is the path prefix of the resource's pending URLs
	// (deferred answers); "" means "/aauth/pending/".
	PendingPath string

	// MaxBody caps the body read to check its Content-Digest; zero means
	// 1 MiB. A larger body is refused with 413.
	MaxBody int64

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Client fetches issuers' metadata and keys. Nil means a client of
	// the package's own that dials only public addresses (see
	// InsecureEgress). A Client given here is used as it is, after the
	// URL checks.
	Client *http.Client

	// InsecureEgress relaxes the egress rules for development: http to
	// any host and private addresses may be fetched. Without it, http is
	// allowed only to loopback hosts, and private or loopback addresses
	// only when Issuer itself is on one.
	InsecureEgress bool

	// KeyRefreshInterval is the least time between two fetches of one
	// issuer's keys (an unknown kid refetches at most this often); zero
	// means one minute, the draft's floor.
	KeyRefreshInterval time.Duration

	// FetchTimeout bounds one fetch of a metadata document or a JWK
	// Set; zero means 10 seconds.
	FetchTimeout time.Duration

	// Logger, when set, receives a line for each refused request: the
	// code and detail, never a token.
	Logger *slog.Logger

	// lookup resolves host names for the egress guard (tests).
	lookup lookupFunc

	// noTokenCache takes every token apart afresh (benchmarks).
	noTokenCache bool

	compiled compiledConfig
}
