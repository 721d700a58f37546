package wire_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/wire"
)

// FuzzParseRequirement checks that ParseRequirement never panics, that every
// error is a *ChallengeError with an "aauth: " message, and that a success
// formats and parses back to the same Challenge.
func FuzzParseRequirement(f *testing.F) {
	for _, v := range loadRequirementVectors(f).Vectors {
		f.Add(v.Header)
	}
	f.Add("requirement=approval\t;")
	f.Add(`requirement=interaction ; url="a\" ;b" ; code="c;" ;`)
	f.Add(`requirement=approval; b=:YWJj:, l=(a "b");p=1, m=x;q`)
	f.Fuzz(func(t *testing.T, v string) {
		c, err := wire.ParseRequirement(v)
		if err != nil {
			var ce *wire.ChallengeError
			if !errors.As(err, &ce) || ce.Code == "" {
				t.Fatalf("error %T %v is not a coded *ChallengeError", err, err)
			}
			if !strings.HasPrefix(err.Error(), "aauth: ") {
				t.Fatalf("message %q lacks the prefix", err)
			}
			if !reflect.DeepEqual(c, wire.Challenge{}) {
				t.Fatalf("error with non-zero Challenge %#v", c)
			}
			return
		}
		if c.Extensions != nil && len(c.Extensions) == 0 {
			t.Fatalf("empty non-nil Extensions")
		}
		s, err := wire.FormatRequirement(c)
		if err != nil {
			t.Fatalf("FormatRequirement(%#v): %v", c, err)
		}
		back, err := wire.ParseRequirement(s)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip of %q via %q = %#v, %v; want %#v", v, s, back, err, c)
		}
		if rt := c.ResourceToken; len(rt) > 12 {
			only := wire.Challenge{Requirement: c.Requirement, ResourceToken: rt}
			if strings.Contains(only.String(), rt) || strings.Contains(only.GoString(), rt) {
				t.Fatalf("String() shows the resource token")
			}
		}
	})
}

// FuzzParseSignatureError checks that a parsed Signature-Error formats and
// parses back to itself.
func FuzzParseSignatureError(f *testing.F) {
	for _, s := range []string{
		`error=invalid_signature`,
		`error="expired_jwt"`,
		`error=invalid_input, required_input=("@method" "@authority" "content-digest")`,
		`error=invalid_input, required_input=("@query-param";name="q" content-type;sf 1 "@method")`,
		`error=unsupported_algorithm, supported_algorithms=("Ed25519"), detail="try again", n=3`,
		`error=invalid_input, required_input="@path"`,
		`error=x;y=1, a=?0, b=@1767225600, c=%"caf%c3%a9", d=:YWJj:, e=1.5`,
		``, `error`, `error=(`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		se, err := wire.ParseSignatureError(v)
		if err != nil {
			var he *wire.HeaderError
			if se != nil || !errors.As(err, &he) || !strings.HasPrefix(err.Error(), "aauth: invalid Signature-Error header: ") {
				t.Fatalf("ParseSignatureError(%q) = %+v, %v", v, se, err)
			}
			return
		}
		if se.Code == "" {
			t.Fatalf("success without a code")
		}
		s := wire.FormatSignatureError(se)
		back, err := wire.ParseSignatureError(s)
		if err != nil || !reflect.DeepEqual(back, se) {
			t.Fatalf("round trip of %q via %q = %+v, %v; want %+v", v, s, back, err, se)
		}
		h := http.Header{"Signature-Error": {v}, "Accept-Signature-Alg": {v}, "Accept-Signature-Scheme": {v}}
		if _, present, err := wire.ParseSignatureErrorHeader(h); !present || err != nil {
			t.Fatalf("ParseSignatureErrorHeader: %v, %v", present, err)
		}
	})
}

