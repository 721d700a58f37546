package psclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// Sentinel errors for how a deferred request or a token request ended. A
// *PollError or *ExchangeError matches them with errors.Is; see
// [PollError.Is] for the mapping.
var (
	// ErrDenied: the person (or policy) denied the request (403 denied).
	ErrDenied = errors.New("aauth: request denied")
	// ErrAbandoned: the person left without deciding (403 abandoned).
	ErrAbandoned = errors.New("aauth: request abandoned")
	// ErrRevoked: the grant was revoked while pending (403 revoked).
	ErrRevoked = errors.New("aauth: request revoked")
	// ErrExpired: the pending request expired (408 expired); a fresh
	// request may be started.
	ErrExpired = errors.New("aauth: request expired")
	// ErrGone: the pending request no longer exists (410, or
	// invalid_code); it must not be retried.
	ErrGone = errors.New("aauth: pending request gone")
	// ErrServer: the server failed (500 server_error); start over.
	ErrServer = errors.New("aauth: server error")
	// ErrASUnreachable: the person server could not reach the resource's
	// access server (502 as_unreachable); retry later with a fresh
	// resource token.
	ErrASUnreachable = errors.New("aauth: access server unreachable")
	// ErrUserUnreachable: the person server could not reach the person
	// (403 user_unreachable, formerly interaction_required), typically
	// because the request declared no capabilities.
	ErrUserUnreachable = errors.New("aauth: person could not be reached")
	// ErrTimeout: PollOptions.MaxDuration passed before the deferred
	// request ended.
	ErrTimeout = errors.New("aauth: deferred request timed out")
	// ErrClarification: a clarification question was not answered (the
	// callback failed, or the server asked too many times); the pending
	// request was cancelled.
	ErrClarification = errors.New("aauth: clarification not answered")
	// ErrInteraction: OnInteraction failed, or the interaction URL was
	// refused (an *InteractionURLError); the pending request was
	// cancelled.
	ErrInteraction = errors.New("aauth: interaction not started")
	// ErrLocation: a 202 had no usable Location: none, not a URL, or not
	// on the origin of the request that produced it.
	ErrLocation = errors.New("aauth: bad Location")
	// ErrRateLimited: the person server refused the request for now
	// (429), such as after repeated failures at the mission endpoint;
	// the answer's Retry-After (in the error's Response) says when to try
	// again.
	ErrRateLimited = errors.New("aauth: rate limited")
)

// Sentinel errors of the sub-agent and call-chaining token parameters
// (AAuth -11 "Token Endpoint Error Codes"). An *ExchangeError whose code is
// one of them matches it with errors.Is; so do the checks an agent makes
// before sending such a token, when they find the fault first.
var (
	// ErrInvalidSubagentToken: the subagent_token is malformed, its
	// signature fails, its parent_agent does not name the signing agent, or
	// its issuer is not the signing agent's (400 invalid_subagent_token).
	ErrInvalidSubagentToken = errors.New("aauth: invalid subagent_token")
	// ErrExpiredSubagentToken: the subagent_token has expired; the parent
	// gets a fresh one from the agent provider (400
	// expired_subagent_token).
	ErrExpiredSubagentToken = errors.New("aauth: subagent_token expired")
	// ErrRevokedSubagentToken: the agent provider revoked the
	// subagent_token; terminal (400 revoked_subagent_token).
	ErrRevokedSubagentToken = errors.New("aauth: subagent_token revoked")
	// ErrInvalidUpstreamToken: the upstream_token is malformed, not a
	// person or auth token, not from this person server, not for the
	// intermediary (aud), or its caller is unknown (400
	// invalid_upstream_token).
	ErrInvalidUpstreamToken = errors.New("aauth: invalid upstream_token")
	// ErrExpiredUpstreamToken: the upstream_token has expired; the caller
	// must authorize at the intermediary again (400
	// expired_upstream_token).
	ErrExpiredUpstreamToken = errors.New("aauth: upstream_token expired")
	// ErrRevokedUpstreamToken: the upstream_token, or the caller's agent
	// token or binding, was revoked; terminal (400 revoked_upstream_token).
	ErrRevokedUpstreamToken = errors.New("aauth: upstream_token revoked")
)

// ErrChainLoop: a request an intermediary would make on its caller's
// behalf (call chaining) would go back to the intermediary itself (the
// upstream token's audience), or the upstream token is bound to the
// intermediary's own key. Nothing is sent. (Loops through other
// intermediaries are the person server's to refuse.)
var ErrChainLoop = errors.New("aauth: call chain loops back")

// ErrResourceToken: a resource token failed the agent's checks (it was not
// issued by the resource called, for the agent's key, for its person
// server, about the token presented, or it has expired) and was not sent
// for exchange (AAuth -11 "Resource Challenge Verification"). The root
// package's aauth.ErrResourceToken is this value. A parent that refuses a
// sub-agent's resource token answers with it (see NewSubagentAnswer).
var ErrResourceToken = errors.New("aauth: resource token refused")

