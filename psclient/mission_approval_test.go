package psclient

import (
	"errors"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/wire"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMissionApproval(t *testing.T) {
	s256 := MissionDigest([]byte(testBlob))
	exp := time.Date(2026, 4, 8, 0, 0, 0, 0, time.UTC).Unix()
	late := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Unix() // after expires_at
	flights := personToken(t, "https://flights.example", s256, exp)
	hotels := personToken(t, "https://hotels.example", s256, late)
	body := approvalJSON(t, map[string]any{
		"s256":         s256,
		"mission":      b64(testBlob),
		"capabilities": []any{"interaction", "payment", "teleport", 7, "interaction", "clarification"},
		"person_tokens": map[string]any{
			"https://flights.example": flights,
			"https://hotels.example":  hotels,
		},
	})
	a, err := ParseMissionApproval(body)
	if err != nil {
		t.Fatal(err)
	}
	if a.S256 != s256 || string(a.Mission.Raw) != testBlob {
		t.Errorf("s256 %q, blob %q", a.S256, a.Mission.Raw)
	}
	if want := []wire.Capability{wire.CapabilityInteraction, wire.CapabilityPayment, wire.CapabilityClarification}; !slices.Equal(a.Capabilities, want) {
		t.Errorf("capabilities %v, want %v", a.Capabilities, want)
	}
	if len(a.PersonTokens) != 2 || len(a.Ignored) != 0 {
		t.Fatalf("person tokens %v, ignored %v", a.PersonTokens, a.Ignored)
	}
	if f := a.PersonTokens["https://flights.example"]; f.Value != flights || !f.Expiry.Equal(time.Unix(exp, 0)) || f.ExpiresIn != 0 {
		t.Errorf("flights token %+v", f)
	}
	// A token that would outlive the mission is cut at expires_at.
	if h := a.PersonTokens["https://hotels.example"]; !h.Expiry.Equal(a.Mission.ExpiresAt) {
		t.Errorf("hotels token expires %v, want the mission's %v", h.Expiry, a.Mission.ExpiresAt)
	}

	// The members other than s256 and mission are optional.
	a, err = ParseMissionApproval(approvalJSON(t, map[string]any{"s256": s256, "mission": b64(testBlob)}))
	if err != nil || a.Capabilities != nil || a.PersonTokens != nil || a.Ignored != nil {
		t.Fatalf("minimal approval: %+v, %v", a, err)
	}
	// Capabilities of the wrong type are ignored, as unknown values are.
	a, err = ParseMissionApproval(approvalJSON(t, map[string]any{"s256": s256, "mission": b64(testBlob), "capabilities": "interaction"}))
	if err != nil || a.Capabilities != nil {
		t.Fatalf("capabilities as a string: %+v, %v", a, err)
	}
}

