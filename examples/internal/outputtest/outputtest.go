// Package outputtest checks what an example prints, for the examples'
// tests. It is internal to the examples.
package outputtest

import (
	"strings"
	"testing"
)

// Lines splits out, what an example printed, into lines and checks that
// there are as many as want, each starting with its want; it returns the
// lines. A count that differs stops the test.
func Lines(t testing.TB, out string, want ...string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want %q…", i+1, lines[i], w)
		}
	}
	return lines
}