// codeSentinel maps an AAuth error code to its sentinel.
func codeSentinel(code string) error {
	switch code {
	case "denied", "access_denied":
		return ErrDenied
	case "abandoned", "user_abandoned":
		return ErrAbandoned
	case "revoked":
		return ErrRevoked
	case "expired", "interaction_expired":
		return ErrExpired
	case "invalid_code":
		return ErrGone
	case "server_error":
		return ErrServer
	case "as_unreachable":
		return ErrASUnreachable
	case "user_unreachable", "interaction_required":
		return ErrUserUnreachable
	case "interaction_unavailable":
		return ErrInteractionUnavailable
	case codeMissionTerminated:
		return ErrMissionTerminated
	case codeMissionNotFound:
		return ErrMissionNotFound
	case "invalid_subagent_token":
		return ErrInvalidSubagentToken
	case "expired_subagent_token":
		return ErrExpiredSubagentToken
	case "revoked_subagent_token":
		return ErrRevokedSubagentToken
	case "invalid_upstream_token":
		return ErrInvalidUpstreamToken
	case "expired_upstream_token":
		return ErrExpiredUpstreamToken
	case "revoked_upstream_token":
		return ErrRevokedUpstreamToken
	}
	return nil
}

// PollError is a deferred request that ended with a status other than 200:
// the person denied or abandoned it, it expired or is gone, or the server
// failed. errors.Is matches it against the sentinels (see [PollError.Is]).
type PollError struct {
	// StatusCode is the HTTP status of the final answer.
	StatusCode int

	// Problem holds the error body, when it was JSON; nil otherwise.
	Problem *wire.Problem

	// Location is the pending URL that was polled.
	Location string

	// Response is the final answer. Its body has been read (up to 1 MiB)
	// and replaced with an in-memory copy, so it can still be read, or
	// returned to a caller as it came.
	Response *http.Response
}

// Error describes the failure without any token value.
func (e *PollError) Error() string {
	var b strings.Builder
	b.WriteString("aauth: deferred request")
	if e.Location != "" {
		b.WriteString(" ")
		b.WriteString(safetext.Clean(e.Location, 256))
	}
	fmt.Fprintf(&b, " ended with status %d", e.StatusCode)
	if s := safetext.Unprefixed(e.Problem.String()); s != "" {
		b.WriteString(": ")
		b.WriteString(s)
	}
	return b.String()
}

// Is reports whether target is the sentinel for how the request ended. The
// error code in the body decides first (denied, abandoned, revoked,
// expired, invalid_code, server_error, as_unreachable, user_unreachable);
// without a known code the status does: 403 is ErrDenied, 408 ErrExpired,
// 410 ErrGone, 500 ErrServer and 502 ErrASUnreachable.
func (e *PollError) Is(target error) bool {
	if e.Problem != nil {
		if s := codeSentinel(e.Problem.Error); s != nil {
			// invalid_code is also a 410 "gone"; both names fit.
			return target == s
		}
	}
	switch e.StatusCode {
	case http.StatusForbidden:
		return target == ErrDenied
	case http.StatusRequestTimeout:
		return target == ErrExpired
	case http.StatusGone:
		return target == ErrGone
	case http.StatusInternalServerError:
		return target == ErrServer
	case http.StatusBadGateway:
		return target == ErrASUnreachable
	}
	return false
}

// ExchangeError is a token request (auth token or person token) that the
// person server refused, directly or at the end of a deferred request, or
// whose success answer could not be read. It is the Go form of the
// JavaScript TokenExchangeError.
type ExchangeError struct {
	// StatusCode is the HTTP status of the answer that ended the request:
	// the token endpoint's, or the pending URL's when the request was
	// deferred.
	StatusCode int

	// Problem holds the error body, when it was JSON; nil otherwise.
	Problem *wire.Problem

	// Endpoint is the token endpoint the request was sent to.
	Endpoint string

	// Response is the answer that ended the request, its body replaced
	// with an in-memory copy (see PollError.Response). Its header carries
	// any Signature-Error.
	Response *http.Response

	// Err is the underlying failure: a *PollError when the request was
	// deferred and then failed, or what was wrong with a 200 answer.
	Err error

	// subagent: the request carried a subagent_token (see Is).
	subagent bool
}

// Error describes the failure without any token value.
func (e *ExchangeError) Error() string {
	return requestFailure("token request", e.Endpoint, e.StatusCode, e.Problem, e.Err)
}

// Unwrap returns Err.
func (e *ExchangeError) Unwrap() error { return e.Err }

// Is matches the sentinel of the error code in the body (as PollError
// does), and ErrServer, ErrASUnreachable, ErrInteractionUnavailable and
// ErrRateLimited by status. A deferred request that failed also matches through Err.
//
// A request that carried a subagent_token and was answered
// invalid_agent_token also matches ErrInvalidSubagentToken: AAuth -11 has
// no invalid_agent_token code (a bad agent token in Signature-Key is a
// 401 Signature-Error), and @hellocoop/mockin 2.0.0 answers every
// subagent_token failure with it.
func (e *ExchangeError) Is(target error) bool {
	if e.subagent && target == ErrInvalidSubagentToken && e.Problem != nil && e.Problem.Error == "invalid_agent_token" {
		return true
	}
	return requestIs(e.Problem, e.StatusCode, target)
}

