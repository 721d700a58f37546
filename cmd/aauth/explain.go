package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/psclient"
)

// explainer writes the --explain trace from the Transport's events alone:
// one "→" line per request the agent sends (to the resource, to the
// person server, to a pending URL) and one "←" line for its answer, and
// one line per other step. Requests to another origin than the one
// fetched, the person server's, are indented. Tokens appear only
// abbreviated (aauth.Redact):
//
//	→ GET http://127.0.0.1:41235/data (agent token)
//	← 401 requirement=person-token
//	· requesting a person token for http://127.0.0.1:41235 at http://127.0.0.1:41236
//	  → GET http://127.0.0.1:41236/.well-known/aauth-person.json (agent token)
//	  ← 200 OK
//	  → POST http://127.0.0.1:41236/aauth/token/person (agent token)
//	  ← 200 OK
//	· person token cached: eyJhbG…[598 bytes]
//	↻ retrying with the person token
type explainer struct {
	mu     sync.Mutex
	w      io.Writer
	origin string // scheme://host of the URL fetched
	hwk    bool   // the agent signs with a bare key, not an agent token

	// answer is the "←" line of the last request, held until the next
	// event says whether it can tell more (a challenge, a session token).
	answer       string
	answerIndent bool
}

// newExplainer returns an explainer writing to w for a fetch of target.
func newExplainer(w io.Writer, target *url.URL, hwk bool) *explainer {
	return &explainer{w: w, origin: originOf(target), hwk: hwk}
}

// originOf returns scheme://host[:port] of u, lower case and without the
// default port, to tell the resource's requests from the person server's.
func originOf(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal
	}
	return scheme + "://" + host
}

// line writes one line of the trace, indented under the step above it
// when indent is set. x.mu is held.
func (x *explainer) line(indent bool, format string, args ...any) {
	if indent {
		io.WriteString(x.w, "  ")
	}
	fmt.Fprintf(x.w, format+"\n", args...)
}

// flush writes the answer held, if any. x.mu is held.
func (x *explainer) flush() {
	if x.answer != "" {
		x.line(x.answerIndent, "%s", x.answer)
		x.answer = ""
	}
}

// Write writes p to the trace's writer after the answer line held, so
// that text of the command's own (a prompt, the demo's narration) comes
// in order with the trace.
func (x *explainer) Write(p []byte) (int, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.flush()
	return x.w.Write(p)
}

// done writes what is still held, once the request has ended.
func (x *explainer) done() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.flush()
}

// indented reports whether a URL is on another origin than the one
// fetched: the person server's.
func (x *explainer) indented(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && originOf(u) != x.origin
}

// event renders one step the Transport reports. The interaction and
// clarification steps are left to the prompts, which show them.
func (x *explainer) event(ev aauth.Event) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case ev.Step == aauth.StepChallenge && x.answer != "":
		// The answer held is the 401 this challenge is about.
		x.answer = fmt.Sprintf("← %d %s", ev.Status, clip(ev.Detail, 300))
		x.flush()
		return
	case ev.Step == aauth.StepTokenCached && ev.Credential == "session" && x.answer != "":
		x.answer += ", session token " + ev.Token
	}
	x.flush()
	switch ev.Step {
	case aauth.StepSigned, aauth.StepPersonServer, aauth.StepPoll:
		x.request(ev)
	case aauth.StepPersonToken, aauth.StepExchange:
		if ev.URL == "" {
			// A sub-agent's step: its parent makes the request.
			x.line(false, "· %s", ev.Detail)
			return
		}
		x.line(false, "· %s at %s", ev.Detail, ev.URL)
	case aauth.StepPending:
		x.line(false, "· the resource deferred the request")
	case aauth.StepMission, aauth.StepGovernance, aauth.StepRelay:
		x.line(false, "· %s", ev.Detail)
	case aauth.StepTokenCached:
		x.line(false, "· %s token cached: %s", ev.Credential, ev.Token)
	case aauth.StepRetry:
		x.line(false, "↻ retrying with the %s", x.credential(ev.Credential))
	case aauth.StepDone:
		mark := "✓"
		if ev.Status >= 400 {
			mark = "✗"
		}
		x.line(false, "%s %d %s, presenting the %s", mark, ev.Status, http.StatusText(ev.Status), x.credential(ev.Credential))
	case aauth.StepError:
		if ev.Method != "" {
			// The request failed; the error line that ends the output
			// says why.
			x.line(false, "✗ %s", ev.Detail)
			return
		}
		msg := ev.Detail
		if ev.Err != nil {
			msg += ": " + trimPrefix(ev.Err)
		}
		x.line(false, "✗ %s", clip(msg, 300))
	}
}

