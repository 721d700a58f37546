package psclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/psmark"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// Token is a token a person server issued: an auth token or a person token.
type Token struct {
	// Value is the token itself, a compact JWT.
	Value string

	// ExpiresIn is the lifetime the server announced, in seconds.
	ExpiresIn int64

	// Expiry is when the token expires by the agent's clock: the time the
	// answer was read plus ExpiresIn.
	Expiry time.Time
}

// String describes t without its value, so that a Token printed in a log
// does not leak it.
func (t *Token) String() string {
	if t == nil {
		return "<nil>"
	}
	return fmt.Sprintf("aauth.Token{%s, expires %s}", safetext.Redact(t.Value), t.Expiry.UTC().Format(time.RFC3339))
}

// GoString is String, so that %#v redacts too.
func (t *Token) GoString() string { return t.String() }

// ExchangeRequest is a request for an auth token: the resource token a
// resource issued, and the hints the person server may use.
type ExchangeRequest struct {
	// PersonServer is the agent's person server URL (the agent token's
	// ps claim). Its metadata is discovered, cached, and (current
	// profile) its issuer checked before any token request is sent.
	PersonServer string

	// Metadata, when set, is used instead of discovery. It is still
	// checked against PersonServer, when that is set.
	Metadata *Metadata

	// Cache holds discovered metadata; nil means a process-wide cache.
	Cache *MetadataCache

	// Profile selects the wire generation.
	Profile wire.Profile

	// ResourceToken is the resource-token of the auth-token requirement.
	// Required.
	ResourceToken string

	// PresentedToken is the exact token that was in Signature-Key when the
	// resource issued the resource token (the person token, or an auth
	// token on a step-up). Required in the current profile; not sent in
	// the seed profile.
	PresentedToken string

	// SubagentToken, when set, makes the request a parent's on behalf of
	// one of its sub-agents (AAuth -11 "Sub-Agents"): it is the
	// sub-agent's agent token, whose parent_agent names the signing agent.
	// The resource token is then bound to the sub-agent's key, the
	// presented token is the one the sub-agent presented, and the auth
	// token is issued for the sub-agent's key. Current profile only.
	SubagentToken string

	// UpstreamToken, when set, makes the request an intermediary's on
	// behalf of its caller (AAuth -11 "Call Chaining"): it is the person
	// or auth token the caller presented to the intermediary. The request
	// goes to that token's person server. It cannot be combined with
	// SubagentToken. Current profile only.
	UpstreamToken string

	// Justification says why the agent needs access, in Markdown; the
	// person server shows it as the agent's claim.
	Justification string

	// LoginHint, Tenant and DomainHint help the person server find the
	// person. A login_hint inside the resource token wins over LoginHint
	// (current profile).
	LoginHint  string
	Tenant     string // the organisation
	DomainHint string // the person's domain

	// Prompt is none, login, consent or select_account.
	Prompt string

	// Capabilities the agent has (interaction, clarification, payment),
	// sent in the body. Without them a person server that needs to reach
	// the person answers user_unreachable.
	Capabilities []wire.Capability

	// Platform says where the agent runs (current profile only): web,
	// mobile, desktop, workload or self-hosted.
	Platform string

	// Device names the device (current profile only), in at most 64
	// printable characters.
	Device string

	// Extra members to add to the body, after the others in key order,
	// for server-specific parameters. A name the request already writes
	// is ignored.
	Extra map[string]any

	// Poll configures the polling of a deferred (202) answer. Its Profile
	// and RequestURL are set by the exchange.
	Poll PollOptions
}

