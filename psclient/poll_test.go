package psclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/clock"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// psPollServer serves the answers in order on /pending/1 (the last one
// repeating) and accepts answers and cancellation there.
func psPollServer(t *testing.T, answers ...http.HandlerFunc) *psServer {
	s := newPSServer(t)
	s.Mux.HandleFunc("GET /pending/1", psSequence(answers...))
	s.Mux.HandleFunc("POST /pending/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	s.Mux.HandleFunc("DELETE /pending/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	return s
}

func psOK200(w http.ResponseWriter, r *http.Request) {
	psJSON(w, 200, map[string]any{"auth_token": "at", "expires_in": 60})
}

func psPend(retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { psPending(w, "/pending/1", retryAfter, "", nil) }
}

func psStatus(code int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func psPoll(t *testing.T, s *psServer, p wire.Profile, opts psclient.PollOptions) (*http.Response, error) {
	t.Helper()
	opts.Profile = p
	if opts.RequestURL == "" {
		opts.RequestURL = s.URL + "/aauth/token"
	}
	return psclient.PollDeferred(psCtx(t), psTestClient(p), "/pending/1", opts)
}

func TestPollReturns200(t *testing.T) {
	for _, p := range psProfiles {
		s := psPollServer(t, psPend("1"), psPend("1"), psOK200)
		fake := psFake()
		resp, err := psPoll(t, s, p, psclient.PollOptions{Clock: fake})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"auth_token":"at"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		reqs := s.requests()
		if len(reqs) != 3 {
			t.Fatalf("%d requests", len(reqs))
		}
		for _, r := range reqs {
			if r.Method != "GET" || r.Path != "/pending/1" || r.Header.Get("Prefer") != "wait=45" || r.Body != "" {
				t.Errorf("%s %s %v", r.Method, r.Path, r.Header)
			}
			checkSigned(t, r, p)
		}
		if got := fake.Sleeps(); len(got) != 2 || got[0] != time.Second || got[1] != time.Second {
			t.Errorf("%s sleeps %v", p, got)
		}
	}
}

func TestPollTerminalStatuses(t *testing.T) {
	cases := []struct {
		status      int
		contentType string
		body        string
		code        string
		is          error
	}{
		{403, "application/problem+json", `{"error":"denied","detail":"No."}`, "denied", psclient.ErrDenied},
		{403, "application/json", `{"error":"denied","error_description":"User denied the request"}`, "denied", psclient.ErrDenied},
		{403, "application/problem+json", `{"error":"abandoned"}`, "abandoned", psclient.ErrAbandoned},
		{403, "application/problem+json", `{"error":"revoked"}`, "revoked", psclient.ErrRevoked},
		{403, "text/plain", "Forbidden", "", psclient.ErrDenied},
		{408, "application/problem+json", `{"error":"expired"}`, "expired", psclient.ErrExpired},
		{408, "", "", "", psclient.ErrExpired},
		{410, "application/problem+json", `{"error":"invalid_code"}`, "invalid_code", psclient.ErrGone},
		{410, "", "", "", psclient.ErrGone},
		{500, "application/json", `{"error":"server_error"}`, "server_error", psclient.ErrServer},
		{500, "application/json", `{"error":`, "", psclient.ErrServer},
		{502, "application/problem+json", `{"error":"as_unreachable","detail":"AS down"}`, "as_unreachable", psclient.ErrASUnreachable},
		{400, "application/json", `{"error":"invalid_request","error_description":"Missing field"}`, "invalid_request", nil},
		{401, "application/json", `{"error":"invalid_signature"}`, "invalid_signature", nil},
		{404, "application/json", `{"error":"nope"}`, "nope", nil},
		{418, "", "teapot", "", nil},
	}
	all := []error{psclient.ErrDenied, psclient.ErrAbandoned, psclient.ErrRevoked, psclient.ErrExpired, psclient.ErrGone, psclient.ErrServer, psclient.ErrASUnreachable, psclient.ErrTimeout}
	for _, p := range psProfiles {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%d/%s", p, c.status, c.code), func(t *testing.T) {
				s := psPollServer(t, psPend("0"), psStatus(c.status, c.contentType, c.body))
				resp, err := psPoll(t, s, p, psclient.PollOptions{Clock: psFake()})
				if resp != nil {
					t.Fatal("response returned with an error")
				}
				pe := psMustAs[*psclient.PollError](t, err)
				if pe.StatusCode != c.status || pe.Location != s.URL+"/pending/1" {
					t.Fatalf("%+v", pe)
				}
				if c.code == "" && pe.Problem != nil || c.code != "" && (pe.Problem == nil || pe.Problem.Error != c.code) {
					t.Fatalf("problem %+v", pe.Problem)
				}
				for _, s := range all {
					if errors.Is(err, s) != (s == c.is) {
						t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == c.is))
					}
				}
				b, _ := io.ReadAll(pe.Response.Body)
				if string(b) != c.body {
					t.Errorf("kept body %q, want %q", b, c.body)
				}
				if !strings.HasPrefix(err.Error(), "aauth: deferred request ") || !strings.Contains(err.Error(), fmt.Sprint(c.status)) {
					t.Errorf("message %q", err)
				}
			})
		}
	}
}

