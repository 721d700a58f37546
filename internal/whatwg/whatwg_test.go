package whatwg

import "testing"

// The expected values were printed by Node.js 20's URL parser (new URL(…)
// .pathname and .host), the parser the reference signer runs on.
func TestPath(t *testing.T) {
	for _, c := range [][2]string{
		{"/", "/"},
		{"", "/"},
		{"/a/b", "/a/b"},
		{"/a b", "/a%20b"},
		{"/%7e/~x/%2F", "/%7e/~x/%2F"},
		{"/a/./b/../c", "/a/c"},
		{"/a/..", "/"},
		{"/a/.", "/a/"},
		{"/./a", "/a"},
		{"/%2e%2E/a/.%2e/b", "/b"},
		{"/a^b|c{d}e`f\"g<h>i", "/a^b|c%7Bd%7De%60f%22g%3Ch%3Ei"},
		{"/é/ß", "/%C3%A9/%C3%9F"},
		{`/a\b`, "/a/b"},
		{"/a%zz", "/a%zz"},
		{"/..", "/"},
		{"/x/%2e", "/x/"},
		{"/a//b", "/a//b"},
		{"/a\tb", "/ab"},
	} {
		if got := Path(c[0]); got != c[1] {
			t.Errorf("Path(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

func TestQuery(t *testing.T) {
	for _, c := range [][2]string{
		{"", ""},
		{"x=1", "x=1"},
		{"q=é", "q=%C3%A9"},
		{"a b&c='d'", "a%20b&c=%27d%27"},
		{"x=%7e|^{}", "x=%7e|^{}"},
		{"t=\"<>\"", "t=%22%3C%3E%22"},
	} {
		if got := Query(c[0]); got != c[1] {
			t.Errorf("Query(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

func TestAuthority(t *testing.T) {
	for _, c := range [][3]string{
		{"https", "Example.COM", "example.com"},
		{"https", "Bücher.Example", "xn--bcher-kva.example"},
		{"https", "[0:0::1]", "[::1]"},
		{"https", "h.example:443", "h.example"},
		{"https", "h.example:0080", "h.example:80"},
		{"https", "h.example:8443", "h.example:8443"},
		{"https", "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"https", "ÉXAMPLE.com", "xn--xample-9ua.com"},
		{"http", "h.example:80", "h.example"},
		{"http", "h.example:443", "h.example:443"},
	} {
		got, err := Authority(c[0], c[1])
		if err != nil || got != c[2] {
			t.Errorf("Authority(%q, %q) = %q, %v; want %q", c[0], c[1], got, err, c[2])
		}
	}
	for _, bad := range []string{"", ":80", "[::1", "[zz]:1", "h:99999", "h:x", "a\u200db.example"} {
		if got, err := Authority("https", bad); err == nil {
			t.Errorf("Authority(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzPath(f *testing.F) {
	for _, s := range []string{"/a/./b/../c", "/%2e%2E/a", "/é", `/a\b`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Path(s)
		if p == "" || p[0] != '/' {
			t.Fatalf("Path(%q) = %q", s, p)
		}
		// The serialisation is a fixed point: parsing it again changes nothing.
		if q := Path(p); q != p {
			t.Fatalf("Path not idempotent: %q -> %q -> %q", s, p, q)
		}
	})
}

// Authority's one-pass check for a host:port already in form agrees with
// the full parse.
func FuzzAuthorityInForm(f *testing.F) {
	for _, s := range []string{"example.com", "example.com:8443", "EXAMPLE.com", "example.com:443", "example.com:80", "127.0.0.1:08080", "a:", ":80", "x:65535", "x:65536", "x:99999", "[::1]:80", "a.b-c.d:1", "xn--nxasmq6b.example:2"} {
		f.Add("https", s)
		f.Add("http", s)
	}
	f.Fuzz(func(t *testing.T, scheme, hostport string) {
		if !inForm(scheme, hostport) {
			return
		}
		got, err := authority(scheme, hostport)
		if err != nil || got != hostport {
			t.Fatalf("inForm(%q, %q), but the full parse gives %q, %v", scheme, hostport, got, err)
		}
	})
}