// ExchangeToken exchanges a resource token for an auth token at the agent's
// person server. It is the Go form of the JavaScript exchangeToken.
//
// It discovers the person server's metadata (see Discover and
// MetadataCache), then POSTs a compact JSON body
// {"resource_token":…,"presented_token":…,"justification":…,…} to the
// auth-token endpoint with Content-Type: application/json and
// Prefer: wait=45. A 200 gives the token; a 202 is polled to the end with
// FollowDeferred (so OnInteraction and OnClarification in req.Poll are
// called as needed); any other answer is an *ExchangeError carrying the
// status and the problem details, wrapped in a *MissionError when the
// mission the resource token names has ended (mission_terminated,
// mission_not_found). In the current profile the token returned is checked
// against the resource token and the presented token (see CheckAuthToken);
// one that fails is an *ExchangeError matching ErrIssuedToken.
//
// client must sign every request with the agent token: an
// aauth.SigningTransport with the agent's key and aauth.JWT(agentToken).
// In the current profile its body is then covered by Content-Digest. In
// the seed profile the signing client also carries AAuth-Capabilities and
// AAuth-Mission, as @aauth/mcp-agent does; in the current profile
// capabilities go only in the body, never in a header to the person
// server: the requests are marked as person-server requests (through their
// context), and an aauth.SigningTransport leaves its Capabilities and
// Mission out of marked requests.
func ExchangeToken(ctx context.Context, client *http.Client, req ExchangeRequest) (*Token, error) {
	p := req.Profile
	t, err := profile.Check(p)
	if err != nil {
		return nil, err
	}
	switch {
	case client == nil:
		return nil, errors.New("aauth: ExchangeToken needs a signing *http.Client")
	case req.ResourceToken == "":
		return nil, errors.New("aauth: ExchangeRequest.ResourceToken is empty")
	case t.PresentedToken && req.PresentedToken == "":
		return nil, errors.New("aauth: ExchangeRequest.PresentedToken is required in the current profile")
	}
	s := psTarget{req.PersonServer, req.Metadata, req.Cache, p}
	ctx, md, err := openTokenRequest(ctx, client, "ExchangeRequest", t, s, req.SubagentToken, req.UpstreamToken, "")
	if err != nil {
		return nil, err
	}
	body, err := exchangeBody(req)
	if err != nil {
		return nil, err
	}
	endpoint := md.AuthTokenEndpointFor(p)
	if ctx, err = endpointContext(ctx, req.PersonServer, t.TokenEndpointField, endpoint); err != nil {
		return nil, err
	}
	tok, err := requestToken(ctx, client, endpoint, req.PersonServer, body, "auth_token", req.Poll, p, req.SubagentToken != "")
	if err != nil {
		// A mission the resource token names may have ended.
		return nil, missionWrap(err, jwtpeek.ClaimString(req.ResourceToken, "mission_s256"))
	}
	if t.PresentedToken {
		if err := checkIssuedAuthToken(tok, req); err != nil {
			return nil, &ExchangeError{StatusCode: http.StatusOK, Endpoint: endpoint, Err: err}
		}
	}
	return tok, nil
}

// exchangeBody writes the token request as the profile does. The seed
// order and omissions are those of @aauth/mcp-agent, so its bytes match.
func exchangeBody(req ExchangeRequest) ([]byte, error) {
	p := req.Profile
	t := profile.For(p)
	loginHint := req.LoginHint
	if t.ResourceTokenHint {
		if h := jwtpeek.ClaimString(req.ResourceToken, "login_hint"); h != "" {
			loginHint = h
		}
	}
	var o jsonx.Object
	o.Str("resource_token", req.ResourceToken)
	if t.PresentedToken {
		o.Str("presented_token", req.PresentedToken)
	}
	o.Str("subagent_token", req.SubagentToken)
	o.Str("upstream_token", req.UpstreamToken)
	o.Str("justification", req.Justification)
	o.Str("login_hint", loginHint)
	o.Str("tenant", req.Tenant)
	o.Str("domain_hint", req.DomainHint)
	o.Strs("capabilities", capabilityStrings(req.Capabilities))
	o.Str("prompt", req.Prompt)
	if t.PlatformDevice {
		o.Str("platform", req.Platform)
		o.Str("device", req.Device)
	}
	known := []string{"resource_token", "presented_token", "subagent_token", "upstream_token", "justification", "login_hint", "tenant", "domain_hint", "capabilities", "prompt", "platform", "device"}
	if err := addExtra(&o, req.Extra, known); err != nil {
		return nil, err
	}
	return o.Bytes(), nil
}

