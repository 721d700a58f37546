package aauth

import (
	"context"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/r3"
)

// Step names a step of the AAuth flow, as reported in an Event.
type Step string

// The steps a Transport reports.
const (
	StepSigned        Step = "signed"        // a request was signed and sent
	StepChallenge     Step = "challenge"     // a 401 asked for something (AAuth-Requirement or Signature-Error)
	StepPersonToken   Step = "person-token"  // a person token was requested from the person server
	StepExchange      Step = "exchange"      // a resource token was exchanged for an auth token
	StepPending       Step = "pending"       // a 202 deferred the request; polling
	StepInteraction   Step = "interaction"   // the person must visit a URL
	StepClarification Step = "clarification" // the server asked a question
	StepPersonServer  Step = "person-server" // the person server answered a request (its metadata, a token or governance request)
	StepPoll          Step = "poll"          // a pending URL was polled, answered or cancelled; Detail says the wait chosen
	StepTokenCached   Step = "token-cached"  // a token was stored for reuse
	StepRetry         Step = "retry"         // the request is sent again with a new credential
	StepDone          Step = "done"          // the response is returned to the caller
	StepError         Step = "error"         // the flow ended with an error
)

// Event reports one step of a Transport's work on a request. It never
// carries a token value: Credential says which kind of token was involved
// and Token, when set, is a redacted form (see Redact). Text a server chose
// (a URL, a question, an error code) is cleaned of control characters and
// shortened.
type Event struct {
	Time       time.Time
	Step       Step
	Method     string // of the request the step made (signed, person-server, poll), or else of the caller's request
	URL        string // the URL the step talked to (resource, person server or pending URL)
	Status     int    // HTTP status of the answer, when there was one
	Credential string // the token presented: "agent", "person", "auth" or "session"
	Token      string // redacted token, when one was obtained or presented
	Detail     string // a short human-readable description
	Err        error  // set on StepError and on steps that failed

	// Budget is what the resource reported of the auth token's budget in
	// AAuth-Budget (Budgets draft), on the StepSigned of its answer.
	Budget *r3.Budget
	// Reason is the reason parameter of a challenge's requirement, such
	// as "budget-exhausted" or "insufficient-budget".
	Reason string
}

// String describes ev in one line, for logs and %v: the step, the method
// and URL of the request, the status of the answer, the credential
// presented, the detail and the error, each when set, such as
//
//	signed GET https://r.example/x → 401 (agent token): sent GET presenting the agent token
//
// It never shows a token, not even the redacted Token field, and cleans
// every part of control characters, so one event is one line.
func (ev Event) String() string {
	var b strings.Builder
	b.WriteString(safetext.Clean(string(ev.Step), 64))
	if ev.Method != "" {
		b.WriteByte(' ')
		b.WriteString(safetext.Clean(ev.Method, 64))
	}
	if ev.URL != "" {
		b.WriteByte(' ')
		b.WriteString(safetext.Clean(ev.URL, maxEventText))
	}
	if ev.Status != 0 {
		b.WriteString(" → ")
		b.WriteString(strconv.Itoa(ev.Status))
	}
	if ev.Credential != "" {
		b.WriteString(" (")
		b.WriteString(safetext.Clean(ev.Credential, 64))
		b.WriteString(" token)")
	}
	if ev.Detail != "" {
		b.WriteString(": ")
		b.WriteString(safetext.Clean(ev.Detail, maxEventText))
	}
	if ev.Err != nil {
		b.WriteString(": ")
		b.WriteString(safetext.Clean(ev.Err.Error(), maxEventText))
	}
	return b.String()
}

// observed reports whether anyone reads the events: the hot path builds
// none (their URLs and details cost allocations) when no one does.
func (t *Transport) observed() bool { return t.OnEvent != nil || t.Logger != nil }

// maxEventText bounds the URL, the detail and the error text of an event.
const maxEventText = 1024

// emit sends ev to the Transport's OnEvent and Logger.
func (t *Transport) emit(ctx context.Context, ev Event) {
	if !t.observed() {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = t.clock().Now()
	}
	// A last bound on what reaches a log: the steps shorten what servers
	// say, but nothing unbounded may get through.
	ev.URL, ev.Detail = safetext.Clean(ev.URL, maxEventText), safetext.Clean(ev.Detail, maxEventText)
	if t.OnEvent != nil {
		t.OnEvent(ev)
	}
	if t.Logger != nil {
		level := slog.LevelDebug
		if ev.Step == StepError {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("step", string(ev.Step)), slog.String("url", ev.URL)}
		if ev.Status != 0 {
			attrs = append(attrs, slog.Int("status", ev.Status))
		}
		if ev.Credential != "" {
			attrs = append(attrs, slog.String("credential", ev.Credential))
		}
		if ev.Token != "" {
			attrs = append(attrs, slog.String("token", ev.Token))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("error", safetext.Clean(ev.Err.Error(), maxEventText)))
		}
		t.Logger.LogAttrs(ctx, level, "aauth: "+ev.Detail, attrs...)
	}
}

// observePS has the person-server client (package psclient) report what
// it sends for this run, when anyone reads the events: each request to the
// person server becomes a StepPersonServer event, each poll (and answer,
// and cancellation) of a pending URL a StepPoll event.
func (r *run) observePS() {
	if r.t.observed() {
		r.ctx = psclient.WithObserver(r.ctx, r.observe)
	}
}

// observe turns an observation into an Event. The person server's
// requests are signed with the agent token; a pending URL of the resource
// with the credential credClient last signed with. It may be called from
// another goroutine than the run's (a relay's watcher): it reads nothing
// of the run that changes, but that atomic.
func (r *run) observe(o psclient.Observation) {
	ev := Event{Step: StepPoll, Method: o.Method, URL: safetext.Clean(o.URL, 256), Status: o.Status, Credential: credAgent.String(), Err: o.Err}
	if u, err := url.Parse(o.URL); err == nil {
		if origin, err := originOf(u); err == nil && origin == r.origin {
			ev.Credential = credKind(r.polledWith.Load()).String()
		}
	}
	switch o.Kind {
	case psclient.ObservedMetadata:
		ev.Step, ev.Detail = StepPersonServer, "metadata"
	case psclient.ObservedToken:
		ev.Step, ev.Detail = StepPersonServer, "token request"
	case psclient.ObservedGovernance:
		ev.Step, ev.Detail = StepPersonServer, "governance request"
	case psclient.ObservedDeferred:
		// No request of its own: no credential presented.
		ev.Credential, ev.Detail = "", "deferred; first poll in "+o.Wait.String()
	case psclient.ObservedPoll:
		ev.Detail = "polled; next poll in " + o.Wait.String()
		if o.Wait == 0 && o.Status != 0 && o.Status != 202 && o.Status != 429 && o.Status != 503 {
			ev.Detail = "polled; polling ended"
		}
	case psclient.ObservedAnswer:
		ev.Detail = "answer posted"
	case psclient.ObservedCancel:
		ev.Detail = "pending request cancelled"
	default:
		ev.Detail = safetext.Clean(string(o.Kind), 64)
	}
	if o.Err != nil {
		ev.Detail += ": no answer"
	}
	r.t.emit(r.ctx, ev)
}
