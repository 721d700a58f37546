package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
	"github.com/dunglas/httpsfv"
)

// requirementVectors mirrors the parts of testdata/requirement.json the
// tests use.
type requirementVectors struct {
	DummyResourceToken struct {
		Value string `json:"value"`
	} `json:"dummy_resource_token"`
	VectorCount int `json:"vector_count"`
	Vectors     []struct {
		ID       string `json:"id"`
		Group    string `json:"group"`
		Header   string `json:"header"`
		Lenient  string `json:"lenient"`
		Expected struct {
			OK     bool    `json:"ok"`
			Error  string  `json:"error"`
			Value  *string `json:"value"`
			Result *struct {
				Requirement   string  `json:"requirement"`
				ResourceToken *string `json:"resource_token"`
				URL           *string `json:"url"`
				Code          *string `json:"code"`
			} `json:"result"`
		} `json:"expected"`
	} `json:"vectors"`
}

func loadRequirementVectors(t testing.TB) requirementVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/requirement.json")
	if err != nil {
		t.Fatal(err)
	}
	var v requirementVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.VectorCount != 60 || len(v.Vectors) != v.VectorCount {
		t.Fatalf("requirement.json: %d vectors, vector_count %d; want 60", len(v.Vectors), v.VectorCount)
	}
	return v
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestParseRequirementVectors checks every case of requirement.json against
// its expected result or error class, then checks that each success
// formats and parses back to itself.
func TestParseRequirementVectors(t *testing.T) {
	vs := loadRequirementVectors(t)
	for _, v := range vs.Vectors {
		t.Run(v.ID, func(t *testing.T) {
			c, err := wire.ParseRequirement(v.Header)
			if v.Expected.OK {
				if err != nil {
					t.Fatalf("ParseRequirement(%q): %v; want success", v.Header, err)
				}
				r := v.Expected.Result
				want := wire.Challenge{
					Requirement:   wire.Requirement(r.Requirement),
					ResourceToken: deref(r.ResourceToken),
					URL:           deref(r.URL),
					Code:          deref(r.Code),
				}
				got := c
				got.Extensions = nil // not part of the vectors; see TestRequirementExtensions
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("ParseRequirement(%q) = %#v; want %#v", v.Header, got, want)
				}
				s, err := wire.FormatRequirement(c)
				if err != nil {
					t.Fatalf("FormatRequirement: %v", err)
				}
				back, err := wire.ParseRequirement(s)
				if err != nil || !reflect.DeepEqual(back, c) {
					t.Fatalf("round trip via %q = %#v, %v; want %#v", s, back, err, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRequirement(%q) = %#v; want error %s", v.Header, c, v.Expected.Error)
			}
			if !reflect.DeepEqual(c, wire.Challenge{}) {
				t.Errorf("failed parse returned non-zero Challenge %#v", c)
			}
			var ce *wire.ChallengeError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *ChallengeError", err, err)
			}
			if ce.Code != v.Expected.Error {
				t.Fatalf("ParseRequirement(%q) code %q (%v); want %q", v.Header, ce.Code, err, v.Expected.Error)
			}
			if ce.Value != deref(v.Expected.Value) {
				t.Errorf("Value = %q; want %q", ce.Value, deref(v.Expected.Value))
			}
			if got, want := errors.Is(err, wire.ErrUnknownRequirement), v.Expected.Error == wire.ChallengeUnknownRequirement; got != want {
				t.Errorf("errors.Is(err, ErrUnknownRequirement) = %v; want %v", got, want)
			}
			if !errors.Is(err, &wire.ChallengeError{Code: v.Expected.Error}) {
				t.Errorf("errors.Is(err, &ChallengeError{Code: %q}) = false", v.Expected.Error)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "aauth: ") {
				t.Errorf("message %q lacks the aauth: prefix", msg)
			}
			if strings.Contains(msg, vs.DummyResourceToken.Value) || strings.Contains(msg, "tok123") {
				t.Errorf("message %q contains the resource token", msg)
			}
		})
	}
}

// TestParseRequirementLenientOnly checks that the cases marked lenient are
// accepted only because of rules 6 and 8: a strict RFC 9651 reading fails.
func TestParseRequirementLenientOnly(t *testing.T) {
	vs := loadRequirementVectors(t)
	n := 0
	for _, v := range vs.Vectors {
		if v.Lenient != "accept" {
			continue
		}
		n++
		d, err := httpsfv.UnmarshalDictionary([]string{v.Header})
		if err != nil {
			continue // rule 8
		}
		// Rule 6: the strict tree lacks a usable parameter.
		m, _ := d.Get("requirement")
		it := m.(httpsfv.Item)
		_, rt := it.Params.Get("resource-token")
		_, url := it.Params.Get("url")
		_, code := it.Params.Get("code")
		if rt || (url && code) {
			t.Errorf("%s: strict reading already complete", v.ID)
		}
	}
	if n != 6 {
		t.Errorf("%d lenient cases; want 6", n)
	}
}

