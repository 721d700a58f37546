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
	"strconv"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/clock"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/internal/whatwg"
	"github.com/aauthgo/aauth/wire"
)

// Clock is the time source of polling: Now tells the time, Sleep waits
// (returning ctx.Err() early when ctx is done). Tests supply a virtual
// clock so that minutes of polling run in microseconds.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// maxClarificationRounds bounds how many questions one deferred request may
// ask; servers allow about five, so more means a loop.
const maxClarificationRounds = 10

// maxInteractionRounds bounds how many distinct interactions (url, code)
// one deferred request may announce: a server may hand out a new code now
// and then, but one that hands out a new code on every poll would have the
// agent send the person to a new page every few seconds.
const maxInteractionRounds = 10

// cancelTimeout bounds the DELETE sent to abandon a pending request;
// cancelGrace bounds it when the caller's context is already done.
const (
	cancelTimeout = 10 * time.Second
	cancelGrace   = time.Second
)

// A server may ask for the next poll at once (Retry-After: 0), and the
// agent does so, but only maxQuickPolls times in a row: after that every
// wait is at least minPollInterval, so that a server answering "202,
// Retry-After: 0" forever is not polled in a tight loop until MaxDuration.
const (
	maxQuickPolls   = 5
	minPollInterval = time.Second
)

// Clarification is a question a person server (or resource) asks while a
// request is deferred: the clarification member of a 202 body.
type Clarification struct {
	// Question is the text, in Markdown.
	Question string

	// Timeout is how long the server waits for the answer; zero when it
	// did not say. The callback's context carries it as a deadline.
	Timeout time.Duration

	// Options are suggested answers, when the server offered any.
	Options []string
}

// PollOptions configures PollDeferred and FollowDeferred.
type PollOptions struct {
	// Profile selects the wire generation: timings, and how a
	// clarification answer is written.
	Profile wire.Profile

	// RequestURL is the URL of the request that produced the 202. A
	// relative Location is resolved against it, and every Location must
	// be on its origin. When empty, FollowDeferred uses the 202's own
	// request URL; PollDeferred then requires an absolute location and
	// checks no origin.
	RequestURL string

	// MaxDuration bounds the whole polling; zero means the profile's
	// default (900 s current, 300 s seed), and a negative value means no
	// bound but the context's. When it passes, polling stops with
	// ErrTimeout.
	MaxDuration time.Duration

	// OnInteraction is called when a 202 carries
	// AAuth-Requirement: requirement=interaction; url="…"; code="…": the
	// agent should send the person to url (with ?code=code) or show both.
	// Only URLs CheckInteractionURL accepts reach it: any other ends
	// polling with an *InteractionURLError and cancels the pending
	// request.
	// It is called once per distinct (url, code) pair, and not while the
	// server reports status "interacting". An error cancels the pending
	// request and ends polling with an error matching ErrInteraction; so
	// does an eleventh distinct pair, from a server that keeps handing out
	// new codes.
	// Nil means nobody is told; polling goes on, since the person may
	// complete the interaction by other means.
	OnInteraction func(ctx context.Context, url, code string) error

	// OnClarification is called when a 202 body asks a question. Its
	// answer is posted to the pending URL and polling goes on. An error
	// cancels the pending request with a signed DELETE and ends polling
	// with an error matching ErrClarification. Nil means questions are
	// ignored and polling goes on.
	OnClarification func(ctx context.Context, q Clarification) (string, error)

	// Clock is the time source for waits and the deadline; nil means the
	// system clock.
	Clock Clock
}

