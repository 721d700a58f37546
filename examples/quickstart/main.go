// Command quickstart is the smallest program that signs into an AAuth
// resource: an http.Client whose Transport is an aauth.Transport. The
// Transport signs the request, answers the resource's challenges by getting
// a person token and then an auth token from the agent's person server,
// and retries; the program just sees the resource's answer.
//
// It runs without an AAuth deployment: a local stand-in (aauthtest's agent
// provider, person server and resource) starts on 127.0.0.1 first and stops
// on exit.
package main

import (
	"fmt"
	"io"
	"log"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

func main() {
	// ---- Local stand-in (a real program has none of this) ----
	// A real agent gets its keys and agent token from its agent provider
	// (any aauth.KeySource, e.g. aauth.StaticKeys) and is told its person
	// server's URL.
	world := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer world.Close()
	keys, personServer := world.AgentKeys("alice"), world.PS.URL
	resource := world.Resource.URL + "/hello"

	// ---- A real program keeps this ----
	client := (&aauth.Transport{Keys: keys, PersonServer: personServer}).Client()
	resp, err := client.Get(resource)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status)
	fmt.Println(string(body))
}
