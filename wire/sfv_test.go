package wire

import (
	"testing"

	"github.com/dunglas/httpsfv"
)

// chalIsToken accepts exactly what httpsfv serialises as a Token: every
// string of one and two bytes, and a few longer ones.
func TestChalIsTokenMatchesHTTPSFV(t *testing.T) {
	ref := func(s string) bool {
		if s == "" {
			return false
		}
		_, err := httpsfv.Marshal(httpsfv.Item{Value: httpsfv.Token(s), Params: httpsfv.NewParams()})
		return err == nil
	}
	check := func(s string) {
		if got, want := chalIsToken(s), ref(s); got != want {
			t.Errorf("chalIsToken(%q) = %v, httpsfv says %v", s, got, want)
		}
	}
	check("")
	for a := 0; a < 256; a++ {
		check(string([]byte{byte(a)}))
		for b := 0; b < 256; b++ {
			check(string([]byte{byte(a), byte(b)}))
		}
	}
	for _, s := range []string{"interaction", "clarification", "*foo:bar/baz", "a b", "a,b", "a;b", "Ab9!#$%&'*+-.^_`|~:/", "a\x7f", "aé"} {
		check(s)
	}
}
