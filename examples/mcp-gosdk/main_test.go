package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs the example as go run does and checks what it prints.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, &out)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"person: open http://127.0.0.1:",
		"tools: greet",
		`result: Hello, AAuth! (called with a verified auth token, scope "read")`,
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", &out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want %q…", i+1, lines[i], w)
		}
	}
}