func TestPollRetryAfter(t *testing.T) {
	date := psTestT0.Add(7 * time.Second).UTC().Format(http.TimeFormat)
	past := psTestT0.Add(-time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name  string
		ra    []string // Retry-After of successive 202s ("" = absent)
		cur   []time.Duration
		seed  []time.Duration
		maxed bool // the run ends in ErrTimeout
	}{
		{name: "seconds", ra: []string{"3", "3"}, cur: []time.Duration{3 * time.Second, 3 * time.Second}, seed: []time.Duration{3 * time.Second, 3 * time.Second}},
		{name: "date", ra: []string{date}, cur: []time.Duration{7 * time.Second}, seed: []time.Duration{7 * time.Second}},
		{name: "past date", ra: []string{past}, cur: []time.Duration{0}, seed: []time.Duration{0}},
		{name: "zero", ra: []string{"0", "0"}, cur: []time.Duration{0, 0}, seed: []time.Duration{0, 0}},
		// A server that keeps saying "now" gets five immediate polls, then
		// one a second; a longer wait starts the count again.
		{name: "zero again and again", ra: []string{"0", "0", "0", "0", "0", "0", "0", "3", "0"},
			cur:  []time.Duration{0, 0, 0, 0, 0, time.Second, time.Second, 3 * time.Second, 0},
			seed: []time.Duration{0, 0, 0, 0, 0, time.Second, time.Second, 3 * time.Second, 0}},
		{name: "absent", ra: []string{"", "", "", "", ""},
			cur:  []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
			seed: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}},
		{name: "malformed", ra: []string{"soon", "1.5", "-3", "2abc"},
			cur:  []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second},
			seed: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second}},
		{name: "absurd", ra: []string{"99999999999999999999999"}, cur: []time.Duration{900 * time.Second}, seed: []time.Duration{300 * time.Second}, maxed: true},
		{name: "huge", ra: []string{"86400000"}, cur: []time.Duration{900 * time.Second}, seed: []time.Duration{300 * time.Second}, maxed: true},
	}
	for _, p := range psProfiles {
		for _, c := range cases {
			t.Run(p.String()+"/"+c.name, func(t *testing.T) {
				var answers []http.HandlerFunc
				for _, ra := range c.ra {
					answers = append(answers, psPend(ra))
				}
				answers = append(answers, psOK200)
				s := psPollServer(t, answers...)
				fake := psFake()
				resp, err := psPoll(t, s, p, psclient.PollOptions{Clock: fake})
				if c.maxed {
					if !errors.Is(err, psclient.ErrTimeout) {
						t.Fatalf("err = %v", err)
					}
				} else if err != nil {
					t.Fatal(err)
				} else {
					resp.Body.Close()
				}
				want := c.cur
				if p == wire.ProfileSeed {
					want = c.seed
				}
				if got := fake.Sleeps(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("sleeps %v, want %v", got, want)
				}
			})
		}
	}
}

