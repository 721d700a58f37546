package interop

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
)

// TestGeneratorCoverage checks that the generated requests include every
// case the interop suite promises, so that a change to the generator cannot
// quietly drop one. It needs no node.
func TestGeneratorCoverage(t *testing.T) {
	for _, gen := range generations {
		specs := genSpecs(gen, perGeneration)
		seen := map[string]int{}
		for _, s := range specs {
			mark := func(ok bool, name string) {
				if ok {
					seen[name]++
				}
			}
			mark(true, "method "+orDefault(s.method, "(default)"))
			mark(true, "key "+s.key.name)
			mark(true, "scheme "+string(s.scheme))
			mark(s.session, "session token")
			mark(s.extras != nil, "extra components")
			mark(slices.ContainsFunc(s.extras, func(c string) bool { return c[0] == '@' }), "extra derived components")
			mark(s.comps != nil, "own component list")
			mark(s.label != "", "other label")
			mark(slices.ContainsFunc(s.headers, func(h [2]string) bool { return h[0] == "X-Multi" }), "repeated header")

			switch b := s.body; {
			case b == nil:
				mark(true, "no body")
			case len(b.Bytes) == 0:
				mark(true, "empty body")
			case !b.Text:
				mark(true, "byte body")
			case len(b.Bytes) >= 64<<10:
				mark(true, "64 KiB body")
			case strings.ContainsFunc(string(b.Bytes), func(r rune) bool { return r > 0x7f }):
				mark(true, "non-ASCII body")
			default:
				mark(true, "small text body")
			}
			if s.body != nil {
				ct, ok := headerValue(s.headers, "content-type")
				mark(!ok, "body without Content-Type")
				mark(ok && ct != strings.TrimSpace(ct), "Content-Type with surrounding space")
			}

			u, err := url.Parse(s.url)
			if err != nil {
				t.Fatalf("%v: %v", s, err)
			}
			host := u.Hostname()
			mark(u.Scheme == "http", "http")
			mark(u.Scheme == "https", "https")
			mark(u.Port() == "443" && u.Scheme == "https" || u.Port() == "80" && u.Scheme == "http", "explicit default port")
			mark(u.Port() != "" && !(u.Port() == "443" && u.Scheme == "https" || u.Port() == "80" && u.Scheme == "http"), "other port")
			mark(host != strings.ToLower(host), "upper-case host")
			mark(strings.Contains(host, ":"), "IPv6 host")
			mark(strings.EqualFold(host, "localhost"), "localhost")
			mark(strings.ContainsFunc(host, func(r rune) bool { return r > 0x7f }), "IDN host")
			raw := u.RawPath
			if raw == "" {
				raw = u.Path
			}
			mark(raw == "", "empty path")
			mark(strings.Contains(raw, "%2F") || strings.Contains(raw, "%2f"), "escaped slash")
			mark(strings.Contains(raw, "%7e"), "lower-case escape")
			mark(strings.Contains(raw, " "), "space in path")
			mark(strings.ContainsFunc(raw, func(r rune) bool { return r > 0x7f }), "non-ASCII path")
			mark(strings.Contains(raw, "/./") || strings.Contains(raw, "/..") || strings.Contains(raw, "%2e"), "dot segments")
			mark(u.RawQuery != "", "query")
			mark(strings.Contains(u.RawQuery, "%"), "escaped query")
			mark(strings.Contains(s.url, "#"), "fragment")
		}
		want := []string{
			"key ed25519", "key p256", "scheme hwk", "scheme jwt", "scheme jkt-jwt",
			"session token", "extra components", "extra derived components", "own component list", "other label", "repeated header",
			"no body", "empty body", "byte body", "64 KiB body", "non-ASCII body", "small text body",
			"body without Content-Type", "Content-Type with surrounding space",
			"http", "https", "explicit default port", "other port", "upper-case host", "IPv6 host", "localhost", "IDN host",
			"empty path", "escaped slash", "lower-case escape", "space in path", "non-ASCII path", "dot segments",
			"query", "escaped query", "fragment",
		}
		for _, m := range genMethods {
			want = append(want, "method "+orDefault(m, "(default)"))
		}
		var missing []string
		for _, w := range want {
			if seen[w] == 0 {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: the generated requests lack: %s", gen, strings.Join(missing, ", "))
		}
		// Every method with every key type and scheme.
		combos := map[string]bool{}
		for _, s := range specs {
			combos[s.method+"/"+s.key.name+"/"+string(s.scheme)] = true
		}
		if want := len(genMethods) * len(agentKeys) * 3; len(combos) != want {
			t.Errorf("%s: %d method/key/scheme combinations, want %d", gen, len(combos), want)
		}
		if gen == aauth.ProfileCurrent {
			t.Logf("%s: %v", gen, seen)
		}
	}
}
