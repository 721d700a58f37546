package redisstore_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/redisstore"
)

var _ aauth.TokenLocker = (*redisstore.TokenCache)(nil)

// TestFleet: three agent processes (replicas: one key, one Redis) going
// cold at once against the kit fetch one person token and make one
// exchange between them; a replica started again later is warm: one
// request to the resource, none to the person server.
func TestFleet(t *testing.T) {
	srv := startRedis(t)
	f := storetest.NewFleet(t)
	url := f.World.Resource.URL + "/data"

	res := storetest.RunAgents(t, 3, f.Args(childStore{Addr: srv.Addr}, true, url))
	if msg := storetest.Failed(res); msg != "" {
		t.Fatal(msg)
	}
	c := f.Counts()
	t.Logf("3 cold processes: %+v", c)
	if c.Exchanges != 1 || c.PersonTokens != 1 {
		t.Fatalf("3 cold processes: %d exchanges, %d person-token requests; want 1 and 1", c.Exchanges, c.PersonTokens)
	}
	// The process that fetches makes 3 resource requests (agent, person
	// and auth token); the others 1 to 3, by when they find the token it
	// shares: a process that looks in the cache after it was stored
	// presents the auth token at once.
	if c.Resource < 5 || c.Resource > 9 {
		t.Errorf("%d resource requests, want 5 to 9 (3 for the process that fetches, 1 to 3 for each other)", c.Resource)
	}

	f.World.Reset()
	res = storetest.RunAgents(t, 1, f.Args(childStore{Addr: srv.Addr}, false, url))
	if msg := storetest.Failed(res); msg != "" {
		t.Fatal(msg)
	}
	if c := f.Counts(); c != (storetest.Counts{Resource: 1}) {
		t.Fatalf("restarted process: %+v, want one resource request and nothing else", c)
	}
}

// TestRedisStoppedMidRun: an agent whose Redis stops keeps working: warm
// from its own copy, and a new process cold, on its own; when Redis is back
// the shared cache is used again.
func TestRedisStoppedMidRun(t *testing.T) {
	srv := startRedis(t)
	f := storetest.NewFleet(t)
	url := f.World.Resource.URL + "/data"
	ev := storetest.NewEvents(t, secret)
	clk := newClock()
	newTransport := func() *aauth.Transport {
		store := redisstore.New(newClient(srv.Addr), redisstore.Options{OnEvent: ev.Add, Now: clk.Now})
		return &aauth.Transport{Keys: f.Agent, PersonServer: f.World.PS.URL, Tokens: store.Tokens(), OnEvent: ev.Add}
	}
	get := func(tr *aauth.Transport) {
		t.Helper()
		resp, err := tr.Client().Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	running := newTransport()
	get(running)

	srv.Stop()
	f.World.Reset()
	get(running)
	if c := f.Counts(); c != (storetest.Counts{Resource: 1}) {
		t.Fatalf("running process, Redis down: %+v, want one resource request", c)
	}
	f.World.Reset()
	get(newTransport()) // a process started during the outage
	if c := f.Counts(); c.Exchanges != 1 || c.Resource != 3 {
		t.Fatalf("new process, Redis down: %+v, want a cold run of its own", c)
	}
	if n := ev.Count(redisstore.StepUnavailable); n != 2 {
		t.Fatalf("%d unavailable events, want 2 (one per store)", n)
	}

	// Redis comes back, empty: the next fetch is shared again.
	srv.Restart()
	clk.Advance(redisstore.DefaultRetryAfter)
	f.World.Reset()
	get(running)
	if ev.Count(redisstore.StepAvailable) != 1 {
		t.Fatal("no event said Redis was back")
	}
	f.World.Reset()
	get(newTransport())
	if c := f.Counts(); c != (storetest.Counts{Resource: 1}) {
		t.Fatalf("after Redis came back: %+v, want a warm run from the shared cache", c)
	}
}