func TestPollSlowDownAndBusy(t *testing.T) {
	tooMany := psStatus(429, "application/problem+json", `{"error":"slow_down"}`)
	busy := psStatus(503, "", "")
	busyRA := func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Retry-After", "2"); w.WriteHeader(503) }
	cases := []struct {
		name      string
		answers   []http.HandlerFunc
		cur, seed []time.Duration
	}{
		{"429 then 200", []http.HandlerFunc{tooMany, psOK200},
			[]time.Duration{10 * time.Second},
			[]time.Duration{time.Second}},
		{"429 slows later polls", []http.HandlerFunc{psPend("0"), tooMany, psPend(""), psPend("0"), psOK200},
			[]time.Duration{0, 10 * time.Second, 10 * time.Second, 5 * time.Second},
			// The seed's backoff doubles after every 202, Retry-After or not.
			[]time.Duration{0, 2 * time.Second, 4 * time.Second, 0}},
		{"503 then 200", []http.HandlerFunc{busyRA, psOK200},
			[]time.Duration{2 * time.Second},
			[]time.Duration{2 * time.Second}},
		{"503 backoff", []http.HandlerFunc{busy, busy, busy, busy, busy, busy, busy, psPend(""), psOK200},
			[]time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second, 5 * time.Second},
			[]time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}},
	}
	for _, p := range psProfiles {
		for _, c := range cases {
			t.Run(p.String()+"/"+c.name, func(t *testing.T) {
				s := psPollServer(t, c.answers...)
				fake := psFake()
				resp, err := psPoll(t, s, p, psclient.PollOptions{Clock: fake})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := c.cur
				if p == wire.ProfileSeed {
					want = c.seed
				}
				if got := fake.Sleeps(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("sleeps %v, want %v", got, want)
				}
				if n := len(s.requests()); n != len(c.answers) {
					t.Fatalf("%d requests", n)
				}
			})
		}
	}
}

func psInteraction(url, code, status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/pending/1", "0", fmt.Sprintf(`requirement=interaction; url=%q; code=%q`, url, code), map[string]any{"status": status})
	}
}

func TestPollInteraction(t *testing.T) {
	const u = "https://ps.example/interact"
	cases := []struct {
		name    string
		answers []http.HandlerFunc
		want    []string
	}{
		{"repeated", []http.HandlerFunc{psInteraction(u, "AAAA1111", "pending"), psInteraction(u, "AAAA1111", "pending"), psInteraction(u, "AAAA1111", "pending"), psOK200},
			[]string{u + " AAAA1111"}},
		{"changed", []http.HandlerFunc{psInteraction(u, "AAAA1111", "pending"), psInteraction(u, "BBBB2222", "pending"), psInteraction(u, "AAAA1111", "pending"), psOK200},
			[]string{u + " AAAA1111", u + " BBBB2222"}},
		{"interacting", []http.HandlerFunc{psInteraction(u, "AAAA1111", "pending"), psInteraction(u, "BBBB2222", "interacting"), psInteraction(u, "CCCC3333", "whatever"), psOK200},
			[]string{u + " AAAA1111", u + " CCCC3333"}},
		{"approval then malformed", []http.HandlerFunc{
			func(w http.ResponseWriter, r *http.Request) {
				psPending(w, "/pending/1", "0", "requirement=approval", nil)
			},
			func(w http.ResponseWriter, r *http.Request) {
				psPending(w, "/pending/1", "0", "requirement=interaction", nil)
			},
			func(w http.ResponseWriter, r *http.Request) {
				psPending(w, "/pending/1", "0", "requirement=bogus", nil)
			},
			psOK200}, nil},
	}
	for _, p := range psProfiles {
		for _, c := range cases {
			t.Run(p.String()+"/"+c.name, func(t *testing.T) {
				s := psPollServer(t, c.answers...)
				var got []string
				resp, err := psPoll(t, s, p, psclient.PollOptions{Clock: psFake(), OnInteraction: func(ctx context.Context, url, code string) error {
					got = append(got, url+" "+code)
					return nil
				}})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if fmt.Sprint(got) != fmt.Sprint(c.want) {
					t.Fatalf("calls %q, want %q", got, c.want)
				}
			})
		}
	}
}

