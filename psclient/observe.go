package psclient

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
)

// An Observation reports one step of this package's work on the wire: a
// request it sent to a person server or a pending URL and how it was
// answered, or the start of polling. It never carries a token: URL has no
// query, fragment or user info, and the answer's body is not in it.
type Observation struct {
	Kind   ObservationKind
	Method string // the request's method; "" for ObservedDeferred, which sends none
	URL    string // the URL requested (the pending URL, for ObservedDeferred)
	Status int    // the answer's status; 0 when no answer came (Err says why)

	// Wait is, for ObservedDeferred and ObservedPoll, how long polling
	// waits before the next poll, as the server and the profile asked; 0
	// when the answer ended polling.
	Wait time.Duration

	Err error // the request got no answer: the client's error
}

// ObservationKind says what an Observation reports.
type ObservationKind string

// The kinds of Observation.
const (
	ObservedMetadata   ObservationKind = "metadata"   // the metadata document was fetched
	ObservedToken      ObservationKind = "token"      // a token endpoint was asked for a token
	ObservedGovernance ObservationKind = "governance" // a mission, permission, audit or relay endpoint was called
	ObservedDeferred   ObservationKind = "deferred"   // a 202 deferred a request: polling starts after Wait
	ObservedPoll       ObservationKind = "poll"       // a pending URL was polled
	ObservedAnswer     ObservationKind = "answer"     // an answer was posted to a pending URL (clarification, updated request)
	ObservedCancel     ObservationKind = "cancel"     // a pending request was cancelled (DELETE)
)

type observerKey struct{}

// WithObserver returns ctx under which the functions of this package call
// f with an Observation after each request they send and when polling
// starts, in order, on the goroutine that sent the request: f must return
// quickly. It is how an agent traces the person-server side of its work
// (aauth.Transport turns observations into its Events).
func WithObserver(ctx context.Context, f func(Observation)) context.Context {
	return context.WithValue(ctx, observerKey{}, f)
}

// observe tells ctx's observer, if any, about o.
func observe(ctx context.Context, o Observation) {
	if f, _ := ctx.Value(observerKey{}).(func(Observation)); f != nil {
		f(o)
	}
}

// observed tells ctx's observer, if any, how a request to rawURL ended.
func observed(ctx context.Context, kind ObservationKind, method, rawURL string, resp *http.Response, err error) {
	f, _ := ctx.Value(observerKey{}).(func(Observation))
	if f == nil {
		return
	}
	o := Observation{Kind: kind, Method: method, URL: bareURL(rawURL)}
	if err != nil {
		o.Err = safetext.ShortURLError(err)
	}
	if resp != nil {
		o.Status = resp.StatusCode
	}
	f(o)
}

// bareURL is raw without user info, query and fragment, which may carry
// secrets.
func bareURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
