package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// newWorld starts an agent provider, a person server and a resource
// serving reportHandler, all in-process, and stops them when the test ends.
func newWorld(t *testing.T) *aauthtest.World {
	t.Helper()
	w := aauthtest.NewWorld(aauthtest.WorldOptions{
		Logf:     t.Logf, // one line per request, tokens redacted
		Resource: aauthtest.ResourceOptions{Handler: reportHandler()},
	})
	t.Cleanup(w.Close)
	return w
}

// agentClient is how the program builds its client, with the world's keys
// and person server.
func agentClient(w *aauthtest.World, onInteraction func(ctx context.Context, url, code string) error) *aauth.Transport {
	return &aauth.Transport{
		Keys:            w.AgentKeys("alice"),
		PersonServer:    w.PS.URL,
		OnInteraction:   onInteraction,
		MaxPollDuration: 5 * time.Second, // a test never waits for a person for long
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFetchReport(t *testing.T) {
	w := newWorld(t)
	report, err := fetchReport(testContext(t), agentClient(w, nil).Client(), w.Resource.URL)
	if err != nil {
		t.Fatal(err)
	}
	if report != "all systems nominal" {
		t.Errorf("report = %q", report)
	}

	// What the resource saw: every call signed and verified; first the
	// agent token (→ person token), then the person token (→ auth token),
	// then the auth token, which reached the handler.
	var presented []aauthtest.TokenKind
	for _, r := range w.Resource.Requests() {
		if r.Endpoint != aauthtest.EndpointResource {
			continue // the person server fetching the resource's keys
		}
		if !r.Signed {
			t.Errorf("%s was not signed (%s)", r, r.Problem)
		}
		presented = append(presented, r.Presented)
	}
	want := []aauthtest.TokenKind{aauthtest.TokenAgent, aauthtest.TokenPerson, aauthtest.TokenAuth}
	if len(presented) != len(want) {
		t.Fatalf("presented %v, want %v", presented, want)
	}
	for i := range want {
		if presented[i] != want[i] {
			t.Fatalf("presented %v, want %v", presented, want)
		}
	}
}

func TestFetchReportReusesTokens(t *testing.T) {
	w := newWorld(t)
	client := agentClient(w, nil).Client()
	for range 3 {
		if _, err := fetchReport(testContext(t), client, w.Resource.URL); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(w.PS.AuthTokenRequests()); n != 1 {
		t.Errorf("%d auth-token requests for three reports, want 1 (the token is cached)", n)
	}
}

func TestFetchReportAfterApproval(t *testing.T) {
	w := newWorld(t)
	// The person server asks the person before it issues a person token.
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction()))

	var asked int
	client := agentClient(w, func(ctx context.Context, url, code string) error {
		// A real agent shows url?code=… to the person; here the person
		// approves at once.
		asked++
		return w.PS.CompleteInteraction(code)
	}).Client()

	if _, err := fetchReport(testContext(t), client, w.Resource.URL); err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("the person was asked %d times, want 1", asked)
	}
}

func TestFetchReportDenied(t *testing.T) {
	w := newWorld(t)
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction()))

	client := agentClient(w, func(ctx context.Context, url, code string) error {
		return w.PS.DenyInteraction(code) // the person says no
	}).Client()

	_, err := fetchReport(testContext(t), client, w.Resource.URL)
	if !errors.Is(err, aauth.ErrDenied) {
		t.Fatalf("err = %v, want aauth.ErrDenied", err)
	}
	if n := w.Resource.Served(); n != 0 {
		t.Errorf("the handler ran %d times for a refused agent", n)
	}
}
