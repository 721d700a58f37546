package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/internal/jwtpeek"
)

var profiles = []aauth.Profile{aauth.ProfileCurrent, aauth.ProfileSeed}

// echoed decodes the kit resource's default answer.
func echoed(t *testing.T, r result) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("stdout is not the resource's JSON answer: %v\n%s", err, r)
	}
	return m
}

// The whole flow, cold: the body on stdout, nothing on stderr.
func TestFetchFlow(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w, clk := newWorld(t, p, aauthtest.WorldOptions{})
			a := newAgentFiles(t, w)
			r := a.run(t, clk, "", "fetch", "--profile", p.String(), w.Resource.URL+"/data")
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("fetch:\n%s", r)
			}
			if got := echoed(t, r)["presented"]; got != "auth" {
				t.Errorf("the resource saw %v, want an auth token", got)
			}
			// The person server was found through the agent token's ps
			// claim, and was told the default capabilities, and budget,
			// which the Transport declares in the current profile.
			reqs := w.PS.TokenRequests()
			if len(reqs) == 0 {
				t.Fatal("no token requests")
			}
			want := "interaction,clarification,budget"
			if p == aauth.ProfileSeed {
				want = "interaction,clarification"
			}
			if got := strings.Join(reqs[0].Capabilities, ","); got != want {
				t.Errorf("capabilities %q, want %q", got, want)
			}
		})
	}
}

// -i prints the status line and headers, with the session token of
// AAuth-Access abbreviated.
func TestFetchInclude(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken}})
	a := newAgentFiles(t, w)
	r := a.run(t, clk, "", "fetch", "-i", w.Resource.URL+"/data")
	if r.code != 0 {
		t.Fatalf("fetch:\n%s", r)
	}
	head, body, ok := strings.Cut(r.stdout, "\n\n")
	if !ok || !strings.HasPrefix(head, "HTTP/1.1 200 OK\n") || !strings.Contains(head, "\nContent-Type: application/json") {
		t.Fatalf("no status line and headers:\n%s", r)
	}
	if !regexp.MustCompile(`\nAauth-Access: \S{6}…\[\d+ bytes\]`).MatchString(head) {
		t.Errorf("AAuth-Access not abbreviated:\n%s", head)
	}
	if !strings.HasPrefix(body, "{") {
		t.Errorf("body %q", body)
	}
}

// Options and the hints the person server is given reach it.
func TestFetchHintsAndBody(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	data := filepath.Join(a.dir, "body.json")
	os.WriteFile(data, []byte(`{"q":"tickets"}`), 0o600)
	// The person server knows the mission: it refuses unknown ones.
	mission := w.PS.AddMission(jwtpeek.ClaimString(a.tokenValue, "sub"), "weekly report")
	r := a.run(t, clk, "", "fetch", "-d", "@"+data, "-H", "Content-Type: application/json", "-H", "X-Trace: 7",
		"--capabilities", "interaction", "--justification", "weekly report", "--login-hint", "alice@example.com",
		"--tenant", "acme", "--domain-hint", "example.com", "--mission-s256", mission,
		w.Resource.URL+"/search")
	if r.code != 0 {
		t.Fatalf("fetch:\n%s", r)
	}
	m := echoed(t, r)
	if m["method"] != "POST" || m["body_bytes"] != float64(len(`{"q":"tickets"}`)) {
		t.Errorf("the resource saw %v", m)
	}
	tr := w.PS.TokenRequests()[0]
	if tr.Justification != "weekly report" || tr.LoginHint != "alice@example.com" || tr.Tenant != "acme" ||
		tr.DomainHint != "example.com" || tr.MissionS256 != mission || strings.Join(tr.Capabilities, ",") != "interaction,budget" {
		t.Errorf("token request %+v", tr)
	}
	// The body was sent again on each retry, with the caller's headers.
	calls := w.Resource.Requests()
	last := calls[len(calls)-1]
	if string(last.Body) != `{"q":"tickets"}` || last.Header.Get("X-Trace") != "7" || last.Header.Get("Content-Type") != "application/json" {
		t.Errorf("last call: body %q, headers %v", last.Body, last.Header)
	}
}

// The identity may come from the environment: AAUTH_KEY (a file or the
// JWK itself), AAUTH_AGENT_TOKEN, AAUTH_PERSON_SERVER.
func TestFetchEnvironment(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	jwk, err := os.ReadFile(a.key)
	if err != nil {
		t.Fatal(err)
	}
	for _, keyVar := range []string{a.key, string(jwk)} {
		vars := map[string]string{
			"AAUTH_KEY":           keyVar,
			"AAUTH_AGENT_TOKEN":   "@" + a.token,
			"AAUTH_PERSON_SERVER": w.PS.URL,
		}
		e := &env{clock: clk, getenv: func(k string) string { return vars[k] }}
		r := runEnv(t, e, "", "fetch", w.Resource.URL+"/data")
		if r.code != 0 || echoed(t, r)["presented"] != "auth" {
			t.Fatalf("fetch with the environment:\n%s", r)
		}
	}
	// A flag wins over the environment.
	vars := map[string]string{"AAUTH_KEY": filepath.Join(a.dir, "missing.jwk"), "AAUTH_AGENT_TOKEN": a.tokenValue}
	e := &env{clock: clk, getenv: func(k string) string { return vars[k] }}
	if r := runEnv(t, e, "", "fetch", "--key", a.key, w.Resource.URL+"/data"); r.code != 0 {
		t.Fatalf("--key did not override AAUTH_KEY:\n%s", r)
	}
}

