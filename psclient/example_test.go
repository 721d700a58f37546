package psclient_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/psclient"
)

// A person server that asks the person to approve, then issues the token.
func ExampleExchangeToken() {
	var ps *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/aauth-person.json", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"issuer":                ps.URL,
			"auth_token_endpoint":   ps.URL + "/token",
			"person_token_endpoint": ps.URL + "/person",
		})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("token request: %s\n", body)
		w.Header().Set("Location", "/pending/1")
		w.Header().Set("Retry-After", "0")
		w.Header().Set("AAuth-Requirement", `requirement=interaction; url="`+ps.URL+`/consent"; code="ABCD2345"`)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /pending/1", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"auth_token": "eyJ.auth.token", "expires_in": 3600})
	})
	ps = httptest.NewServer(mux)
	defer ps.Close()

	// The client signs every request with the agent token.
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // use keys.Generate in real code
	agent := (&aauth.SigningTransport{Keys: aauth.StaticKeys(key, aauth.JWT("eyJ.agent.token"))}).Client()

	tok, err := psclient.ExchangeToken(context.Background(), agent, psclient.ExchangeRequest{
		PersonServer:   ps.URL,
		ResourceToken:  "eyJ.resource.token",
		PresentedToken: "eyJ.person.token",
		Justification:  "read files",
		Capabilities:   []aauth.Capability{aauth.CapabilityInteraction},
		Poll: psclient.PollOptions{
			OnInteraction: func(ctx context.Context, url, code string) error {
				fmt.Println("please approve: open the consent page, code", code)
				return nil
			},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("auth token:", tok.Value, "for", tok.ExpiresIn, "s")
	// Output:
	// token request: {"resource_token":"eyJ.resource.token","presented_token":"eyJ.person.token","justification":"read files","capabilities":["interaction"]}
	// please approve: open the consent page, code ABCD2345
	// auth token: eyJ.auth.token for 3600 s
}

// Polling a pending URL that asks a question before it completes.
func ExamplePollDeferred() {
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			fmt.Printf("answer posted: %s\n", body)
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet:
			polls++
			if polls == 1 {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Retry-After", "0")
				w.Header().Set("AAuth-Requirement", "requirement=clarification")
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, `{"status":"pending","clarification":"Which repository?","options":["web","api"]}`)
				return
			}
			io.WriteString(w, `{"status":"done"}`)
		}
	}))
	defer srv.Close()

	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	client := (&aauth.SigningTransport{Keys: aauth.StaticKeys(key, aauth.JWT("eyJ.agent.token"))}).Client()

	resp, err := psclient.PollDeferred(context.Background(), client, srv.URL+"/pending/42", psclient.PollOptions{
		OnClarification: func(ctx context.Context, q psclient.Clarification) (string, error) {
			fmt.Println("question:", q.Question, q.Options)
			return "api", nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// question: Which repository? [web api]
	// answer posted: {"action":"clarification_response","clarification_response":"api"}
	// 200 {"status":"done"}
}

// Tracing what the client sends: each request and each poll, with the
// status and the wait chosen, and never a token.
func ExampleWithObserver() {
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if polls++; polls < 3 {
			w.Header().Set("Retry-After", "2")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"pending"}`)
			return
		}
		io.WriteString(w, `{"status":"done"}`)
	}))
	defer srv.Close()

	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	client := (&aauth.SigningTransport{Keys: aauth.StaticKeys(key, aauth.JWT("eyJ.agent.token"))}).Client()
	ctx := psclient.WithObserver(context.Background(), func(o psclient.Observation) {
		fmt.Println(o.Kind, o.Method, o.URL[len(srv.URL):], o.Status, "next poll in", o.Wait)
	})
	resp, err := psclient.PollDeferred(ctx, client, srv.URL+"/pending/42?state=secret", psclient.PollOptions{Clock: instantClock{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// poll GET /pending/42 202 next poll in 2s
	// poll GET /pending/42 202 next poll in 2s
	// poll GET /pending/42 200 next poll in 0s
}

// instantClock is a psclient.Clock whose waits take no time, so that the
// example does not sleep.
type instantClock struct{}

func (instantClock) Now() time.Time                                   { return time.Now() }
func (instantClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }
