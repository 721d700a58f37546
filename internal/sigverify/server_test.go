package sigverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The RFC 8037 A.1 key, the key of the vectors.
var testKey = ed25519.NewKeyFromSeed(mustB64(
	"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))

func mustB64(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// handSign signs req the way RFC 9421 §2.5 and §3.1 describe, written out
// by hand so that the test depends on no signer: one line per component,
// then @signature-params. authority and path are the values the signer
// means the server to see.
func handSign(t *testing.T, req *http.Request, authority, path string, components []string, created int64, key crypto.Signer) {
	t.Helper()
	var lines [][2]string
	for _, c := range components {
		var v string
		switch c {
		case "@method":
			v = req.Method
		case "@authority":
			v = authority
		case "@path":
			v = path
		default:
			v = strings.TrimSpace(req.Header.Get(c))
		}
		lines = append(lines, [2]string{`"` + c + `"`, v})
	}
	signLines(t, req, lines, created, key)
}

// signLines signs the base made of lines, each a serialized component
// identifier and its value, and sets Signature-Input and Signature.
func signLines(t *testing.T, req *http.Request, lines [][2]string, created int64, key crypto.Signer) {
	t.Helper()
	ids := make([]string, len(lines))
	var base strings.Builder
	for i, l := range lines {
		ids[i] = l[0]
		fmt.Fprintf(&base, "%s: %s\n", l[0], l[1])
	}
	params := fmt.Sprintf("(%s);created=%d", strings.Join(ids, " "), created)
	fmt.Fprintf(&base, "\"@signature-params\": %s", params)

	var sig []byte
	switch k := key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(base.String()))
	case *ecdsa.PrivateKey:
		// RFC 9421 §3.3.4: r and s, each 32 bytes big-endian, not DER.
		h := sha256.Sum256([]byte(base.String()))
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		t.Fatalf("key type %T", key)
	}
	req.Header.Set("Signature-Input", "sig="+params)
	req.Header.Set("Signature", "sig=:"+base64.StdEncoding.EncodeToString(sig)+":")
}

func hwkHeader(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return `sig=hwk;alg="Ed25519";kty="OKP";crv="Ed25519";x="` + b64u(k) + `"`
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes()
		return `sig=hwk;alg="ES256";kty="EC";crv="P-256";x="` + b64u(raw[1:33]) + `";y="` + b64u(raw[33:]) + `"`
	}
	return ""
}

// dummyJWT is a JWT-shaped token whose cnf.jwk is pub; its signature is
// junk, which Verify does not look at.
func dummyJWT(pub ed25519.PublicKey) string {
	header := b64u([]byte(`{"alg":"Ed25519","typ":"aa-agent+jwt"}`))
	payload := b64u([]byte(`{"iss":"https://agent.example","cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"` + b64u(pub) + `","alg":"Ed25519"}}}`))
	return header + "." + payload + "." + b64u([]byte("sig"))
}

// verifyingServer answers 200 with the re-read body when Verify accepts a
// request, and 401 with Signature-Error otherwise. It also reports whether
// Verify left the request as the handler got it.
func verifyingServer(t *testing.T, tls bool, opts Options) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, urlHost, scheme := r.Host, r.URL.Host, r.URL.Scheme
		res, err := verifyChecked(t, r, opts)
		if r.Host != host || r.URL.Host != urlHost || r.URL.Scheme != scheme {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "request changed: Host %q, URL.Host %q, URL.Scheme %q", r.Host, r.URL.Host, r.URL.Scheme)
			return
		}
		if err != nil {
			e := err.(*Error)
			w.Header().Set("Signature-Error", e.SignatureError())
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, err)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if res.Body != nil && string(res.Body) != string(body) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "Result.Body %q differs from the body %q", res.Body, body)
			return
		}
		w.Header().Set("X-Scheme", string(res.Scheme))
		w.Header().Set("X-Thumbprint", res.Thumbprint)
		w.Header().Set("X-Components", strings.Join(res.Components, " "))
		_, _ = w.Write(body)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestServerSide(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edThumb, _ := ThumbprintOf(testKey.Public())
	ecThumb, _ := ThumbprintOf(&ecKey.PublicKey)
	const body = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	digest := sha256.Sum256([]byte(body))
	opts := Options{
		RequireAlg:    true,
		RequireDigest: true,
		Required:      []string{"@method", "@authority", "@path"},
	}

	tests := []struct {
		name       string
		tls        bool
		method     string
		body       string
		key        crypto.Signer
		sigKey     string
		host       string // Host header sent; "" = the listener address
		authority  string // @authority signed; "" = the listener address
		path       string // request path
		signedPath string // @path signed; "" = path
		components []string
		status     int
		sigErr     string
	}{
		{
			name: "GET hwk Ed25519", method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			path: "/resource?q=1", signedPath: "/resource",
			components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "GET hwk ES256", method: http.MethodGet, key: ecKey, sigKey: hwkHeader(&ecKey.PublicKey),
			path: "/resource", components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "POST jwt with digest", method: http.MethodPost, body: body, key: testKey, sigKey: `sig=jwt;jwt="` + dummyJWT(testKey.Public().(ed25519.PublicKey)) + `"`,
			path:       "/mcp",
			components: []string{"@method", "@authority", "@path", "content-type", "signature-key", "content-digest"}, status: http.StatusOK,
		},
		{
			name: "POST over TLS", tls: true, method: http.MethodPost, body: body, key: testKey, sigKey: hwkHeader(testKey.Public()),
			path:       "/aauth/token",
			components: []string{"@method", "@authority", "@path", "content-type", "content-digest", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "upper-case Host with the default http port", method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			host: "LOCALHOST:80", authority: "localhost", path: "/resource",
			components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "upper-case Host with the default https port", tls: true, method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			host: "Resource.Example:443", authority: "resource.example", path: "/resource",
			components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "empty-looking path", method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			path: "/", components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "escaped path kept as sent", method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			path: "/a%20b/%7Euser/%2F", components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusOK,
		},
		{
			name: "signed for another path", method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			path: "/other", signedPath: "/resource",
			components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusUnauthorized, sigErr: "error=invalid_signature",
		},
		{
			name: "signed for another host", method: http.MethodGet, key: testKey, sigKey: hwkHeader(testKey.Public()),
			authority: "resource.example", path: "/resource",
			components: []string{"@method", "@authority", "@path", "signature-key"}, status: http.StatusUnauthorized, sigErr: "error=invalid_signature",
		},
		{
			name: "POST without content-digest", method: http.MethodPost, body: body, key: testKey, sigKey: hwkHeader(testKey.Public()),
			path: "/mcp", components: []string{"@method", "@authority", "@path", "content-type", "signature-key"}, status: http.StatusUnauthorized,
			sigErr: `error=invalid_input, required_input=("@method" "@authority" "@path" "signature-key" "content-digest")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := verifyingServer(t, tt.tls, opts)
			var rb io.Reader
			if tt.body != "" {
				rb = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, rb)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			authority := tt.authority
			if authority == "" {
				authority = srv.Listener.Addr().String()
			}
			signedPath := tt.signedPath
			if signedPath == "" {
				signedPath = tt.path
			}
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(digest[:])+":")
			}
			req.Header.Set("Signature-Key", tt.sigKey)
			handSign(t, req, authority, signedPath, tt.components, time.Now().Unix(), tt.key)

			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, got, tt.status)
			}
			if tt.status != http.StatusOK {
				if se := resp.Header.Get("Signature-Error"); se != tt.sigErr {
					t.Errorf("Signature-Error = %s, want %s", se, tt.sigErr)
				}
				return
			}
			if string(got) != tt.body {
				t.Errorf("handler re-read body %q, want %q", got, tt.body)
			}
			wantThumb := edThumb
			if tt.key == ecKey {
				wantThumb = ecThumb
			}
			if th := resp.Header.Get("X-Thumbprint"); th != wantThumb {
				t.Errorf("thumbprint %s, want %s", th, wantThumb)
			}
			if c := resp.Header.Get("X-Components"); c != strings.Join(tt.components, " ") {
				t.Errorf("components %q", c)
			}
		})
	}
}

// TestServerSideComponents covers the other derived components and the
// component parameters, with values worked out by hand from RFC 9421 §2.
func TestServerSideComponents(t *testing.T) {
	srv := verifyingServer(t, false, Options{RequireAlg: true})
	addr := srv.Listener.Addr().String()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/a/b?q=1&Pet=dog&e=a%20b", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c)  ")
	req.Header.Add("X-Multi", "one ")
	req.Header.Add("X-Multi", " two")
	req.Header.Set("X-Bin", "bytes")
	req.Header.Set("Signature-Key", hwkHeader(testKey.Public()))
	lines := [][2]string{
		{`"@method"`, "GET"},
		{`"@target-uri"`, "http://" + addr + "/a/b?q=1&Pet=dog&e=a%20b"},
		{`"@scheme"`, "http"},
		{`"@request-target"`, "/a/b?q=1&Pet=dog&e=a%20b"},
		{`"@query"`, "?q=1&Pet=dog&e=a%20b"},
		{`"@query-param";name="Pet"`, "dog"},
		{`"@query-param";name="e"`, "a%20b"},
		{`"example-dict";key="a"`, "1"},
		{`"example-dict";key="c"`, "(a b c)"},
		{`"example-dict";sf`, "a=1, b=2;x=1;y=2, c=(a b c)"},
		{`"x-multi"`, "one, two"},
		{`"x-bin";bs`, ":" + base64.StdEncoding.EncodeToString([]byte("bytes")) + ":"},
		{`"signature-key"`, hwkHeader(testKey.Public())},
	}
	signLines(t, req, lines, time.Now().Unix(), testKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		got, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	want := `@method @target-uri @scheme @request-target @query @query-param;name="Pet" @query-param;name="e" example-dict;key="a" example-dict;key="c" example-dict;sf x-multi x-bin;bs signature-key`
	if got := resp.Header.Get("X-Components"); got != want {
		t.Errorf("components\n got %s\nwant %s", got, want)
	}
}

// TestServerSideWire sends requests whose wire form net/url reads
// otherwise, signed over the values a fetch-based signer covers, to a
// server that verifies them: the base is built from the request as it
// arrived.
func TestServerSideWire(t *testing.T) {
	srv := verifyingServer(t, false, Options{RequireAlg: true})
	addr := srv.Listener.Addr().String()
	skey := hwkHeader(testKey.Public())
	tests := []struct {
		name   string
		method string // as sent
		target string // the request-target as sent
		lines  [][2]string
		status int
	}{
		{"lower-case PATCH", "patch", "/x", [][2]string{{`"@method"`, "PATCH"}, {`"@path"`, "/x"}}, http.StatusOK},
		{"non-standard method", "purge", "/x", [][2]string{{`"@method"`, "PURGE"}, {`"@path"`, "/x"}}, http.StatusOK},
		{"mixed-case method", "Delete", "/x", [][2]string{{`"@method"`, "DELETE"}}, http.StatusOK},
		// RFC 9421 §2.2.1 would have the method as sent; AAuth signers
		// upper-case it, and so does this verifier.
		{"signed over the lower-case method", "patch", "/x", [][2]string{{`"@method"`, "patch"}}, http.StatusUnauthorized},
		{"raw | and ^ in the path", "GET", "/a|b^c", [][2]string{{`"@path"`, "/a|b^c"}}, http.StatusOK},
		{"raw | and ^ signed escaped", "GET", "/a|b^c", [][2]string{{`"@path"`, "/a%7Cb%5Ec"}}, http.StatusUnauthorized},
		{"escaped | and ^ signed raw", "GET", "/a%7Cb%5Ec", [][2]string{{`"@path"`, "/a|b^c"}}, http.StatusUnauthorized},
		{"| and ^ under target-uri", "GET", "/a|b^c?q=1", [][2]string{{`"@target-uri"`, "http://" + addr + "/a|b^c?q=1"}}, http.StatusOK},
		{"escaped path under request-target", "GET", "/a%2Fb?x=1", [][2]string{{`"@path"`, "/a%2Fb"}, {`"@request-target"`, "/a%2Fb?x=1"}}, http.StatusOK},
		{"escaped path under request-target, signed decoded", "GET", "/a%2Fb?x=1", [][2]string{{`"@request-target"`, "/a/b?x=1"}}, http.StatusUnauthorized},
		{"escaped path under target-uri", "GET", "/caf%C3%A9/%7euser?x=%2F", [][2]string{{`"@target-uri"`, "http://" + addr + "/caf%C3%A9/%7euser?x=%2F"}}, http.StatusOK},
		{"lower-case escape kept", "GET", "/%7euser", [][2]string{{`"@path"`, "/%7Euser"}}, http.StatusUnauthorized},
		{"empty query kept", "GET", "/p?", [][2]string{{`"@request-target"`, "/p?"}, {`"@target-uri"`, "http://" + addr + "/p?"}, {`"@query"`, "?"}}, http.StatusOK},
		{"dot segments as sent", "GET", "/a/../b", [][2]string{{`"@path"`, "/a/../b"}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Opaque makes the client send the target byte for byte.
			req.URL.Opaque = tt.target
			req.Header.Set("Signature-Key", skey)
			lines := append([][2]string{{`"@authority"`, addr}}, tt.lines...)
			lines = append(lines, [2]string{`"signature-key"`, skey})
			signLines(t, req, lines, time.Now().Unix(), testKey)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, got, tt.status)
			}
			if tt.status != http.StatusOK {
				if se := resp.Header.Get("Signature-Error"); se != "error=invalid_signature" {
					t.Errorf("Signature-Error = %s", se)
				}
			}
		})
	}
}
