package aauth_test

import (
	"fmt"
	"io"
	"sync"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/agentprovider"
)

// Sub-agents act for the same person as their parent, each with its own
// key and agent token: the parent's Transport obtains their tokens from its
// person server (AAuth -11 sub-agents), and each sub-agent's Transport asks
// the parent instead of a person server. Here an orchestrator runs two
// sub-agents as goroutines against the in-process servers of aauthtest.
func ExampleTransport_subagents() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()

	orchestrator := &agentprovider.Keys{
		Issuer:       w.Agent.TokenIssuer(),
		Subject:      w.Agent.Subject("planner"),
		PersonServer: w.PS.URL,
	}
	parent := &aauth.Transport{Keys: orchestrator, PersonServer: w.PS.URL}

	var wg sync.WaitGroup
	status := make([]string, 2)
	for i, name := range []string{"search", "summarise"} {
		keys, err := orchestrator.Subagent(name) // aauth:planner+search@…, its own key
		if err != nil {
			fmt.Println(err)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := (&aauth.Transport{Keys: keys, Parent: parent}).Client()
			resp, err := client.Get(w.Resource.URL + "/data")
			if err != nil {
				status[i] = err.Error()
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status[i] = fmt.Sprintf("%s: %d", name, resp.StatusCode)
		}()
	}
	wg.Wait()
	fmt.Println(status[0])
	fmt.Println(status[1])

	// The resource served each sub-agent's own key; the person server saw
	// only the parent's, with the sub-agent's token in the body.
	keys := map[string]bool{}
	for _, r := range w.Resource.Requests() {
		if r.Status == 200 && r.Presented == aauthtest.TokenAuth {
			keys[r.Thumbprint] = true
		}
	}
	fmt.Println("keys served:", len(keys))
	byParent := 0
	for _, tr := range w.PS.TokenRequests() {
		if tr.Agent == orchestrator.Subject && tr.Subagent != "" {
			byParent++
		}
	}
	fmt.Println("token requests, all by the parent:", byParent)
	// Output:
	// search: 200
	// summarise: 200
	// keys served: 2
	// token requests, all by the parent: 4
}
