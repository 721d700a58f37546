package aauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// relayWorld is a World whose resource holds the next call for an
// interaction, and whose Transport records what OnInteraction is given.
type relayWorld struct {
	*world
	mu      sync.Mutex
	visited []string // interaction URLs given to OnInteraction
}

func newRelayWorld(t *testing.T, ps aauthtest.PersonServerOptions, step aauthtest.Step) *relayWorld {
	t.Helper()
	w := &relayWorld{world: newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{PersonServer: ps})}
	w.Resource.Queue(aauthtest.Defer(step))
	w.tr.OnInteraction = func(ctx context.Context, u, code string) error {
		w.mu.Lock()
		w.visited = append(w.visited, u)
		w.mu.Unlock()
		// The person, at the page: approve.
		if strings.HasPrefix(u, w.Resource.URL) {
			return w.Resource.CompleteInteraction(code)
		}
		return w.PS.CompleteInteraction(code)
	}
	return w
}

func (w *relayWorld) directed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.visited...)
}

// relays returns the relay requests the person server received.
func (w *relayWorld) relays() []aauthtest.GovernanceRequest {
	var out []aauthtest.GovernanceRequest
	for _, gr := range w.PS.GovernanceRequests() {
		if gr.Endpoint == aauthtest.EndpointInteraction {
			out = append(out, gr)
		}
	}
	return out
}

// The person server reaches the person, who completes the resource's
// interaction; the agent never directs anyone.
func TestRelayFirst(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{RelayVisits: true}, aauthtest.Interaction())
	resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if d := w.directed(); len(d) != 0 {
		t.Errorf("OnInteraction was called: %v", d)
	}
	rs := w.relays()
	ix := w.Resource.Interactions()
	if len(rs) != 1 || len(ix) != 1 || rs[0].URL != ix[0].URL || rs[0].Code != ix[0].Code || rs[0].Type != "interaction" || !ix[0].Completed {
		t.Fatalf("relays %+v, interactions %+v", rs, ix)
	}
	var m map[string]any
	if err := json.Unmarshal(rs[0].Body, &m); err != nil || len(m) != 3 {
		t.Errorf("relay body %s", rs[0].Body)
	}
}

// The relay resolves at once; the resource's pending URL still says when
// the interaction is complete, and the agent keeps polling it.
func TestRelayResourceStaysAuthority(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{}, aauthtest.Interaction().Times(4))
	w.PS.QueueAt(aauthtest.EndpointInteraction, aauthtest.Approve())
	resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if d := w.directed(); len(d) != 0 {
		t.Errorf("OnInteraction was called: %v", d)
	}
	polls := 0
	for _, r := range w.Resource.Requests() {
		if r.Endpoint == aauthtest.EndpointPending && r.Method == "GET" {
			polls++
		}
	}
	if polls < 3 || len(w.relays()) != 1 {
		t.Errorf("%d polls of the resource, %d relays", polls, len(w.relays()))
	}
}

func TestRelayUnavailableFallsBack(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{}, aauthtest.Interaction())
	var events []aauth.Event
	var mu sync.Mutex
	w.tr.OnEvent = func(ev aauth.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }
	resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if d := w.directed(); len(d) != 1 || !strings.HasPrefix(d[0], w.Resource.URL) {
		t.Errorf("OnInteraction %v", d)
	}
	if len(w.relays()) != 1 {
		t.Errorf("%d relays", len(w.relays()))
	}
	mu.Lock()
	defer mu.Unlock()
	seen := false
	for _, ev := range events {
		seen = seen || ev.Step == aauth.StepRelay && strings.Contains(ev.Detail, "cannot reach the person")
	}
	if !seen {
		t.Error("no event said the relay was unavailable")
	}
}

// A relay deferred, then unavailable: the watcher falls back while the
// resource is being polled.
func TestRelayDeferredThenUnavailable(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{}, aauthtest.Interaction())
	w.PS.QueueAt(aauthtest.EndpointInteraction, aauthtest.Defer(aauthtest.Interacting()).Then(aauthtest.Unavailable()))
	resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if d := w.directed(); len(d) != 1 {
		t.Errorf("OnInteraction %v", d)
	}
}

func TestRelayUserUnreachable(t *testing.T) {
	for name, d := range map[string]aauthtest.Decision{
		"at once":       aauthtest.UserUnreachable(),
		"after a defer": aauthtest.Defer(aauthtest.Interacting()).Then(aauthtest.UserUnreachable()),
	} {
		t.Run(name, func(t *testing.T) {
			w := newRelayWorld(t, aauthtest.PersonServerOptions{}, aauthtest.Interaction())
			w.tr.OnInteraction = func(context.Context, string, string) error {
				t.Error("OnInteraction was called")
				return nil
			}
			w.PS.QueueAt(aauthtest.EndpointInteraction, d)
			_, err := w.tr.Client().Get(w.Resource.URL + "/data")
			if !errors.Is(err, aauth.ErrUserUnreachable) {
				t.Fatalf("error %v", err)
			}
			if strings.Count(err.Error(), "aauth: ") != 1 {
				t.Errorf("prefix repeated: %v", err)
			}
		})
	}
}

func TestRelayDisabled(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{RelayVisits: true}, aauthtest.Interaction())
	w.tr.DisableRelay = true
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(w.relays()) != 0 || len(w.directed()) != 1 {
		t.Errorf("%d relays, OnInteraction %v", len(w.relays()), w.directed())
	}
}

// The person server's own consent page is never relayed back to it.
func TestRelayNotThePersonServersOwnPage(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{RelayVisits: true}, aauthtest.Pending())
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction()))
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(w.relays()) != 0 {
		t.Errorf("relayed the person server's own page: %+v", w.relays())
	}
	if d := w.directed(); len(d) != 1 || !strings.HasPrefix(d[0], w.PS.URL) {
		t.Errorf("OnInteraction %v", d)
	}
}

// Under a mission the relay names it.
func TestRelayNamesTheMission(t *testing.T) {
	w := newRelayWorld(t, aauthtest.PersonServerOptions{RelayVisits: true}, aauthtest.Interaction())
	a, err := w.tr.ProposeMission(context.Background(), psclient.MissionProposal{Description: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if rs := w.relays(); len(rs) != 1 || rs[0].MissionS256 != a.S256 {
		t.Errorf("relays %+v", rs)
	}
}

func TestAsk(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	w.PS.QueueAt(aauthtest.EndpointQuestion, aauthtest.Defer(aauthtest.Pending()).Then(aauthtest.Answer("The refundable one.")))
	answer, err := w.tr.Ask(context.Background(), "Which fare?")
	if err != nil || answer != "The refundable one." {
		t.Fatalf("%q, %v", answer, err)
	}
}
