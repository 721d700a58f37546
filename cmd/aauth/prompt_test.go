package main

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"
)

// A read abandoned by a cancelled context hands its line to the next read.
func TestLineReaderCancel(t *testing.T) {
	pr, pw := io.Pipe()
	l := newLineReader(pr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := l.readLine(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("readLine with nothing to read: %v", err)
	}
	go func() {
		io.WriteString(pw, "first\r\nsecond")
		pw.Close()
	}()
	for _, want := range []string{"first", "second"} {
		got, err := l.readLine(context.Background())
		if err != nil || got != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := l.readLine(context.Background()); err != io.EOF {
		t.Fatalf("readLine at the end: %v, want EOF", err)
	}
}

func TestWithCode(t *testing.T) {
	for _, tc := range []struct{ url, code, want string }{
		{"https://ps.example/consent", "AB12CD34", "https://ps.example/consent?code=AB12CD34"},
		{"https://ps.example/consent?lang=en", "AB 12", "https://ps.example/consent?lang=en&code=AB+12"},
	} {
		if got := withCode(tc.url, tc.code); got != tc.want {
			t.Errorf("withCode(%q, %q) = %q, want %q", tc.url, tc.code, got, tc.want)
		}
	}
}
