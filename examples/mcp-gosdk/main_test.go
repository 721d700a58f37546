package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aauthgo/aauth/examples/internal/outputtest"
)

// TestRun runs the example as go run does and checks what it prints.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, &out)
	}
	want := []string{
		"person: open http://127.0.0.1:",
		"tools: greet",
		`result: Hello, AAuth! (called with a verified auth token, scope "read")`,
	}
	outputtest.Lines(t, out.String(), want...)
}