func TestPollInteractionError(t *testing.T) {
	for _, p := range psProfiles {
		s := psPollServer(t, psInteraction("https://ps.example/i", "AAAA1111", "pending"), psOK200)
		boom := errors.New("no browser")
		_, err := psPoll(t, s, p, psclient.PollOptions{Clock: psFake(), OnInteraction: func(ctx context.Context, url, code string) error { return boom }})
		if !errors.Is(err, psclient.ErrInteraction) || !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if s.count("DELETE", "/pending/1") != 1 {
			t.Fatalf("pending request not cancelled: %+v", s.requests())
		}
		checkSigned(t, s.requests()[1], p)
	}
}

func psClarify(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/pending/1")
		w.Header().Set("Retry-After", "0")
		w.Header().Set("AAuth-Requirement", "requirement=clarification")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(202)
		io.WriteString(w, body)
	}
}

func TestPollClarificationAnswered(t *testing.T) {
	for _, p := range psProfiles {
		t.Run(p.String(), func(t *testing.T) {
			s := psPollServer(t, psClarify(`{"status":"pending","clarification":"How many widgets?","timeout":120,"options":["1","42",7]}`), psPend("0"), psOK200)
			var got []psclient.Clarification
			var deadline time.Duration
			resp, err := psclient.PollDeferred(context.Background(), psTestClient(p), s.URL+"/pending/1", psclient.PollOptions{Profile: p, Clock: psFake(), OnClarification: func(ctx context.Context, q psclient.Clarification) (string, error) {
				got = append(got, q)
				if d, ok := ctx.Deadline(); ok {
					deadline = time.Until(d)
				}
				return "42 \"widgets\"", nil
			}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(got) != 1 || got[0].Question != "How many widgets?" || got[0].Timeout != 2*time.Minute || fmt.Sprint(got[0].Options) != "[1 42]" {
				t.Fatalf("callback got %+v", got)
			}
			if deadline <= time.Minute || deadline > 2*time.Minute {
				t.Errorf("callback context deadline in %v, want about 2m", deadline)
			}
			reqs := s.requests()
			if len(reqs) != 4 || reqs[1].Method != "POST" || reqs[1].Path != "/pending/1" {
				t.Fatalf("requests %+v", reqs)
			}
			want := `{"action":"clarification_response","clarification_response":"42 \"widgets\""}`
			if p == wire.ProfileSeed {
				want = `{"clarification_response":"42 \"widgets\""}`
			}
			if reqs[1].Body != want {
				t.Fatalf("answer %s, want %s", reqs[1].Body, want)
			}
			if reqs[1].Header.Get("Content-Type") != "application/json" || reqs[1].Header.Get("Prefer") != "" {
				t.Fatalf("answer headers %v", reqs[1].Header)
			}
			checkSigned(t, reqs[1], p)
		})
	}
}

func TestPollClarificationRefused(t *testing.T) {
	for _, p := range psProfiles {
		s := psPollServer(t, psClarify(`{"clarification":"Why?"}`), psOK200)
		boom := errors.New("no idea")
		_, err := psPoll(t, s, p, psclient.PollOptions{Clock: psFake(), OnClarification: func(ctx context.Context, q psclient.Clarification) (string, error) {
			return "", boom
		}})
		if !errors.Is(err, psclient.ErrClarification) || !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		reqs := s.requests()
		if len(reqs) != 2 || reqs[1].Method != "DELETE" || reqs[1].Path != "/pending/1" {
			t.Fatalf("requests %+v", reqs)
		}
		checkSigned(t, reqs[1], p)
	}
}

func TestPollClarificationMalformed(t *testing.T) {
	bodies := []string{
		`{"clarification":`,
		`{"clarification":42}`,
		`{"clarification":""}`,
		`["clarification"]`,
		`null`,
	}
	for _, p := range psProfiles {
		var answers []http.HandlerFunc
		for _, b := range bodies {
			answers = append(answers, psClarify(b))
		}
		// A question in a body that is not JSON is not read either.
		answers = append(answers, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/pending/1")
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(202)
			io.WriteString(w, `{"clarification":"Why?"}`)
		}, psOK200)
		s := psPollServer(t, answers...)
		called := 0
		resp, err := psPoll(t, s, p, psclient.PollOptions{Clock: psFake(), OnClarification: func(ctx context.Context, q psclient.Clarification) (string, error) {
			called++
			return "x", nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if called != 0 || s.count("POST", "/pending/1") != 0 {
			t.Fatalf("%s: called %d times", p, called)
		}
	}
}

func TestPollClarificationLoopBounded(t *testing.T) {
	s := psPollServer(t, psClarify(`{"clarification":"Again?"}`))
	n := 0
	_, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake(), OnClarification: func(ctx context.Context, q psclient.Clarification) (string, error) {
		n++
		return "yes", nil
	}})
	if !errors.Is(err, psclient.ErrClarification) || n != psclient.MaxClarificationRounds {
		t.Fatalf("err = %v after %d answers", err, n)
	}
	if s.count("DELETE", "/pending/1") != 1 {
		t.Fatal("not cancelled")
	}
}

func TestPollClarificationAnswerRejected(t *testing.T) {
	s := newPSServer(t)
	s.Mux.HandleFunc("GET /pending/1", psClarify(`{"clarification":"Why?"}`))
	s.Mux.HandleFunc("POST /pending/1", func(w http.ResponseWriter, r *http.Request) {
		psProblem(w, 400, "invalid_request", "action missing")
	})
	_, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake(), OnClarification: func(ctx context.Context, q psclient.Clarification) (string, error) {
		return "because", nil
	}})
	pe := psMustAs[*psclient.PollError](t, err)
	if pe.StatusCode != 400 || pe.Problem.Error != "invalid_request" {
		t.Fatalf("%+v", pe)
	}
}

