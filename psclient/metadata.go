package psclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// WellKnownPath is the path, under the person server URL, of its
// metadata document.
const WellKnownPath = "/.well-known/aauth-person.json"

// Metadata cache lifetimes used when a MetadataCache leaves them zero.
const (
	DefaultMetadataTTL = 5 * time.Minute // when the answer has no caching headers
	MaxMetadataTTL     = time.Hour       // upper bound on any lifetime a server asks for
)

// Metadata is a person server's metadata document
// ({ps}/.well-known/aauth-person.json). The JSON tags are the document's
// member names, so a program can persist a document with encoding/json and
// supply it again in ExchangeRequest.Metadata or MetadataCache.Put.
//
// Values returned by Discover and MetadataCache.Get may be
// shared and must not be modified.
type Metadata struct {
	// Issuer is the person server's identifier. The current profile
	// requires it to equal the URL the document was fetched from, minus
	// the well-known suffix, byte for byte.
	Issuer string `json:"issuer,omitempty"`

	// AuthTokenEndpoint is auth_token_endpoint, the current name of the
	// endpoint that exchanges resource tokens for auth tokens.
	AuthTokenEndpoint string `json:"auth_token_endpoint,omitempty"`

	// TokenEndpoint is token_endpoint, the seed name of the same
	// endpoint. See [Metadata.AuthTokenEndpointFor].
	TokenEndpoint string `json:"token_endpoint,omitempty"`

	// PersonTokenEndpoint issues person tokens (current profile).
	PersonTokenEndpoint string `json:"person_token_endpoint,omitempty"`

	JWKSURI                string   `json:"jwks_uri,omitempty"`                 // the person server's signing keys
	InteractionEndpoint    string   `json:"interaction_endpoint,omitempty"`     // relays interactions to the person
	MissionEndpoint        string   `json:"mission_endpoint,omitempty"`         // proposes missions
	MissionControlEndpoint string   `json:"mission_control_endpoint,omitempty"` // where the person manages missions
	PermissionEndpoint     string   `json:"permission_endpoint,omitempty"`      // asks permission for an action
	AuditEndpoint          string   `json:"audit_endpoint,omitempty"`           // records actions taken
	RevocationEndpoint     string   `json:"revocation_endpoint,omitempty"`      // revokes tokens
	ScopesSupported        []string `json:"scopes_supported,omitempty"`         // scopes the server can grant
	ClaimsSupported        []string `json:"claims_supported,omitempty"`         // identity claims it can release
	AcceptSignatureAlgs    []string `json:"accept_signature_algs,omitempty"`    // signature algorithms it verifies

	// Raw holds every member of the document as encoding/json decoded it
	// (numbers as json.Number), the ones above included. It is nil for
	// metadata built in code.
	Raw map[string]any `json:"-"`
}

// AuthTokenEndpointFor returns the auth-token endpoint as profile p names
// it: auth_token_endpoint in the current profile and token_endpoint in the
// seed profile, each falling back on the other name when its own is absent.
func (md *Metadata) AuthTokenEndpointFor(p wire.Profile) string {
	own, other := md.AuthTokenEndpoint, md.TokenEndpoint
	if t := profile.For(p); t != nil && t.TokenEndpointField == "token_endpoint" {
		own, other = other, own
	}
	if own != "" {
		return own
	}
	return other
}

