package psclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/psmark"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// Errors of the governance calls.
var (
	// ErrInteractionUnavailable: the person server has no channel to
	// relay this interaction or payment to the person (424
	// interaction_unavailable). It is not final: the agent directs the
	// person itself.
	ErrInteractionUnavailable = errors.New("aauth: the person server cannot relay the interaction")

	// ErrNoMission: the call needs a mission (an audit record, a mission
	// update or completion) and none was named.
	ErrNoMission = errors.New("aauth: no mission")
)

// RequestError is a mission, permission, audit or relay request that the
// person server refused, directly or at the end of a deferral, or whose
// success answer could not be read. errors.Is matches the sentinel of its
// error code (ErrDenied, ErrUserUnreachable, ErrInteractionUnavailable, …)
// as ExchangeError does. A refusal that concerns the mission comes as a
// *MissionError wrapping the RequestError.
type RequestError struct {
	// Op names the request: "mission proposal", "mission update",
	// "mission completion", "permission request", "audit record",
	// "interaction relay" or "question relay".
	Op string

	// StatusCode is the HTTP status of the answer that ended the request:
	// the endpoint's, or the pending URL's when the request was deferred.
	StatusCode int

	// Problem holds the error body, when it was JSON; nil otherwise.
	Problem *wire.Problem

	// Endpoint is the URL the request was sent to.
	Endpoint string

	// Response is the answer that ended the request, its body replaced
	// with an in-memory copy (see PollError.Response).
	Response *http.Response

	// Err is the underlying failure: a *PollError when the request was
	// deferred and then failed, or what was wrong with a success answer.
	Err error
}

// Error describes the failure without any token value.
func (e *RequestError) Error() string {
	return requestFailure(e.Op, e.Endpoint, e.StatusCode, e.Problem, e.Err)
}

// Unwrap returns Err.
func (e *RequestError) Unwrap() error { return e.Err }

// Is matches the sentinel of the error code in the body, and ErrServer,
// ErrASUnreachable, ErrInteractionUnavailable and ErrRateLimited by
// status, as ExchangeError does.
func (e *RequestError) Is(target error) bool { return requestIs(e.Problem, e.StatusCode, target) }

// govCall is one governance request.
type govCall struct {
	op       string                 // for errors: "permission request", …
	field    string                 // the metadata member naming the endpoint
	endpoint func(*Metadata) string // reads it
	path     string                 // a mission's s256 to append, or ""
	body     []byte
	prefer   bool         // send Prefer: wait=N
	poll     *PollOptions // poll a 202 with these; nil returns the 202
	mission  string       // the mission named, for mission errors
}

// govCheck validates what every governance call needs.
func govCheck(client *http.Client, s psTarget, name string) (*profile.Table, error) {
	t, err := profile.Check(s.profile)
	if err != nil {
		return nil, err
	}
	switch {
	case client == nil:
		return nil, fmt.Errorf("aauth: %s needs a signing *http.Client", name)
	case !t.Governance:
		return nil, fmt.Errorf("aauth: the %s profile has no missions or governance endpoints", s.profile)
	case s.ps == "" && s.md == nil:
		return nil, fmt.Errorf("aauth: %s needs PersonServer or Metadata", name)
	}
	return t, nil
}