// TestParseRequirementHeaderLines splits the "combined" vectors back into
// their two field lines: ParseRequirementHeader must give the same result.
func TestParseRequirementHeaderLines(t *testing.T) {
	tok := loadRequirementVectors(t).DummyResourceToken.Value
	tests := []struct {
		name  string
		lines []string
		want  wire.Challenge
	}{
		{"req-59", []string{`requirement=interaction; url="https://example.com/interact"; code="AB"`, `requirement=approval`},
			wire.Challenge{Requirement: wire.RequirementApproval}},
		{"req-60", []string{`requirement=approval`, `requirement=auth-token; resource-token="` + tok + `"`},
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: tok}},
		{"comma form over two lines", []string{`requirement=auth-token`, `resource-token="rt"`},
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "rt"}},
		{"empty line skipped", []string{``, `requirement=approval`, ` `},
			wire.Challenge{Requirement: wire.RequirementApproval}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tt.lines {
				h.Add("Aauth-Requirement", l)
			}
			c, present, err := wire.ParseRequirementHeader(h)
			if err != nil || !present || !reflect.DeepEqual(c, tt.want) {
				t.Fatalf("ParseRequirementHeader = %#v, %v, %v; want %#v, true, nil", c, present, err, tt.want)
			}
		})
	}

	c, present, err := wire.ParseRequirementHeader(http.Header{"Content-Type": {"text/plain"}})
	if present || err != nil || !reflect.DeepEqual(c, wire.Challenge{}) {
		t.Errorf("absent header: %#v, %v, %v; want zero, false, nil", c, present, err)
	}
	_, present, err = wire.ParseRequirementHeader(http.Header{"Aauth-Requirement": {""}})
	if !present || !errors.Is(err, &wire.ChallengeError{Code: wire.ChallengeMissingRequirement}) {
		t.Errorf("empty header: %v, %v; want true, missing_requirement", present, err)
	}
	_, present, err = wire.ParseRequirementHeader(http.Header{"Aauth-Requirement": {"requirement=bogus"}})
	if !present || !errors.Is(err, wire.ErrUnknownRequirement) {
		t.Errorf("unknown value: %v, %v; want true, ErrUnknownRequirement", present, err)
	}
}

func TestRequirementExtensions(t *testing.T) {
	tok := loadRequirementVectors(t).DummyResourceToken.Value
	tests := []struct {
		header string
		want   map[string]string
	}{
		{`requirement=approval`, nil},
		{`requirement=approval; unknown="value"`, map[string]string{"unknown": "value"}},
		{`requirement=auth-token; resource-token="x"; reason=budget-exhausted`, map[string]string{"reason": "budget-exhausted"}},
		{`requirement=approval; max-age=300`, map[string]string{"max-age": "300"}},
		{`requirement=approval; final`, map[string]string{"final": "?1"}},
		{`requirement=approval, foo=bar`, map[string]string{"foo": "bar"}},
		{`foo=1, requirement=approval`, map[string]string{"foo": "1"}},
		{`requirement=approval; note=%"caf%c3%a9"`, map[string]string{"note": `%"caf%c3%a9"`}},
		{`requirement=approval; at=@1767225600`, map[string]string{"at": "@1767225600"}},
		{`requirement=approval; b=:YWJj:, l=(a "b");p=1, m=x;q`, map[string]string{"b": ":YWJj:", "l": `(a "b");p=1`, "m": "x;q"}},
		{`requirement=approval; foo="param", foo="member"`, map[string]string{"foo": "param"}},
		{`requirement=auth-token, resource_token=` + tok, map[string]string{"resource_token": tok}},
		// Known names never reach Extensions, even when unusable.
		{`requirement=approval; url=1; code=?0, resource-token=:YWJj:`, nil},
	}
	for _, tt := range tests {
		c, err := wire.ParseRequirement(tt.header)
		if tt.want == nil && c.Extensions != nil {
			t.Errorf("%q: Extensions = %v; want nil", tt.header, c.Extensions)
		}
		if err == nil && tt.want != nil && !reflect.DeepEqual(c.Extensions, tt.want) {
			t.Errorf("%q: Extensions = %v; want %v", tt.header, c.Extensions, tt.want)
		}
		if err != nil && !strings.Contains(tt.header, "resource_token") {
			t.Errorf("%q: %v", tt.header, err)
		}
	}
}

// TestParseRequirementFallback covers rule 6 details the vectors leave
// open: a parameter that is present but unusable falls back to the member.
func TestParseRequirementFallback(t *testing.T) {
	tests := []struct {
		header string
		want   wire.Challenge
	}{
		{`requirement=auth-token; resource-token=123, resource-token="m"`,
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "m"}},
		{`requirement=auth-token; resource-token="", resource-token=m`,
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "m"}},
		{`requirement=interaction, url=https://x.example/i;y=1, code=AB`,
			wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://x.example/i", Code: "AB"}},
		{`requirement=approval, code=(a b)`, wire.Challenge{Requirement: wire.RequirementApproval}},
	}
	for _, tt := range tests {
		c, err := wire.ParseRequirement(tt.header)
		if err != nil || !reflect.DeepEqual(c, tt.want) {
			t.Errorf("ParseRequirement(%q) = %#v, %v; want %#v", tt.header, c, err, tt.want)
		}
	}
}