// PollDeferred polls the pending URL location of a deferred request (the
// Location of a 202) until the request ends, and returns the final 200
// response, whose body the caller must close. It is the Go form of the
// JavaScript pollDeferred.
//
// Each poll is a GET with Prefer: wait=N sent through client, which signs
// it (the same identity that made the deferred request). Between polls it
// waits as the profile says: the current profile honours Retry-After
// (seconds or an HTTP date), waits 5 s without one, adds 5 s per 429 and
// backs off on 503; the seed profile backs off from 1 s to 5 s (30 s on
// 503) as the JavaScript package does. A wait never runs past
// MaxDuration, and after five immediate polls in a row (Retry-After: 0)
// the next waits are at least a second.
//
// A 202 may ask for something while it waits:
//   - requirement=interaction: OnInteraction, once per (url, code);
//   - a clarification in the body: OnClarification, then the answer is
//     posted (see AnswerClarification);
//   - requirement=approval: nothing, polling goes on;
//   - requirement=auth-token (current profile): polling stops with an
//     *AuthTokenRequiredError, for the caller to exchange the resource
//     token and poll again presenting the auth token.
//
// Any other final status is a *PollError (errors.Is: ErrDenied,
// ErrAbandoned, ErrRevoked, ErrExpired, ErrGone, ErrServer,
// ErrASUnreachable). MaxDuration gives ErrTimeout and ctx its own error,
// both promptly, in the middle of a wait included.
func PollDeferred(ctx context.Context, client *http.Client, location string, opts PollOptions) (*http.Response, error) {
	p, err := newPoller(client, opts, opts.RequestURL)
	if err != nil {
		return nil, err
	}
	loc, err := p.resolve(location, "")
	if err != nil {
		return nil, err
	}
	return p.run(ctx, loc)
}

// FollowDeferred handles a 202 a request received and polls it to the end,
// as PollDeferred does: it reads the 202's Location (resolved against
// opts.RequestURL, or else resp.Request.URL), acts on what the 202 asks
// (interaction, clarification, auth-token), waits as its Retry-After says
// and polls. It closes resp.Body. A resp that is not a 202 is returned
// unchanged.
func FollowDeferred(ctx context.Context, client *http.Client, resp *http.Response, opts PollOptions) (*http.Response, error) {
	if resp == nil {
		return nil, errors.New("aauth: FollowDeferred needs a response")
	}
	if resp.StatusCode != http.StatusAccepted {
		return resp, nil
	}
	base := opts.RequestURL
	if base == "" && resp.Request != nil && resp.Request.URL != nil {
		base = resp.Request.URL.String()
	}
	p, err := newPoller(client, opts, base)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.Header.Get("Location") == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: a 202 response has no Location", ErrLocation)
	}
	loc, err := p.resolve(resp.Header.Get("Location"), "")
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if err := p.checkDeadline(ctx); err != nil {
		resp.Body.Close()
		return nil, err
	}
	// The wait depends on the answer alone: it is chosen, and told, before
	// the 202 is acted on (a prompt, a question), so that a trace reads in
	// order.
	wait := p.delay(resp, true)
	observe(ctx, Observation{Kind: ObservedDeferred, URL: bareURL(loc), Status: resp.StatusCode, Wait: wait})
	loc, err = p.on202(ctx, loc, "", resp)
	if err != nil {
		return nil, err
	}
	if err := p.sleep(ctx, wait); err != nil {
		return nil, err
	}
	return p.run(ctx, loc)
}

// poller is the state of one polling run.
type poller struct {
	client   *http.Client
	opts     PollOptions
	p        wire.Profile
	clock    Clock
	real     bool     // clock is the system clock
	base     *url.URL // RequestURL, or nil
	deadline time.Time
	max      time.Duration
	seen     map[[2]string]bool // interaction (url, code) pairs notified
	rounds   int                // clarification questions answered
	ixRounds int                // interactions announced
	backoff  time.Duration      // seed: the shared 1 s → 5 s / 30 s backoff
	slow     time.Duration      // current: added by 429 slow_down answers
	busy     time.Duration      // current: the 503 backoff
	quick    int                // waits shorter than minPollInterval in a row
}

func newPoller(client *http.Client, opts PollOptions, base string) (*poller, error) {
	if client == nil {
		return nil, errors.New("aauth: polling needs an *http.Client")
	}
	p := &poller{client: client, opts: opts, p: opts.Profile, clock: opts.Clock, seen: map[[2]string]bool{}}
	if p.clock == nil {
		p.clock, p.real = clock.System, true
	}
	t, err := profile.Check(p.p)
	if err != nil {
		return nil, err
	}
	p.backoff = t.PollDefault
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("aauth: PollOptions.RequestURL %q is not an absolute URL", safetext.Clean(base, 256))
		}
		p.base = u
	}
	p.max = opts.MaxDuration
	if p.max == 0 {
		p.max = t.MaxPollDuration
	}
	if p.max > 0 {
		p.deadline = p.clock.Now().Add(p.max)
	}
	return p, nil
}

