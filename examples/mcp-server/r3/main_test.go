package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aauthgo/aauth/examples/internal/outputtest"
)

// TestRun runs the demo as go run does: the granted tools run on the
// agent's auth token, each send_email on an approval of its own, and
// delete_all is refused; three auth tokens in all (the one asked for up
// front, and one per send_email).
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, &out)
	}
	want := []string{
		"server: serving http://127.0.0.1:",
		"agent: tools: delete_all (auth-token), fetch (auth-token), search (auth-token), send_email (per-call)",
		`agent: search: search("invoices") done, granted by the agent's auth token`,
		`agent: fetch: fetch("invoice-7") done, granted by the agent's auth token`,
		`agent: send_email: send_email("to bob") done, approved for this one call`,
		`agent: send_email: send_email("to carol") done, approved for this one call`,
		"agent: delete_all: refused, not granted",
		"person server: 3 auth tokens issued",
	}
	outputtest.Lines(t, out.String(), want...)
}

func TestFlags(t *testing.T) {
	ctx := context.Background()
	if err := run(ctx, &bytes.Buffer{}, []string{"--bogus"}); err == nil {
		t.Error("an unknown flag: no error")
	}
}
