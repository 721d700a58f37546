package aauth

import (
	"errors"
	"net/http"

	"github.com/aauthgo/aauth/psclient"
)

// Errors of the Transport's flow.
var (
	// ErrNoPersonServer: a resource asked for a person or auth token and
	// the Transport has no person server: no PersonServer, no
	// PersonServerMetadata, and no usable ps claim in the agent token.
	ErrNoPersonServer = errors.New("aauth: no person server configured")

	// ErrTooManySteps: the resource kept asking for more than one request
	// can reasonably need (the same requirement again and again, for
	// instance). The flow stops rather than loop.
	ErrTooManySteps = errors.New("aauth: too many steps")

	// ErrResourceToken: a resource token failed the agent's checks (it was
	// not issued by the resource called, for this agent's key, for this
	// person server, or it has expired) and was not exchanged. It is
	// psclient.ErrResourceToken, the same value.
	ErrResourceToken = psclient.ErrResourceToken
)

// NotReplayableError is returned by Transport.RoundTrip when the server's
// answer calls for a retry (a token to present, a corrected signature) but
// the request body cannot be sent again because the request has no
// GetBody. Response is that answer, unread: the caller must close its Body.
// Requests made with http.NewRequest and a *bytes.Buffer, *bytes.Reader or
// *strings.Reader body always have GetBody.
type NotReplayableError struct {
	Response *http.Response
	Reason   string
}

// Error says why the request was not retried.
func (e *NotReplayableError) Error() string {
	status := ""
	if e.Response != nil {
		status = " after " + http.StatusText(e.Response.StatusCode)
	}
	return "aauth: cannot retry the request" + status + ": " + e.Reason
}
