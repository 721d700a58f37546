package sigverify

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

// vector is one entry of testdata/signatures-*.json.
type vector struct {
	ID     string `json:"id"`
	Inputs struct {
		Method       *string           `json:"method"`
		URL          string            `json:"url"`
		Headers      map[string]string `json:"headers"`
		Body         *string           `json:"body"`
		Key          json.RawMessage   `json:"key"`
		SignatureKey struct {
			Type string `json:"type"`
			JWT  string `json:"jwt"`
		} `json:"signature_key"`
		Label   string `json:"label"`
		Created int64  `json:"created"`
	} `json:"inputs"`
	Expected struct {
		CoveredComponents []string `json:"covered_components"`
		ComponentValues   []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"component_values"`
		SignatureParams            string      `json:"signature_params"`
		SignatureKey               string      `json:"signature_key"`
		SignatureInput             string      `json:"signature_input"`
		Signature                  string      `json:"signature"`
		ContentDigest              *string     `json:"content_digest"`
		RequestHeadersAfterSigning [][2]string `json:"request_headers_after_signing"`
	} `json:"expected"`
}

type vectorFile struct {
	KeySource map[string]json.RawMessage `json:"key_source"`
	Vectors   []vector                   `json:"vectors"`
}

func loadVectors(t testing.TB, name string) vectorFile {
	t.Helper()
	data, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return f
}

func findVector(t testing.TB, file, id string) vector {
	t.Helper()
	for _, v := range loadVectors(t, file).Vectors {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("no vector %s in %s", id, file)
	return vector{}
}

// value returns the expected value of a covered component.
func (v vector) value(name string) string {
	for _, c := range v.Expected.ComponentValues {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// request rebuilds the client-side request the reference implementation
// sent: inputs plus the headers after signing. Host is the expected
// @authority, as on the wire. When net/url reads the URL differently from
// the WHATWG parser (spaces, dot segments), the URL is rebuilt from the
// expected @path; for the rest the request's own URL is used, so that the
// empty-path normalisation is exercised too.
func (v vector) request(t testing.TB) *http.Request {
	t.Helper()
	method := v.value("@method")
	authority := v.value("@authority")
	path := v.value("@path")

	u, err := url.Parse(v.Inputs.URL)
	if err != nil || (u.EscapedPath() != path && !(u.EscapedPath() == "" && path == "/")) {
		scheme, rest, _ := strings.Cut(v.Inputs.URL, "://")
		_, query, _ := strings.Cut(strings.SplitN(rest, "#", 2)[0], "?")
		raw := scheme + "://" + authority + path
		if query != "" {
			raw += "?" + query
		}
		if u, err = url.Parse(raw); err != nil {
			t.Fatalf("rebuilt URL %q: %v", raw, err)
		}
		if u.EscapedPath() != path {
			t.Fatalf("rebuilt URL path %q, want %q", u.EscapedPath(), path)
		}
	}
	var body io.Reader
	if v.Inputs.Body != nil {
		body = strings.NewReader(*v.Inputs.Body)
	}
	req, err := http.NewRequest(method, "https://placeholder.invalid/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	req.Host = authority
	for _, h := range v.Expected.RequestHeadersAfterSigning {
		req.Header.Add(h[0], h[1])
	}
	return req
}

// publicKey reads the vector's key with jwx, independently of the JWK code
// under test.
func (v vector) publicKey(t testing.TB) crypto.PublicKey {
	t.Helper()
	k, err := jwk.ParseKey(v.Inputs.Key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := jwk.PublicKeyOf(k)
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := jwk.Export(pk, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func (v vector) thumbprint(t testing.TB) string {
	t.Helper()
	k, err := jwk.ParseKey(v.Inputs.Key)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// hasCnfJWK reports whether the vector's token carries cnf.jwk; the dummy
// tokens of most jwt vectors do not, so only VerifyWithKey can check them.
func (v vector) hasCnfJWK() bool {
	parts := strings.Split(v.Inputs.SignatureKey.JWT, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims struct {
		Cnf struct {
			JWK map[string]any `json:"jwk"`
		} `json:"cnf"`
	}
	return json.Unmarshal(payload, &claims) == nil && claims.Cnf.JWK != nil
}

func (v vector) options(current bool) Options {
	created := time.Unix(v.Inputs.Created, 0)
	return Options{Now: func() time.Time { return created }, RequireAlg: current}
}

func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		file    string
		current bool
		count   int
	}{
		{"signatures-current.json", true, 27},
		{"signatures-seed.json", false, 29},
	} {
		f := loadVectors(t, tc.file)
		if len(f.Vectors) != tc.count {
			t.Errorf("%s: %d vectors, want %d", tc.file, len(f.Vectors), tc.count)
		}
		for _, v := range f.Vectors {
			t.Run(v.ID, func(t *testing.T) {
				t.Parallel()
				opts := v.options(tc.current)
				scheme := wire.Scheme(strings.ReplaceAll(v.Inputs.SignatureKey.Type, "_", "-"))
				var res *Result
				if scheme == wire.SchemeHWK || v.hasCnfJWK() {
					req := v.request(t)
					var err error
					if res, err = verifyChecked(t, req, opts); err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if res.Scheme != scheme || res.Token != v.Inputs.SignatureKey.JWT {
						t.Errorf("Scheme, Token = %q, %q", res.Scheme, aauth.Redact(res.Token))
					}
					if want := v.thumbprint(t); res.Thumbprint != want {
						t.Errorf("Thumbprint = %s, want %s", res.Thumbprint, want)
					}
				} else {
					// The dummy token has no cnf.jwk: Verify must say so,
					// and the signature must verify under the known key.
					_, err := verifyChecked(t, v.request(t), opts)
					if CodeOf(err) != CodeInvalidJWT {
						t.Fatalf("Verify = %v, want invalid_jwt", err)
					}
					opts.Required = []string{"signature-key"}
					if res, err = verifyWithKeyChecked(t, v.request(t), "", v.publicKey(t), opts); err != nil {
						t.Fatalf("VerifyWithKey: %v", err)
					}
				}
				if !res.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(v.publicKey(t)) {
					t.Errorf("PublicKey differs from the vector's key")
				}
				if res.Label != v.Inputs.Label {
					t.Errorf("Label = %q, want %q", res.Label, v.Inputs.Label)
				}
				if !res.Created.Equal(time.Unix(v.Inputs.Created, 0)) {
					t.Errorf("Created = %v", res.Created)
				}
				if !slices.Equal(res.Components, v.Expected.CoveredComponents) {
					t.Errorf("Components = %q, want %q", res.Components, v.Expected.CoveredComponents)
				}
				if res.Params != v.Expected.SignatureParams {
					t.Errorf("Params = %s, want %s", res.Params, v.Expected.SignatureParams)
				}
				if v.Expected.ContentDigest != nil && string(res.Body) != *v.Inputs.Body {
					t.Errorf("Body = %q, want %q", res.Body, *v.Inputs.Body)
				}
			})
		}
	}
}

// TestVectorsRequireDigest: the current vectors with a body cover
// content-digest, except the one that asked the signer to omit it.
func TestVectorsRequireDigest(t *testing.T) {
	for _, v := range loadVectors(t, "signatures-current.json").Vectors {
		if v.Inputs.Body == nil || *v.Inputs.Body == "" {
			continue
		}
		t.Run(v.ID, func(t *testing.T) {
			opts := v.options(true)
			opts.RequireDigest = true
			_, err := verifyWithKeyChecked(t, v.request(t), "", v.publicKey(t), opts)
			if v.Expected.ContentDigest != nil {
				if err != nil {
					t.Fatalf("VerifyWithKey: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidInput || !slices.Contains(e.Missing, "content-digest") {
				t.Fatalf("err = %v, want invalid_input missing content-digest", err)
			}
		})
	}
}

// TestRFC9421B26 verifies the RFC's own Ed25519 example, which has no
// Signature-Key, through VerifyWithKey.
func TestRFC9421B26(t *testing.T) {
	data, err := os.ReadFile("../../testdata/rfc9421-b26.json")
	if err != nil {
		t.Fatal(err)
	}
	var b26 struct {
		Request struct {
			Method  string      `json:"method"`
			URL     string      `json:"url"`
			Headers [][2]string `json:"headers"`
			Body    string      `json:"body"`
		} `json:"request"`
		Key struct {
			JWKPublic json.RawMessage `json:"jwk_public"`
		} `json:"key"`
		Label             string   `json:"label"`
		CoveredComponents []string `json:"covered_components"`
		SignatureParams   string   `json:"signature_params"`
		SignatureInput    string   `json:"signature_input"`
		Signature         string   `json:"signature"`
	}
	if err := json.Unmarshal(data, &b26); err != nil {
		t.Fatal(err)
	}
	k, err := jwk.ParseKey(b26.Key.JWKPublic)
	if err != nil {
		t.Fatal(err)
	}
	var pub any
	if err := jwk.Export(k, &pub); err != nil {
		t.Fatal(err)
	}
	build := func() *http.Request {
		req, err := http.NewRequest(b26.Request.Method, b26.Request.URL, strings.NewReader(b26.Request.Body))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range b26.Request.Headers {
			if strings.EqualFold(h[0], "Host") {
				req.Host = h[1]
				continue
			}
			req.Header.Add(h[0], h[1])
		}
		req.Header.Set("Signature-Input", b26.SignatureInput)
		req.Header.Set("Signature", b26.Signature)
		return req
	}
	created := time.Unix(1618884473, 0)
	opts := Options{Now: func() time.Time { return created }}

	res, err := verifyWithKeyChecked(t, build(), b26.Label, pub, opts)
	if err != nil {
		t.Fatalf("VerifyWithKey: %v", err)
	}
	if res.Label != "sig-b26" || res.Params != b26.SignatureParams || !slices.Equal(res.Components, b26.CoveredComponents) {
		t.Errorf("result %+v", res)
	}
	// The Content-Digest is not covered, but present: it was checked.
	if string(res.Body) != b26.Request.Body {
		t.Errorf("Body = %q", res.Body)
	}
	if res.Scheme != "" || res.Token != "" {
		t.Errorf("Scheme, Token = %q, %q; want none", res.Scheme, res.Token)
	}

	// The default label is the only one present.
	if _, err := verifyWithKeyChecked(t, build(), "", pub, opts); err != nil {
		t.Errorf("default label: %v", err)
	}
	// Verify needs a Signature-Key, which B.2.6 does not have.
	if _, err := verifyChecked(t, build(), opts); CodeOf(err) != CodeInvalidRequest {
		t.Errorf("Verify = %v, want invalid_request", err)
	}
	// Required components are enforced in VerifyWithKey too.
	opts.Required = []string{"signature-key"}
	if _, err := verifyWithKeyChecked(t, build(), "", pub, opts); CodeOf(err) != CodeInvalidInput {
		t.Errorf("requiring signature-key: %v, want invalid_input", err)
	}
	// A tampered body fails on the (uncovered) SHA-512 digest.
	opts.Required = nil
	req := build()
	req.Body = io.NopCloser(bytes.NewReader([]byte(`{"hello": "World"}`)))
	if _, err := verifyWithKeyChecked(t, req, "", pub, opts); CodeOf(err) != CodeInvalidSignature {
		t.Errorf("tampered body: %v, want invalid_signature", err)
	}
}