// parseMetadata reads a metadata document liberally: members of the wrong
// type are ignored, unknown members kept in Raw. It fails only when body is
// not a JSON object.
func parseMetadata(body []byte) (*Metadata, error) {
	if len(body) > httpx.MaxBodySize {
		return nil, wire.ErrBodyTooLarge
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	md := &Metadata{Raw: make(map[string]any, len(m))}
	strs := map[string]*string{
		"issuer":                   &md.Issuer,
		"auth_token_endpoint":      &md.AuthTokenEndpoint,
		"token_endpoint":           &md.TokenEndpoint,
		"person_token_endpoint":    &md.PersonTokenEndpoint,
		"jwks_uri":                 &md.JWKSURI,
		"interaction_endpoint":     &md.InteractionEndpoint,
		"mission_endpoint":         &md.MissionEndpoint,
		"mission_control_endpoint": &md.MissionControlEndpoint,
		"permission_endpoint":      &md.PermissionEndpoint,
		"audit_endpoint":           &md.AuditEndpoint,
		"revocation_endpoint":      &md.RevocationEndpoint,
	}
	lists := map[string]*[]string{
		"scopes_supported":      &md.ScopesSupported,
		"claims_supported":      &md.ClaimsSupported,
		"accept_signature_algs": &md.AcceptSignatureAlgs,
	}
	for k, raw := range m {
		md.Raw[k] = jsonx.DecodeAny(raw)
		if dst, ok := strs[k]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				*dst = s
			}
		} else if dst, ok := lists[k]; ok {
			var l []string
			if json.Unmarshal(raw, &l) == nil {
				*dst = l
			}
		}
	}
	return md, nil
}

// psBase is the person server URL as the seed builds on it: one trailing
// "/" removed. It is also the issuer the document must name.
func psBase(psURL string) string { return strings.TrimSuffix(psURL, "/") }

// metadataURL returns the URL of the metadata document of psURL, after
// checking psURL is an https URL (or http on a loopback host).
func metadataURL(ctx context.Context, psURL string) (string, error) {
	if psURL == "" {
		return "", errors.New("aauth: no person server URL")
	}
	if err := egress.CheckSecureURL(ctx, psURL); err != nil {
		return "", fmt.Errorf("aauth: person server URL: %w", err)
	}
	u, _ := url.Parse(psURL)
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", errors.New("aauth: person server URL has a query or fragment")
	}
	return psBase(psURL) + WellKnownPath, nil
}

// check validates md for profile p against the person server URL it was
// fetched for (or configured for): the issuer, and the endpoints the
// profile needs. docURL is for error messages.
func (md *Metadata) check(ctx context.Context, psURL, docURL string, p wire.Profile) error {
	if err := md.checkIssuer(psURL, docURL, p); err != nil {
		return err
	}
	return md.checkEndpoints(ctx, psURL, docURL, p)
}

func (md *Metadata) checkIssuer(psURL, docURL string, p wire.Profile) error {
	t := profile.For(p)
	want := psBase(psURL)
	switch {
	case t.RequireIssuer && md.Issuer == "":
		return &MetadataError{Code: MetadataIssuerMissing, URL: docURL, Field: "issuer"}
	case t.RequireIssuer && md.Issuer != want:
		return &MetadataError{Code: MetadataIssuerMismatch, URL: docURL, Field: "issuer", Value: md.Issuer}
	case !t.RequireIssuer && md.Issuer != "" && psBase(md.Issuer) != want:
		// The seed never read issuer, but a document that names another
		// server is refused all the same.
		return &MetadataError{Code: MetadataIssuerMismatch, URL: docURL, Field: "issuer", Value: md.Issuer}
	}
	return nil
}

func (md *Metadata) checkEndpoints(ctx context.Context, psURL, docURL string, p wire.Profile) error {
	t := profile.For(p)
	field := t.TokenEndpointField
	if err := checkEndpoint(ctx, psURL, docURL, field, md.AuthTokenEndpointFor(p)); err != nil {
		return err
	}
	if t.PersonTokens {
		if err := checkEndpoint(ctx, psURL, docURL, "person_token_endpoint", md.PersonTokenEndpoint); err != nil {
			return err
		}
	}
	return nil
}

