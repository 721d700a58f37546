package resource

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero fields.
const (
	defaultWindow          = 60 * time.Second
	defaultMaxBody         = 1 << 20
	defaultPendingPath     = "/aauth/pending/"
	defaultSessionLifetime = 24 * time.Hour
	metadataPath           = "/.well-known/aauth-resource.json"
	jwksPath               = "/.well-known/aauth-resource-jwks.json"
)

// compiledConfig holds a Resource's fields checked, with defaults applied,
// once Issuer is valid.
type compiledConfig struct {
	mu  sync.Mutex
	ptr atomic.Pointer[config]
}

// config is a Resource ready to serve.
type config struct {
	rs          *Resource
	issuer      string
	seed        bool
	window      time.Duration
	required    []string // components every request covers
	algs        []string
	schemes     []string
	maxBody     int64
	pending     string // path prefix
	digest      bool   // bodies must cover content-digest
	keys        *keyCache
	fetch       *fetcher
	replay      ReplayStore
	sessions    SessionStore
	revocations RevocationStore
	pend        *pendingStore
	signing     *signingKeys
	metadata    []byte
	jwks        []byte
	sessLife    time.Duration
	linkValue   string   // Link header naming the metadata
	hosts       []string // the @authority values accepted
	tokens      tokenCache
	r3          *r3State                // per-operation authorization, when Resource.R3 is set
	persons     personRecords           // person tokens verified, with PersonTokenJTI
	public      map[string]http.Handler // PublicPaths
	budgets     *budgetState            // metering, when Resource.Budgets is set
}

func (rs *Resource) now() time.Time {
	if rs.Now != nil {
		return rs.Now()
	}
	return time.Now()
}

// config returns rs compiled, compiling it on first use. An invalid
// Issuer is reported each time and not remembered, so that it can still be
// set.
func (rs *Resource) config() (*config, error) {
	if c := rs.compiled.ptr.Load(); c != nil {
		return c, nil
	}
	rs.compiled.mu.Lock()
	defer rs.compiled.mu.Unlock()
	if c := rs.compiled.ptr.Load(); c != nil {
		return c, nil
	}
	c, err := rs.compile()
	if err != nil {
		return nil, err
	}
	rs.compiled.ptr.Store(c)
	return c, nil
}

