package psclient_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/psclient"
)

// FuzzSubagentAnswer: whatever JSON arrives as a parent's answer, Result
// gives a token or a bounded error with one prefix, never a panic, and an
// error never carries the answer's token.
func FuzzSubagentAnswer(f *testing.F) {
	for _, s := range []string{
		`{"token":"eyJ.a.b","expires_in":3600,"expiry":"2026-12-03T10:00:00Z"}`,
		`{"status":400,"error":"invalid_subagent_token","detail":"parent_agent"}`,
		`{"status":403,"error":"denied"}`, `{}`, `{"token":"","status":0}`,
		`{"token":"x","error":"denied"}`, `{"status":99999,"error":"\u0000"}`,
		`{"expires_in":1e300,"token":"t"}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a psclient.SubagentAnswer
		if json.Unmarshal(b, &a) != nil {
			return
		}
		tok, err := a.Result()
		if err == nil {
			if tok == nil || tok.Value != a.Token || tok.Value == "" {
				t.Fatalf("Result = %v for %s", tok, b)
			}
			return
		}
		msg := err.Error()
		if strings.Count(msg, "aauth: ") != 1 || len(msg) > 2048 {
			t.Fatalf("message %q", msg)
		}
		if len(a.Token) >= 12 && strings.Contains(msg, a.Token) {
			t.Fatalf("message carries the token: %q", msg)
		}
		// What the sub-agent reads, it can answer again unchanged.
		again := psclient.NewSubagentAnswer(nil, err)
		if again.Status == 0 || again.Error == "" {
			t.Fatalf("answer of %v: %+v", err, again)
		}
	})
}