// checkEndpoint requires an endpoint to be https (or loopback http), and,
// when it is on another host than the person server, not to lead to a
// private network the person server is not on (see checkEgressHost).
func checkEndpoint(ctx context.Context, psURL, docURL, field, v string) error {
	if v == "" {
		return &MetadataError{Code: MetadataEndpointMissing, URL: docURL, Field: field}
	}
	if len(v) > httpx.LocationMaxLen {
		return &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: field, Value: v, Err: fmt.Errorf("longer than %d bytes", httpx.LocationMaxLen)}
	}
	if err := egress.CheckSecureURL(ctx, v); err != nil {
		return &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: field, Value: v}
	}
	if psURL == "" {
		return nil
	}
	ps, err1 := url.Parse(psURL)
	ep, err2 := url.Parse(v)
	if err1 != nil || err2 != nil {
		return &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: field, Value: v}
	}
	if err := egress.CheckHost(ctx, ps, ep); err != nil {
		return &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: field, Value: v, Err: err}
	}
	return nil
}

// endpointContext returns the context of the requests to endpoint (a token
// endpoint, and the pending URLs on its origin) named by the metadata of the
// person server at psURL: under the egress rule Target chose for it, which
// the guarded dialer enforces where the caller's client allows it (see
// aauth.ErrEgress). With no psURL the caller supplied the metadata and
// vouches for its endpoints.
func endpointContext(ctx context.Context, psURL, field, endpoint string) (context.Context, error) {
	ctx = egress.Trusted(ctx)
	if psURL == "" {
		return ctx, nil
	}
	ps, err1 := url.Parse(psURL)
	ep, err2 := url.Parse(endpoint)
	docURL := psBase(psURL) + WellKnownPath
	if err1 != nil || err2 != nil {
		return ctx, &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: field, Value: endpoint}
	}
	ctx, err := egress.Target(ctx, ps, ep)
	if err != nil {
		return ctx, &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: field, Value: endpoint, Err: err}
	}
	return ctx, nil
}

// Discover fetches the metadata of the person server at psURL
// from {psURL}/.well-known/aauth-person.json (one trailing "/" of psURL is
// dropped first, as the seed does) and checks it for profile p:
//
//   - current: issuer must equal psURL without its trailing "/", byte for
//     byte (codes issuer_missing, issuer_mismatch); auth_token_endpoint
//     (or token_endpoint) and person_token_endpoint are required.
//   - seed: token_endpoint (or auth_token_endpoint) is required; an issuer,
//     when present, must name the same server.
//
// Endpoints must be https URLs, or http on a loopback host. The request is
// sent with client, which should sign it (an aauth.SigningTransport with
// the agent token). Failures are *MetadataError values, or the client's
// error.
//
// Discover does not cache; use a MetadataCache for that.
func Discover(ctx context.Context, client *http.Client, psURL string, p wire.Profile) (*Metadata, error) {
	if _, err := profile.Check(p); err != nil {
		return nil, err
	}
	md, _, err := fetchMetadata(ctx, client, psURL, time.Now(), DefaultMetadataTTL, MaxMetadataTTL)
	if err != nil {
		return nil, err
	}
	docURL, _ := metadataURL(ctx, psURL)
	if err := md.check(ctx, psURL, docURL, p); err != nil {
		return nil, err
	}
	return md, nil
}