// resolve turns a Location into the absolute URL to poll: resolved
// against the URL of the request that produced it (ref; the RequestURL
// when empty), and refused on another origin than the RequestURL (or, with
// none, than the first pending URL).
func (p *poller) resolve(loc, ref string) (string, error) {
	if len(loc) > httpx.LocationMaxLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrLocation, httpx.LocationMaxLen)
	}
	u, err := url.Parse(strings.TrimSpace(loc))
	if err != nil || loc == "" {
		return "", fmt.Errorf("%w: %q is not a URL", ErrLocation, safetext.Clean(loc, 256))
	}
	base := p.base
	if ref != "" {
		if r, err := url.Parse(ref); err == nil {
			base = r
		}
	}
	if base != nil {
		u = base.ResolveReference(u)
	} else if !u.IsAbs() {
		return "", fmt.Errorf("%w: %q is relative and there is no request URL to resolve it against", ErrLocation, safetext.Clean(loc, 256))
	}
	if s := strings.ToLower(u.Scheme); s != "https" && s != "http" || u.Host == "" {
		return "", fmt.Errorf("%w: %q is not an http(s) URL", ErrLocation, safetext.Clean(loc, 256))
	}
	if p.base == nil {
		// Nothing to compare with: the caller vouches for this URL, and
		// later ones must stay on its origin.
		b := *u
		p.base = &b
	} else if !sameOrigin(u, p.base) {
		return "", fmt.Errorf("%w: %q is not on the origin of %q", ErrLocation, safetext.Clean(u.String(), 256), safetext.Clean(p.base.String(), 256))
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// sameOrigin compares scheme, host and port as a browser would.
func sameOrigin(a, b *url.URL) bool {
	sa, sb := strings.ToLower(a.Scheme), strings.ToLower(b.Scheme)
	if sa != sb {
		return false
	}
	ha, err1 := whatwg.Authority(sa, a.Host)
	hb, err2 := whatwg.Authority(sb, b.Host)
	return err1 == nil && err2 == nil && ha == hb
}

// run is the polling loop.
func (p *poller) run(ctx context.Context, loc string) (*http.Response, error) {
	for {
		if err := p.checkDeadline(ctx); err != nil {
			return nil, err
		}
		resp, err := p.get(ctx, loc)
		if err != nil {
			observed(ctx, ObservedPoll, http.MethodGet, loc, nil, err)
			return nil, err
		}
		// The wait, chosen from the answer alone, is told with it, before
		// the answer is acted on.
		var wait time.Duration
		pending := resp.StatusCode == http.StatusAccepted && !bare202(resp) ||
			resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable
		if pending {
			wait = p.delay(resp, false)
		}
		observe(ctx, Observation{Kind: ObservedPoll, Method: http.MethodGet, URL: bareURL(loc), Status: resp.StatusCode, Wait: wait})
		switch resp.StatusCode {
		case http.StatusOK:
			return resp, nil
		case http.StatusAccepted:
			if !pending {
				// Not a pending answer but the held call's own answer (MCP
				// acknowledges notifications and SSE posts so).
				return resp, nil
			}
			if loc, err = p.on202(ctx, loc, loc, resp); err != nil {
				return nil, err
			}
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			httpx.DrainClose(resp)
		default:
			return nil, p.terminal(loc, resp)
		}
		if err := p.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// bare202 reports whether a 202 carries nothing of AAuth deferral: no
// Location, no AAuth-Requirement, no JSON status body.
func bare202(resp *http.Response) bool {
	return resp.Header.Get("Location") == "" && resp.Header.Get("AAuth-Requirement") == "" &&
		!strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "json")
}

// checkDeadline reports the context's error or ErrTimeout once either is
// due.
func (p *poller) checkDeadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !p.deadline.IsZero() && !p.clock.Now().Before(p.deadline) {
		return fmt.Errorf("%w after %v", ErrTimeout, p.max)
	}
	return nil
}

// sleep waits d, but never past the deadline.
func (p *poller) sleep(ctx context.Context, d time.Duration) error {
	if !p.deadline.IsZero() {
		if left := p.deadline.Sub(p.clock.Now()); d > left {
			d = left
		}
	}
	if d < 0 {
		d = 0
	}
	return p.clock.Sleep(ctx, d)
}

// get sends one signed poll.
func (p *poller) get(ctx context.Context, loc string) (*http.Response, error) {
	if !p.real || p.deadline.IsZero() {
		return p.send(ctx, ctx, loc)
	}
	// A long poll (Prefer: wait) must not outlive the deadline, and its
	// context must live as long as the body is read.
	rctx, cancel := context.WithDeadline(ctx, p.deadline)
	resp, err := p.send(rctx, ctx, loc)
	if err != nil {
		cancel()
		return nil, err
	}
	body := resp.Body
	resp.Body = httpx.ReadCloser{Reader: body, Closer: closerFunc(func() error { defer cancel(); return body.Close() })}
	return resp, nil
}

func (p *poller) send(rctx, ctx context.Context, loc string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, fmt.Errorf("aauth: poll request: %w", err)
	}
	if w := profile.For(p.p).PreferWait; w > 0 {
		req.Header.Set("Prefer", "wait="+strconv.Itoa(w))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) && !p.deadline.IsZero() && !p.clock.Now().Before(p.deadline) {
			return nil, fmt.Errorf("%w after %v", ErrTimeout, p.max)
		}
		return nil, safetext.Wrap("polling "+safetext.Clean(loc, 256), safetext.ShortURLError(err))
	}
	return resp, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// terminal turns a final non-200 answer into a *PollError, keeping its