// PersonTokenRequest is a request for a person token (current profile): a
// token saying the agent acts for a person at one resource.
type PersonTokenRequest struct {
	// PersonServer is the agent's person server URL, as in
	// ExchangeRequest.
	PersonServer string

	// Metadata, when set, is used instead of discovery.
	Metadata *Metadata

	// Cache holds discovered metadata; nil means a process-wide cache.
	Cache *MetadataCache

	// Profile must be ProfileCurrent; the seed generation has no person
	// tokens.
	Profile wire.Profile

	// Resource is the resource's identifier: https, lower-case host, no
	// port, path or trailing slash. Required.
	Resource string

	// MissionS256 names the mission the token is for, if any. It is not
	// sent with UpstreamToken: the upstream token carries the mission.
	MissionS256 string

	// SubagentToken, when set, asks for a person token for a sub-agent of
	// the signing agent (AAuth -11 "Sub-Agents"): the sub-agent's agent
	// token, whose parent_agent names the signer. The person token is
	// bound to the sub-agent's key.
	SubagentToken string

	// UpstreamToken, when set, asks for a person token on behalf of the
	// caller who presented this token to the intermediary signing the
	// request (AAuth -11 "Call Chaining"). It cannot be combined with
	// SubagentToken or MissionS256.
	UpstreamToken string

	// Capabilities the agent has, sent in the body (never in a header to
	// the person server). Without them a person server that needs to
	// reach the person answers user_unreachable.
	Capabilities []wire.Capability

	LoginHint     string // as in ExchangeRequest
	Tenant        string // as in ExchangeRequest
	DomainHint    string // as in ExchangeRequest
	Prompt        string // as in ExchangeRequest
	Justification string // as in ExchangeRequest
	Platform      string // as in ExchangeRequest
	Device        string // as in ExchangeRequest

	// Extra members to add to the body, as in ExchangeRequest.
	Extra map[string]any

	// Poll configures the polling of a deferred (202) answer.
	Poll PollOptions
}

// RequestPersonToken asks the person server for a person token for one
// resource (current profile). It POSTs
// {"resource":…,"mission_s256":…,"capabilities":[…],…} to the
// person_token_endpoint of the server's metadata, signed with the agent
// token by client and digest-covered, with Prefer: wait=45. A 200
// {"person_token":…,"expires_in":…} gives the token; a 202 is polled to the
// end; anything else is an *ExchangeError, wrapped in a *MissionError when
// the person server says the mission has ended or is unknown. See
// ExchangeToken for what client must be.
func RequestPersonToken(ctx context.Context, client *http.Client, req PersonTokenRequest) (*Token, error) {
	p := req.Profile
	t, err := profile.Check(p)
	if err != nil {
		return nil, err
	}
	switch {
	case client == nil:
		return nil, errors.New("aauth: RequestPersonToken needs a signing *http.Client")
	case !t.PersonTokens:
		return nil, fmt.Errorf("aauth: the %s profile has no person tokens", p)
	case req.Resource == "":
		return nil, errors.New("aauth: PersonTokenRequest.Resource is empty")
	}
	s := psTarget{req.PersonServer, req.Metadata, req.Cache, p}
	ctx, md, err := openTokenRequest(ctx, client, "PersonTokenRequest", t, s, req.SubagentToken, req.UpstreamToken, req.MissionS256)
	if err != nil {
		return nil, err
	}
	var o jsonx.Object
	o.Str("resource", req.Resource)
	o.Str("mission_s256", req.MissionS256)
	o.Str("subagent_token", req.SubagentToken)
	o.Str("upstream_token", req.UpstreamToken)
	o.Strs("capabilities", capabilityStrings(req.Capabilities))
	o.Str("login_hint", req.LoginHint)
	o.Str("tenant", req.Tenant)
	o.Str("domain_hint", req.DomainHint)
	o.Str("prompt", req.Prompt)
	o.Str("justification", req.Justification)
	o.Str("platform", req.Platform)
	o.Str("device", req.Device)
	known := []string{"resource", "mission_s256", "subagent_token", "upstream_token", "capabilities", "login_hint", "tenant", "domain_hint", "prompt", "justification", "platform", "device"}
	if err := addExtra(&o, req.Extra, known); err != nil {
		return nil, err
	}
	if ctx, err = endpointContext(ctx, req.PersonServer, "person_token_endpoint", md.PersonTokenEndpoint); err != nil {
		return nil, err
	}
	tok, err := requestToken(ctx, client, md.PersonTokenEndpoint, req.PersonServer, o.Bytes(), "person_token", req.Poll, p, req.SubagentToken != "")
	if err != nil {
		return nil, missionWrap(err, req.MissionS256)
	}
	return tok, nil
}

