package psclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// SubagentRequest is what a sub-agent asks its parent for (AAuth -11
// "Parent-Mediated Authorization"): a person token for Resource or, with
// ResourceToken set, an auth token for the resource token the sub-agent
// received after presenting PresentedToken. The parent sends the request
// to its person server, signed with its own key and agent token, with
// SubagentToken as subagent_token; the token issued is bound to the
// sub-agent's key.
//
// It is a plain value, with JSON member names, so that a sub-agent in
// another process can send it to its parent over any channel. It holds
// no private key and nothing of the parent's.
type SubagentRequest struct {
	// SubagentToken is the sub-agent's agent token: its parent_agent
	// names the parent.
	SubagentToken string `json:"subagent_token"`

	// Resource is the resource's identifier (its origin).
	Resource string `json:"resource"`

	// ResourceToken is the resource token of an auth-token requirement;
	// empty for a person-token request.
	ResourceToken string `json:"resource_token,omitempty"`

	// PresentedToken is the token the sub-agent presented when the
	// resource token was issued; set with ResourceToken.
	PresentedToken string `json:"presented_token,omitempty"`
}

// SubagentAnswer is the parent's answer to a SubagentRequest, as a plain
// value: a token, or the error the person server (or the parent) gave.
// NewSubagentAnswer writes it; Result reads it.
type SubagentAnswer struct {
	// Token is the person or auth token, on success.
	Token string `json:"token,omitempty"`

	// ExpiresIn is the lifetime the person server announced, in seconds.
	ExpiresIn int64 `json:"expires_in,omitempty"`

	// Expiry is when the token expires, by the parent's clock.
	Expiry time.Time `json:"expiry,omitzero"`

	// Status is the HTTP status of the failure (400 for the token
	// parameter codes, 403 denied, …); zero on success.
	Status int `json:"status,omitempty"`

	// Error is the AAuth error code of the failure, such as
	// invalid_subagent_token or denied.
	Error string `json:"error,omitempty"`

	// Detail describes the failure. It never holds a token.
	Detail string `json:"detail,omitempty"`
}

// maxDetail bounds the detail of an answer.
const maxDetail = 512

// NewSubagentAnswer turns what the parent got for a SubagentRequest (from
// aauth.Transport.SubagentToken, typically) into an answer to send back:
// the token, or the failure's status, AAuth code and a cleaned
// description. A person server's refusal (*ExchangeError) keeps its status
// and code; the parent's own refusals keep the code of their sentinel
// (invalid_subagent_token, invalid_resource_token, …); anything else is
// 500 server_error. No token value is ever copied into Detail.
func NewSubagentAnswer(tok *Token, err error) SubagentAnswer {
	if err == nil {
		if tok == nil || tok.Value == "" {
			return SubagentAnswer{Status: http.StatusInternalServerError, Error: "server_error", Detail: "the parent obtained no token"}
		}
		return SubagentAnswer{Token: tok.Value, ExpiresIn: tok.ExpiresIn, Expiry: tok.Expiry}
	}
	a := SubagentAnswer{Detail: answerDetail(err.Error())}
	var ee *ExchangeError
	if errors.As(err, &ee) && ee.Problem != nil && ee.Problem.Error != "" && ee.StatusCode >= 400 && ee.StatusCode <= 599 {
		a.Status, a.Error = ee.StatusCode, safetext.Clean(ee.Problem.Error, 64)
		return a
	}
	for _, c := range answerCodes {
		if errors.Is(err, c.err) {
			a.Status, a.Error = c.status, c.code
			return a
		}
	}
	a.Status, a.Error = http.StatusInternalServerError, "server_error"
	return a
}