// body readable.
func (p *poller) terminal(loc string, resp *http.Response) error {
	problem, err := wire.ReadProblem(resp)
	if err != nil {
		// Too large or unreadable: report the status without details.
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return &PollError{StatusCode: resp.StatusCode, Problem: problem, Location: loc, Response: resp}
}

// on202 acts on one 202: a new Location, an interaction to announce, a
// question to answer, an auth token the server waits for. loc is the
// pending URL so far, ref the URL that produced resp ("" for the request
// URL). It closes the body and returns the URL to poll next.
func (p *poller) on202(ctx context.Context, loc, ref string, resp *http.Response) (string, error) {
	raw, err := httpx.ReadBody(resp)
	if err != nil {
		return "", safetext.Wrap("deferred response from "+safetext.Clean(loc, 256), err)
	}
	if l := resp.Header.Get("Location"); l != "" {
		next, err := p.resolve(l, ref)
		if err != nil {
			return "", err
		}
		loc = next
	}
	var body pollBody
	if httpx.JSONContent(resp.Header, true) {
		body = parsePollBody(raw)
	}

	// A malformed or unknown requirement on a 202 is no reason to stop:
	// the server is still working on the request.
	if c, ok, err := wire.ParseRequirementHeader(resp.Header); ok && err == nil {
		switch c.Requirement {
		case wire.RequirementAuthToken:
			if profile.For(p.p).DeferredAuthToken {
				return "", &AuthTokenRequiredError{Challenge: c, Location: loc}
			}
		case wire.RequirementInteraction:
			if err := p.interaction(ctx, loc, c.URL, c.Code, body.Status); err != nil {
				return "", err
			}
		}
	}

	if q := body.Clarification; q != nil && p.opts.OnClarification != nil {
		if err := p.clarify(ctx, loc, *q); err != nil {
			return "", err
		}
	}
	return loc, nil
}

// checkInteractionForm applies -11's rule that an interaction URL has no
// query or fragment (the person is sent to url?code=code). The seed
// generation had no such rule, and its servers are taken as they are.
func (p *poller) checkInteractionForm(raw string) error {
	if p.p != wire.ProfileCurrent {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return &InteractionURLError{Scheme: schemeOf(raw), Reason: "not a URL"}
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return &InteractionURLError{Scheme: strings.ToLower(u.Scheme), Reason: "it has a query or fragment, which an interaction URL must not have"}
	}
	return nil
}

// interaction tells OnInteraction about a new (url, code) pair. A URL
// CheckInteractionURL refuses ends polling and cancels the pending
// request, whether or not anyone would have been told: the server that
// named it is not to be trusted with the person.
func (p *poller) interaction(ctx context.Context, loc, u, code, status string) error {
	if u == "" || code == "" || status == "interacting" {
		return nil
	}
	if err := CheckInteractionURL(u); err != nil {
		p.abandon(ctx, loc)
		return err
	}
	if err := p.checkInteractionForm(u); err != nil {
		p.abandon(ctx, loc)
		return err
	}
	if p.opts.OnInteraction == nil {
		return nil
	}
	k := [2]string{u, code}
	if p.seen[k] {
		return nil
	}
	p.seen[k] = true
	if p.ixRounds++; p.ixRounds > maxInteractionRounds {
		p.abandon(ctx, loc)
		return fmt.Errorf("%w: more than %d interaction codes", ErrInteraction, maxInteractionRounds)
	}
	if err := p.opts.OnInteraction(ctx, u, code); err != nil {
		p.abandon(ctx, loc)
		return safetext.WithCause(ErrInteraction, err)
	}
	return nil
}

// clarify asks OnClarification and posts the answer.
func (p *poller) clarify(ctx context.Context, loc string, q Clarification) error {
	p.rounds++
	if p.rounds > maxClarificationRounds {
		p.abandon(ctx, loc)
		return fmt.Errorf("%w: more than %d questions", ErrClarification, maxClarificationRounds)
	}
	qctx, cancel := ctx, context.CancelFunc(func() {})
	if q.Timeout > 0 {
		qctx, cancel = context.WithTimeout(ctx, q.Timeout)
	}
	answer, err := p.opts.OnClarification(qctx, q)
	cancel()
	if err != nil {
		p.abandon(ctx, loc)
		return safetext.WithCause(ErrClarification, err)
	}
	return AnswerClarification(ctx, p.client, loc, answer, p.p)
}

// abandon cancels the pending request, best effort: within ctx (and at
// most cancelTimeout), so that a server that never answers the DELETE
// does not hold the caller past its deadline; when ctx is already done,
// for at most cancelGrace.
func (p *poller) abandon(ctx context.Context, loc string) {
	var cctx context.Context
	var cancel context.CancelFunc
	if ctx.Err() == nil {
		cctx, cancel = context.WithTimeout(ctx, cancelTimeout)
	} else {
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), cancelGrace)
	}
	defer cancel()
	_ = CancelRequest(cctx, p.client, loc)
}