// An interaction is shown as "interaction: URL CODE" on stderr, with an
// instruction; polling goes on until the person approves.
func TestFetchInteraction(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w, clk := newWorld(t, p, aauthtest.WorldOptions{})
			kind := aauthtest.TokenPerson
			if p == aauth.ProfileSeed {
				kind = aauthtest.TokenAuth
			}
			// The person approves after two polls.
			w.PS.Queue(kind, aauthtest.Defer(aauthtest.Interaction().Times(2)))
			a := newAgentFiles(t, w)
			r := a.run(t, clk, "", "fetch", "--profile", p.String(), w.Resource.URL+"/data")
			if r.code != 0 {
				t.Fatalf("fetch:\n%s", r)
			}
			ls := lines(r.stderr)
			if len(ls) != 2 {
				t.Fatalf("want the interaction shown once, in two lines:\n%s", r)
			}
			m := regexp.MustCompile(`^interaction: (http://127\.0\.0\.1:\d+/aauth/consent) ([0-9A-Z]{8})$`).FindStringSubmatch(ls[0])
			if m == nil {
				t.Fatalf("first line %q", ls[0])
			}
			if want := "open " + m[1] + "?code=" + m[2] + " in a browser"; !strings.Contains(ls[1], want) {
				t.Errorf("second line %q does not say %q", ls[1], want)
			}
		})
	}
}

// A clarification is asked on stderr and answered from stdin; a number
// picks an offered option.
func TestFetchClarification(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Clarification("Which repository?\nPick one.", "web", "api")))
	a := newAgentFiles(t, w)
	r := a.run(t, clk, "\n2\n", "fetch", w.Resource.URL+"/data")
	if r.code != 0 {
		t.Fatalf("fetch:\n%s", r)
	}
	for _, want := range []string{"clarification: the person server asks:\n  Which repository?\n  Pick one.\n  1) web\n  2) api\nanswer> answer> "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not hold %q:\n%s", want, r.stderr)
		}
	}
	answers := w.PS.ClarificationAnswers()
	if len(answers) != 1 || answers[0].Response != "api" {
		t.Errorf("answers %+v", answers)
	}

	// No answer (stdin closed): the request is cancelled, exit 1.
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Clarification("Which repository?")))
	a = newAgentFiles(t, w) // a new key, so no cached token
	r = a.run(t, clk, "", "fetch", w.Resource.URL+"/data")
	if r.code != exitFailure || !strings.Contains(lastLine(r.stderr), "no answer: stdin is closed") {
		t.Errorf("unanswered clarification:\n%s", r)
	}
}

// The person denies: exit 1, the reason on the last line.
func TestFetchDenied(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w, clk := newWorld(t, p, aauthtest.WorldOptions{})
			kind := aauthtest.TokenPerson
			if p == aauth.ProfileSeed {
				kind = aauthtest.TokenAuth
			}
			w.PS.Queue(kind, aauthtest.Defer(aauthtest.Interaction().Times(1)).Then(aauthtest.Deny()))
			a := newAgentFiles(t, w)
			r := a.run(t, clk, "", "fetch", "--profile", p.String(), w.Resource.URL+"/data")
			if r.code != exitFailure || r.stdout != "" {
				t.Fatalf("want exit 1 and no output:\n%s", r)
			}
			ls := lines(r.stderr)
			last := ls[len(ls)-1]
			if !strings.HasPrefix(last, "aauth: GET "+w.Resource.URL+"/data: ") || !strings.Contains(last, "denied") {
				t.Errorf("error line %q", last)
			}
			if !strings.HasPrefix(ls[0], "interaction: ") {
				t.Errorf("the interaction was not shown:\n%s", r.stderr)
			}
		})
	}
}

// A 4xx answer is written out, and is a failure.
func TestFetchHTTPError(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"not_found","detail":"no such ticket"}`))
	})
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken, Handler: handler}})
	a := newAgentFiles(t, w)
	r := a.run(t, clk, "", "fetch", w.Resource.URL+"/tickets/9")
	if r.code != exitFailure || !strings.Contains(r.stdout, "no such ticket") {
		t.Fatalf("want exit 1 and the body:\n%s", r)
	}
	line := wantOneErrorLine(t, r)
	if want := "aauth: GET " + w.Resource.URL + "/tickets/9: 404 Not Found (not_found: no such ticket)"; line != want {
		t.Errorf("error line\n%q, want\n%q", line, want)
	}
}

// A resource that asks for a person token of an agent without a person
// server (none given, none in the agent token): exit 1.
func TestFetchNoPersonServer(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	tok, _, err := w.Agent.TokenIssuer().Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:alice@127.0.0.1", Key: a.signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	r := runEnv(t, &env{clock: clk}, "", "fetch", "--key", a.key, "--agent-token", tok, w.Resource.URL+"/data")
	if r.code != exitFailure {
		t.Fatalf("want exit 1:\n%s", r)
	}
	if line := wantOneErrorLine(t, r); !strings.Contains(line, "no person server") {
		t.Errorf("error line %q", line)
	}
}

// --timeout bounds the whole request.
func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken, Handler: slow}})
	a := newAgentFiles(t, w)
	start := time.Now()
	r := a.run(t, clk, "", "fetch", "--timeout", "50ms", w.Resource.URL+"/slow")
	if r.code != exitFailure || time.Since(start) > 5*time.Second {
		t.Fatalf("want exit 1 soon:\n%s", r)
	}
	if line := wantOneErrorLine(t, r); !strings.HasSuffix(line, "/slow: no answer within --timeout 50ms") {
		t.Errorf("error line %q", line)
	}
}
