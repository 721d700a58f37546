package aauth_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// A Transport without PersonServer talks to the person server its agent
// token names in ps, through the whole person-token and auth-token flow.
func TestTransportPersonServerFromAgentToken(t *testing.T) {
	for _, p := range []aauth.Profile{aauth.ProfileCurrent, aauth.ProfileSeed} {
		t.Run(p.String(), func(t *testing.T) {
			w := aauthtest.NewWorld(aauthtest.WorldOptions{Profile: p})
			defer w.Close()
			w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Interaction()))
			client := (&aauth.Transport{
				Keys:    w.AgentKeys("alice"), // its tokens name w.PS in ps
				Profile: p,
				OnInteraction: func(ctx context.Context, url, code string) error {
					return w.PS.CompleteInteraction(code)
				},
			}).Client()
			for range 2 { // the second request presents the cached auth token
				resp, err := client.Get(w.Resource.URL + "/data")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			wantPerson := 1
			if p == aauth.ProfileSeed {
				wantPerson = 0 // the seed has no person tokens
			}
			if n := len(w.PS.PersonTokenRequests()); n != wantPerson {
				t.Errorf("%d person-token requests, want %d", n, wantPerson)
			}
			if n := len(w.PS.AuthTokenRequests()); n != 1 {
				t.Errorf("%d auth-token requests, want 1", n)
			}
		})
	}
}

// An agent token without ps, and no PersonServer, leaves a requirement
// for a token unmet: ErrNoPersonServer, and nothing sent to a person
// server.
func TestTransportNoPersonServerInAgentToken(t *testing.T) {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	w.Agent.SetPersonServer("")
	client := (&aauth.Transport{Keys: w.AgentKeys("bob")}).Client()
	_, err := client.Get(w.Resource.URL + "/data")
	if !errors.Is(err, aauth.ErrNoPersonServer) {
		t.Fatalf("error %v, want ErrNoPersonServer", err)
	}
	if n := len(w.PS.Requests()); n != 0 {
		t.Errorf("%d requests reached the person server", n)
	}
}