// TestParseRequirementLeniency covers rule 8 beyond req-54 and req-55.
func TestParseRequirementLeniency(t *testing.T) {
	ok := map[string]wire.Challenge{
		"requirement=approval\t; final":                        {Requirement: wire.RequirementApproval, Extensions: map[string]string{"final": "?1"}},
		`requirement=approval ;`:                               {Requirement: wire.RequirementApproval},
		`requirement=approval;  `:                              {Requirement: wire.RequirementApproval},
		`requirement=interaction ; url="a ;b" ;code="c"`:       {Requirement: wire.RequirementInteraction, URL: "a ;b", Code: "c"},
		`requirement=interaction ; url="a\" ;b" ; code="c;" ;`: {Requirement: wire.RequirementInteraction, URL: `a" ;b`, Code: "c;"},
	}
	for h, want := range ok {
		c, err := wire.ParseRequirement(h)
		if err != nil || !reflect.DeepEqual(c, want) {
			t.Errorf("ParseRequirement(%q) = %#v, %v; want %#v", h, c, err, want)
		}
	}
	bad := []string{
		`requirement=approval;;`,
		`requirement=approval garbage ; code="x"`,
		`requirement=approval ;, foo=1`,
		`requirement=approval; url="x ;`,
		`requirement=approval ,`,
		"requirement=approval;\tfinal", // only SP may follow ';'
	}
	for _, h := range bad {
		_, err := wire.ParseRequirement(h)
		if !errors.Is(err, &wire.ChallengeError{Code: wire.ChallengeNotStructured}) {
			t.Errorf("ParseRequirement(%q) = %v; want not_structured_field", h, err)
		}
	}
}

func TestParseRequirementErrors(t *testing.T) {
	_, err := wire.ParseRequirement(`requirement=auth-token; resource-token="unterminated`)
	var ue *httpsfv.UnmarshalError
	if !errors.As(err, &ue) {
		t.Errorf("not_structured_field does not unwrap to the httpsfv error: %v", err)
	}

	long := `requirement=auth-token; resource-token="` + strings.Repeat("a", 16<<10) + `"`
	_, err = wire.ParseRequirement(long)
	if !errors.Is(err, &wire.ChallengeError{Code: wire.ChallengeTooLong}) {
		t.Errorf("16 KiB value: %v; want too_long", err)
	}
	if strings.Contains(err.Error(), "aaaa") {
		t.Errorf("message %q contains the value", err)
	}
	justFits := `requirement=auth-token; resource-token="` + strings.Repeat("a", 16<<10-41) + `"`
	if len(justFits) != 16<<10 {
		t.Fatalf("len %d", len(justFits))
	}
	if _, err := wire.ParseRequirement(justFits); err != nil {
		t.Errorf("exactly 16 KiB: %v", err)
	}

	_, err = wire.ParseRequirement(`requirement=` + strings.Repeat("x", 100))
	if strings.Contains(err.Error(), strings.Repeat("x", 40)) {
		t.Errorf("long unknown value printed in full: %q", err)
	}
	_, err = wire.ParseRequirement(`requirement=bogus`)
	if got, want := err.Error(), `aauth: unknown AAuth-Requirement value "bogus"`; got != want {
		t.Errorf("message %q; want %q", got, want)
	}
	if errors.Is(err, &wire.ChallengeError{Code: wire.ChallengeUnknownRequirement, Value: "other"}) {
		t.Errorf("errors.Is matched a different Value")
	}
	if errors.Is(errors.New("x"), wire.ErrUnknownRequirement) {
		t.Errorf("unrelated error matched ErrUnknownRequirement")
	}
	wrapped := fmt.Errorf("calling resource: %w", err)
	var ce *wire.ChallengeError
	if !errors.As(wrapped, &ce) || ce.Value != "bogus" || !errors.Is(wrapped, wire.ErrUnknownRequirement) {
		t.Errorf("wrapped error lost its ChallengeError")
	}
}

func TestChallengeStringRedacts(t *testing.T) {
	tok := loadRequirementVectors(t).DummyResourceToken.Value
	c := wire.Challenge{
		Requirement:   wire.RequirementAuthToken,
		ResourceToken: tok,
		Extensions:    map[string]string{"resource_token": tok, "reason": "budget-exhausted"},
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, c)
		if strings.Contains(s, tok) || strings.Contains(s, tok[20:40]) {
			t.Errorf("%s shows the token: %s", verb, s)
		}
		if !strings.Contains(s, "auth-token") || !strings.Contains(s, "budget-exhausted") {
			t.Errorf("%s lost information: %s", verb, s)
		}
	}
	if got, want := c.String(), `auth-token resource-token=`+aauth.Redact(tok)+` reason="budget-exhausted" resource_token=`+aauth.Redact(tok); got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	i := wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://x.example/i", Code: "AB"}
	if got, want := i.String(), `interaction url="https://x.example/i" code="AB"`; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}