// delay is how long to wait after resp (a 202, 429 or 503) before the next
// poll, as the server and the profile say, but never shorter than
// minPollInterval after maxQuickPolls short waits in a row. first marks the
// 202 that started the deferral.
func (p *poller) delay(resp *http.Response, first bool) time.Duration {
	d := p.serverDelay(resp, first)
	if d >= minPollInterval {
		p.quick = 0
		return d
	}
	if p.quick++; p.quick > maxQuickPolls {
		return minPollInterval
	}
	return d
}

// serverDelay is the wait the server and the profile ask for.
func (p *poller) serverDelay(resp *http.Response, first bool) time.Duration {
	t := profile.For(p.p)
	ra, hasRA := parseRetryAfter(resp.Header.Get("Retry-After"), p.clock.Now())
	busy := resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests
	if t.PollBackoff {
		// The seed's one backoff variable, shared by 202 and 503 (and,
		// here, 429), doubling up to 5 s or 30 s.
		if first {
			if hasRA {
				return ra
			}
			if t.FirstPollAtOnce {
				return 0
			}
		}
		wait := p.backoff
		if hasRA {
			wait = ra
		}
		limit := t.PollWaitCap
		if busy {
			limit = t.PollBusyCap
		}
		p.backoff = min(2*p.backoff, limit)
		return wait
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		// slow_down: every later wait is 5 s longer.
		p.slow += t.SlowDownAdd
	case http.StatusServiceUnavailable:
		if hasRA {
			return ra
		}
		if p.busy == 0 {
			p.busy = t.PollDefault
		} else {
			p.busy = min(2*p.busy, t.PollBusyCap)
		}
		return p.busy
	}
	p.busy = 0
	wait := t.PollDefault
	if hasRA {
		wait = ra
	}
	return sat(wait, p.slow)
}