func TestParseMissionApprovalRefuses(t *testing.T) {
	s256 := MissionDigest([]byte(testBlob))
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{"not JSON", "nope", "not a JSON object"},
		{"an array", "[]", "not a JSON object"},
		{"no s256", `{"mission":"` + b64(testBlob) + `"}`, "no s256 string"},
		{"s256 a number", `{"s256":1,"mission":"` + b64(testBlob) + `"}`, "no s256 string"},
		{"no mission", `{"s256":"` + s256 + `"}`, "no mission string"},
		{"mission an object", `{"s256":"` + s256 + `","mission":{"agent":"a"}}`, "no mission string"},
		{"s256 mismatch", `{"s256":"` + MissionDigest([]byte("other")) + `","mission":"` + b64(testBlob) + `"}`, "s256 is not the SHA-256"},
		{"duplicate s256", `{"s256":"x","s256":"` + s256 + `","mission":"` + b64(testBlob) + `"}`, `"s256" appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseMissionApproval([]byte(tc.body))
			if a != nil || !errors.Is(err, ErrInvalidMission) {
				t.Errorf("got %+v, %v", a, err)
			}
			mustContain(t, err, tc.want)
		})
	}
	huge := `{"s256":"` + s256 + `","mission":"` + b64(testBlob) + `","pad":"` + strings.Repeat(" ", httpx.MaxBodySize) + `"}`
	if a, err := ParseMissionApproval([]byte(huge)); a != nil || !errors.Is(err, httpx.ErrBodyTooLarge) {
		t.Errorf("a huge approval: %+v, %v", a, err)
	}
}

// TestApprovalPersonTokensIgnored is the table of person_tokens entries
// that are not kept, and why.
func TestApprovalPersonTokensIgnored(t *testing.T) {
	s256 := MissionDigest([]byte(testBlob))
	exp := time.Date(2026, 4, 8, 0, 0, 0, 0, time.UTC).Unix()
	ok := func(aud string) string { return personToken(t, aud, s256, exp) }
	for _, tc := range []struct {
		name     string
		resource string
		token    any
		want     string
	}{
		{"not a string", "https://r.example", 42, "not a string"},
		{"identifier with a path", "https://r.example/api", ok("https://r.example/api"), "not a resource identifier"},
		{"identifier with a trailing slash", "https://r.example/", ok("https://r.example/"), "not a resource identifier"},
		{"identifier in upper case", "https://R.example", ok("https://R.example"), "not a resource identifier"},
		{"identifier with a port", "https://r.example:8443", ok("https://r.example:8443"), "not a resource identifier"},
		{"identifier over http", "http://r.example", ok("http://r.example"), "not a resource identifier"},
		{"identifier with a query", "https://r.example?x=1", ok("https://r.example?x=1"), "not a resource identifier"},
		{"identifier not a URL", "r.example", ok("r.example"), "not a resource identifier"},
		{"another resource's token", "https://r.example", ok("https://other.example"), "another resource"},
		{"another mission's token", "https://r.example", personToken(t, "https://r.example", MissionDigest([]byte("other")), exp), "another mission"},
		{"a token without mission", "https://r.example", personToken(t, "https://r.example", "", exp), "another mission"},
		{"an auth token", "https://r.example", testJWT(t, map[string]any{"typ": "aa-auth+jwt"}, map[string]any{"aud": "https://r.example", "mission_s256": s256, "exp": exp}), "not a person token"},
		{"no exp", "https://r.example", testJWT(t, map[string]any{"typ": "aa-person+jwt"}, map[string]any{"aud": "https://r.example", "mission_s256": s256}), "no valid exp"},
		{"exp a string", "https://r.example", testJWT(t, map[string]any{"typ": "aa-person+jwt"}, map[string]any{"aud": "https://r.example", "mission_s256": s256, "exp": "soon"}), "no valid exp"},
		{"aud an array", "https://r.example", testJWT(t, map[string]any{"typ": "aa-person+jwt"}, map[string]any{"aud": []string{"https://r.example"}, "mission_s256": s256, "exp": exp}), "another resource"},
		{"not a JWT", "https://r.example", "opaque-token", "not a compact JWT"},
		{"a quote in the token", "https://r.example", ok("https://r.example") + `"`, "not a compact JWT"},
		{"a space in the token", "https://r.example", "a b.c.d", "not a compact JWT"},
		{"huge token", "https://r.example", strings.Repeat("a", jwtpeek.MaxTokenLen+1), "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := approvalJSON(t, map[string]any{"s256": s256, "mission": b64(testBlob), "person_tokens": map[string]any{tc.resource: tc.token}})
			a, err := ParseMissionApproval(body)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.PersonTokens) != 0 || len(a.Ignored) != 1 {
				t.Fatalf("kept %v, ignored %v", a.PersonTokens, a.Ignored)
			}
			if !strings.Contains(a.Ignored[0].Reason, tc.want) {
				t.Errorf("reason %q, want %q", a.Ignored[0].Reason, tc.want)
			}
		})
	}

	// person_tokens that is not an object is ignored as a whole.
	a, err := ParseMissionApproval(approvalJSON(t, map[string]any{"s256": s256, "mission": b64(testBlob), "person_tokens": []string{"x"}}))
	if err != nil || len(a.Ignored) != 1 || a.PersonTokens != nil {
		t.Fatalf("person_tokens as an array: %+v, %v", a, err)
	}

	// At most missionMaxPersonTokens entries are read; the rest are
	// ignored, in document order.
	many := map[string]any{}
	for i := 0; i < missionMaxPersonTokens+10; i++ {
		many["https://r"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i)+".example"] = "x.y.z"
	}
	a, err = ParseMissionApproval(approvalJSON(t, map[string]any{"s256": s256, "mission": b64(testBlob), "person_tokens": many}))
	if err != nil || len(a.Ignored) != len(many) {
		t.Fatalf("%d ignored of %d, %v", len(a.Ignored), len(many), err)
	}
	if got := a.Ignored[len(a.Ignored)-1].Reason; got != "too many person tokens" {
		t.Errorf("the last entry was ignored for %q", got)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestResourceIdentifier(t *testing.T) {
	for s, want := range map[string]bool{
		"https://r.example":            true,
		"https://xn--nxasmq6b.example": true,
		"http://127.0.0.1:8080":        true,
		"https://127.0.0.1:8443":       true,
		"http://localhost:3000":        true,
		"http://[::1]:80":              true,
		"https://r.example/":           false,
		"https://r.example/v1":         false,
		"https://r.example:443":        false,
		"https://r.example:":           false,
		"http://r.example":             false,
		"https://R.example":            false,
		"HTTPS://r.example":            false,
		"https://user@r.example":       false,
		"https://r.example?":           false,
		"https://r.example#x":          false,
		"https://ré.example":           false,
		"https://r_x.example":          false,
		"http://127.0.0.1:8080/":       false,
		"ftp://127.0.0.1":              false,
		"https://":                     false,
		"":                             false,
		"//r.example":                  false,
	} {
		if got := ResourceIdentifier(s); got != want {
			t.Errorf("ResourceIdentifier(%q) = %v, want %v", s, got, want)
		}
	}
}