func TestPollNoCallbacksKeepsPolling(t *testing.T) {
	s := psPollServer(t, psInteraction("https://ps.example/i", "AAAA1111", "pending"), psClarify(`{"clarification":"Why?"}`), psOK200)
	resp, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake()})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(s.requests()) != 3 {
		t.Fatalf("%+v", s.requests())
	}
}

func TestPollAuthTokenRequirement(t *testing.T) {
	authTok := func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/pending/2", "0", `requirement=auth-token; resource-token="rt-secret"`, nil)
	}
	s := psPollServer(t, psPend("0"), authTok, psOK200)
	s.Mux.HandleFunc("GET /pending/2", psOK200)
	_, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake()})
	ae := psMustAs[*psclient.AuthTokenRequiredError](t, err)
	if ae.Challenge.Requirement != wire.RequirementAuthToken || ae.Challenge.ResourceToken != "rt-secret" || ae.Location != s.URL+"/pending/2" {
		t.Fatalf("%+v", ae)
	}
	if strings.Contains(err.Error(), "rt-secret") {
		t.Fatalf("message leaks the resource token: %s", err)
	}
	// The seed knows no deferred auth-token: it keeps polling.
	s = psPollServer(t, psPend("0"), authTok, psOK200)
	s.Mux.HandleFunc("GET /pending/2", psOK200)
	resp, err := psPoll(t, s, wire.ProfileSeed, psclient.PollOptions{Clock: psFake()})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestPollLocation(t *testing.T) {
	s := psPollServer(t, psOK200)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request sent to another origin: %s %s", r.Method, r.URL)
	}))
	defer other.Close()
	ctx, client := psCtx(t), psTestClient(wire.ProfileCurrent)

	// Relative, resolved against the request URL.
	for _, loc := range []string{"/pending/1", "../pending/1", "1", s.URL + "/pending/1#frag"} {
		resp, err := psclient.PollDeferred(ctx, client, loc, psclient.PollOptions{RequestURL: s.URL + "/pending/x", Clock: psFake()})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		resp.Body.Close()
	}
	// Absolute without a request URL.
	resp, err := psclient.PollDeferred(ctx, client, s.URL+"/pending/1", psclient.PollOptions{Clock: psFake()})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	refused := []struct{ loc, base string }{
		{other.URL + "/pending/1", s.URL + "/aauth/token"},
		{strings.Replace(s.URL, "http:", "https:", 1) + "/pending/1", s.URL},
		{"//evil.example/pending/1", s.URL},
		{"/pending/1", ""},
		{"ftp://x/y", ""},
		{"", s.URL},
		{"http://[::1", s.URL},
	}
	for _, c := range refused {
		_, err := psclient.PollDeferred(ctx, client, c.loc, psclient.PollOptions{RequestURL: c.base, Clock: psFake()})
		if !errors.Is(err, psclient.ErrLocation) {
			t.Errorf("%q against %q: err = %v", c.loc, c.base, err)
		}
	}
	if _, err := psclient.PollDeferred(ctx, client, "/x", psclient.PollOptions{RequestURL: "not a url"}); err == nil {
		t.Error("relative RequestURL accepted")
	}

	// A later 202 that moves the request to another origin is refused.
	s2 := psPollServer(t, func(w http.ResponseWriter, r *http.Request) {
		psPending(w, other.URL+"/pending/1", "0", "", nil)
	})
	_, err = psPoll(t, s2, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake()})
	if !errors.Is(err, psclient.ErrLocation) {
		t.Fatalf("err = %v", err)
	}
	// A same-origin move is followed.
	s3 := psPollServer(t, func(w http.ResponseWriter, r *http.Request) { psPending(w, "/pending/3", "0", "", nil) })
	s3.Mux.HandleFunc("GET /pending/3", psOK200)
	resp, err = psPoll(t, s3, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake()})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s3.count("GET", "/pending/3") != 1 {
		t.Fatal("new Location not followed")
	}
}