// FuzzParseCapabilities checks that ParseCapabilities keeps only known,
// distinct values and that its result survives FormatCapabilities.
func FuzzParseCapabilities(f *testing.F) {
	for _, s := range []string{
		"interaction, clarification", "interaction, clarification, payment",
		"interaction, unknown, payment", "interaction,clarification , payment",
		"clarification;x", "(interaction payment), clarification", `"interaction"`, "interaction,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		caps := wire.ParseCapabilities(v)
		seen := map[wire.Capability]bool{}
		for _, c := range caps {
			switch c {
			case wire.CapabilityInteraction, wire.CapabilityClarification, wire.CapabilityPayment:
			default:
				t.Fatalf("unknown capability %q kept", c)
			}
			if seen[c] {
				t.Fatalf("duplicate %q", c)
			}
			seen[c] = true
		}
		if back := wire.ParseCapabilities(wire.FormatCapabilities(caps)); !reflect.DeepEqual(back, caps) {
			t.Fatalf("round trip of %v = %v", caps, back)
		}
		if got := wire.ParseCapabilitiesHeader(http.Header{"Aauth-Capabilities": {v}}); !reflect.DeepEqual(got, caps) {
			t.Fatalf("ParseCapabilitiesHeader = %v; ParseCapabilities = %v", got, caps)
		}
	})
}

// FuzzParseMission checks that a parsed mission formats and parses back.
func FuzzParseMission(f *testing.F) {
	for _, s := range []string{
		`approver="https://ps.example"; s256="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"`,
		`s256="abc"; approver="https://ps.example"`, `"m";approver="a";s256="b"`,
		`approver="a" ; s256="b";`, `s256="abc"`, `approver="https://ps.example"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, err := wire.ParseMission(v)
		if err != nil {
			var he *wire.HeaderError
			if !errors.As(err, &he) || he.Header != "AAuth-Mission" || m != (wire.Mission{}) {
				t.Fatalf("ParseMission(%q) = %#v, %v", v, m, err)
			}
			return
		}
		if m.Approver == "" || m.S256 == "" {
			t.Fatalf("success with an empty field: %#v", m)
		}
		s := wire.FormatMission(m)
		if back, err := wire.ParseMission(s); err != nil || back != m {
			t.Fatalf("round trip of %#v via %q = %#v, %v", m, s, back, err)
		}
	})
}

// FuzzParseAccess checks that an accepted AAuth-Access value is one token68
// and that an error never shows the value.
func FuzzParseAccess(f *testing.F) {
	for _, s := range []string{"opaque-token-123", "token-v2", "YWJj==", "", " ", "a b", "a,b", `"a"`, "==", "a=b"} {
		f.Add(s, "")
	}
	f.Add("acc-1", "acc-2")
	f.Fuzz(func(t *testing.T, v, second string) {
		h := http.Header{"Aauth-Access": {v}}
		if second != "" {
			h.Add("Aauth-Access", second)
		}
		tok, present, err := wire.ParseAccess(h)
		if !present {
			t.Fatalf("present = false with a header")
		}
		if err != nil {
			var he *wire.HeaderError
			if tok != "" || !errors.As(err, &he) {
				t.Fatalf("ParseAccess = %q, %v", tok, err)
			}
			// The message is one of a fixed set, so it cannot carry the value.
			switch err.Error() {
			case "aauth: invalid AAuth-Access header: empty value",
				"aauth: invalid AAuth-Access header: multiple values",
				"aauth: invalid AAuth-Access header: contains white space",
				"aauth: invalid AAuth-Access header: not a token68",
				"aauth: invalid AAuth-Access header: longer than 8192 bytes":
			default:
				t.Fatalf("unexpected message %q", err)
			}
			return
		}
		if second != "" || tok != v || tok == "" || len(tok) > 8<<10 ||
			strings.ContainsAny(tok, " \t\r\n,\"") || strings.Trim(tok, "=") == "" ||
			strings.Contains(strings.TrimRight(tok, "="), "=") {
			t.Fatalf("accepted %q (second %q)", tok, second)
		}
	})
}