func TestFormatRequirement(t *testing.T) {
	tests := []struct {
		c    wire.Challenge
		want string
	}{
		{wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "eyJ.x.y"},
			`requirement=auth-token; resource-token="eyJ.x.y"`},
		{wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://example.com/interact", Code: "A1B2-C3D4"},
			`requirement=interaction; url="https://example.com/interact"; code="A1B2-C3D4"`},
		{wire.Challenge{Requirement: wire.RequirementApproval}, `requirement=approval`},
		{wire.Challenge{Requirement: wire.RequirementPersonToken}, `requirement=person-token`},
		{wire.Challenge{Requirement: wire.RequirementApproval, URL: `a"b\c`}, `requirement=approval; url="a\"b\\c"`},
		{wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "t",
			Extensions: map[string]string{"reason": "budget-exhausted", "max-age": "300", "note": "two words"}},
			`requirement=auth-token; resource-token="t"; max-age="300"; note="two words"; reason=budget-exhausted`},
	}
	for _, tt := range tests {
		got, err := wire.FormatRequirement(tt.c)
		if err != nil || got != tt.want {
			t.Errorf("FormatRequirement(%#v) = %q, %v; want %q", tt.c, got, err, tt.want)
			continue
		}
		back, err := wire.ParseRequirement(got)
		if err != nil || !reflect.DeepEqual(back, tt.c) {
			t.Errorf("ParseRequirement(%q) = %#v, %v; want %#v", got, back, err, tt.c)
		}
	}

	bad := []struct {
		c    wire.Challenge
		code string
	}{
		{wire.Challenge{}, wire.ChallengeMissingRequirement},
		{wire.Challenge{Requirement: "bogus"}, wire.ChallengeUnknownRequirement},
		{wire.Challenge{Requirement: wire.RequirementAuthToken}, wire.ChallengeMissingResourceToken},
		{wire.Challenge{Requirement: wire.RequirementInteraction, URL: "u"}, wire.ChallengeMissingURLOrCode},
		{wire.Challenge{Requirement: wire.RequirementApproval, Extensions: map[string]string{"Bad": "x"}}, ""},
		{wire.Challenge{Requirement: wire.RequirementApproval, Extensions: map[string]string{"url": "x"}}, ""},
		{wire.Challenge{Requirement: wire.RequirementApproval, Extensions: map[string]string{"x": "é"}}, ""},
		{wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "a\r\nb"}, ""},
	}
	for _, tt := range bad {
		s, err := wire.FormatRequirement(tt.c)
		if err == nil {
			t.Errorf("FormatRequirement(%#v) = %q; want error", tt.c, s)
			continue
		}
		if !strings.HasPrefix(err.Error(), "aauth: ") {
			t.Errorf("message %q lacks the aauth: prefix", err)
		}
		if tt.code != "" && !errors.Is(err, &wire.ChallengeError{Code: tt.code}) {
			t.Errorf("FormatRequirement(%#v) = %v; want code %s", tt.c, err, tt.code)
		}
	}
}

// TestSeedRequirementTests translates the AAuth-Requirement tests of
// @aauth/mcp-agent 0.8.1 (seed-wire §11, tests 1-11, 28, 30, 32, 55, 60-62,
// 70 and F5).
func TestSeedRequirementTests(t *testing.T) {
	ok := []struct {
		n      string
		header string
		want   wire.Challenge
	}{
		{"1", `requirement=approval`, wire.Challenge{Requirement: wire.RequirementApproval}},
		{"2", `requirement=auth-token; resource-token="eyJhbGciOiJFZERTQSJ9.test"`,
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "eyJhbGciOiJFZERTQSJ9.test"}},
		{"3", `requirement=interaction; url="https://auth.example/interact"; code="ABCD1234"`,
			wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://auth.example/interact", Code: "ABCD1234"}},
		{"4", `  requirement=auth-token ;  resource-token="tok123"  `,
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "tok123"}},
		{"11", `requirement=approval; unknown="value"`,
			wire.Challenge{Requirement: wire.RequirementApproval, Extensions: map[string]string{"unknown": "value"}}},
		{"28", `requirement=auth-token; resource-token="rt123"`,
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "rt123"}},
		{"30", `requirement=interaction; url="https://resource.example/interact"; code="CODE1234"`,
			wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://resource.example/interact", Code: "CODE1234"}},
		{"55", `requirement=interaction; url="https://auth.example/interact"; code="WXYZ5678"`,
			wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://auth.example/interact", Code: "WXYZ5678"}},
		// §6 observed table: unquoted values.
		{"P1", `requirement=auth-token;resource-token=abc`,
			wire.Challenge{Requirement: wire.RequirementAuthToken, ResourceToken: "abc"}},
		{"P1", `requirement=interaction; url=https://x; code=AB`,
			wire.Challenge{Requirement: wire.RequirementInteraction, URL: "https://x", Code: "AB"}},
	}
	for _, tt := range ok {
		c, err := wire.ParseRequirement(tt.header)
		if err != nil || !reflect.DeepEqual(c, tt.want) {
			t.Errorf("test %s: ParseRequirement(%q) = %#v, %v; want %#v", tt.n, tt.header, c, err, tt.want)
		}
	}

	fail := []struct {
		n      string
		header string
		code   string
	}{
		{"5", ``, wire.ChallengeMissingRequirement},
		{"5", `  `, wire.ChallengeMissingRequirement},
		{"6", `pseudonym`, wire.ChallengeMissingRequirement},
		{"7", `requirement=unknown`, wire.ChallengeUnknownRequirement},
		{"8", `requirement=auth-token`, wire.ChallengeMissingResourceToken},
		{"9", `requirement=interaction; code="ABC"`, wire.ChallengeMissingURLOrCode},
		{"10", `requirement=interaction; url="https://x"`, wire.ChallengeMissingURLOrCode},
		{"F5", `requirement=bogus`, wire.ChallengeUnknownRequirement},
	}
	for _, tt := range fail {
		_, err := wire.ParseRequirement(tt.header)
		if !errors.Is(err, &wire.ChallengeError{Code: tt.code}) {
			t.Errorf("test %s: ParseRequirement(%q) = %v; want %s", tt.n, tt.header, err, tt.code)
		}
	}

	// 60-62 and 70: the server builder's output parses back.
	for _, c := range []wire.Challenge{
		{Requirement: wire.RequirementAuthToken, ResourceToken: "rt_abc123"},
		{Requirement: wire.RequirementInteraction, URL: "https://auth.example/interact", Code: "CODE1234"},
		{Requirement: wire.RequirementApproval},
	} {
		s, err := wire.FormatRequirement(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := wire.ParseRequirement(s)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("round trip of %#v via %q = %#v, %v", c, s, back, err)
		}
		if c.Requirement == wire.RequirementInteraction &&
			!(strings.Contains(s, "requirement=interaction") && strings.Contains(s, `url="`) && strings.Contains(s, `code="`)) {
			t.Errorf("test 70: %q", s)
		}
	}
}

