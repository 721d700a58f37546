package wire

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/internal/httpx"
)

// Header values longer than their caps are treated as malformed, never cut
// and parsed.
func TestHeaderCaps(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json; p=" + strings.Repeat("x", httpx.ShortHeaderMaxLen)}}
	if httpx.JSONContent(h, true) {
		t.Error("oversized Content-Type taken for JSON")
	}
	if p := problemFrom(h, []byte(`{"error":"denied"}`)); p != nil {
		t.Errorf("problem read under an oversized Content-Type: %+v", p)
	}

	lines := make([]string, challengeMaxLen/10)
	for i := range lines {
		lines[i] = "requirement=approval"
	}
	if _, ok, err := ParseRequirementHeader(http.Header{"Aauth-Requirement": lines}); !ok || !errors.Is(err, &ChallengeError{Code: ChallengeTooLong}) {
		t.Errorf("many requirement lines: %v", err)
	}
	if _, ok, err := ParseSignatureErrorHeader(http.Header{"Signature-Error": lines}); !ok || err == nil {
		t.Errorf("many Signature-Error lines: %v", err)
	}
	if v, ok, tooLong := chalJoinLines(http.Header{"X": {"a", " ", "b"}}, "X", 4); v != "a, b" || !ok || tooLong {
		t.Errorf("chalJoinLines = %q, %v, %v", v, ok, tooLong)
	}
	if v, ok, tooLong := chalJoinLines(http.Header{"X": {"a", "bc"}}, "X", 4); v != "" || !ok || !tooLong {
		t.Errorf("chalJoinLines over the cap = %q, %v, %v", v, ok, tooLong)
	}
}
