package storetest

import (
	"bufio"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// AgentArgs are the arguments of the agent role: one agent's key material
// (the same in every process of a fleet, as replicas share their key),
// its person server, the URLs to GET and the store to use.
type AgentArgs struct {
	Seed         []byte // the Ed25519 seed of the agent's key
	AgentToken   string
	PersonServer string
	URLs         []string
	// Store is handed to the role's open function as it is.
	Store json.RawMessage
	// Barrier makes the agent print "ready" and wait for a line before
	// its first request, so that several agents go cold together.
	Barrier bool
}

// AgentResult is what the agent role prints for each URL, after
// "result ".
type AgentResult struct {
	Status int            `json:"status"`
	Err    string         `json:"err,omitempty"`
	Steps  map[string]int `json:"steps"` // events seen, by step, during the request
}

// AgentRole returns the role that runs a Transport with the store open
// returns: "ready", then (after the barrier) a "result {json}" line per
// URL, then "done".
func AgentRole(open func(store json.RawMessage, onEvent func(aauth.Event)) (aauth.TokenCache, error)) Role {
	return func(raw json.RawMessage, in *bufio.Reader, out io.Writer) error {
		var a AgentArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			return err
		}
		var mu sync.Mutex
		steps := map[string]int{}
		onEvent := func(ev aauth.Event) {
			mu.Lock()
			steps[string(ev.Step)]++
			mu.Unlock()
		}
		cache, err := open(a.Store, onEvent)
		if err != nil {
			return err
		}
		key := ed25519.NewKeyFromSeed(a.Seed)
		client := (&aauth.Transport{
			Keys:         aauth.StaticKeys(key, aauth.JWT(a.AgentToken)),
			PersonServer: a.PersonServer,
			Tokens:       cache,
			OnEvent:      onEvent,
		}).Client()
		fmt.Fprintln(out, "ready")
		if a.Barrier {
			if _, err := in.ReadString('\n'); err != nil {
				return fmt.Errorf("waiting for the barrier: %w", err)
			}
		}
		for _, u := range a.URLs {
			mu.Lock()
			clear(steps)
			mu.Unlock()
			var res AgentResult
			resp, err := client.Get(u)
			if err != nil {
				res.Err = err.Error()
			} else {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.Status = resp.StatusCode
			}
			mu.Lock()
			res.Steps = maps.Clone(steps)
			mu.Unlock()
			b, _ := json.Marshal(res)
			fmt.Fprintf(out, "result %s\n", b)
		}
		fmt.Fprintln(out, "done")
		return nil
	}
}

// Fleet is an aauthtest World and one agent whose key material every
// process of the fleet shares.
type Fleet struct {
	World *aauthtest.World
	Agent *aauthtest.Agent
}

// NewFleet starts a World, closed when the test ends, and mints the fleet's
// agent.
func NewFleet(t testing.TB) *Fleet {
	t.Helper()
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	t.Cleanup(w.Close)
	agent, err := w.NewAgent("fleet")
	if err != nil {
		t.Fatal(err)
	}
	return &Fleet{World: w, Agent: agent}
}

// Args returns the agent arguments for fetching urls with store.
func (f *Fleet) Args(store any, barrier bool, urls ...string) AgentArgs {
	s, err := json.Marshal(store)
	if err != nil {
		panic(err)
	}
	return AgentArgs{
		Seed:         f.Agent.Key.Seed(),
		AgentToken:   f.Agent.Token,
		PersonServer: f.World.PS.URL,
		URLs:         urls,
		Store:        s,
		Barrier:      barrier,
	}
}

// Counts is what the fleet's servers saw.
type Counts struct {
	Resource     int // requests to the resource
	PersonTokens int // POSTs to the person-token endpoint
	Exchanges    int // POSTs to the auth-token endpoint
	PS           int // requests to the person server, of any kind
}

// Counts returns what the servers saw since the last Reset.
func (f *Fleet) Counts() Counts {
	var c Counts
	for _, r := range f.World.Resource.Requests() {
		if r.Endpoint == aauthtest.EndpointResource {
			c.Resource++
		}
	}
	for _, r := range f.World.PS.Requests() {
		c.PS++
		if r.Method != http.MethodPost {
			continue
		}
		switch r.Endpoint {
		case aauthtest.EndpointPersonToken:
			c.PersonTokens++
		case aauthtest.EndpointAuthToken:
			c.Exchanges++
		}
	}
	return c
}

// RunAgents starts n agent processes with args, lets them go together
// once all are ready, and returns their results, one slice per process.
func RunAgents(t testing.TB, n int, args AgentArgs) [][]AgentResult {
	t.Helper()
	procs := make([]*Proc, n)
	for i := range procs {
		procs[i] = Start(t, "agent", args)
	}
	for _, p := range procs {
		p.Expect(t, "ready")
	}
	if args.Barrier {
		for _, p := range procs {
			p.Send(t, "go")
		}
	}
	out := make([][]AgentResult, n)
	for i, p := range procs {
		for range args.URLs {
			var r AgentResult
			if err := json.Unmarshal([]byte(p.Expect(t, "result ")), &r); err != nil {
				t.Fatal(err)
			}
			out[i] = append(out[i], r)
		}
		p.Expect(t, "done")
		p.Wait(t)
	}
	return out
}

// Failed returns a description of the results that are not 200, or "".
func Failed(results [][]AgentResult) string {
	var b strings.Builder
	for i, rs := range results {
		for j, r := range rs {
			if r.Status != http.StatusOK || r.Err != "" {
				fmt.Fprintf(&b, "process %d request %d: status %d err %q; ", i, j, r.Status, r.Err)
			}
		}
	}
	return b.String()
}