// TestSeedCapabilitiesTests translates seed-wire §11 tests 12-15 and 24.
func TestSeedCapabilitiesTests(t *testing.T) {
	if got, want := wire.FormatCapabilities([]wire.Capability{wire.CapabilityInteraction, wire.CapabilityClarification}), "interaction, clarification"; got != want {
		t.Errorf("test 12/24: %q; want %q", got, want)
	}
	tests := []struct {
		n, in string
		want  []wire.Capability
	}{
		{"13", "interaction, clarification, payment", []wire.Capability{"interaction", "clarification", "payment"}},
		{"14", "interaction, unknown, payment", []wire.Capability{"interaction", "payment"}},
		{"15", "interaction,clarification , payment", []wire.Capability{"interaction", "clarification", "payment"}},
	}
	for _, tt := range tests {
		if got := wire.ParseCapabilities(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("test %s: ParseCapabilities(%q) = %v; want %v", tt.n, tt.in, got, tt.want)
		}
	}
}

func TestParseCapabilities(t *testing.T) {
	tests := []struct {
		in   string
		want []wire.Capability
	}{
		{"", nil},
		{"payment", []wire.Capability{"payment"}},
		{"clarification, interaction", []wire.Capability{"clarification", "interaction"}},
		{"Interaction, interaction", []wire.Capability{"interaction"}},                  // exact case
		{"clarification;x, payment;y=1", []wire.Capability{"clarification", "payment"}}, // parameters ignored
		{`"interaction", payment`, []wire.Capability{"payment"}},                        // a String is not a Token
		{"(interaction payment), clarification", []wire.Capability{"clarification"}},
		{"payment, payment, interaction", []wire.Capability{"payment", "interaction"}},
		{"future-thing, 1, ?1, interaction", []wire.Capability{"interaction"}},
		// Malformed lists give nothing rather than a guess.
		{"interaction,", nil},
		{"interaction clarification", nil},
		{`interaction, "unterminated`, nil},
		{"interaction;", nil},
		{strings.Repeat("payment, ", 2000) + "interaction", nil},
	}
	for _, tt := range tests {
		if got := wire.ParseCapabilities(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCapabilities(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}

	h := http.Header{}
	if got := wire.ParseCapabilitiesHeader(h); got != nil {
		t.Errorf("no header: %v", got)
	}
	h.Add("AAuth-Capabilities", "interaction")
	h.Add("AAuth-Capabilities", "payment, clarification")
	if got, want := wire.ParseCapabilitiesHeader(h), []wire.Capability{"interaction", "payment", "clarification"}; !reflect.DeepEqual(got, want) {
		t.Errorf("two lines: %v; want %v", got, want)
	}
}

func TestFormatCapabilities(t *testing.T) {
	tests := []struct {
		in   []wire.Capability
		want string
	}{
		{nil, ""},
		{[]wire.Capability{"payment"}, "payment"},
		{[]wire.Capability{"clarification", "interaction", "payment"}, "clarification, interaction, payment"},
		{[]wire.Capability{"future-cap", "interaction"}, "future-cap, interaction"},
		{[]wire.Capability{"", "bad value", "x\r\nInjected: 1", "interaction", "a,b"}, "interaction"},
	}
	for _, tt := range tests {
		if got := wire.FormatCapabilities(tt.in); got != tt.want {
			t.Errorf("FormatCapabilities(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestSeedMissionTests translates seed-wire §11 tests 16-19 and 25.
func TestSeedMissionTests(t *testing.T) {
	m := wire.Mission{Approver: "https://ps.example", S256: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}
	got := wire.FormatMission(m)
	if want := `approver="https://ps.example"; s256="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"`; got != want {
		t.Errorf("test 16: %q; want %q", got, want)
	}
	back, err := wire.ParseMission(got)
	if err != nil || back != m {
		t.Errorf("test 17: %#v, %v; want %#v", back, err, m)
	}
	if got, want := wire.FormatMission(wire.Mission{Approver: "https://ps.example", S256: "abc123"}), `approver="https://ps.example"; s256="abc123"`; got != want {
		t.Errorf("test 25: %q; want %q", got, want)
	}
	for n, in := range map[string]string{"18": `s256="abc"`, "19": `approver="https://ps.example"`} {
		_, err := wire.ParseMission(in)
		if err == nil || err.Error() != "aauth: invalid AAuth-Mission header: missing approver or s256" {
			t.Errorf("test %s: ParseMission(%q) = %v", n, in, err)
		}
		var he *wire.HeaderError
		if !errors.As(err, &he) || he.Header != "AAuth-Mission" {
			t.Errorf("test %s: %T is not a *HeaderError for AAuth-Mission", n, err)
		}
	}
}

func TestParseMission(t *testing.T) {
	want := wire.Mission{Approver: "https://ps.example", S256: "abc"}
	ok := []string{
		`approver="https://ps.example"; s256="abc"`,
		`approver="https://ps.example";s256="abc"`,
		`s256="abc"; approver="https://ps.example"`,
		`approver="https://ps.example", s256="abc"`,
		`approver=https://ps.example; s256=abc`,
		`mission;approver="https://ps.example";s256="abc"`,
		`"m";approver="https://ps.example";s256="abc"`,
		`approver="https://ps.example" ; s256="abc"`,
		`approver="https://ps.example"; s256="abc";`,
		`approver="https://ps.example"; s256="abc"; extra=1, other=(x y)`,
		`approver="https://ps.example";s256=1, s256="abc"`,
	}
	for _, in := range ok {
		got, err := wire.ParseMission(in)
		if err != nil || got != want {
			t.Errorf("ParseMission(%q) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	bad := []string{
		``,
		`approver=""; s256="abc"`,
		`approver="https://ps.example"; s256=123`,
		`approver="https://ps.example"; s256="abc`,
		`Approver="x"; S256="y"`,
		`approver = "x"; s256 = "y"`,
		`approver="` + strings.Repeat("a", 16<<10) + `"; s256="b"`,
	}
	for _, in := range bad {
		m, err := wire.ParseMission(in)
		if err == nil {
			t.Errorf("ParseMission(%q) = %#v; want error", in, m)
			continue
		}
		if !strings.HasPrefix(err.Error(), "aauth: invalid AAuth-Mission header: ") {
			t.Errorf("ParseMission(%q): message %q", in, err)
		}
	}

	if got := wire.FormatMission(wire.Mission{Approver: `a"b`, S256: "c"}); got != `approver="a\"b"; s256="c"` {
		t.Errorf("escaping: %q", got)
	}
	for _, m := range []wire.Mission{{}, {Approver: "a"}, {S256: "b"}, {Approver: "é", S256: "b"}, {Approver: "a", S256: "b\n"}} {
		if got := wire.FormatMission(m); got != "" {
			t.Errorf("FormatMission(%#v) = %q; want \"\"", m, got)
		}
	}
}

// TestParseAccess covers seed-wire §11 tests 33 and 34 and current-wire §2.12.
func TestParseAccess(t *testing.T) {
	ok := []string{"opaque-token-123", "token-v2", "acc-1", "abc.DEF_ghi~jkl+mno/pqr", "YWJj==", "a="}
	for _, v := range ok {
		tok, present, err := wire.ParseAccess(http.Header{"Aauth-Access": {v}})
		if err != nil || !present || tok != v {
			t.Errorf("ParseAccess(%q) = %q, %v, %v", v, tok, present, err)
		}
	}

	tok, present, err := wire.ParseAccess(http.Header{})
	if tok != "" || present || err != nil {
		t.Errorf("absent: %q, %v, %v", tok, present, err)
	}

	const secret = "s3cr3tvalue"
	bad := []struct {
		name   string
		values []string
		reason string
	}{
		{"empty", []string{""}, "empty value"},
		{"two lines", []string{secret, "other"}, "multiple values"},
		{"comma", []string{secret + ",other"}, "multiple values"},
		{"comma space", []string{secret + ", other"}, "multiple values"},
		{"inner space", []string{secret + " other"}, "contains white space"},
		{"leading space", []string{" " + secret}, "contains white space"},
		{"tab", []string{secret + "\t"}, "contains white space"},
		{"only space", []string{" "}, "contains white space"},
		{"quoted", []string{`"` + secret + `"`}, "not a token68"},
		{"bad char", []string{secret + "!"}, "not a token68"},
		{"scheme prefix", []string{"AAuth:" + secret}, "not a token68"},
		{"padding in middle", []string{"ab=cd" + secret}, "not a token68"},
		{"only padding", []string{"=="}, "not a token68"},
		{"non-ASCII", []string{secret + "é"}, "not a token68"},
		{"too long", []string{strings.Repeat("a", 8<<10+1)}, "longer than 8192 bytes"},
	}
	for _, tt := range bad {
		h := http.Header{"Aauth-Access": tt.values}
		tok, present, err := wire.ParseAccess(h)
		var he *wire.HeaderError
		if tok != "" || !present || !errors.As(err, &he) {
			t.Errorf("%s: %q, %v, %v; want \"\", true, *HeaderError", tt.name, tok, present, err)
			continue
		}
		if he.Header != "AAuth-Access" || he.Reason != tt.reason {
			t.Errorf("%s: %+v; want reason %q", tt.name, he, tt.reason)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "aauth: invalid AAuth-Access header: ") || strings.Contains(msg, secret) {
			t.Errorf("%s: message %q", tt.name, msg)
		}
	}
	if _, _, err := wire.ParseAccess(http.Header{"Aauth-Access": {strings.Repeat("a", 8<<10)}}); err != nil {
		t.Errorf("exactly 8 KiB: %v", err)
	}
}

func TestParseSignatureError(t *testing.T) {
	tests := []struct {
		in   string
		want wire.SignatureError
	}{
		{`error=invalid_signature`, wire.SignatureError{Code: wire.SigErrInvalidSignature}},
		{`error="expired_jwt"`, wire.SignatureError{Code: wire.SigErrExpiredJWT}},
		{`error=invalid_input, required_input=("@method" "@authority" "content-digest")`,
			wire.SignatureError{Code: wire.SigErrInvalidInput, RequiredInput: []string{"@method", "@authority", "content-digest"}}},
		{`required_input=("authorization"), error=invalid_input`,
			wire.SignatureError{Code: wire.SigErrInvalidInput, RequiredInput: []string{"authorization"}}},
		{`error=invalid_input, required_input="@path"`,
			wire.SignatureError{Code: wire.SigErrInvalidInput, RequiredInput: []string{"@path"}}},
		{`error=invalid_input, required_input=("@query-param";name="q" content-type;sf 1 "@method")`,
			wire.SignatureError{Code: wire.SigErrInvalidInput, RequiredInput: []string{`"@query-param";name="q"`, "content-type;sf", "@method"}}},
		{`error=brand_new_code`, wire.SignatureError{Code: "brand_new_code"}},
		{`error=unsupported_algorithm, supported_algorithms=("Ed25519"), detail="try again", n=3`,
			wire.SignatureError{Code: wire.SigErrUnsupportedAlgorithm, Extensions: map[string]string{
				"supported_algorithms": `("Ed25519")`, "detail": "try again", "n": "3"}}},
	}
	for _, tt := range tests {
		got, err := wire.ParseSignatureError(tt.in)
		if err != nil || !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("ParseSignatureError(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		back, err := wire.ParseSignatureError(wire.FormatSignatureError(got))
		if err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("round trip of %q via %q = %+v, %v", tt.in, wire.FormatSignatureError(got), back, err)
		}
	}

	bad := []string{``, `required_input=("@method")`, `error=1`, `error=""`, `error=(a b)`, `error`, `error=invalid_input,`,
		`Error=x`, `error=` + strings.Repeat("a", 16<<10)}
	for _, in := range bad {
		se, err := wire.ParseSignatureError(in)
		var he *wire.HeaderError
		if se != nil || !errors.As(err, &he) || he.Header != "Signature-Error" {
			t.Errorf("ParseSignatureError(%q) = %+v, %v; want *HeaderError", in, se, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "aauth: invalid Signature-Error header: ") {
			t.Errorf("message %q", err)
		}
	}
}

func TestSignatureErrorError(t *testing.T) {
	var err error = &wire.SignatureError{Code: wire.SigErrClockSkew}
	if got, want := err.Error(), "aauth: signature rejected by server: clock_skew"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	var se *wire.SignatureError
	if !errors.As(fmt.Errorf("retry: %w", err), &se) || se.Code != wire.SigErrClockSkew {
		t.Errorf("errors.As failed")
	}
	codes := map[string]string{
		wire.SigErrInvalidSignature: "invalid_signature", wire.SigErrInvalidInput: "invalid_input",
		wire.SigErrInvalidRequest: "invalid_request", wire.SigErrInvalidKey: "invalid_key",
		wire.SigErrUnknownKey: "unknown_key", wire.SigErrInvalidJWT: "invalid_jwt",
		wire.SigErrExpiredJWT: "expired_jwt", wire.SigErrRevokedJWT: "revoked_jwt",
		wire.SigErrClockSkew: "clock_skew", wire.SigErrUnsupportedAlgorithm: "unsupported_algorithm",
		wire.SigErrUnsupportedScheme: "unsupported_scheme", wire.SigErrIssuerMissing: "issuer_missing",
		wire.SigErrIssuerMismatch: "issuer_mismatch", wire.SigErrCacheMiss: "cache_miss",
	}
	if len(codes) != 14 {
		t.Fatalf("%d distinct codes; want 14", len(codes))
	}
	for c, want := range codes {
		if c != want {
			t.Errorf("constant %q; want %q", c, want)
		}
		se, err := wire.ParseSignatureError("error=" + c)
		if err != nil || se.Code != c {
			t.Errorf("ParseSignatureError(error=%s) = %+v, %v", c, se, err)
		}
	}
}

func TestParseSignatureErrorHeader(t *testing.T) {
	h := http.Header{}
	h.Set("Signature-Error", "error=unsupported_algorithm")
	h.Set("Accept-Signature-Alg", "Ed25519, ES256")
	h.Set("Accept-Signature-Scheme", "jwt")
	se, present, err := wire.ParseSignatureErrorHeader(h)
	want := &wire.SignatureError{Code: wire.SigErrUnsupportedAlgorithm, AcceptSchemes: []string{"jwt"}, AcceptAlgs: []string{"Ed25519", "ES256"}}
	if err != nil || !present || !reflect.DeepEqual(se, want) {
		t.Errorf("ParseSignatureErrorHeader = %+v, %v, %v; want %+v", se, present, err, want)
	}

	h = http.Header{}
	h.Add("Signature-Error", "error=invalid_input")
	h.Add("Signature-Error", `required_input=("content-digest")`)
	se, present, err = wire.ParseSignatureErrorHeader(h)
	if err != nil || !present || se.Code != wire.SigErrInvalidInput || !reflect.DeepEqual(se.RequiredInput, []string{"content-digest"}) {
		t.Errorf("two lines: %+v, %v, %v", se, present, err)
	}
	if se.AcceptAlgs != nil || se.AcceptSchemes != nil {
		t.Errorf("accept lists without headers: %+v", se)
	}

	se, present, err = wire.ParseSignatureErrorHeader(http.Header{"Accept-Signature-Alg": {"Ed25519"}})
	if se != nil || present || err != nil {
		t.Errorf("absent: %+v, %v, %v", se, present, err)
	}
	se, present, err = wire.ParseSignatureErrorHeader(http.Header{"Signature-Error": {"error=("}})
	if se != nil || !present || err == nil {
		t.Errorf("malformed: %+v, %v, %v", se, present, err)
	}
}

func TestParseAcceptSignature(t *testing.T) {
	tests := []struct {
		scheme, alg   []string
		schemes, algs []string
	}{
		{nil, nil, nil, nil},
		{[]string{"jwt"}, []string{"Ed25519, ES256"}, []string{"jwt"}, []string{"Ed25519", "ES256"}},
		{[]string{"jwt, hwk;x=1"}, []string{"Ed25519", "ES256"}, []string{"jwt", "hwk"}, []string{"Ed25519", "ES256"}},
		{[]string{`"jwt", jwks_uri, 1, (a b)`}, []string{"Ed25519,"}, []string{"jwks_uri"}, nil},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.scheme {
			h.Add("Accept-Signature-Scheme", v)
		}
		for _, v := range tt.alg {
			h.Add("Accept-Signature-Alg", v)
		}
		schemes, algs := wire.ParseAcceptSignature(h)
		if !reflect.DeepEqual(schemes, tt.schemes) || !reflect.DeepEqual(algs, tt.algs) {
			t.Errorf("ParseAcceptSignature(%v) = %q, %q; want %q, %q", h, schemes, algs, tt.schemes, tt.algs)
		}
	}
}

func TestFormatSignatureError(t *testing.T) {
	tests := []struct {
		in   *wire.SignatureError
		want string
	}{
		{nil, ""},
		{&wire.SignatureError{}, ""},
		{&wire.SignatureError{Code: "é"}, ""},
		{&wire.SignatureError{Code: wire.SigErrInvalidSignature, AcceptAlgs: []string{"Ed25519"}}, "error=invalid_signature"},
		{&wire.SignatureError{Code: "two words"}, `error="two words"`},
		{&wire.SignatureError{Code: wire.SigErrInvalidInput, RequiredInput: []string{"@method", "content-digest", `"@query-param";name="q"`, "bad\x00"}},
			`error=invalid_input, required_input=("@method" "content-digest" "@query-param";name="q")`},
		{&wire.SignatureError{Code: wire.SigErrInvalidKey, Extensions: map[string]string{"z": "1", "a": "tok", "error": "x", "Bad": "y", "b": "é"}},
			`error=invalid_key, a=tok, z="1"`},
	}
	for _, tt := range tests {
		if got := wire.FormatSignatureError(tt.in); got != tt.want {
			t.Errorf("FormatSignatureError(%+v) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
