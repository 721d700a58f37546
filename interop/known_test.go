package interop

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
)

// signerNormalisesQuery records a known difference between our Signer and
// fetch + httpsig: the Signer brings the path and host to the WHATWG form
// but leaves the query as net/url holds it. Where @target-uri,
// @request-target or @query is covered, the two then sign different bytes
// for the same URL (each still verifies, as each signs what it sends):
//
//   - a query with bytes the WHATWG query percent-encode set encodes
//     (non-ASCII, space, ", #, <, >, '): fetch sends and signs them escaped
//     (?q=%C3%A9), our Signer raw (?q=é; a space even makes the request line
//     invalid);
//   - an empty query ("https://x/p?"): httpsig's @target-uri is URL.href,
//     which keeps the "?"; ours drops it, although Go sends "/p?".
//
// The fix belongs in signer.go; when it lands, set this to true and the
// suite checks these cases byte for byte too.
const signerNormalisesQuery = false

// TestSignerQueryLikeFetch is the minimal case of the difference above. The
// expected values are what httpsig 2.2.0 signs for the same fetch call
// (TestSignatureBaseMatchesJS compares them live).
func TestSignerQueryLikeFetch(t *testing.T) {
	cases := []struct {
		url, component, want string
	}{
		{"https://resource.example/p?q=é", "@request-target", "/p?q=%C3%A9"},
		{"https://resource.example/p?q=é", "@target-uri", "https://resource.example/p?q=%C3%A9"},
		{"https://resource.example/p?", "@target-uri", "https://resource.example/p?"},
	}
	var diverged []string
	for _, c := range cases {
		req, err := http.NewRequest("GET", c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := aauth.Signer{ExtraComponents: []string{c.component}, Now: clock}
		base, err := s.SignatureBase(req, aauth.KeyMaterial{Signer: agentKeys[0].signer, Key: aauth.HWK()})
		if err != nil {
			t.Fatal(err)
		}
		got := componentLine(base, c.component)
		if got != c.want {
			diverged = append(diverged, c.url+" "+c.component+": ours "+got+", fetch+httpsig "+c.want)
		}
	}
	if len(diverged) == 0 {
		if !signerNormalisesQuery {
			t.Error("the Signer now signs the query as fetch does: set signerNormalisesQuery to true")
		}
		return
	}
	if signerNormalisesQuery {
		t.Fatalf("the Signer signs the query unlike fetch:\n%s", strings.Join(diverged, "\n"))
	}
	t.Logf("known difference (signerNormalisesQuery):\n%s", strings.Join(diverged, "\n"))
}

// componentLine returns the value of one component in a signature base.
func componentLine(base []byte, name string) string {
	for _, line := range strings.Split(string(base), "\n") {
		if v, ok := strings.CutPrefix(line, `"`+name+`": `); ok {
			return v
		}
	}
	return ""
}

// queryDivergence reports whether the only difference between two bases
// is the one signerNormalisesQuery describes.
func queryDivergence(s *reqSpec, ours, theirs []byte) bool {
	if signerNormalisesQuery {
		return false
	}
	_, q, ok := strings.Cut(s.url, "?")
	if !ok {
		return false
	}
	q, _, _ = strings.Cut(q, "#")
	if q != "" && !strings.ContainsFunc(q, func(r rune) bool { return r > 0x7e || strings.ContainsRune(" \"#<>'", r) }) {
		return false
	}
	a, b := strings.Split(string(ours), "\n"), strings.Split(string(theirs), "\n")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !strings.HasPrefix(a[i], `"@target-uri": `) && !strings.HasPrefix(a[i], `"@request-target": `) && !strings.HasPrefix(a[i], `"@query": `) {
			return false
		}
	}
	return true
}