func capabilityStrings(caps []wire.Capability) []string {
	s := make([]string, 0, len(caps))
	for _, c := range caps {
		if c != "" {
			s = append(s, string(c))
		}
	}
	return s
}

func addExtra(o *jsonx.Object, extra map[string]any, known []string) error {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !slices.Contains(known, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := jsonx.Marshal(extra[k])
		if err != nil {
			return fmt.Errorf("aauth: extra token request member %q: %w", k, err)
		}
		o.Raw(k, v)
	}
	return nil
}

// requestToken POSTs body to endpoint and reads the token named field
// from the answer, polling a 202 to the end. subagent says the body
// carries a subagent_token (see ExchangeError.Is).
func requestToken(ctx context.Context, client *http.Client, endpoint, psURL string, body []byte, field string, popts PollOptions, p wire.Profile, subagent bool) (*Token, error) {
	t := profile.For(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("aauth: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if t.PreferWait > 0 {
		req.Header.Set("Prefer", "wait="+strconv.Itoa(t.PreferWait))
	}
	resp, err := client.Do(req)
	observed(ctx, ObservedToken, http.MethodPost, endpoint, resp, err)
	if err != nil {
		return nil, safetext.Wrap("token request to "+safetext.Clean(endpoint, 256), safetext.ShortURLError(err))
	}
	popts.Profile = p
	popts.RequestURL = endpoint
	now := func() time.Time { return time.Now() }
	if popts.Clock != nil {
		now = popts.Clock.Now
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return readToken(resp, endpoint, field, now)
	case http.StatusAccepted:
		if profile.For(p).LocationBasePS && psURL != "" {
			// The seed resolves a relative Location against the person
			// server URL, not the token endpoint.
			if loc := resp.Header.Get("Location"); loc != "" && len(loc) <= httpx.LocationMaxLen {
				if base, err := url.Parse(psURL); err == nil {
					if u, err := url.Parse(loc); err == nil && !u.IsAbs() {
						resp.Header.Set("Location", base.ResolveReference(u).String())
					}
				}
			}
		}
		final, err := FollowDeferred(ctx, client, resp, popts)
		if err != nil {
			var pe *PollError
			if errors.As(err, &pe) {
				return nil, &ExchangeError{StatusCode: pe.StatusCode, Problem: pe.Problem, Endpoint: endpoint, Response: pe.Response, Err: pe, subagent: subagent}
			}
			var atr *AuthTokenRequiredError
			if errors.As(err, &atr) {
				// Only a resource holds a call for an auth token; a person
				// server that asks for one has answered wrongly.
				return nil, &ExchangeError{StatusCode: http.StatusAccepted, Endpoint: endpoint, Err: errors.New("aauth: the deferred answer asks for an auth token")}
			}
			return nil, err
		}
		return readToken(final, endpoint, field, now)
	}
	problem, err := wire.ReadProblem(resp)
	if err != nil {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return nil, &ExchangeError{StatusCode: resp.StatusCode, Problem: problem, Endpoint: endpoint, Response: resp, subagent: subagent}
}

// readToken reads a 200 token answer and closes its body.
func readToken(resp *http.Response, endpoint, field string, now func() time.Time) (*Token, error) {
	b, err := httpx.ReadBody(resp)
	if err == nil {
		var v string
		var exp int64
		if v, exp, err = parseTokenResponse(b, field); err == nil {
			return &Token{Value: v, ExpiresIn: exp, Expiry: now().Add(time.Duration(exp) * time.Second)}, nil
		}
	}
	return nil, &ExchangeError{StatusCode: resp.StatusCode, Endpoint: endpoint, Err: err}
}

// maxExpiresIn bounds expires_in (about 136 years) so that the expiry
// cannot overflow.
const maxExpiresIn = 1 << 32

// parseTokenResponse reads {field: "…", "expires_in": N}. It is liberal:
// expires_in may be a number (a fraction is dropped) or a decimal string,
// and zero is accepted; other members are ignored. The token must be at
// most 64 KiB of printable ASCII, as Signature-Key can carry.
func parseTokenResponse(b []byte, field string) (string, int64, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return "", 0, errors.New("aauth: token response is not a JSON object")
	}
	var v string
	if json.Unmarshal(m[field], &v) != nil || v == "" {
		return "", 0, fmt.Errorf("aauth: token response has no %s", field)
	}
	// The token is cached and sent back in Signature-Key: refuse here what
	// could not be sent there, rather than fail every request until it
	// expires.
	if len(v) > jwtpeek.MaxTokenLen {
		return "", 0, fmt.Errorf("aauth: token response %s is longer than %d bytes", field, jwtpeek.MaxTokenLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", 0, fmt.Errorf("aauth: token response %s has a byte that cannot be sent in Signature-Key", field)
		}
	}
	var f float64
	var num json.Number
	var str string
	switch raw := m["expires_in"]; {
	case json.Unmarshal(raw, &num) == nil && num != "":
		var err error
		if f, err = num.Float64(); err != nil {
			f = math.Inf(1) // a number too large for float64
		}
	case json.Unmarshal(raw, &str) == nil && isDigits(strings.TrimSpace(str)):
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(str), 64); err != nil {
			f = math.Inf(1)
		}
	case raw == nil && field == "resource_token":
		// An authorization endpoint's answer has only the resource
		// token, whose exp says how long it lives.
	default:
		return "", 0, errors.New("aauth: token response has no valid expires_in")
	}
	if f < 0 || f >= maxExpiresIn {
		return "", 0, errors.New("aauth: token response expires_in out of range")
	}
	return v, int64(f), nil
}

