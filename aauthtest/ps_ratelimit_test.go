package aauthtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

// An agent whose mission endpoint requests keep failing is rate-limited
// (AAuth -11 Mission Endpoint Errors): after MissionFailureLimit failures
// within MissionFailureWindow its requests, good or bad, get 429
// slow_down with the seconds left in the window as Retry-After; other
// agents and successful requests are not counted; the window's end lifts
// the limit. The line Logf gets names the agent.
func TestPSMissionFailureLimit(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var logs []string
	w := NewWorld(WorldOptions{Now: clk.Now, PersonServer: PersonServerOptions{
		MissionFailureLimit: 3, MissionFailureWindow: time.Minute,
		Logf: func(format string, args ...any) {
			mu.Lock()
			logs = append(logs, fmt.Sprintf(format, args...))
			mu.Unlock()
		},
	}})
	defer w.Close()
	c := newClient(t, w)
	c.now = clk.Now
	bob := newClient(t, w)
	bob.now = clk.Now
	bob.agent, _ = w.NewAgent("bob")

	unknown := w.PS.URL + psMissionPath + "/" + psclient.MissionDigest([]byte("probed"))
	update := map[string]any{"action": "update", "description": "x"}
	proposal := map[string]any{"description": "d"}

	// Successes are not failures.
	for range 5 {
		propose(c, w, proposal).expect(t, 200)
	}
	for range 3 {
		c.do("POST", unknown, "", update, nil).expect(t, 404)
	}
	clk.Advance(20 * time.Second)
	for _, body := range []map[string]any{update, proposal} {
		url := unknown
		if body["action"] == nil {
			url = w.PS.URL + psMissionPath
		}
		r := c.do("POST", url, "", body, nil).expect(t, 429)
		if r.str(t, "error") != "slow_down" || r.Header.Get("Retry-After") != "40" {
			t.Errorf("limited: %v %s", r.Header, r.Body)
		}
	}
	// Another agent is not limited.
	bob.do("POST", unknown, "", update, nil).expect(t, 404)
	mu.Lock()
	logged := strings.Join(logs, "\n")
	mu.Unlock()
	if !strings.Contains(logged, "rate-limited at the mission endpoint") || !strings.Contains(logged, "alice") {
		t.Errorf("no log line names the agent limited:\n%s", logged)
	}
	// The window ends 60 s after the first failure.
	clk.Advance(40 * time.Second)
	propose(c, w, proposal).expect(t, 200)
	c.do("POST", unknown, "", update, nil).expect(t, 404)

	// Reset forgets the counts.
	c.do("POST", unknown, "", update, nil).expect(t, 404)
	c.do("POST", unknown, "", update, nil).expect(t, 404)
	c.do("POST", unknown, "", update, nil).expect(t, 429)
	w.PS.Reset()
	c.do("POST", unknown, "", update, nil).expect(t, 404)
}

// The limit's defaults: 10 failures a minute; a negative limit is none.
func TestPSMissionFailureLimitDefaults(t *testing.T) {
	for _, tc := range []struct {
		limit   int
		allowed int // failures before a 429; -1: never
	}{{0, 10}, {-1, -1}} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			w := NewWorld(WorldOptions{PersonServer: PersonServerOptions{MissionFailureLimit: tc.limit}})
			defer w.Close()
			c := newClient(t, w)
			unknown := w.PS.URL + psMissionPath + "/" + psclient.MissionDigest([]byte("probed"))
			for i := range 30 {
				r := c.do("POST", unknown, "", map[string]any{"action": "update", "description": "x"}, nil)
				want := 404
				if tc.allowed >= 0 && i >= tc.allowed {
					want = 429
				}
				if r.Status != want {
					t.Fatalf("request %d: %d, want %d", i, r.Status, want)
				}
			}
		})
	}
}

// The counts are bounded: past maxFailureAgents agents, the ended windows
// and then the oldest are forgotten.
func TestFailureLimitBounded(t *testing.T) {
	l := newFailureLimit(2, time.Minute)
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	l.fail("first", t0)
	l.fail("first", t0)
	for i := range 3 * maxFailureAgents {
		l.fail(fmt.Sprintf("agent-%d", i), t0.Add(time.Second))
	}
	if n := l.tracked(); n != maxFailureAgents {
		t.Fatalf("%d agents tracked, want %d", n, maxFailureAgents)
	}
	if _, blocked := l.blocked("first", t0.Add(2*time.Second)); blocked {
		t.Error("the oldest window was kept")
	}
	last := fmt.Sprintf("agent-%d", 3*maxFailureAgents-1)
	l.fail(last, t0.Add(2*time.Second))
	if _, blocked := l.blocked(last, t0.Add(3*time.Second)); !blocked {
		t.Error("the newest agent's failures were forgotten")
	}
	// Ended windows go first.
	l.fail("late", t0.Add(2*time.Minute))
	if n := l.tracked(); n != 1 {
		t.Errorf("%d agents tracked after every window ended, want 1", n)
	}
}

// The library's mission client sees the limit as a typed error: a
// *RequestError matching ErrRateLimited, its Response carrying
// Retry-After.
func TestPSMissionFailureLimitLibraryClient(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	w := NewWorld(WorldOptions{Now: clk.Now, PersonServer: PersonServerOptions{MissionFailureLimit: 2}})
	defer w.Close()
	_, hc := psClient(t, w, clk)
	ctx := context.Background()
	upd := psclient.MissionUpdate{PersonServer: w.PS.URL, MissionS256: psclient.MissionDigest([]byte("probed")), Description: "x"}
	for range 2 {
		if _, err := psclient.UpdateMission(ctx, hc, upd); !errors.Is(err, psclient.ErrMissionNotFound) {
			t.Fatalf("err = %v, want ErrMissionNotFound", err)
		}
	}
	_, err := psclient.UpdateMission(ctx, hc, upd)
	var re *psclient.RequestError
	if !errors.Is(err, psclient.ErrRateLimited) || !errors.As(err, &re) || re.StatusCode != 429 || re.Response.Header.Get("Retry-After") != "60" {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if errors.Is(err, psclient.ErrMissionNotFound) || errors.Is(err, psclient.ErrServer) {
		t.Errorf("%v matches another sentinel", err)
	}
	if _, err := psclient.ProposeMission(ctx, hc, psclient.MissionProposal{PersonServer: w.PS.URL, Description: "d"}); !errors.Is(err, psclient.ErrRateLimited) {
		t.Errorf("proposal: %v", err)
	}
}