// govDo sends a governance call and returns its success answer (any 2xx
// but a 202 that is polled), whose body the caller reads and closes.
func govDo(ctx context.Context, client *http.Client, s psTarget, t *profile.Table, c govCall) (*http.Response, error) {
	ctx = psmark.Mark(ctx)
	md, err := resolveMetadata(ctx, client, s.ps, s.md, s.cache, s.profile)
	if err != nil {
		return nil, err
	}
	endpoint := c.endpoint(md)
	docURL := "(supplied)"
	if s.ps != "" {
		docURL = psBase(s.ps) + WellKnownPath
	}
	if err := checkEndpoint(ctx, s.ps, docURL, c.field, endpoint); err != nil {
		return nil, err
	}
	if ctx, err = endpointContext(ctx, s.ps, c.field, endpoint); err != nil {
		return nil, err
	}
	if c.path != "" {
		u, err := url.Parse(endpoint)
		if err != nil {
			return nil, &MetadataError{Code: MetadataInvalidEndpoint, URL: docURL, Field: c.field, Value: endpoint}
		}
		endpoint = u.JoinPath(c.path).String()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(c.body))
	if err != nil {
		return nil, safetext.Wrap(c.op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.prefer && t.PreferWait > 0 {
		req.Header.Set("Prefer", "wait="+strconv.Itoa(t.PreferWait))
	}
	resp, err := client.Do(req)
	observed(ctx, ObservedGovernance, http.MethodPost, endpoint, resp, err)
	if err != nil {
		return nil, fmt.Errorf("aauth: %s to %s: %w", c.op, safetext.Clean(endpoint, 256), safetext.ShortURLError(err))
	}
	switch {
	case resp.StatusCode == http.StatusAccepted && c.poll != nil:
		opts := *c.poll
		opts.Profile = s.profile
		opts.RequestURL = endpoint
		final, err := FollowDeferred(ctx, client, resp, opts)
		if err == nil {
			return final, nil
		}
		var pe *PollError
		if errors.As(err, &pe) {
			return nil, missionWrap(&RequestError{Op: c.op, StatusCode: pe.StatusCode, Problem: pe.Problem, Endpoint: endpoint, Response: pe.Response, Err: pe}, c.mission)
		}
		var atr *AuthTokenRequiredError
		if errors.As(err, &atr) {
			// Only a resource holds a call for an auth token.
			return nil, &RequestError{Op: c.op, StatusCode: http.StatusAccepted, Endpoint: endpoint, Err: errors.New("the deferred answer asks for an auth token")}
		}
		return nil, err
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return resp, nil
	}
	problem, err := wire.ReadProblem(resp)
	if err != nil {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return nil, missionWrap(&RequestError{Op: c.op, StatusCode: resp.StatusCode, Problem: problem, Endpoint: endpoint, Response: resp}, c.mission)
}

// govRead reads a success answer's body (at most 1 MiB) for parse, and
// turns a parse failure into a *RequestError.
func govRead[T any](resp *http.Response, op string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	b, err := httpx.ReadBody(resp)
	if err == nil {
		var v T
		if v, err = parse(b); err == nil {
			return v, nil
		}
	}
	var pd *PermissionDeniedError
	if errors.As(err, &pd) {
		return zero, err
	}
	endpoint := ""
	if resp.Request != nil && resp.Request.URL != nil {
		endpoint = resp.Request.URL.String()
	}
	return zero, &RequestError{Op: op, StatusCode: resp.StatusCode, Endpoint: endpoint, Err: err}
}

// missionWrap returns err as a *MissionError wrapping it when its error
// code is mission_terminated or mission_not_found; err otherwise.
func missionWrap(err error, s256 string) error {
	var p *wire.Problem
	var ee *ExchangeError
	var re *RequestError
	var pe *PollError
	switch {
	case errors.As(err, &re):
		p = re.Problem
	case errors.As(err, &ee):
		p = ee.Problem
	case errors.As(err, &pe):
		p = pe.Problem
	}
	if me := missionErrorOf(p, s256); me != nil {
		me.Err = err
		return me
	}
	return err
}

// govBody starts a request body. Members are written in the order the
// draft lists them, empty strings left out, strings escaped as
// JSON.stringify does.
type govBody struct {
	o     jsonx.Object
	names []string
	err   error
}

func (b *govBody) str(k, v string) {
	b.o.Str(k, v)
	b.names = append(b.names, k)
}

// object adds v, which must encode to a JSON object, unless it is nil.
func (b *govBody) object(k string, v any) {
	b.names = append(b.names, k)
	if v == nil || b.err != nil {
		return
	}
	raw, err := jsonx.Marshal(v)
	switch {
	case err != nil:
		b.err = fmt.Errorf("aauth: %s: %w", k, err)
		return
	case string(raw) == "null":
		return
	case len(raw) == 0 || raw[0] != '{':
		b.err = fmt.Errorf("aauth: %s must encode to a JSON object", k)
		return
	}
	b.o.Raw(k, raw)
}

// bytes adds extra and returns the body.
func (b *govBody) bytes(extra map[string]any) ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := addExtra(&b.o, extra, b.names); err != nil {
		return nil, err
	}
	return b.o.Bytes(), nil
}

// checkMissionS256 validates a mission_s256 before it is sent: one that
// is not a digest is a caller's mistake (or an attempt to steer a URL).
func checkMissionS256(s256 string, required bool) error {
	switch {
	case s256 == "" && required:
		return ErrNoMission
	case s256 != "" && !ValidDigest(s256):
		return fmt.Errorf("aauth: mission_s256 %q is not an unpadded base64url SHA-256", safetext.Clean(s256, 64))
	}
	return nil
}