// observation renders what the person-server client reports when the
// command calls it directly (the governance commands), as the
// Transport's events would say it: the requests are signed with the agent
// token.
func (x *explainer) observation(o psclient.Observation) {
	ev := aauth.Event{Step: aauth.StepPoll, Method: o.Method, URL: o.URL, Status: o.Status, Credential: "agent", Err: o.Err}
	switch o.Kind {
	case psclient.ObservedMetadata, psclient.ObservedToken, psclient.ObservedGovernance:
		ev.Step = aauth.StepPersonServer
	case psclient.ObservedDeferred:
		ev.Detail = "deferred; first poll in " + o.Wait.String()
	case psclient.ObservedPoll:
		if o.Wait > 0 {
			ev.Detail = "polled; next poll in " + o.Wait.String()
		}
	}
	x.event(ev)
}

// request renders a request the agent sent and, held until the next
// event, its answer; or the start of polling, which sends nothing.
func (x *explainer) request(ev aauth.Event) {
	indent := x.indented(ev.URL)
	if ev.Method == "" {
		// A deferral: polling starts.
		x.line(indent, "· polling %s, %s", clip(ev.URL, 300), strings.TrimPrefix(ev.Detail, "deferred; "))
		return
	}
	x.line(indent, "→ %s %s (%s)", ev.Method, clip(ev.URL, 300), x.credential(ev.Credential))
	if ev.Err != nil {
		x.line(indent, "✗ no answer: %s", clip(trimPrefix(ev.Err), 300))
		return
	}
	answer := fmt.Sprintf("← %d %s", ev.Status, http.StatusText(ev.Status))
	if next, ok := strings.CutPrefix(ev.Detail, "polled; "); ok && strings.HasPrefix(next, "next poll") {
		answer += "; " + next
	}
	x.answer, x.answerIndent = answer, indent
}

// parentEvent renders a step of a sub-agent's parent, which runs in the
// same process: its requests to the person server are traced as the
// sub-agent's own are, and its token requests say that they are made for
// the sub-agent.
func (x *explainer) parentEvent(ev aauth.Event) {
	switch ev.Step {
	case aauth.StepPersonToken, aauth.StepExchange:
		x.mu.Lock()
		defer x.mu.Unlock()
		x.flush()
		x.line(true, "· the parent is %s at %s (signed with the parent's agent token, the sub-agent's in subagent_token; the token is bound to the sub-agent's key)", lowerFirst(ev.Detail), ev.URL)
	case aauth.StepPersonServer, aauth.StepPoll, aauth.StepChallenge:
		x.event(ev)
	case aauth.StepError:
		if ev.Err != nil {
			x.mu.Lock()
			defer x.mu.Unlock()
			x.flush()
			x.line(true, "✗ the parent: %s", clip(trimPrefix(ev.Err), 300))
		}
	}
}

func lowerFirst(s string) string {
	if s != "" && s[0] >= 'A' && s[0] <= 'Z' {
		return string(s[0]+'a'-'A') + s[1:]
	}
	return s
}

// credential names a credential kind of an event.
func (x *explainer) credential(kind string) string {
	if kind == "agent" && x.hwk {
		return "public key"
	}
	return kind + " token"
}