// fetchMetadata fetches and parses (but does not check) the document, and
// works out how long it may be cached.
func fetchMetadata(ctx context.Context, client *http.Client, psURL string, now time.Time, def, max time.Duration) (*Metadata, time.Duration, error) {
	if client == nil {
		return nil, 0, errors.New("aauth: metadata discovery needs an *http.Client")
	}
	docURL, err := metadataURL(ctx, psURL)
	if err != nil {
		return nil, 0, err
	}
	// The person server is the caller's: it may be on any address, whatever
	// rule the caller's context carried for a server-steered request.
	ctx = egress.Trusted(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("aauth: metadata request: %w", err)
	}
	resp, err := client.Do(req)
	observed(ctx, ObservedMetadata, http.MethodGet, docURL, resp, err)
	if err != nil {
		return nil, 0, safetext.Wrap("fetching person server metadata", safetext.ShortURLError(err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		httpx.DrainClose(resp)
		return nil, 0, &MetadataError{Code: MetadataFetchFailed, URL: docURL, StatusCode: resp.StatusCode}
	}
	// The body is read as JSON whatever its Content-Type, as the seed does.
	body, err := httpx.ReadBody(resp)
	if err != nil {
		return nil, 0, &MetadataError{Code: MetadataInvalid, URL: docURL, Err: err}
	}
	md, err := parseMetadata(body)
	if err != nil {
		return nil, 0, &MetadataError{Code: MetadataInvalid, URL: docURL, Err: err}
	}
	return md, cacheLifetime(resp.Header, now, def, max), nil
}

// cacheLifetime applies the HTTP caching headers of a metadata answer
// (RFC 9111, as a private cache): no-store and no-cache mean not cached;
// max-age (less Age) or else Expires (against Date) set the lifetime;
// without them def applies. The result is bounded by max.
func cacheLifetime(h http.Header, now time.Time, def, max time.Duration) time.Duration {
	ttl, explicit := time.Duration(0), false
	lines, n := h.Values("Cache-Control"), 0
	for _, line := range lines {
		if n += len(line); n > httpx.CacheControlMaxLen {
			return 0 // too long to be honest: not cached
		}
	}
	for _, line := range lines {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || n < 0 {
					return 0 // a malformed max-age is treated as stale
				}
				if n > int64(max/time.Second) {
					n = int64(max / time.Second)
				}
				ttl, explicit = time.Duration(n)*time.Second, true
			}
		}
	}
	if explicit {
		if age, err := strconv.ParseInt(strings.TrimSpace(httpx.ShortHeader(h, "Age")), 10, 64); err == nil && age > 0 {
			if age >= int64(ttl/time.Second) {
				return 0
			}
			ttl -= time.Duration(age) * time.Second
		}
	} else if ev := h.Get("Expires"); ev != "" {
		exp, err := http.ParseTime(httpx.ShortHeader(h, "Expires"))
		if err != nil {
			return 0 // an invalid Expires means already expired
		}
		base := now
		if d, err := http.ParseTime(httpx.ShortHeader(h, "Date")); err == nil {
			base = d
		}
		ttl = exp.Sub(base)
	} else {
		ttl = def
	}
	if ttl < 0 {
		return 0
	}
	if ttl > max {
		return max
	}
	return ttl
}

// MetadataCache caches person-server metadata per person server URL, so
// that an exchange does not fetch the document every time. Lifetimes come
// from the answer's caching headers, bounded by MaxTTL, or DefaultTTL when
// it has none. Concurrent requests for the same server share one fetch.
//
// The zero value is ready to use, and a MetadataCache is safe for
// concurrent use. It must not be copied after first use.
type MetadataCache struct {
	// DefaultTTL is the lifetime of a document served without caching
	// headers; 0 means DefaultMetadataTTL (5 minutes).
	DefaultTTL time.Duration

	// MaxTTL bounds every lifetime a server asks for; 0 means
	// MaxMetadataTTL (1 hour).
	MaxTTL time.Duration

	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	entries  map[string]metadataEntry
	inflight map[string]*metadataCall
}

type metadataEntry struct {
	md      *Metadata
	expires time.Time // zero: never
}

type metadataCall struct {
	done chan struct{}
	md   *Metadata
	err  error
}

// defaultMetadataCache serves exchanges that name no cache.
var defaultMetadataCache MetadataCache

