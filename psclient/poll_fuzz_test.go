package psclient

import (
	"testing"
	"time"
)

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", " 120 ", "1.5", "-1", "2abc", "99999999999999999999",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"} {
		f.Add(s)
	}
	now := time.Unix(1730217600, 0)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("%q: negative %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: %v without ok", v, d)
		}
	})
}

func FuzzPollBody(f *testing.F) {
	for _, s := range []string{
		`{"status":"pending"}`,
		`{"status":"interacting"}`,
		`{"status":"pending","clarification":"Why?","timeout":120,"options":["a","b"]}`,
		`{"clarification":"x","timeout":-5,"options":[1,"a",null]}`,
		`{"clarification":"x","timeout":1e308}`,
		`{"clarification":42}`,
		`[]`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pb := parsePollBody(b)
		if q := pb.Clarification; q != nil {
			if q.Question == "" || q.Timeout < 0 {
				t.Fatalf("clarification %+v", *q)
			}
		}
	})
}
