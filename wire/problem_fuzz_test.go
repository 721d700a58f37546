package wire

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzParseProblem(f *testing.F) {
	for _, s := range []string{
		`{"error":"denied","detail":"No."}`,
		`{"type":"about:blank","title":"Forbidden","status":403,"detail":"x","instance":"/p/1","error":"denied"}`,
		`{"error":"invalid_request","error_description":"Missing field","error_uri":"https://doc"}`,
		`{"error":7,"status":"403","status2":1e999}`,
		`{"detail":"a\u0000b\nc\u2028"}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProblem(b)
		if err != nil {
			if p != nil {
				t.Fatal("problem with an error")
			}
			return
		}
		if p == nil {
			t.Fatal("nil problem without an error")
		}
		if p.Status != 0 && (p.Status < 100 || p.Status > 599) {
			t.Fatalf("status %d", p.Status)
		}
		s := p.String()
		if len(s) > 64+256+2*len("…")+2 {
			t.Fatalf("summary too long: %d bytes", len(s))
		}
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("control character in %q", s)
			}
		}
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 in %q", s)
		}
	})
}