// sat adds durations without overflowing.
func sat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// parseRetryAfter reads a Retry-After value: delta-seconds or an HTTP date
// (RFC 9110 §10.2.3). A date in the past is zero; a number too large for a
// time.Duration is the largest one. ok is false when v is absent, malformed
// or longer than shortHeaderMaxLen.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	if len(v) > httpx.ShortHeaderMaxLen {
		return 0, false
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(math.MaxInt64/int64(time.Second)) {
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d = t.Sub(now); d < 0 {
		d = 0
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// pollBody is what the agent reads from a 202 body.
type pollBody struct {
	Status        string         // "pending", "interacting", …; unknown values count as pending
	Clarification *Clarification // nil when the body asks nothing
}

// parsePollBody reads a 202 body liberally: anything malformed is ignored.
func parsePollBody(b []byte) pollBody {
	var pb pollBody
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return pb
	}
	_ = json.Unmarshal(m["status"], &pb.Status)
	var q string
	if json.Unmarshal(m["clarification"], &q) != nil || q == "" {
		return pb
	}
	c := &Clarification{Question: q}
	var secs float64
	if json.Unmarshal(m["timeout"], &secs) == nil && secs > 0 && secs < 1e9 {
		c.Timeout = time.Duration(secs * float64(time.Second))
	}
	var opts []json.RawMessage
	if json.Unmarshal(m["options"], &opts) == nil {
		for _, o := range opts {
			var s string
			if json.Unmarshal(o, &s) == nil {
				c.Options = append(c.Options, s)
			}
		}
	}
	pb.Clarification = c
	return pb
}

// AnswerClarification posts answer to the pending URL of a deferred request
// that asked a question, signed and (current profile) digest-covered by
// client. The current profile writes
// {"action":"clarification_response","clarification_response":answer}; the
// seed profile {"clarification_response":answer}, as @aauth/mcp-agent
// does. A status other than 2xx is a *PollError.
func AnswerClarification(ctx context.Context, client *http.Client, pendingURL, answer string, p wire.Profile) error {
	t, err := profile.Check(p)
	if err != nil {
		return err
	}
	var o jsonx.Object
	if t.ClarificationAction {
		o.Str("action", "clarification_response")
	}
	o.StrAlways("clarification_response", answer)
	return postPending(ctx, client, pendingURL, o.Bytes())
}

// UpdatedRequest replaces what a deferred request asks for, in answer to a
// clarification (current profile): a new resource token with the same
// issuer, person server, subject, agent key, mission and tenant, the token
// presented to get it, and a new justification.
type UpdatedRequest struct {
	ResourceToken  string // the new resource token; required
	PresentedToken string // the token presented to get it
	Justification  string // why, in Markdown
}

// UpdateRequest posts an updated_request to the pending URL of a deferred
// request: {"action":"updated_request","resource_token":…,
// "presented_token":…,"justification":…}, signed and digest-covered by
// client. Servers of the seed generation do not know this action. A status
// other than 2xx is a *PollError.
func UpdateRequest(ctx context.Context, client *http.Client, pendingURL string, u UpdatedRequest) error {
	if u.ResourceToken == "" {
		return errors.New("aauth: UpdatedRequest.ResourceToken is empty")
	}
	var o jsonx.Object
	o.Str("action", "updated_request")
	o.Str("resource_token", u.ResourceToken)
	o.Str("presented_token", u.PresentedToken)
	o.Str("justification", u.Justification)
	return postPending(ctx, client, pendingURL, o.Bytes())
}

// CancelRequest cancels a deferred request with a signed DELETE on its
// pending URL. A 404 or 410 counts as success: there is nothing left to
// cancel. Any other status outside 2xx is a *PollError.
func CancelRequest(ctx context.Context, client *http.Client, pendingURL string) error {
	if client == nil {
		return errors.New("aauth: CancelRequest needs an *http.Client")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, pendingURL, nil)
	if err != nil {
		return fmt.Errorf("aauth: cancel request: %w", err)
	}
	resp, err := client.Do(req)
	observed(ctx, ObservedCancel, http.MethodDelete, pendingURL, resp, err)
	if err != nil {
		return safetext.Wrap("cancelling "+safetext.Clean(pendingURL, 256), safetext.ShortURLError(err))
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		httpx.DrainClose(resp)
		return nil
	}
	return pendingResult(pendingURL, resp)
}

func postPending(ctx context.Context, client *http.Client, pendingURL string, body []byte) error {
	if client == nil {
		return errors.New("aauth: posting to a pending URL needs an *http.Client")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, pendingURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("aauth: pending request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	observed(ctx, ObservedAnswer, http.MethodPost, pendingURL, resp, err)
	if err != nil {
		return safetext.Wrap("posting to "+safetext.Clean(pendingURL, 256), safetext.ShortURLError(err))
	}
	return pendingResult(pendingURL, resp)
}

// pendingResult is nil for a 2xx answer and a *PollError otherwise.
func pendingResult(pendingURL string, resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		httpx.DrainClose(resp)
		return nil
	}
	problem, err := wire.ReadProblem(resp)
	if err != nil {
		resp.Body.Close()
		resp.Body = http.NoBody
	}
	return &PollError{StatusCode: resp.StatusCode, Problem: problem, Location: pendingURL, Response: resp}
}
