package agentprovider

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/jwkx"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Agent token constants.
const (
	agentTokenTyp = "aa-agent+jwt"
	agentTokenDWK = "aauth-agent.json"

	// agentMetadataPath and agentJWKSPath are appended to the issuer URL.
	// The JWKS gets its own AAuth-specific name rather than the common
	// /.well-known/jwks.json, so an agent provider can share an origin
	// with a person server or resource that publishes other keys.
	agentMetadataPath = "/.well-known/" + agentTokenDWK
	agentJWKSPath     = "/.well-known/aauth-agent-jwks.json"

	defaultAgentTokenLifetime = time.Hour
	// maxAgentTokenLifetime is the longest agent token the draft
	// recommends; longer ones are refused rather than silently cut.
	maxAgentTokenLifetime = 24 * time.Hour
)

// Issuer mints agent tokens: it is the agent provider side of
// AAuth. An agent token binds an agent's signing key (its cnf.jwk) to the
// agent's identity (sub) under the provider's URL (iss); the agent then
// signs requests with that key and sends the token in Signature-Key.
//
// Verifiers find the provider's public key through
// {Issuer}/.well-known/aauth-agent.json, whose jwks_uri is
// {Issuer}/.well-known/aauth-agent-jwks.json; [Issuer.Handler]
// serves both.
//
// An Issuer is safe for concurrent use once its fields are set;
// do not change them while it is in use.
type Issuer struct {
	// Issuer is the agent provider's URL, such as https://agent.example:
	// the token's iss. It must be an absolute https URL (http is allowed
	// for loopback hosts, for development) with no query, fragment or
	// trailing slash, because verifiers compare it byte for byte.
	Issuer string

	// Key is the provider's signing key: Ed25519, or ECDSA P-256 (ES256).
	// Any crypto.Signer works, including one held in an HSM or a KMS.
	Key crypto.Signer

	// KeyID is the kid in the token header and in the JWKS. If empty,
	// the RFC 7638 thumbprint of Key is used.
	KeyID string

	// Lifetime is how long tokens are valid when the request does not
	// say. Zero means one hour; more than 24 hours is refused.
	Lifetime time.Duration

	// Profile selects the wire generation. ProfileCurrent signs with alg
	// "Ed25519" and puts alg in cnf.jwk and the JWKS; ProfileSeed signs
	// with "EdDSA" and leaves alg out of cnf.jwk and the JWKS key's alg
	// "EdDSA", as the seed generation did. ES256 keys sign with "ES256"
	// in both.
	Profile wire.Profile

	// Display holds the optional display members of the metadata document.
	Display Display

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// TokenRequest describes the agent token to issue.
type TokenRequest struct {
	// Subject is the agent identifier, the token's sub, such as
	// aauth:assistant@agent.example. Required.
	Subject string

	// Key is the agent's public signing key, an ed25519.PublicKey or a
	// P-256 *ecdsa.PublicKey; it becomes cnf.jwk. Required.
	Key crypto.PublicKey

	// PersonServer is the URL of the agent's person server, the ps claim.
	// The draft requires it whenever the agent has a person server.
	PersonServer string

	// Lifetime overrides the issuer's Lifetime when non-zero.
	Lifetime time.Duration

	// ParentAgent, when set, makes the token a sub-agent's: it becomes the
	// parent_agent claim, naming the agent the sub-agent acts under. It
	// must be a top-level agent identifier (no "+" in its local part: a
	// sub-agent has no sub-agents), and Subject must be its local part,
	// "+", a non-empty discriminator, "@" and its domain (AAuth -11
	// "Agent Identifiers", "Sub-Agents"). Keys.Subagent sets it.
	ParentAgent string
}

// Display holds the optional display members that AAuth metadata
// documents share.
type Display struct {
	Name             string `json:"name,omitempty"`
	Description      string `json:"description,omitempty"`
	LogoURI          string `json:"logo_uri,omitempty"`
	LogoDarkURI      string `json:"logo_dark_uri,omitempty"`
	DocumentationURI string `json:"documentation_uri,omitempty"`
	TOSURI           string `json:"tos_uri,omitempty"`
	PolicyURI        string `json:"policy_uri,omitempty"`
}

// Metadata is an agent provider's metadata document, served at
// {issuer}/.well-known/aauth-agent.json.
type Metadata struct {
	Issuer  string `json:"issuer"`   // the provider's URL, the iss of its tokens
	JWKSURI string `json:"jwks_uri"` // where its token-signing keys are
	Display
}

// agentIssuerConfig is an Issuer's fields, checked and with
// defaults applied.
type agentIssuerConfig struct {
	issuer   *url.URL
	alg      jwa.SignatureAlgorithm // JWS alg
	jwkAlg   string                 // alg of the provider key in the JWKS
	kid      string
	pub      crypto.PublicKey
	lifetime time.Duration
	cnfAlg   bool // cnf.jwk carries alg
}

func (i *Issuer) config() (*agentIssuerConfig, error) {
	if i == nil {
		return nil, errors.New("aauth: nil agentprovider.Issuer")
	}
	profileTable, err := profile.Check(i.Profile)
	if err != nil {
		return nil, &fieldError{"Profile", "wire.ProfileCurrent or wire.ProfileSeed", err}
	}
	iss, err := checkAgentURL("agentprovider.Issuer.Issuer", i.Issuer)
	if err != nil {
		return nil, &fieldError{"Issuer", "the provider's https URL (http only on a loopback host), without query, fragment or trailing slash", err}
	}
	const wantKey = "an Ed25519 or ECDSA P-256 signing key"
	pub, err := signerPublicKey(i.Key)
	if err != nil {
		return nil, &fieldError{"Key", wantKey, fmt.Errorf("aauth: agentprovider.Issuer.Key: %w", err)}
	}
	c := &agentIssuerConfig{issuer: iss, pub: pub, cnfAlg: profileTable.RequireKeyAlg}
	switch c.pub.(type) {
	case ed25519.PublicKey:
		if c.cnfAlg {
			c.alg, c.jwkAlg = jwa.EdDSAEd25519(), jwkx.AlgEd25519
		} else {
			c.alg, c.jwkAlg = jwa.EdDSA(), jwkx.AlgEdDSA
		}
	case *ecdsa.PublicKey:
		c.alg, c.jwkAlg = jwa.ES256(), jwkx.AlgES256
	}
	// Thumbprint also rejects unsupported and malformed keys.
	tp, err := keys.Thumbprint(c.pub)
	if err != nil {
		return nil, &fieldError{"Key", wantKey, safetext.Wrap("agentprovider.Issuer.Key", err)}
	}
	c.kid = i.KeyID
	if c.kid == "" {
		c.kid = tp
	}
	if c.lifetime, err = checkAgentTokenLifetime("agentprovider.Issuer.Lifetime", i.Lifetime, defaultAgentTokenLifetime); err != nil {
		return nil, &fieldError{"Lifetime", "zero (one hour) or a duration from one second to 24 hours", err}
	}
	return c, nil
}

// fieldError is a configuration error of one Issuer field. Its message is
// err's; the handler tells what to set (field and want) without quoting
// the value.
type fieldError struct {
	field string // the Issuer field, such as "Issuer"
	want  string // what it must hold
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }

func (e *fieldError) Unwrap() error { return e.err }

// signerPublicKey returns s.Public(), refusing the malformed standard
// library keys whose Public method would panic.
func signerPublicKey(s crypto.Signer) (crypto.PublicKey, error) {
	switch k := s.(type) {
	case nil:
		return nil, errors.New("no key")
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("Ed25519 private key is %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, errors.New("nil ECDSA private key")
		}
	}
	return s.Public(), nil
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// checkAgentTokenLifetime applies a default to a zero lifetime and refuses negative,
// sub-second and over-long ones.
func checkAgentTokenLifetime(field string, d, def time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return def, nil
	case d < time.Second:
		return 0, fmt.Errorf("aauth: %s %v is less than one second", field, d)
	case d > maxAgentTokenLifetime:
		return 0, fmt.Errorf("aauth: %s %v is longer than 24h, the most the draft recommends for agent tokens", field, d)
	}
	return d, nil
}

// checkAgentURL checks an AAuth server identifier: an absolute https
// URL, or http on a loopback host, with no user info, query, fragment or
// trailing slash.
func checkAgentURL(field, s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("aauth: %s is empty", field)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("aauth: %s %q is not a URL", field, s)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && agentURLIsLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("aauth: %s %q must use https (http is only allowed for loopback hosts)", field, s)
	default:
		return nil, fmt.Errorf("aauth: %s %q must be an absolute https URL", field, s)
	}
	switch {
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("aauth: %s %q has no host", field, s)
	case u.User != nil:
		return nil, fmt.Errorf("aauth: %s %q must not contain user info", field, s)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("aauth: %s %q must not have a query", field, s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("aauth: %s %q must not have a fragment", field, s)
	case strings.HasSuffix(s, "/"):
		return nil, fmt.Errorf("aauth: %s %q must not end with a slash", field, s)
	}
	return u, nil
}

func agentURLIsLoopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// agentTokenClaims is the agent token payload, in the order
// @aauth/local-keys writes it.
type agentTokenClaims struct {
	Iss string `json:"iss"`
	Dwk string `json:"dwk"`
	Sub string `json:"sub"`
	Jti string `json:"jti"`
	Cnf struct {
		JWK json.RawMessage `json:"jwk"`
	} `json:"cnf"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	Ps  string `json:"ps,omitempty"`

	ParentAgent string `json:"parent_agent,omitempty"`
}

// newAgentTokenJTI returns 128 random bits, base64url: unguessable and unique.
func newAgentTokenJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("aauth: generating jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Issue mints an agent token for req.Key and returns it with its expiry.
//
// The JWS header has typ "aa-agent+jwt", alg ("Ed25519", "EdDSA" in the
// seed profile, or "ES256") and kid. The claims are iss, dwk
// ("aauth-agent.json"), sub, a random jti, cnf.jwk (the agent's public
// key, with alg in the current profile), iat, exp, ps when
// req.PersonServer is set, and parent_agent when req.ParentAgent is set.
//
// Subject must be an agent identifier as AAuth -11 defines it:
// aauth:local@domain, the local part of letters, digits, "-", "_", "."
// and (for a sub-agent only) "+", the domain a lower-case host name. A
// top-level Subject with "+" is refused: the draft reserves it for
// sub-agents, whose Subject must be built from ParentAgent.
func (i *Issuer) Issue(ctx context.Context, req TokenRequest) (token string, expiry time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("aauth: issuing agent token: %w", err)
	}
	c, err := i.config()
	if err != nil {
		return "", time.Time{}, err
	}
	if req.Subject == "" {
		return "", time.Time{}, errors.New("aauth: agent token request has no Subject")
	}
	if err := checkSubject(req.Subject, req.ParentAgent); err != nil {
		return "", time.Time{}, err
	}
	if req.PersonServer != "" {
		if _, err := checkAgentURL("agentprovider.TokenRequest.PersonServer", req.PersonServer); err != nil {
			return "", time.Time{}, err
		}
	}
	lifetime, err := checkAgentTokenLifetime("agentprovider.TokenRequest.Lifetime", req.Lifetime, c.lifetime)
	if err != nil {
		return "", time.Time{}, err
	}
	cnf, err := jwkx.PublicMembers(req.Key)
	if err != nil {
		return "", time.Time{}, safetext.Wrap("agentprovider.TokenRequest.Key", err)
	}
	if !c.cnfAlg {
		cnf.Alg = ""
	}
	claims := agentTokenClaims{
		Iss: i.Issuer,
		Dwk: agentTokenDWK,
		Sub: req.Subject,
		Ps:  req.PersonServer,

		ParentAgent: req.ParentAgent,
	}
	if claims.Cnf.JWK, err = jsonx.Marshal(cnf); err != nil {
		return "", time.Time{}, fmt.Errorf("aauth: encoding cnf.jwk: %w", err)
	}
	if claims.Jti, err = newAgentTokenJTI(); err != nil {
		return "", time.Time{}, err
	}
	claims.Iat = i.now().Unix()
	claims.Exp = claims.Iat + int64(lifetime/time.Second)
	payload, err := jsonx.Marshal(claims)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("aauth: encoding agent token claims: %w", err)
	}

	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, agentTokenTyp); err != nil {
		return "", time.Time{}, fmt.Errorf("aauth: agent token header: %w", err)
	}
	if err := h.Set(jws.KeyIDKey, c.kid); err != nil {
		return "", time.Time{}, fmt.Errorf("aauth: agent token header: %w", err)
	}
	signed, err := jws.Sign(payload, jws.WithKey(c.alg, i.Key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("aauth: signing agent token: %w", err)
	}
	return string(signed), time.Unix(claims.Exp, 0), nil
}

// Metadata returns the provider's metadata document, for
// {Issuer}/.well-known/aauth-agent.json. Its jwks_uri is
// {Issuer}/.well-known/aauth-agent-jwks.json.
func (i *Issuer) Metadata() Metadata {
	return Metadata{
		Issuer:  i.Issuer,
		JWKSURI: i.Issuer + agentJWKSPath,
		Display: i.Display,
	}
}

// JWKS returns the provider's JWK Set: the public half of Key, with alg
// (the JWS alg the tokens use), kid and use "sig".
func (i *Issuer) JWKS() ([]byte, error) {
	c, err := i.config()
	if err != nil {
		return nil, err
	}
	return c.jwks()
}

func (c *agentIssuerConfig) jwks() ([]byte, error) {
	m, err := jwkx.PublicMembers(c.pub)
	if err != nil {
		return nil, err
	}
	m.Alg, m.Kid, m.Use = c.jwkAlg, c.kid, "sig"
	return jsonx.Marshal(jwkx.Set{Keys: []jwkx.Members{m}})
}

// Handler returns an http.Handler that serves the metadata document at
// {Issuer path}/.well-known/aauth-agent.json and the JWKS at
// {Issuer path}/.well-known/aauth-agent-jwks.json, and answers 404 to any
// other path. It matches the full request path, so mount it without
// stripping a prefix: mux.Handle("/.well-known/", issuer.Handler()) for an
// issuer with no path.
//
// The documents are built from i at the first request that finds i's
// fields valid, and served unchanged from then on. So the handler may be
// made before the server's URL is known, which is what Issuer needs:
//
//	srv := httptest.NewServer(issuer.Handler())
//	issuer.Issuer = srv.URL
//
// Set every field before the first request arrives, and change none once
// one has been served. Until the fields are valid, every request gets a
// 500 with an application/problem+json body whose detail names the field
// to set (never its value).
func (i *Issuer) Handler() http.Handler { return &issuerHandler{i: i} }

// issuerHandler serves an Issuer's documents, built at the first request
// that finds its configuration valid.
type issuerHandler struct {
	i    *Issuer
	docs atomic.Pointer[map[string][]byte] // request path → document
}

func (h *issuerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	docs := h.docs.Load()
	if docs == nil {
		built, err := h.i.documents()
		if err != nil {
			misconfigured(w, err)
			return
		}
		// A concurrent first request may have built them too; either
		// copy is the same.
		h.docs.CompareAndSwap(nil, &built)
		docs = h.docs.Load()
	}
	doc, ok := (*docs)[r.URL.EscapedPath()]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Verifiers cache keys for about an hour (httpsig does); say so.
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(doc)
}

// documents builds the metadata document and the JWKS, keyed by the
// request path that serves them.
func (i *Issuer) documents() (map[string][]byte, error) {
	c, err := i.config()
	if err != nil {
		return nil, err
	}
	meta, err := jsonx.Marshal(i.Metadata())
	if err != nil {
		return nil, err
	}
	jwks, err := c.jwks()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		c.issuer.EscapedPath() + agentMetadataPath: meta,
		c.issuer.EscapedPath() + agentJWKSPath:     jwks,
	}, nil
}

// misconfigured answers 500 with problem details that say which field to
// set. The field's value stays in the server: a wrong URL or key is
// nobody else's business.
func misconfigured(w http.ResponseWriter, err error) {
	detail := "agent provider not configured: set the agentprovider.Issuer fields before its handler serves a request"
	var fe *fieldError
	if errors.As(err, &fe) {
		detail = "agent provider not configured: set agentprovider.Issuer." + fe.field + " to " + fe.want + " before its handler serves a request"
	}
	body, _ := jsonx.Marshal(map[string]any{
		"type":   "about:blank",
		"title":  "Internal Server Error",
		"status": http.StatusInternalServerError,
		"error":  "server_error",
		"detail": detail,
	})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	w.Write(body)
}
