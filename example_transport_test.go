package aauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// A Transport turns an http.Client into an AAuth agent. Here the agent
// provider, person server and resource are the in-process ones of
// aauthtest; in a real program Keys comes from your agent provider and
// PersonServer is the ps claim of your agent token.
func ExampleTransport() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()

	client := (&aauth.Transport{
		Keys:         w.AgentKeys("alice"),
		PersonServer: w.PS.URL,
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		OnInteraction: func(ctx context.Context, url, code string) error {
			fmt.Println("please open", "the consent page", "and enter the code")
			return nil
		},
	}).Client()

	resp, err := client.Get(w.Resource.URL + "/data")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	fmt.Println(resp.StatusCode == http.StatusOK, len(w.PS.PersonTokenRequests()), len(w.PS.AuthTokenRequests()))
	// Output: true 1 1
}

// Events show each step of the flow, without token values.
func ExampleTransport_events() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()

	tr := &aauth.Transport{
		Keys:         w.AgentKeys("alice"),
		PersonServer: w.PS.URL,
		OnEvent: func(ev aauth.Event) {
			switch {
			case ev.Step == aauth.StepSigned:
			case ev.Step == aauth.StepPersonServer:
				fmt.Println(ev.Step, ev.Method, ev.Detail, ev.Status)
			case ev.Credential != "":
				fmt.Println(ev.Step, ev.Credential)
			default:
				fmt.Println(ev.Step)
			}
		},
	}
	resp, err := tr.Client().Get(w.Resource.URL + "/data")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// challenge agent
	// person-token
	// person-server GET metadata 200
	// person-server POST token request 200
	// token-cached person
	// retry person
	// challenge person
	// exchange
	// person-server POST token request 200
	// token-cached auth
	// retry auth
	// done auth
}
