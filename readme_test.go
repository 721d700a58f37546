package aauth_test

import (
	"context"
	"io"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// TestReadmeKitSnippet runs the "Test your agent" snippet of README.md.
func TestReadmeKitSnippet(t *testing.T) {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Interaction()))

	client := (&aauth.Transport{
		Keys:         w.AgentKeys("alice"),
		PersonServer: w.PS.URL,
		OnInteraction: func(ctx context.Context, url, code string) error {
			return w.PS.CompleteInteraction(code) // the person approves
		},
	}).Client()
	resp, err := client.Get(w.Resource.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(w.PS.AuthTokenRequests()) != 1 {
		t.Fatalf("status %d, %d exchanges", resp.StatusCode, len(w.PS.AuthTokenRequests()))
	}
}