// requestFailure writes the message of a request the person server refused
// or answered wrongly: "aauth: <op> to <endpoint> failed with status N
// after deferral: <problem or err>".
func requestFailure(op, endpoint string, status int, p *wire.Problem, err error) string {
	var b strings.Builder
	b.WriteString("aauth: ")
	b.WriteString(op)
	if endpoint != "" {
		b.WriteString(" to ")
		b.WriteString(safetext.Clean(endpoint, 256))
	}
	b.WriteString(" failed")
	if status != 0 {
		fmt.Fprintf(&b, " with status %d", status)
	}
	var pe *PollError
	if errors.As(err, &pe) {
		b.WriteString(" after deferral")
	}
	switch s := safetext.Unprefixed(p.String()); {
	case s != "":
		b.WriteString(": ")
		b.WriteString(s)
	case err != nil && pe == nil:
		b.WriteString(": ")
		b.WriteString(safetext.Unprefixed(err.Error()))
	}
	return b.String()
}

// requestIs matches the sentinel of the error code in p, else the one its
// status implies.
func requestIs(p *wire.Problem, status int, target error) bool {
	if p != nil {
		if s := codeSentinel(p.Error); s != nil {
			return target == s
		}
	}
	switch status {
	case http.StatusInternalServerError:
		return target == ErrServer
	case http.StatusBadGateway:
		return target == ErrASUnreachable
	case http.StatusFailedDependency:
		return target == ErrInteractionUnavailable
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	}
	return false
}

// Metadata error codes, in MetadataError.Code. The first two are the codes
// the draft names for the issuer check.
const (
	MetadataIssuerMissing   = "issuer_missing"   // the document has no issuer
	MetadataIssuerMismatch  = "issuer_mismatch"  // issuer is not the URL fetched
	MetadataEndpointMissing = "endpoint_missing" // a required endpoint is absent
	MetadataInvalidEndpoint = "invalid_endpoint" // an endpoint is not an https URL (or http on loopback), or is refused (see Err)
	MetadataFetchFailed     = "fetch_failed"     // the document could not be fetched (status not 2xx)
	MetadataInvalid         = "invalid_metadata" // the document is not a JSON object, or too large
)

// MetadataError is person-server metadata that could not be fetched or
// that fails the checks: see the Metadata* codes.
type MetadataError struct {
	// Code is one of the Metadata* constants.
	Code string

	// URL is the metadata document's URL.
	URL string

	// Field is the member concerned, for the issuer and endpoint codes.
	Field string

	// Value is the member's value, for issuer_mismatch and
	// invalid_endpoint.
	Value string

	// StatusCode is the HTTP status, for fetch_failed.
	StatusCode int

	// Err is the underlying error, if any.
	Err error
}

// Error describes the failure.
func (e *MetadataError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "aauth: person server metadata %s: %s", safetext.Clean(e.URL, 256), e.Code)
	switch e.Code {
	case MetadataIssuerMismatch:
		fmt.Fprintf(&b, ": issuer %q is not the URL fetched", safetext.Clean(e.Value, 256))
	case MetadataEndpointMissing:
		fmt.Fprintf(&b, ": no %s", e.Field)
	case MetadataInvalidEndpoint:
		if e.Err != nil {
			// Refused for the reason that follows, not its scheme.
			fmt.Fprintf(&b, ": %s %q is refused", e.Field, safetext.Clean(e.Value, 256))
		} else {
			fmt.Fprintf(&b, ": %s %q is not an https URL", e.Field, safetext.Clean(e.Value, 256))
		}
	case MetadataFetchFailed:
		if e.StatusCode != 0 {
			fmt.Fprintf(&b, ": status %d", e.StatusCode)
		}
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(safetext.Unprefixed(e.Err.Error()))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *MetadataError) Unwrap() error { return e.Err }

// AuthTokenRequiredError is returned by PollDeferred when a 202 carries
// AAuth-Requirement: requirement=auth-token (current profile): the server
// holds the call until it gets an auth token. The caller (aauth.Transport)
// exchanges Challenge.ResourceToken for an auth token with ExchangeToken,
// then polls Location again with a client that presents the auth token.
type AuthTokenRequiredError struct {
	// Challenge is the parsed requirement; ResourceToken is set.
	Challenge wire.Challenge

	// Location is the pending URL to poll once the auth token is held:
	// the 202's Location if it had one, else the URL polled.
	Location string
}

// Error describes the requirement without the resource token.
func (e *AuthTokenRequiredError) Error() string {
	return "aauth: deferred request " + safetext.Clean(e.Location, 256) + " requires an auth token"
}