func (c *MetadataCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Get returns the metadata of the person server at psURL, from the cache
// when it holds a fresh copy, else fetched as Discover does.
// The document is checked for profile p on every Get, so one cache can
// serve both profiles.
func (c *MetadataCache) Get(ctx context.Context, client *http.Client, psURL string, p wire.Profile) (*Metadata, error) {
	if _, err := profile.Check(p); err != nil {
		return nil, err
	}
	docURL, err := metadataURL(ctx, psURL)
	if err != nil {
		return nil, err
	}
	key := psBase(psURL)
	for {
		c.mu.Lock()
		if e, ok := c.entries[key]; ok {
			if e.expires.IsZero() || c.now().Before(e.expires) {
				c.mu.Unlock()
				if err := e.md.check(ctx, psURL, docURL, p); err != nil {
					return nil, err
				}
				return e.md, nil
			}
			delete(c.entries, key)
		}
		if call, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if call.err != nil {
				// A fetch that died with its caller's context says
				// nothing about ours: try again.
				if ctx.Err() == nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded)) {
					continue
				}
				return nil, call.err
			}
			if err := call.md.check(ctx, psURL, docURL, p); err != nil {
				return nil, err
			}
			return call.md, nil
		}
		call := &metadataCall{done: make(chan struct{})}
		if c.inflight == nil {
			c.inflight = make(map[string]*metadataCall)
		}
		c.inflight[key] = call
		c.mu.Unlock()

		def, max := c.DefaultTTL, c.MaxTTL
		if def <= 0 {
			def = DefaultMetadataTTL
		}
		if max <= 0 {
			max = MaxMetadataTTL
		}
		md, ttl, err := fetchMetadata(ctx, client, psURL, c.now(), def, max)

		c.mu.Lock()
		delete(c.inflight, key)
		if err == nil && ttl > 0 {
			if c.entries == nil {
				c.entries = make(map[string]metadataEntry)
			}
			c.entries[key] = metadataEntry{md: md, expires: c.now().Add(ttl)}
		}
		call.md, call.err = md, err
		close(call.done)
		c.mu.Unlock()

		if err != nil {
			return nil, err
		}
		if err := md.check(ctx, psURL, docURL, p); err != nil {
			return nil, err
		}
		return md, nil
	}
}

// Put stores md as the metadata of the person server at psURL for ttl; a
// ttl of zero or less keeps it until it is replaced or deleted. Use it to
// supply metadata a program persisted, or a test's. md is checked when it
// is used, not here, and must not be modified afterwards.
func (c *MetadataCache) Put(psURL string, md *Metadata, ttl time.Duration) {
	if md == nil {
		c.Delete(psURL)
		return
	}
	e := metadataEntry{md: md}
	if ttl > 0 {
		e.expires = c.now().Add(ttl)
	}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = make(map[string]metadataEntry)
	}
	c.entries[psBase(psURL)] = e
	c.mu.Unlock()
}

// Delete drops the cached metadata of the person server at psURL, so that
// the next Get fetches it again.
func (c *MetadataCache) Delete(psURL string) {
	c.mu.Lock()
	delete(c.entries, psBase(psURL))
	c.mu.Unlock()
}

// psTarget is where a token request or a governance call goes: the
// fields every request struct repeats.
type psTarget struct {
	ps      string
	md      *Metadata
	cache   *MetadataCache
	profile wire.Profile
}

// resolveMetadata returns the metadata an exchange uses: the caller's,
// checked; else the cache's (the process-wide one when cache is nil).
func resolveMetadata(ctx context.Context, client *http.Client, psURL string, md *Metadata, cache *MetadataCache, p wire.Profile) (*Metadata, error) {
	if md != nil {
		if psURL == "" {
			// No server to compare the issuer with: the caller vouches
			// for the document; the endpoints are still checked.
			if err := md.checkEndpoints(ctx, "", "(supplied)", p); err != nil {
				return nil, err
			}
			return md, nil
		}
		if err := md.check(ctx, psURL, psBase(psURL)+WellKnownPath, p); err != nil {
			return nil, err
		}
		return md, nil
	}
	if cache == nil {
		cache = &defaultMetadataCache
	}
	return cache.Get(ctx, client, psURL, p)
}