func TestPollContextCancelMidSleep(t *testing.T) {
	for _, p := range psProfiles {
		s := psPollServer(t, psPend("30"), psOK200)
		fake := psFake()
		ctx, cancel := context.WithCancel(context.Background())
		fake.OnSleep = func(time.Duration) { cancel() }
		_, err := psclient.PollDeferred(ctx, psTestClient(p), s.URL+"/pending/1", psclient.PollOptions{Profile: p, Clock: fake})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if len(s.requests()) != 1 {
			t.Fatalf("%d requests after cancel", len(s.requests()))
		}
	}
}

func TestPollContextCancelRealClock(t *testing.T) {
	// The real clock, a Retry-After of an hour, and a context cancelled
	// after 20 ms: polling stops at once.
	s := psPollServer(t, psPend("3600"))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := psclient.PollDeferred(ctx, psTestClient(wire.ProfileCurrent), s.URL+"/pending/1", psclient.PollOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}
}

func TestPollDeadline(t *testing.T) {
	s := psPollServer(t, psPend("5"))
	fake := psFake()
	_, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: fake, MaxDuration: 12 * time.Second})
	if !errors.Is(err, psclient.ErrTimeout) || !strings.Contains(err.Error(), "12s") {
		t.Fatalf("err = %v", err)
	}
	if got := fake.Sleeps(); fmt.Sprint(got) != "[5s 5s 2s]" {
		t.Fatalf("sleeps %v", got)
	}
	if len(s.requests()) != 3 {
		t.Fatalf("%d requests", len(s.requests()))
	}

	// Profile defaults: 900 s current, 300 s seed.
	for p, want := range map[wire.Profile]time.Duration{wire.ProfileCurrent: 900 * time.Second, wire.ProfileSeed: 300 * time.Second} {
		s := psPollServer(t, psPend("60"))
		fake := psFake()
		if _, err := psPoll(t, s, p, psclient.PollOptions{Clock: fake}); !errors.Is(err, psclient.ErrTimeout) {
			t.Fatalf("err = %v", err)
		}
		if fake.Slept() != want {
			t.Fatalf("%s: slept %v, want %v", p, fake.Slept(), want)
		}
	}

	// A negative MaxDuration leaves only the context.
	s = psPollServer(t, psPend("86400"), psPend("86400"), psOK200)
	fake = psFake()
	resp, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: fake, MaxDuration: -1})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if fake.Slept() != 48*time.Hour {
		t.Fatalf("slept %v", fake.Slept())
	}
}

