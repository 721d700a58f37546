package wire

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/httpx"
)

// Fuzz targets for the header values of a server's answer that have no
// target of their own: the Content-Type that decides whether a body is read
// as JSON, and the AAuth headers as several field lines.

func FuzzProblemFrom(f *testing.F) {
	for _, s := range [][2]string{
		{"application/problem+json", `{"error":"denied","detail":"No."}`},
		{"application/json; charset=utf-8", `{"error":"invalid_request","error_description":"x"}`},
		{"application/vnd.aauth+json", `{"error":"expired"}`},
		{"", `{"error":"denied"}`},
		{"text/html", `{"error":"denied"}`},
		{"application/json; x=\"", `{"error":"denied"}`},
		{"application/json; p=" + strings.Repeat("y", 300), `{"error":"denied"}`},
		{"application/json", `{"error":`},
		{"application/json", ` `},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		p := problemFrom(h, body)
		if p == nil {
			return
		}
		if !httpx.JSONContent(h, true) {
			t.Fatalf("problem read under Content-Type %q", ct)
		}
		q, err := ParseProblem(body)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("problemFrom = %+v, ParseProblem = %+v, %v", p, q, err)
		}
		if len(p.String()) > 64+256+8 {
			t.Fatalf("summary of %d bytes", len(p.String()))
		}
	})
}

// FuzzHeaderLines feeds the AAuth header parsers values split into field
// lines at newlines, as a server may send them, and checks that several
// lines mean what their RFC 9651 combination means.
func FuzzHeaderLines(f *testing.F) {
	for _, s := range [][3]string{
		{"requirement=auth-token\nresource-token=\"a.b.c\"", "error=invalid_input\nrequired_input=(\"@query\")", "jwt\nhwk"},
		{"requirement=approval\n\n \n", "error=clock_skew", "Ed25519, ES256"},
		{"requirement=interaction; url=\"https://ps.example/c\"; code=\"ABCD1234\"", "error=\"expired_jwt\"\nerror=revoked_jwt", "(jwt)"},
		{strings.Repeat("requirement=approval\n", 900), strings.Repeat("error=x\n", 3000), ""},
		{"((", "", "jwt;q=1, 7"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, req, sigErr, accept string) {
		lines := func(v string) []string { return strings.Split(v, "\n") }
		h := http.Header{}
		if req != "" {
			h["Aauth-Requirement"] = lines(req)
		}
		if sigErr != "" {
			h["Signature-Error"] = lines(sigErr)
		}
		if accept != "" {
			h["Accept-Signature-Scheme"] = lines(accept)
			h["Accept-Signature-Alg"] = lines(accept)
			h["Aauth-Capabilities"] = lines(accept)
			h["Aauth-Access"] = lines(accept)
		}

		c, present, err := ParseRequirementHeader(h)
		if present != (req != "") {
			t.Fatalf("present %v for %q", present, req)
		}
		if present {
			joined, _, tooLong := chalJoinLines(h, "AAuth-Requirement", challengeMaxLen)
			if tooLong {
				if !errors.Is(err, &ChallengeError{Code: ChallengeTooLong}) {
					t.Fatalf("%d field lines over the cap: %v", len(h["Aauth-Requirement"]), err)
				}
			} else {
				c2, err2 := ParseRequirement(joined)
				if !reflect.DeepEqual(c, c2) || (err == nil) != (err2 == nil) {
					t.Fatalf("lines %q: %#v, %v; joined: %#v, %v", h["Aauth-Requirement"], c, err, c2, err2)
				}
			}
		}

		se, present, err := ParseSignatureErrorHeader(h)
		if present != (sigErr != "") {
			t.Fatalf("present %v for %q", present, sigErr)
		}
		if err == nil && present && (se == nil || se.Code == "") {
			t.Fatalf("Signature-Error %q parsed without a code", sigErr)
		}
		if err != nil && (se != nil || !strings.HasPrefix(err.Error(), "aauth: invalid Signature-Error header: ")) {
			t.Fatalf("Signature-Error %q: %+v, %v", sigErr, se, err)
		}

		schemes, algs := ParseAcceptSignature(h)
		for _, s := range append(schemes, algs...) {
			if !chalIsToken(s) {
				t.Fatalf("accepted %q, not a token", s)
			}
		}
		for _, c := range ParseCapabilitiesHeader(h) {
			if c == "" {
				t.Fatal("empty capability")
			}
		}
		if tok, ok, err := ParseAccess(h); ok && err == nil && (len(h["Aauth-Access"]) != 1 || tok != h["Aauth-Access"][0] || !chalIsToken68(tok)) {
			t.Fatalf("AAuth-Access %q accepted as %q", h["Aauth-Access"], tok)
		}
	})
}
