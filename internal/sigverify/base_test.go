package sigverify

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// wireRequest reads raw (lines ending in "\n") as a Go server does.
func wireRequest(t testing.TB, raw string, overTLS bool) *http.Request {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("reading %q: %v", raw, err)
	}
	if overTLS {
		req.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	return req
}

// componentValue derives the component with identifier id (serialized as
// in Signature-Input) from req.
func componentValue(req *http.Request, id string) (string, error) {
	h := http.Header{}
	h.Set("Signature-Input", "sig=("+id+");created=1")
	h.Set("Signature", "sig=:AAAA:")
	s, err := parseSignature(h, "sig")
	if err != nil {
		return "", err
	}
	b, err := newBaseBuilder(req)
	if err != nil {
		return "", err
	}
	return b.value(s.components[0])
}

// TestComponentValues derives components from requests as received, with
// expected values from the examples of RFC 9421 §2.1 and §2.2 and, for the
// wire cases, worked out from the text by hand.
func TestComponentValues(t *testing.T) {
	const (
		rfcPost = "POST /path?param=value HTTP/1.1\nHost: www.example.com\n\n"
		rfcGet  = "GET /path?param=value&foo=bar&baz=bat%2Dman HTTP/1.1\nHost: www.example.com\n\n"
		// §2.1, with Example-Dict of §2.1.2 and Example-Header of §2.1.3.
		rfcFields = "GET /foo HTTP/1.1\nHost: www.example.com\nDate: Tue, 20 Apr 2021 02:07:56 GMT\n" +
			"X-OWS-Header:   Leading and trailing whitespace.   \nX-Obs-Fold-Header: Obsolete\n    line folding.\n" +
			"Cache-Control: max-age=60\nCache-Control:    must-revalidate\n" +
			"Example-Dict:  a=1,    b=2;x=1;y=2,   c=(a   b   c)\nX-Empty-Header:\n" +
			"Example-Key-Dict: a=1, b=2;x=1;y=2, c=(a b c), d\n" +
			"Example-Header: value, with, lots\nExample-Header: of, commas\n\n"
		rfcParams = "GET /parameters?var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something&qux= HTTP/1.1\nHost: www.example.com\n\n"
	)
	tests := []struct {
		name    string
		raw     string
		overTLS bool
		id      string
		want    string
		code    string // the error's code instead of a value
	}{
		// §2.2.1-2.2.7.
		{"method", rfcPost, true, `"@method"`, "POST", ""},
		{"target-uri", rfcPost, true, `"@target-uri"`, "https://www.example.com/path?param=value", ""},
		{"authority", rfcPost, true, `"@authority"`, "www.example.com", ""},
		{"scheme https", rfcPost, true, `"@scheme"`, "https", ""},
		{"scheme http", rfcPost, false, `"@scheme"`, "http", ""},
		{"request-target", rfcPost, true, `"@request-target"`, "/path?param=value", ""},
		{"path", rfcPost, true, `"@path"`, "/path", ""},
		{"query", rfcGet, true, `"@query"`, "?param=value&foo=bar&baz=bat%2Dman", ""},
		{"query alone", "POST /path?queryString HTTP/1.1\nHost: www.example.com\n\n", true, `"@query"`, "?queryString", ""},
		{"query absent", "GET /path HTTP/1.1\nHost: www.example.com\n\n", true, `"@query"`, "?", ""},
		{"request-target absolute-form", "GET https://www.example.com/path?param=value HTTP/1.1\nHost: www.example.com\n\n", false,
			`"@request-target"`, "https://www.example.com/path?param=value", ""},
		{"path absolute-form", "GET https://www.example.com/path?param=value HTTP/1.1\nHost: www.example.com\n\n", false, `"@path"`, "/path", ""},
		{"target-uri absolute-form", "GET HTTPS://WWW.Example.com:443/path?param=value HTTP/1.1\nHost: www.example.com\n\n", false,
			`"@target-uri"`, "https://www.example.com/path?param=value", ""},
		{"request-target authority-form", "CONNECT www.example.com:80 HTTP/1.1\nHost: www.example.com\n\n", false, `"@request-target"`, "www.example.com:80", ""},
		{"request-target asterisk-form", "OPTIONS * HTTP/1.1\nHost: www.example.com\n\n", true, `"@request-target"`, "*", ""},
		{"path asterisk-form", "OPTIONS * HTTP/1.1\nHost: www.example.com\n\n", true, `"@path"`, "/", ""},
		{"target-uri asterisk-form", "OPTIONS * HTTP/1.1\nHost: www.example.com\n\n", true, `"@target-uri"`, "https://www.example.com/", ""},

		// §2.2.8, including its example.
		{"query-param var", rfcParams, true, `"@query-param";name="var"`, "this%20is%20a%20big%0Amultiline%20value", ""},
		{"query-param bar", rfcParams, true, `"@query-param";name="bar"`, "with%20plus%20whitespace", ""},
		{"query-param encoded name", rfcParams, true, `"@query-param";name="fa%C3%A7ade%22%3A%20"`, "something", ""},
		{"query-param empty value", rfcParams, true, `"@query-param";name="qux"`, "", ""},
		{"query-param absent", rfcParams, true, `"@query-param";name="nope"`, "", CodeInvalidSignature},
		{"query-param repeated", "GET /p?a=1&b=2&a=3 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="a"`, "", CodeInvalidSignature},
		{"query-param repeated under another spelling", "GET /p?a=1&%61=3 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="a"`, "", CodeInvalidSignature},
		{"query-param form encode set", "GET /p?t%7E=~!'()&s*=a*b HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="t%7E"`, "%7E%21%27%28%29", ""},
		{"query-param star kept", "GET /p?t%7E=~&s*=a*b-c.d_e HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="s*"`, "a*b-c.d_e", ""},
		{"query-param no equals sign", "GET /p?flag&x=1 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="flag"`, "", ""},
		{"query-param split at the first equals sign", "GET /p?x=a=b HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "a%3Db", ""},
		{"query-param stray percent", "GET /p?x=100%&y=%zz%4 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="y"`, "%25zz%254", ""},
		{"query-param lower-case escape", "GET /p?x=%c3%a9 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "%C3%A9", ""},
		// Ill-formed UTF-8: one U+FFFD per maximal ill-formed subsequence
		// (FF; then E2 82, cut short by "A").
		{"query-param bad UTF-8", "GET /p?x=%FF%E2%82A HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "%EF%BF%BD%EF%BF%BDA", ""},
		{"query-param surrogate", "GET /p?x=%ED%A0%80 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "%EF%BF%BD%EF%BF%BD%EF%BF%BD", ""},
		{"query-param four bytes", "GET /p?x=%F0%9F%8E%89 HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "%F0%9F%8E%89", ""},
		{"query-param truncated at the end", "GET /p?x=%F0%9F%8E HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "%EF%BF%BD", ""},
		{"query-param empty sequences skipped", "GET /p?&&x=1&& HTTP/1.1\nHost: h\n\n", true, `"@query-param";name="x"`, "1", ""},

		// §2.1 and §2.1.1-2.1.3.
		{"date", rfcFields, true, `"date"`, "Tue, 20 Apr 2021 02:07:56 GMT", ""},
		{"white space", rfcFields, true, `"x-ows-header"`, "Leading and trailing whitespace.", ""},
		{"obsolete line folding", rfcFields, true, `"x-obs-fold-header"`, "Obsolete line folding.", ""},
		{"field lines joined", rfcFields, true, `"cache-control"`, "max-age=60, must-revalidate", ""},
		{"as sent", rfcFields, true, `"example-dict"`, "a=1,    b=2;x=1;y=2,   c=(a   b   c)", ""},
		{"empty", rfcFields, true, `"x-empty-header"`, "", ""},
		{"sf", rfcFields, true, `"example-dict";sf`, "a=1, b=2;x=1;y=2, c=(a b c)", ""},
		{"key a", rfcFields, true, `"example-key-dict";key="a"`, "1", ""},
		{"key d", rfcFields, true, `"example-key-dict";key="d"`, "?1", ""},
		{"key b", rfcFields, true, `"example-key-dict";key="b"`, "2;x=1;y=2", ""},
		{"key c", rfcFields, true, `"example-key-dict";key="c"`, "(a b c)", ""},
		{"key absent", rfcFields, true, `"example-key-dict";key="e"`, "", CodeInvalidSignature},
		{"key on a field that is no dictionary", rfcFields, true, `"date";key="a"`, "", CodeInvalidSignature},
		{"bs", rfcFields, true, `"example-header";bs`, ":dmFsdWUsIHdpdGgsIGxvdHM=:, :b2YsIGNvbW1hcw==:", ""},
		{"missing", rfcFields, true, `"x-missing"`, "", CodeInvalidSignature},
		{"sf of a list", "GET / HTTP/1.1\nHost: h\nX-List: a,   \"b\";q=1\nX-List:  (c   d)\n\n", true, `"x-list";sf`, `a, "b";q=1, (c d)`, ""},
		{"sf of an item", "GET / HTTP/1.1\nHost: h\nX-Item:   1.50  \n\n", true, `"x-item";sf`, "1.5", ""},
		{"sf of no structured field", "GET / HTTP/1.1\nHost: h\nX-Bad: a=(\n\n", true, `"x-bad";sf`, "", CodeInvalidSignature},

		// The request as received, where net/url would read it otherwise.
		{"method as sent, upper-cased", "patch /x HTTP/1.1\nHost: h\n\n", true, `"@method"`, "PATCH", ""},
		{"non-standard method upper-cased", "purge /x HTTP/1.1\nHost: h\n\n", true, `"@method"`, "PURGE", ""},
		{"| and ^ in the path", "GET /a|b^c[d] HTTP/1.1\nHost: h\n\n", true, `"@path"`, "/a|b^c[d]", ""},
		{"| and ^ in the target-uri", "GET /a|b^c?x=1 HTTP/1.1\nHost: h\n\n", true, `"@target-uri"`, "https://h/a|b^c?x=1", ""},
		{"escapes in the path", "GET /a%2Fb/%7euser/caf%C3%A9 HTTP/1.1\nHost: h\n\n", true, `"@path"`, "/a%2Fb/%7euser/caf%C3%A9", ""},
		{"escapes under request-target", "GET /a%2Fb?x=1 HTTP/1.1\nHost: h\n\n", true, `"@request-target"`, "/a%2Fb?x=1", ""},
		{"escapes under target-uri", "GET /a%2Fb?x=%2F HTTP/1.1\nHost: h\n\n", true, `"@target-uri"`, "https://h/a%2Fb?x=%2F", ""},
		{"dot segments as sent", "GET /a/../b/./c HTTP/1.1\nHost: h\n\n", true, `"@path"`, "/a/../b/./c", ""},
		{"empty query under request-target", "GET /p? HTTP/1.1\nHost: h\n\n", true, `"@request-target"`, "/p?", ""},
		{"empty query under target-uri", "GET /p? HTTP/1.1\nHost: h\n\n", true, `"@target-uri"`, "https://h/p?", ""},
		{"empty query", "GET /p? HTTP/1.1\nHost: h\n\n", true, `"@query"`, "?", ""},
		{"authority normalised", "GET / HTTP/1.1\nHost: WWW.Example.COM:443\n\n", true, `"@authority"`, "www.example.com", ""},
		{"authority other port", "GET / HTTP/1.1\nHost: WWW.Example.COM:443\n\n", false, `"@authority"`, "www.example.com:443", ""},
		{"target-uri normalised authority", "GET /x HTTP/1.1\nHost: Example.COM:80\n\n", false, `"@target-uri"`, "http://example.com/x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := wireRequest(t, tt.raw, tt.overTLS)
			got, err := componentValue(req, tt.id)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}

// TestComponentValuesClientSide: a request built to be sent (no
// RequestURI) is read as net/http will send it.
func TestComponentValuesClientSide(t *testing.T) {
	req, err := http.NewRequest("patch", "https://user@Example.COM:443/a%2Fb/c%20d?x=%2f#frag", nil)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		`"@method"`:         "PATCH",
		`"@authority"`:      "example.com",
		`"@scheme"`:         "https",
		`"@path"`:           "/a%2Fb/c%20d",
		`"@query"`:          "?x=%2f",
		`"@request-target"`: "/a%2Fb/c%20d?x=%2f",
		`"@target-uri"`:     "https://example.com/a%2Fb/c%20d?x=%2f",
	} {
		if got, err := componentValue(req, id); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", id, got, err, want)
		}
	}
	// An empty path is "/"; a default method is GET.
	req, _ = http.NewRequest("", "http://example.com", nil)
	req.Method = ""
	for id, want := range map[string]string{`"@method"`: "GET", `"@path"`: "/", `"@request-target"`: "/", `"@target-uri"`: "http://example.com/"} {
		if got, err := componentValue(req, id); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", id, got, err, want)
		}
	}
	// A header value with a line break cannot be put into a base.
	req.Header.Set("X-Broken", "a\n\"@path\": /other")
	s := &signature{params: `("x-broken");created=1`}
	s.components = []component{parseComponentText(t, `"x-broken"`)}
	if _, err := signatureBase(req, s); CodeOf(err) != CodeInvalidSignature {
		t.Errorf("line break in a value: %v", err)
	}
	req.URL = nil
	if _, err := componentValue(req, `"@path"`); CodeOf(err) != CodeInvalidRequest {
		t.Errorf("no URL: %v", err)
	}
}

func parseComponentText(t *testing.T, id string) component {
	t.Helper()
	h := http.Header{}
	h.Set("Signature-Input", "sig=("+id+");created=1")
	h.Set("Signature", "sig=:AAAA:")
	s, err := parseSignature(h, "sig")
	if err != nil {
		t.Fatal(err)
	}
	return s.components[0]
}

// TestSignatureBaseRFC rebuilds the signature base of RFC 9421 B.2.6 from
// the B.2 request as a server reads it and compares it byte for byte.
func TestSignatureBaseRFC(t *testing.T) {
	data, err := os.ReadFile("../../testdata/rfc9421-b26.json")
	if err != nil {
		t.Fatal(err)
	}
	var b26 struct {
		Request struct {
			Raw string `json:"raw"`
		} `json:"request"`
		Label          string `json:"label"`
		SignatureInput string `json:"signature_input"`
		Signature      string `json:"signature"`
		SignatureBase  string `json:"signature_base"`
	}
	if err := json.Unmarshal(data, &b26); err != nil {
		t.Fatal(err)
	}
	head, body, _ := strings.Cut(b26.Request.Raw, "\n\n")
	req := wireRequest(t, head+"\nSignature-Input: "+b26.SignatureInput+"\nSignature: "+b26.Signature+"\n\n"+body, true)
	s, err := parseSignature(req.Header, b26.Label)
	if err != nil {
		t.Fatal(err)
	}
	base, err := signatureBase(req, s)
	if err != nil {
		t.Fatal(err)
	}
	if string(base) != b26.SignatureBase {
		t.Errorf("base\n%s\nwant\n%s", base, b26.SignatureBase)
	}
}

// TestQueryParamNameCanonical: a @query-param name must be the encoded
// form §2.2.8 gives it, or no parameter could ever match it.
func TestQueryParamNameCanonical(t *testing.T) {
	req := wireRequest(t, "GET /p?a%20b=1 HTTP/1.1\nHost: h\n\n", true)
	if got, err := componentValue(req, `"@query-param";name="a%20b"`); err != nil || got != "1" {
		t.Errorf("a%%20b = %q, %v", got, err)
	}
	for _, name := range []string{"a+b", "a b", "a%2fb", "~x", "%7e", "a%2"} {
		if _, err := componentValue(req, `"@query-param";name="`+name+`"`); CodeOf(err) != CodeInvalidRequest {
			t.Errorf("name %q: %v, want invalid_request", name, err)
		}
	}
}

func TestFormCodec(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a+b", "a b"},
		{"%41%4a%4A", "AJJ"},
		{"%", "%"},
		{"%4", "%4"},
		{"%%41", "%A"},
		{"%C3%A9", "é"},
		{"é", "é"},
		{"%C3", "\uFFFD"},
		{"%C0%80", "\uFFFD\uFFFD"}, // overlong
		{"%F4%90%80%80", "\uFFFD\uFFFD\uFFFD\uFFFD"}, // beyond U+10FFFF
		{"%E0%A0%80", "\u0800"},
		{"%EF%BF%BF", "\uFFFF"},
		{"%F4%8F%BF%BF", "\U0010FFFF"},
		{"%E2%82x", "\uFFFDx"},
	} {
		if got := formDecode(tc.in); got != tc.want {
			t.Errorf("formDecode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := formEncode("aZ09*-._ ~!\n/é"); got != "aZ09*-._%20%7E%21%0A%2F%C3%A9" {
		t.Errorf("formEncode = %q", got)
	}
}