func TestPollDeadlineRealClock(t *testing.T) {
	// Mid-sleep: a Retry-After of an hour and a 50 ms limit.
	s := psPollServer(t, psPend("3600"))
	start := time.Now()
	_, err := psclient.PollDeferred(psCtx(t), psTestClient(wire.ProfileCurrent), s.URL+"/pending/1", psclient.PollOptions{MaxDuration: 50 * time.Millisecond})
	if !errors.Is(err, psclient.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}

	// Mid-request: a long poll the server holds is cut at the deadline.
	hold := newPSServer(t)
	hold.Mux.HandleFunc("GET /pending/1", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	start = time.Now()
	_, err = psclient.PollDeferred(psCtx(t), psTestClient(wire.ProfileCurrent), hold.URL+"/pending/1", psclient.PollOptions{MaxDuration: 50 * time.Millisecond})
	if !errors.Is(err, psclient.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}

	// The final response stays readable after the poll returns.
	s = psPollServer(t, psOK200)
	resp, err := psclient.PollDeferred(psCtx(t), psTestClient(wire.ProfileCurrent), s.URL+"/pending/1", psclient.PollOptions{MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(b), "auth_token") {
		t.Fatalf("%q %v", b, err)
	}
}

func TestPollLargeBody(t *testing.T) {
	s := psPollServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/pending/1")
		w.WriteHeader(202)
		io.WriteString(w, strings.Repeat(" ", httpx.MaxBodySize+1))
	})
	_, err := psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake()})
	if !errors.Is(err, wire.ErrBodyTooLarge) {
		t.Fatalf("err = %v", err)
	}
	// A terminal answer too large for its details still reports its
	// status.
	s = psPollServer(t, psStatus(403, "application/json", `{"error":"denied","x":"`+strings.Repeat("a", httpx.MaxBodySize)+`"}`))
	_, err = psPoll(t, s, wire.ProfileCurrent, psclient.PollOptions{Clock: psFake()})
	pe := psMustAs[*psclient.PollError](t, err)
	if pe.StatusCode != 403 || pe.Problem != nil {
		t.Fatalf("%+v", pe)
	}
}

