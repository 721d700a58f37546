package aauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

func TestEventString(t *testing.T) {
	const tok = "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
	for _, c := range []struct {
		ev   aauth.Event
		want string
	}{
		{aauth.Event{Step: aauth.StepSigned, Method: "GET", URL: "https://r.example/x", Status: 401, Credential: "agent", Detail: "sent GET presenting the agent token"},
			"signed GET https://r.example/x → 401 (agent token): sent GET presenting the agent token"},
		{aauth.Event{Step: aauth.StepTokenCached, Credential: "auth", Token: aauth.Redact(tok), Detail: "auth token cached"},
			"token-cached (auth token): auth token cached"},
		{aauth.Event{Step: aauth.StepError, Method: "POST", URL: "https://r.example/y", Detail: "request failed", Err: errors.New("aauth: boom")},
			"error POST https://r.example/y: request failed: aauth: boom"},
		{aauth.Event{Step: aauth.StepClarification, Detail: "question: why?\r\nInjected: line"},
			"clarification: question: why?  Injected: line"},
		{aauth.Event{}, ""},
	} {
		if got := c.ev.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
		if got := fmt.Sprintf("%v|%s", c.ev, c.ev); got != c.want+"|"+c.want {
			t.Errorf("%%v|%%s = %q", got)
		}
	}
}

// Every event of a whole flow prints as one line without a token.
func TestEventStringFromFlow(t *testing.T) {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Interaction()))
	var mu sync.Mutex
	var lines []string
	src := w.AgentKeys("alice")
	km, err := src.KeyMaterial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := (&aauth.Transport{
		Keys:          src,
		PersonServer:  w.PS.URL,
		OnInteraction: func(ctx context.Context, url, code string) error { return w.PS.CompleteInteraction(code) },
		OnEvent: func(ev aauth.Event) {
			mu.Lock()
			lines = append(lines, ev.String())
			mu.Unlock()
		},
	}).Client()
	resp, err := client.Get(w.Resource.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	secrets := []string{km.Key.Token}
	for _, is := range w.PS.Issued() {
		secrets = append(secrets, is.Token)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) < 5 {
		t.Fatalf("%d events", len(lines))
	}
	for _, l := range lines {
		if l == "" || strings.ContainsAny(l, "\r\n") {
			t.Errorf("event line %q", l)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(l, s) {
				t.Errorf("event line %q shows a token", l)
			}
		}
	}
	if !strings.HasPrefix(lines[0], "signed GET "+w.Resource.URL+"/data → 401 (agent token): ") {
		t.Errorf("first event %q", lines[0])
	}
}

// Every request to the person server and every poll, the resource's and
// the person server's, is an event with its status, and each poll says the
// wait chosen: the server's Retry-After (none: 5 s), plus 5 s for every 429
// slow_down before it.
func TestEventsPersonServerAndPolls(t *testing.T) {
	clk := aauthtest.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	w := aauthtest.NewWorld(aauthtest.WorldOptions{Now: clk.Now, Resource: aauthtest.ResourceOptions{DeferAuthToken: true}})
	defer w.Close()
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Status(429, ""), aauthtest.Pending().RetryAfter("3")))
	var mu sync.Mutex
	var evs []aauth.Event
	client := (&aauth.Transport{
		Keys:         w.AgentKeys("alice"),
		PersonServer: w.PS.URL,
		Clock:        clk,
		OnEvent: func(ev aauth.Event) {
			mu.Lock()
			evs = append(evs, ev)
			mu.Unlock()
		},
	}).Client()
	resp, err := client.Get(w.Resource.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	var ps, psPolls, rsPolls []string
	for _, ev := range evs {
		line := fmt.Sprintf("%s %s %d %s: %s", ev.Method, strings.NewReplacer(w.PS.URL, "PS", w.Resource.URL, "RS").Replace(ev.URL), ev.Status, ev.Credential, ev.Detail)
		switch {
		case ev.Step == aauth.StepPersonServer:
			ps = append(ps, line)
		case ev.Step == aauth.StepPoll && strings.HasPrefix(ev.URL, w.PS.URL):
			psPolls = append(psPolls, line)
		case ev.Step == aauth.StepPoll:
			rsPolls = append(rsPolls, line)
		}
	}
	want := []string{
		"GET PS/.well-known/aauth-person.json 200 agent: metadata",
		"POST PS/aauth/token/person 202 agent: token request",
		"POST PS/aauth/token/auth 200 agent: token request",
	}
	if strings.Join(ps, "\n") != strings.Join(want, "\n") {
		t.Errorf("person-server events:\n%s\nwant:\n%s", strings.Join(ps, "\n"), strings.Join(want, "\n"))
	}
	if len(psPolls) != 1+w.PS.Polls() {
		t.Errorf("%d poll events for %d polls of the person server:\n%s", len(psPolls), w.PS.Polls(), strings.Join(psPolls, "\n"))
	}
	for _, want := range []string{": deferred; first poll in ", " 429 agent: polled; next poll in 10s", " 202 agent: polled; next poll in 8s", " 200 agent: polled; polling ended"} {
		if !strings.Contains(strings.Join(psPolls, "\n"), want) {
			t.Errorf("no person-server poll event with %q:\n%s", want, strings.Join(psPolls, "\n"))
		}
	}
	if n := len(rsPolls); n < 2 || !strings.HasPrefix(rsPolls[0], " RS/") || !strings.Contains(rsPolls[n-1], " 200 auth: polled; polling ended") {
		t.Errorf("resource poll events:\n%s", strings.Join(rsPolls, "\n"))
	}
}
