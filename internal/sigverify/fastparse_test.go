package sigverify

import (
	"reflect"
	"testing"
)

// FuzzParseSignatureFast: whatever the fast path accepts, the general
// RFC 9651 parser reads into the same signature.
func FuzzParseSignatureFast(f *testing.F) {
	for _, c := range [][3]string{
		{`sig=("@method" "@authority" "@path" "signature-key");created=1730217600`, `sig=:AAAA:`, ""},
		{`sig=("@method" "content-digest");created=1;expires=2`, `sig=:YWJj:`, "sig"},
		{`sig=();created=-5`, `sig=:YQ==:`, ""},
		{`sig=("@method" "@method");created=1`, `sig=:YQ==:`, ""},
		{`sig=("@query-param");created=1`, `sig=:YQ==:`, ""},
		{`sig=("a");created=01`, `sig=:YQ==:`, ""},
		{`sig=("a");created=-0`, `sig=:YQ==:`, ""},
		{`sig=("a");created=1;alg="ed25519"`, `sig=:YQ==:`, ""},
		{`sig=("A");created=1`, `sig=:YQ==:`, ""},
		{`sig=("a" "b");created=1`, `sig=:YQ=:`, ""},
		{`x=("a");created=1`, `x=:YQ==:`, "sig"},
		{`sig=("a")  ;created=1`, `sig=:YQ==:`, ""},
		{`sig=("@unknown");created=1`, `sig=:YQ==:`, ""},
	} {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, in, sg, label string) {
		fast, ok := parseSignatureFast([]string{in}, []string{sg}, label)
		if !ok {
			return
		}
		slow, err := parseSignatureSlow([]string{in}, []string{sg}, label)
		if err != nil {
			t.Fatalf("fast path accepted %q / %q (label %q); the general parser: %v", in, sg, label, err)
		}
		if fast.components == nil {
			fast.components = slow.components[:0:0]
		}
		if slow.components == nil {
			slow.components = fast.components[:0:0]
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q / %q: fast %+v, general %+v", in, sg, fast, slow)
		}
	})
}