func TestFollowDeferred(t *testing.T) {
	s := psPollServer(t, psOK200)
	client := psTestClient(wire.ProfileCurrent)
	// Not a 202: returned as it is.
	in := &http.Response{StatusCode: 204, Body: http.NoBody}
	if out, err := psclient.FollowDeferred(psCtx(t), client, in, psclient.PollOptions{}); out != in || err != nil {
		t.Fatal(out, err)
	}
	// A 202 resolved against its own request URL.
	req, _ := http.NewRequest("POST", s.URL+"/aauth/token", nil)
	in = psResp(202, map[string]string{"Location": "/pending/1", "Retry-After": "0"}, "")
	in.Request = req
	out, err := psclient.FollowDeferred(psCtx(t), client, in, psclient.PollOptions{Clock: psFake()})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	// A relative path resolves against the request URL, once.
	s.Mux.HandleFunc("GET /aauth/pending/7", psSequence(psPend("0"), psOK200))
	in = psResp(202, map[string]string{"Location": "pending/7", "Retry-After": "0"}, "")
	in.Request = req
	out, err = psclient.FollowDeferred(psCtx(t), client, in, psclient.PollOptions{Clock: psFake()})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if s.count("GET", "/aauth/pending/7") != 1 {
		t.Fatalf("requests %+v", s.requests())
	}
	// Without a Location.
	in = psResp(202, nil, "")
	in.Request = req
	if _, err := psclient.FollowDeferred(psCtx(t), client, in, psclient.PollOptions{}); !errors.Is(err, psclient.ErrLocation) {
		t.Fatal(err)
	}
	if _, err := psclient.PollDeferred(psCtx(t), nil, s.URL, psclient.PollOptions{}); err == nil {
		t.Fatal("nil client accepted")
	}
}

func TestPendingHelpers(t *testing.T) {
	s := newPSServer(t)
	var mu sync.Mutex
	deleteStatus := 204
	s.Mux.HandleFunc("POST /pending/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	s.Mux.HandleFunc("DELETE /pending/1", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if deleteStatus == 500 {
			psProblem(w, 500, "server_error", "")
			return
		}
		w.WriteHeader(deleteStatus)
	})
	ctx, client := psCtx(t), psTestClient(wire.ProfileCurrent)
	pending := s.URL + "/pending/1"

	if err := psclient.UpdateRequest(ctx, client, pending, psclient.UpdatedRequest{ResourceToken: "rt-2", PresentedToken: "pt", Justification: "more"}); err != nil {
		t.Fatal(err)
	}
	if err := psclient.UpdateRequest(ctx, client, pending, psclient.UpdatedRequest{}); err == nil {
		t.Fatal("empty update accepted")
	}
	if err := psclient.AnswerClarification(ctx, client, pending, "", wire.ProfileCurrent); err != nil {
		t.Fatal(err)
	}
	for _, st := range []int{204, 200, 404, 410} {
		mu.Lock()
		deleteStatus = st
		mu.Unlock()
		if err := psclient.CancelRequest(ctx, client, pending); err != nil {
			t.Fatalf("%d: %v", st, err)
		}
	}
	mu.Lock()
	deleteStatus = 500
	mu.Unlock()
	err := psclient.CancelRequest(ctx, client, pending)
	if pe := psMustAs[*psclient.PollError](t, err); pe.StatusCode != 500 || !errors.Is(err, psclient.ErrServer) {
		t.Fatal(err)
	}
	reqs := s.requests()
	if reqs[0].Body != `{"action":"updated_request","resource_token":"rt-2","presented_token":"pt","justification":"more"}` {
		t.Fatalf("update body %s", reqs[0].Body)
	}
	if reqs[1].Body != `{"action":"clarification_response","clarification_response":""}` {
		t.Fatalf("answer body %s", reqs[1].Body)
	}
	for _, r := range reqs {
		checkSigned(t, r, wire.ProfileCurrent)
	}
	if psclient.CancelRequest(ctx, nil, pending) == nil || psclient.AnswerClarification(ctx, nil, pending, "", wire.ProfileSeed) == nil {
		t.Fatal("nil client accepted")
	}
}

func TestClockIsInternalClock(t *testing.T) {
	var _ psclient.Clock = clock.System
	var _ psclient.Clock = clock.NewFake(time.Time{})
}