// answerCodes maps the sentinels a parent's answer can carry to a status
// and code, most specific first.
var answerCodes = []struct {
	err    error
	status int
	code   string
}{
	{ErrInvalidSubagentToken, http.StatusBadRequest, "invalid_subagent_token"},
	{ErrExpiredSubagentToken, http.StatusBadRequest, "expired_subagent_token"},
	{ErrRevokedSubagentToken, http.StatusBadRequest, "revoked_subagent_token"},
	{ErrInvalidUpstreamToken, http.StatusBadRequest, "invalid_upstream_token"},
	{ErrExpiredUpstreamToken, http.StatusBadRequest, "expired_upstream_token"},
	{ErrRevokedUpstreamToken, http.StatusBadRequest, "revoked_upstream_token"},
	{ErrResourceToken, http.StatusBadRequest, "invalid_resource_token"},
	{ErrDenied, http.StatusForbidden, "denied"},
	{ErrAbandoned, http.StatusForbidden, "abandoned"},
	{ErrRevoked, http.StatusForbidden, "revoked"},
	{ErrUserUnreachable, http.StatusForbidden, "user_unreachable"},
	{ErrExpired, http.StatusRequestTimeout, "expired"},
	{ErrTimeout, http.StatusRequestTimeout, "expired"},
	{ErrGone, http.StatusGone, "invalid_code"},
	{ErrASUnreachable, http.StatusBadGateway, "as_unreachable"},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, "server_error"},
	{context.Canceled, http.StatusServiceUnavailable, "server_error"},
}

// jwtLike finds what looks like a compact JWT in text, so that a detail
// never carries one, whatever a server wrote in its error.
var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)

func answerDetail(msg string) string {
	msg = jwtLike.ReplaceAllStringFunc(safetext.Unprefixed(msg), safetext.Redact)
	return safetext.Clean(msg, maxDetail)
}

// Result reads an answer as the sub-agent's Transport needs it: the token,
// or an *ExchangeError carrying the answer's status and problem, which
// errors.Is matches against the sentinels as a person server's answer
// would be. The answer may come from another process: a token that could
// not be sent in Signature-Key, an out-of-range lifetime, or an answer
// with neither a token nor an error is refused.
func (a SubagentAnswer) Result() (*Token, error) {
	if a.Token == "" {
		if a.Error == "" && a.Status == 0 {
			return nil, errors.New("aauth: the parent's answer holds neither a token nor an error")
		}
		status := a.Status
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		code := safetext.Clean(a.Error, 64)
		if code == "" {
			code = "server_error"
		}
		return nil, &ExchangeError{
			StatusCode: status,
			Problem:    &wire.Problem{Status: status, Error: code, Detail: answerDetail(a.Detail)},
			Err:        errParentAnswer,
		}
	}
	if a.Error != "" || a.Status != 0 {
		return nil, errors.New("aauth: the parent's answer holds both a token and an error")
	}
	if len(a.Token) > jwtpeek.MaxTokenLen {
		return nil, fmt.Errorf("aauth: the parent's token is longer than %d bytes", jwtpeek.MaxTokenLen)
	}
	for i := 0; i < len(a.Token); i++ {
		if a.Token[i] <= 0x20 || a.Token[i] > 0x7e {
			return nil, errors.New("aauth: the parent's token has a byte that cannot be sent in Signature-Key")
		}
	}
	if a.ExpiresIn < 0 || a.ExpiresIn >= maxExpiresIn {
		return nil, errors.New("aauth: the parent's answer has expires_in out of range")
	}
	exp := a.Expiry
	if exp.IsZero() && a.ExpiresIn > 0 {
		exp = time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return &Token{Value: a.Token, ExpiresIn: a.ExpiresIn, Expiry: exp}, nil
}

// errParentAnswer marks an *ExchangeError made from a parent's answer.
var errParentAnswer = errors.New("answered by the parent agent")

// ParentFunc adapts a function to aauth.Parent, the interface a
// sub-agent's Transport gets its tokens through: typically a function that
// sends the request to a parent in another process and reads its
// SubagentAnswer back.
//
//	parent := psclient.ParentFunc(func(ctx context.Context, req psclient.SubagentRequest) (*psclient.Token, error) {
//		if err := enc.Encode(req); err != nil {
//			return nil, err
//		}
//		var a psclient.SubagentAnswer
//		if err := dec.Decode(&a); err != nil {
//			return nil, err
//		}
//		return a.Result()
//	})
type ParentFunc func(ctx context.Context, req SubagentRequest) (*Token, error)

// SubagentToken calls f(ctx, req).
func (f ParentFunc) SubagentToken(ctx context.Context, req SubagentRequest) (*Token, error) {
	return f(ctx, req)
}
