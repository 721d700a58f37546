package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

// explainer writes the --explain trace: one line per HTTP exchange the
// agent makes (seen on the wire, below the Transport) and one per step the
// Transport reports (its events). Requests to another origin than the one
// fetched, the person server's, are indented under the step that made
// them. Tokens appear only abbreviated (aauth.Redact):
//
//	→ GET http://127.0.0.1:41235/data (agent token)
//	← 401 requirement=person-token
//	· requesting a person token for http://127.0.0.1:41235 at http://127.0.0.1:41236
//	  → POST http://127.0.0.1:41236/aauth/token/person (agent token)
//	  ← 200 OK
//	· person token cached: eyJhbG…[598 bytes]
//	↻ retrying with the person token
type explainer struct {
	mu     sync.Mutex
	w      io.Writer
	origin string // scheme://host of the URL fetched
	hwk    bool   // the agent signs with a bare key, not an agent token
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
// when indent is set.
func (x *explainer) line(indent bool, format string, args ...any) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if indent {
		io.WriteString(x.w, "  ")
	}
	fmt.Fprintf(x.w, format+"\n", args...)
}

// wire returns a RoundTripper that traces every request sent through base
// and its answer. The Transport's own events do not cover the person
// server's answers or the polls; the wire sees them all.
func (x *explainer) wire(base http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		indent := originOf(req.URL) != x.origin
		x.line(indent, "→ %s %s%s", req.Method, showURL(req.URL), presented(req))
		resp, err := base.RoundTrip(req)
		if err != nil {
			x.line(indent, "✗ no answer: %s", clip(err.Error(), 300))
			return nil, err
		}
		x.line(indent, "← %s", answer(resp))
		return resp, nil
	})
}

// roundTripperFunc adapts a function to an http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// presented says which credential a signed request presents, from its
// Signature-Key and Authorization headers: " (agent token)", " (auth
// token)", " (session token)", " (public key)", or "" when unsigned.
func presented(req *http.Request) string {
	v := req.Header.Get("Signature-Key")
	if v == "" {
		return ""
	}
	sk, err := wire.ParseSignatureKey(v)
	if err != nil {
		return " (signed)"
	}
	what := ""
	switch sk.Scheme {
	case wire.SchemeHWK:
		what = "public key"
	case wire.SchemeJWT:
		what = tokenKind(sk.Token)
	case wire.SchemeJKTJWT:
		what = "key-refresh token"
	default:
		what = string(sk.Scheme) + " key"
	}
	if req.Header.Get("Authorization") != "" {
		what = "session token, signed with the " + what
	}
	return " (" + what + ")"
}

// answer describes a response in one line: its status and what it asks
// for (an AAuth requirement, a Signature-Error, a pending Location) or
// what went wrong (an error body's code), and a session token it hands
// out.
func answer(resp *http.Response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", resp.StatusCode)
	detail := false
	if ch, present, err := wire.ParseRequirementHeader(resp.Header); present {
		detail = true
		if err != nil {
			b.WriteString(" malformed AAuth-Requirement")
		} else {
			// Challenge.String abbreviates the resource token.
			b.WriteString(" requirement=" + oneLine(ch.String()))
		}
	}
	if se := resp.Header.Get("Signature-Error"); se != "" {
		detail = true
		b.WriteString(" Signature-Error: " + clip(se, 200))
	}
	if resp.StatusCode == http.StatusAccepted {
		if loc := resp.Header.Get("Location"); loc != "" {
			detail = true
			b.WriteString(" pending at " + clip(loc, 300))
		}
	}
	if !detail && resp.StatusCode >= 400 {
		// An error body says why; ReadProblem puts it back for the
		// Transport. Problem.String is cleaned and short.
		if p, _ := wire.ReadProblem(resp); p != nil && p.String() != "" {
			detail = true
			b.WriteString(" " + oneLine(p.String()))
		}
	}
	if !detail {
		b.WriteString(" " + http.StatusText(resp.StatusCode))
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && ra != "0" {
		b.WriteString(", retry after " + clip(ra, 40))
		if _, err := strconv.Atoi(ra); err == nil {
			b.WriteString("s")
		}
	}
	if tok, ok, err := wire.ParseAccess(resp.Header); ok && err == nil {
		b.WriteString(", session token " + aauth.Redact(tok))
	}
	return b.String()
}

// event renders one step the Transport reports. The steps the wire already
// shows (signed, challenge) are skipped, and so are the interaction and
// clarification steps, which the prompts show.
func (x *explainer) event(ev aauth.Event) {
	switch ev.Step {
	case aauth.StepPersonToken, aauth.StepExchange:
		x.line(false, "· %s at %s", ev.Detail, ev.URL)
	case aauth.StepPending:
		x.line(false, "· the resource deferred the request; polling it")
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

// credential names a credential kind of an event.
func (x *explainer) credential(kind string) string {
	if kind == "agent" && x.hwk {
		return "public key"
	}
	return kind + " token"
}
