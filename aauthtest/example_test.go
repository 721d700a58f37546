package aauthtest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/wire"
)

// A World is an agent provider, a person server and a resource that trust
// each other. Here a plain signing client makes the first call of the flow.
func ExampleNewWorld() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()

	client := (&aauth.SigningTransport{Keys: w.AgentKeys("alice")}).Client()
	resp, err := client.Get(w.Resource.URL + "/data")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("AAuth-Requirement"))

	rec := w.Resource.Requests()[0]
	fmt.Println("presented:", rec.Presented, "covered:", rec.Components)
	// Output:
	// 401 requirement=person-token
	// presented: agent covered: [@method @authority @path signature-key]
}

// post sends a signed JSON POST.
func post(client *http.Client, url, body string) *http.Response {
	req, _ := http.NewRequest("POST", url, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	return resp
}

// Queue a deferral for the next person-token request: the person server
// answers 202 with an interaction requirement until the test completes the
// interaction, then issues the token on the next poll.
func ExamplePersonServer_Queue() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction()))

	client := (&aauth.SigningTransport{Keys: w.AgentKeys("alice")}).Client()
	resp := post(client, w.PS.URL+"/aauth/token/person", `{"resource":"`+w.Resource.URL+`"}`)
	resp.Body.Close()
	ch, _ := wire.ParseRequirement(resp.Header.Get("AAuth-Requirement"))
	fmt.Println(resp.StatusCode, ch.Requirement, ch.URL == w.PS.URL+"/aauth/consent", len(ch.Code))

	// The person approves (a test may also GET ch.URL+"?code="+ch.Code).
	if err := w.PS.CompleteInteraction(ch.Code); err != nil {
		fmt.Println(err)
	}
	poll, _ := client.Get(resp.Header.Get("Location"))
	poll.Body.Close()
	fmt.Println(poll.StatusCode, len(w.PS.PersonTokenRequests()), w.PS.Polls())
	// Output:
	// 202 interaction true 8
	// 200 1 1
}

// A policy decides every token request the queue does not: here an
// approval round for auth tokens, and person tokens at once.
func ExamplePersonServer_SetPolicy() {
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	defer ps.Close()
	ps.SetPolicy(func(r *aauthtest.TokenRequest) aauthtest.Decision {
		if r.Kind == aauthtest.TokenAuth {
			return aauthtest.Defer(aauthtest.Approval(), aauthtest.Status(503, "2"))
		}
		return aauthtest.Approve()
	})
	fmt.Println(ps.URL != "")
	// Output: true
}

// Decisions combine deferral steps with an end.
func ExampleDefer() {
	// Ask a question, let the agent poll into a slow_down, then deny.
	d := aauthtest.Defer(
		aauthtest.Clarification("Which repository?", "web", "api"),
		aauthtest.Status(429, "5"),
	).Then(aauthtest.Deny())
	_ = d

	// Approve after two polls of "pending", with a short-lived token.
	d = aauthtest.Defer(aauthtest.Pending().Times(2)).Then(aauthtest.Approve().Lifetime(time.Minute))
	_ = d
	// Output:
}

// Malformed answers test how an agent copes with broken servers.
func ExampleMalformed() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	w.PS.Queue(aauthtest.TokenPerson, aauthtest.Malformed(aauthtest.FaultTokenNotString))

	client := (&aauth.SigningTransport{Keys: w.AgentKeys("alice")}).Client()
	resp := post(client, w.PS.URL+"/aauth/token/person", `{"resource":"`+w.Resource.URL+`"}`)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 {"person_token":12345,"expires_in":3600}
}

// A resource with its own handler; the handler learns who called.
func ExampleNewResource() {
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{})
	defer ap.Close()
	rs := aauthtest.NewResource(aauthtest.ResourceOptions{
		Mode:          aauthtest.AccessAgentToken,
		TrustedAgents: []string{ap.URL},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := aauthtest.CallerFromContext(r.Context())
			fmt.Fprintf(w, "hello %s (%s token)", c.Agent, c.Presented)
		}),
	})
	defer rs.Close()

	agent, err := ap.NewAgent("bob")
	if err != nil {
		fmt.Println(err)
		return
	}
	client := (&aauth.SigningTransport{Keys: agent}).Client()
	resp, err := client.Get(rs.URL + "/hello")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello aauth:bob@127.0.0.1 (agent token)
}

// StepUp makes the next call that carries an auth token get a new
// auth-token requirement, for a wider scope.
func ExampleResource_StepUp() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Scope: "read"}})
	defer w.Close()
	w.Resource.StepUp("write")
	fmt.Println(w.Resource.Scope())
	// Output: read write
}

// A FakeClock moves time for every server at once: here an agent token
// outlives its hour.
func ExampleClock() {
	clock := aauthtest.NewFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	w := aauthtest.NewWorld(aauthtest.WorldOptions{Now: clock.Now, Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	defer w.Close()
	agent, _ := w.NewAgent("alice")
	client := (&aauth.SigningTransport{Keys: agent, Now: clock.Now}).Client()

	get := func() {
		resp, err := client.Get(w.Resource.URL + "/")
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Values("Signature-Error"))
	}
	get()
	clock.Advance(61 * time.Minute)
	get()
	// Output:
	// 200 []
	// 401 [error=expired_jwt]
}

// An agent provider mints agent tokens for keys it generates or is given.
func ExampleNewAgentProvider() {
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: "https://ps.example"})
	defer ap.Close()

	keys := ap.AgentKeys("alice") // renews its key and token before expiry
	km, err := keys.KeyMaterial(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(km.Key.Scheme, ap.Subject("alice"))
	// Output: jwt aauth:alice@127.0.0.1
}