func (rs *Resource) compile() (*config, error) {
	host, err := checkIssuer(rs.Issuer)
	if err != nil {
		return nil, err
	}
	switch rs.Profile {
	case profileCurrent, profileSeed:
	default:
		return nil, fmt.Errorf("aauth: Resource.Profile %d is not a known profile", int(rs.Profile))
	}
	switch rs.Mode {
	case "", AgentToken, PersonToken, AuthToken, SessionToken:
	default:
		return nil, fmt.Errorf("aauth: Resource.Mode %q is not an access mode", rs.Mode)
	}
	c := &config{
		rs:       rs,
		issuer:   rs.Issuer,
		seed:     rs.Profile == profileSeed,
		window:   rs.SignatureWindow,
		maxBody:  rs.MaxBody,
		pending:  rs.PendingPath,
		sessLife: rs.SessionLifetime,
	}
	if c.window <= 0 {
		c.window = defaultWindow
	}
	if c.maxBody <= 0 {
		c.maxBody = defaultMaxBody
	}
	if c.sessLife <= 0 {
		c.sessLife = defaultSessionLifetime
	}
	if c.pending == "" {
		c.pending = defaultPendingPath
	}
	if !strings.HasPrefix(c.pending, "/") || !strings.HasSuffix(c.pending, "/") || strings.HasPrefix(c.pending, "/.well-known/") {
		return nil, fmt.Errorf("aauth: Resource.PendingPath %q must start and end with / and not be under /.well-known/", c.pending)
	}
	if p := rs.AuthorizationPath; p != "" && (!strings.HasPrefix(p, "/") || strings.HasPrefix(p, c.pending) || p == metadataPath || p == jwksPath || p == revocationPath) {
		return nil, fmt.Errorf("aauth: Resource.AuthorizationPath %q must be an absolute path of its own", p)
	}
	c.digest = !c.seed && !rs.OptionalContentDigest
	c.public = make(map[string]http.Handler, len(rs.PublicPaths))
	for p, h := range rs.PublicPaths {
		if !strings.HasPrefix(p, "/") || h == nil || p == metadataPath || p == jwksPath || strings.HasPrefix(p, c.pending) || p == rs.AuthorizationPath || p == revocationPath {
			return nil, fmt.Errorf("aauth: Resource.PublicPaths: %q is not a path of its own with a handler", p)
		}
		c.public[p] = h
	}

	c.required = []string{"@method", "@authority", "@path", "signature-key"}
	for _, comp := range rs.Components {
		comp = strings.ToLower(strings.TrimSpace(comp))
		if comp != "" && !slices.Contains(c.required, comp) {
			c.required = append(c.required, comp)
		}
	}

	c.algs = rs.Algorithms
	if c.algs == nil {
		c.algs = []string{"Ed25519", "ES256"}
		if c.seed {
			c.algs = []string{"Ed25519", "ES256", "EdDSA"}
		}
	}
	for _, a := range c.algs {
		switch a {
		case "Ed25519", "ES256":
		case "EdDSA":
			if !c.seed {
				return nil, fmt.Errorf("aauth: Resource.Algorithms: EdDSA is not accepted in the current profile (use Ed25519)")
			}
		default:
			return nil, fmt.Errorf("aauth: Resource.Algorithms: %q is not supported (Ed25519, ES256)", a)
		}
	}
	c.schemes = rs.Schemes
	if c.schemes == nil {
		c.schemes = []string{schemeJWT}
	}
	for _, s := range c.schemes {
		if s != schemeJWT && s != schemeHWK {
			return nil, fmt.Errorf("aauth: Resource.Schemes: %q is not supported (jwt, hwk)", s)
		}
	}

	allowInternal := hostIsInternal(host)
	c.fetch = newFetcher(rs.Client, allowInternal, rs.InsecureEgress, rs.FetchTimeout, rs.lookup)
	c.keys = newKeyCache(c.fetch, rs.now, c.seed, rs.KeyRefreshInterval)

	c.replay = rs.Replay
	if c.replay == nil {
		m := NewMemoryReplayStore(0)
		m.now = rs.now
		c.replay = m
	}
	c.sessions = rs.Sessions
	if c.sessions == nil {
		c.sessions = NewMemorySessionStore(0)
	}
	c.revocations = rs.Revocations
	if c.revocations == nil {
		m := NewMemoryRevocationStore(0)
		m.now = rs.now
		c.revocations = m
	}
	c.pend = newPendingStore(rs.now)

	if c.signing, err = newSigningKeys(rs.SigningKeys, c.seed); err != nil {
		return nil, err
	}
	if c.jwks, err = c.signing.jwks(); err != nil {
		return nil, err
	}
	if err := c.compileR3(); err != nil {
		return nil, err
	}
	if err := c.compileBudgets(); err != nil {
		return nil, err
	}
	if c.metadata, err = c.metadataDocument(); err != nil {
		return nil, err
	}
	c.linkValue = "<" + c.issuer + metadataPath + `>; rel="aauth-resource"`
	c.hosts = []string{normalizeAuthority(strings.TrimPrefix(strings.TrimPrefix(c.issuer, "https://"), "http://"))}
	for _, a := range rs.Authorities {
		if a = normalizeAuthority(a); a != "" && !slices.Contains(c.hosts, a) {
			c.hosts = append(c.hosts, a)
		}
	}
	return c, nil
}

// checkIssuer checks a server identifier (AAuth -11, Server Identifiers)
// and returns its host. Loopback hosts may use http and a port.
func checkIssuer(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("aauth: Resource.Issuer is not set: set it to the resource's identifier, such as https://resource.example, before the first request")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", fmt.Errorf("aauth: Resource.Issuer %q is not an absolute URL", shorten(s))
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#") {
		return "", fmt.Errorf("aauth: Resource.Issuer %q must have no path, query, fragment or trailing slash", shorten(s))
	}
	if strings.ToLower(s) != s {
		return "", fmt.Errorf("aauth: Resource.Issuer %q must be lower case", shorten(s))
	}
	loopback := isLoopbackHost(u.Hostname())
	switch {
	case u.Scheme == "https" && (u.Port() == "" || loopback):
	case u.Scheme == "http" && loopback:
	default:
		return "", fmt.Errorf("aauth: Resource.Issuer %q must be https with no port (http and a port only for loopback hosts)", shorten(s))
	}
	return u.Hostname(), nil
}

// validServerID reports whether s may be a token issuer: the same rules
// as checkIssuer.
func validServerID(s string) bool {
	_, err := checkIssuer(s)
	return err == nil
}

// normalizeAuthority lower-cases host[:port] and drops a default port, as
// RFC 9421 §2.2.3 has @authority. The scheme is not known behind a proxy
// that ends TLS, so both default ports go.
func normalizeAuthority(a string) string {
	a = strings.ToLower(a)
	if i := strings.LastIndexByte(a, ':'); i > strings.LastIndexByte(a, ']') {
		if p := a[i+1:]; p == "" || p == "443" || p == "80" {
			a = a[:i]
		}
	}
	return a
}