// openTokenRequest makes the checks ExchangeToken and RequestPersonToken
// both end with (a person server to ask; sub-agent and chaining parameters
// the profile allows), naming the request type what in errors, and
// resolves the server's metadata. It returns ctx marked as a person-server
// request.
func openTokenRequest(ctx context.Context, client *http.Client, what string, t *profile.Table, s psTarget, subagent, upstream, mission string) (context.Context, *Metadata, error) {
	if s.ps == "" && s.md == nil {
		return nil, nil, fmt.Errorf("aauth: %s needs PersonServer or Metadata", what)
	}
	if err := checkDelegation(what, t, subagent, upstream, mission); err != nil {
		return nil, nil, err
	}
	ctx = psmark.Mark(ctx)
	md, err := resolveMetadata(ctx, client, s.ps, s.md, s.cache, s.profile)
	if err != nil {
		return nil, nil, err
	}
	return ctx, md, nil
}

// checkDelegation refuses the combinations AAuth -11 rules out before
// anything is sent: sub-agents and call chaining in the seed profile, a
// request that is both a sub-agent's and a chained one (an intermediary is
// a top-level agent, and a sub-agent cannot chain), and mission_s256 with
// upstream_token (the upstream token carries the mission).
func checkDelegation(what string, t *profile.Table, subagent, upstream, mission string) error {
	switch {
	case (subagent != "" || upstream != "") && !t.Delegation:
		return fmt.Errorf("aauth: %s: the %s profile has no sub-agents or call chaining", what, t.Name)
	case subagent != "" && upstream != "":
		return fmt.Errorf("aauth: %s: SubagentToken and UpstreamToken cannot be sent together", what)
	case upstream != "" && mission != "":
		return fmt.Errorf("aauth: %s: MissionS256 is not sent with UpstreamToken; the upstream token carries the mission", what)
	}
	return nil
}
