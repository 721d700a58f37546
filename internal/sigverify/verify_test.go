package sigverify

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/wire"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

const (
	currentFile = "signatures-current.json"
	seedFile    = "signatures-seed.json"
)

// wantCode checks that err is an *Error with the given code and a safe
// message.
func wantCode(t *testing.T, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
	t.Log(err)
	if !strings.HasPrefix(err.Error(), "aauth: "+code) {
		t.Errorf("message %q does not start with aauth: %s", err, code)
	}
	return e
}

// noSecrets checks that an error message shows neither the token nor the
// signature of the request.
func noSecrets(t *testing.T, err error, req *http.Request) {
	t.Helper()
	msg := err.Error()
	sk, _ := wire.ParseSignatureKey(req.Header.Get("Signature-Key"))
	if sk.Token != "" && strings.Contains(msg, sk.Token) {
		t.Errorf("error %q shows the token", msg)
	}
	if _, sig, ok := strings.Cut(req.Header.Get("Signature"), "=:"); ok && len(sig) > 8 && strings.Contains(msg, sig[:8]) {
		t.Errorf("error %q shows the signature", msg)
	}
}

func TestTamper(t *testing.T) {
	post := findVector(t, currentFile, "current-04-post-json-explicit-content-type") // hwk, content-type and content-digest covered
	get := findVector(t, currentFile, "current-01-get-hwk")
	es := findVector(t, currentFile, "current-20-get-hwk-es256")
	created := time.Unix(post.Inputs.Created, 0)

	otherKey := func() string {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		return `sig=hwk;alg="Ed25519";kty="OKP";crv="Ed25519";x="` + base64.RawURLEncoding.EncodeToString(pub) + `"`
	}

	tests := []struct {
		name   string
		v      vector
		tamper func(*http.Request)
		now    time.Time
		code   string
	}{
		{"untouched POST", post, func(*http.Request) {}, created, ""},
		{"untouched GET", get, func(*http.Request) {}, created, ""},
		{"untouched ES256", es, func(*http.Request) {}, created, ""},
		{"method", post, func(r *http.Request) { r.Method = http.MethodPut }, created, CodeInvalidSignature},
		// @method is compared upper-cased, as the AAuth reference signers
		// sign it: "get" on the wire verifies a signature over GET.
		{"method case", get, func(r *http.Request) { r.Method = "get" }, created, ""},
		{"method case ES256", es, func(r *http.Request) { r.Method = "Get" }, created, ""},
		{"method case, another method", get, func(r *http.Request) { r.Method = "post" }, created, CodeInvalidSignature},
		{"path", get, func(r *http.Request) { r.URL.Path = "/api/other" }, created, CodeInvalidSignature},
		{"path ES256", es, func(r *http.Request) { r.URL.Path = "/api/other" }, created, CodeInvalidSignature},
		{"authority", get, func(r *http.Request) { r.Host = "evil.example" }, created, CodeInvalidSignature},
		{"authority port", get, func(r *http.Request) { r.Host = "resource.example:8443" }, created, CodeInvalidSignature},
		{"covered header", post, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, created, CodeInvalidSignature},
		{"covered header removed", post, func(r *http.Request) { r.Header.Del("Content-Type") }, created, CodeInvalidSignature},
		{"body", post, func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(`{"x":2}`)) }, created, CodeInvalidSignature},
		{"body removed", post, func(r *http.Request) { r.Body = http.NoBody }, created, CodeInvalidSignature},
		{"content-digest removed", post, func(r *http.Request) { r.Header.Del("Content-Digest") }, created, CodeInvalidSignature},
		{"content-digest recomputed for a new body", post, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(""))
			r.Header.Set("Content-Digest", "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")
		}, created, CodeInvalidSignature},
		{"signature-key other key", get, func(r *http.Request) { r.Header.Set("Signature-Key", otherKey()) }, created, CodeInvalidSignature},
		{"signature-key parameter order", get, func(r *http.Request) {
			sk := r.Header.Get("Signature-Key")
			r.Header.Set("Signature-Key", strings.Replace(sk, `alg="Ed25519";kty="OKP"`, `kty="OKP";alg="Ed25519"`, 1))
		}, created, CodeInvalidSignature},
		{"signature bytes", get, func(r *http.Request) { flipSignature(r) }, created, CodeInvalidSignature},
		{"signature bytes ES256", es, func(r *http.Request) { flipSignature(r) }, created, CodeInvalidSignature},
		{"signature truncated", get, func(r *http.Request) { r.Header.Set("Signature", "sig=:AAAA:") }, created, CodeInvalidSignature},
		{"signature-input parameter added", get, func(r *http.Request) {
			r.Header.Set("Signature-Input", r.Header.Get("Signature-Input")+`;nonce="n"`)
		}, created, CodeInvalidSignature},
		{"created too old", get, func(*http.Request) {}, created.Add(61 * time.Second), CodeInvalidSignature},
		{"created at the edge of the past", get, func(*http.Request) {}, created.Add(60 * time.Second), ""},
		{"created too far in the future", get, func(*http.Request) {}, created.Add(-61 * time.Second), CodeClockSkew},
		{"created at the edge of the future", get, func(*http.Request) {}, created.Add(-60 * time.Second), ""},
		{"created far in the future", get, func(*http.Request) {}, created.Add(-24 * time.Hour), CodeClockSkew},
		{"uncovered header changed", get, func(r *http.Request) { r.Header.Set("X-Other", "1") }, created, ""},
		{"uncovered query changed", get, func(r *http.Request) { r.URL.RawQuery = "x=2" }, created, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.v.request(t)
			tt.tamper(req)
			now := tt.now
			opts := Options{Now: func() time.Time { return now }, RequireAlg: true}
			res, err := verifyChecked(t, req, opts)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res == nil || res.PublicKey == nil {
					t.Fatal("no result")
				}
				return
			}
			if res != nil {
				t.Errorf("result %+v with error", res)
			}
			wantCode(t, err, tt.code)
			noSecrets(t, err, req)
		})
	}
}

func flipSignature(r *http.Request) {
	label, rest, _ := strings.Cut(r.Header.Get("Signature"), "=:")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, ":"))
	raw[5] ^= 0x01
	r.Header.Set("Signature", label+"=:"+base64.StdEncoding.EncodeToString(raw)+":")
}

// TestAuthorityNormalised: @authority is the lower-cased host without the
// default port, whatever the request's Host says.
func TestAuthorityNormalised(t *testing.T) {
	for _, tc := range []struct{ id, host string }{
		{"current-06-get-port-uppercase-host", "Resource.Example:8443"},
		{"current-14-get-default-port-explicit", "Resource.EXAMPLE:443"},
		{"current-18-get-http-localhost-port", "LocalHost:8080"},
		{"current-01-get-hwk", "resource.example:"},
		{"current-01-get-hwk", ""}, // Host unset: the URL's host is used
	} {
		t.Run(tc.id+"/"+tc.host, func(t *testing.T) {
			v := findVector(t, currentFile, tc.id)
			req := v.request(t)
			req.Host = tc.host
			if tc.host != "" {
				req.URL.Host = "ignored.example" // the wire Host wins over the URL
			}
			if _, err := verifyWithKeyChecked(t, req, "", v.publicKey(t), v.options(true)); err != nil {
				t.Fatalf("VerifyWithKey: %v", err)
			}
			if req.Host != tc.host {
				t.Errorf("caller's Host changed to %q", req.Host)
			}
		})
	}
	// http with :443 is not a default port.
	v := findVector(t, currentFile, "current-18-get-http-localhost-port")
	req := v.request(t)
	req.Host = "localhost:80"
	if _, err := verifyWithKeyChecked(t, req, "", v.publicKey(t), v.options(true)); CodeOf(err) != CodeInvalidSignature {
		t.Errorf("localhost:80 for localhost:8080: %v", err)
	}
}

func TestNormalizeAuthority(t *testing.T) {
	for _, tc := range []struct{ in, scheme, want string }{
		{"Example.COM", "https", "example.com"},
		{"example.com:443", "https", "example.com"},
		{"example.com:443", "http", "example.com:443"},
		{"example.com:80", "http", "example.com"},
		{"example.com:80", "https", "example.com:80"},
		{"example.com:", "https", "example.com"},
		{"[::1]:443", "https", "[::1]"},
		{"[::1]", "https", "[::1]"},
		{"[FE80::1]:8443", "https", "[fe80::1]:8443"},
	} {
		if got := normalizeAuthority(tc.in, tc.scheme); got != tc.want {
			t.Errorf("normalizeAuthority(%q, %s) = %q, want %q", tc.in, tc.scheme, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	get := findVector(t, currentFile, "current-01-get-hwk")
	seedHWK := findVector(t, seedFile, "seed-01-get-hwk")
	seedJWT := findVector(t, seedFile, "seed-22-flow-v7-resource-agent-token")
	session := findVector(t, currentFile, "current-22-get-authorization-session-token")

	t.Run("schemes", func(t *testing.T) {
		opts := get.options(true)
		opts.Schemes = []wire.Scheme{wire.SchemeJWT}
		wantCode(t, verifyErr(verifyChecked(t, get.request(t), opts)), CodeUnsupportedScheme)
		opts.Schemes = []wire.Scheme{wire.SchemeJWT, wire.SchemeHWK}
		if _, err := verifyChecked(t, get.request(t), opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("required", func(t *testing.T) {
		opts := get.options(true)
		opts.Required = []string{"@method", "Content-Type", "@query"}
		e := wantCode(t, verifyErr(verifyChecked(t, get.request(t), opts)), CodeInvalidInput)
		want := []string{"@method", "content-type", "@query", "signature-key"}
		if !slices.Equal(e.Missing, want) {
			t.Errorf("Missing = %q, want %q", e.Missing, want)
		}
		if got := e.SignatureError(); got != `error=invalid_input, required_input=("@method" "content-type" "@query" "signature-key")` {
			t.Errorf("SignatureError() = %s", got)
		}
	})
	t.Run("required authorization", func(t *testing.T) {
		opts := session.options(true)
		opts.Required = []string{"authorization"}
		if _, err := verifyWithKeyChecked(t, session.request(t), "", session.publicKey(t), opts); err != nil {
			t.Fatal(err)
		}
		if _, err := verifyWithKeyChecked(t, get.request(t), "", get.publicKey(t), opts); CodeOf(err) != CodeInvalidInput {
			t.Fatalf("GET without authorization covered: %v", err)
		}
	})
	t.Run("require alg on a seed hwk key", func(t *testing.T) {
		if _, err := verifyChecked(t, seedHWK.request(t), seedHWK.options(false)); err != nil {
			t.Fatal(err)
		}
		wantCode(t, verifyErr(verifyChecked(t, seedHWK.request(t), seedHWK.options(true))), CodeUnsupportedAlgorithm)
	})
	t.Run("require alg on a seed cnf.jwk", func(t *testing.T) {
		if _, err := verifyChecked(t, seedJWT.request(t), seedJWT.options(false)); err != nil {
			t.Fatal(err)
		}
		wantCode(t, verifyErr(verifyChecked(t, seedJWT.request(t), seedJWT.options(true))), CodeUnsupportedAlgorithm)
	})
	t.Run("label", func(t *testing.T) {
		opts := get.options(true)
		opts.Label = "other"
		wantCode(t, verifyErr(verifyChecked(t, get.request(t), opts)), CodeInvalidRequest)
		opts.Label = "sig"
		if _, err := verifyChecked(t, get.request(t), opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("second signature with another label", func(t *testing.T) {
		req := get.request(t)
		req.Header.Add("Signature-Input", `proxy=("@method");created=1730217600`)
		req.Header.Add("Signature", `proxy=:AAAA:`)
		res, err := verifyChecked(t, req, get.options(true))
		if err != nil || res.Label != "sig" {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
		// The first label is "proxy" now, but "sig" is preferred.
		req.Header.Set("Signature-Input", `proxy=("@method");created=1730217600, `+get.Expected.SignatureInput)
		if res, err := verifyWithKeyChecked(t, req, "", get.publicKey(t), get.options(true)); err != nil || res.Label != "sig" {
			t.Fatalf("VerifyWithKey = %+v, %v", res, err)
		}
	})
	t.Run("max skew", func(t *testing.T) {
		opts := get.options(true)
		now := time.Unix(get.Inputs.Created, 0).Add(5 * time.Minute)
		opts.Now = func() time.Time { return now }
		wantCode(t, verifyErr(verifyChecked(t, get.request(t), opts)), CodeInvalidSignature)
		opts.MaxSkew = 10 * time.Minute
		if _, err := verifyChecked(t, get.request(t), opts); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("max body", func(t *testing.T) {
		v := findVector(t, currentFile, "current-04-post-json-explicit-content-type")
		opts := v.options(true)
		opts.MaxBody = 4
		req := v.request(t)
		wantCode(t, verifyErr(verifyChecked(t, req, opts)), CodeInvalidRequest)
		// The body is still whole for the caller.
		b, _ := io.ReadAll(req.Body)
		if string(b) != *v.Inputs.Body {
			t.Errorf("body after a refused read = %q", b)
		}
	})
	t.Run("verify with the wrong key", func(t *testing.T) {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		wantCode(t, verifyErr(verifyWithKeyChecked(t, get.request(t), "", pub, get.options(true))), CodeInvalidSignature)
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		wantCode(t, verifyErr(verifyWithKeyChecked(t, get.request(t), "", &ec.PublicKey, get.options(true))), CodeInvalidSignature)
	})
	t.Run("unusable keys for VerifyWithKey", func(t *testing.T) {
		wantCode(t, verifyErr(verifyWithKeyChecked(t, get.request(t), "", nil, get.options(true))), CodeInvalidKey)
		wantCode(t, verifyErr(verifyWithKeyChecked(t, get.request(t), "", ed25519.PublicKey{1, 2}, get.options(true))), CodeInvalidKey)
		ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		wantCode(t, verifyErr(verifyWithKeyChecked(t, get.request(t), "", &ec.PublicKey, get.options(true))), CodeUnsupportedAlgorithm)
		wantCode(t, verifyErr(verifyWithKeyChecked(t, get.request(t), "", "key", get.options(true))), CodeUnsupportedAlgorithm)
	})
}

// verifyErr drops the result so that calls fit on one line.
func verifyErr(_ *Result, err error) error { return err }

// TestMalformed: missing or garbled signature headers give typed errors.
// Every case fails before the signature is checked, so the code is the
// header's, not invalid_signature.
func TestMalformed(t *testing.T) {
	v := findVector(t, currentFile, "current-01-get-hwk")
	x := "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	hwk := func(params string) func(http.Header) {
		return func(h http.Header) { h.Set("Signature-Key", "sig=hwk;"+params) }
	}
	si := func(value string) func(http.Header) {
		return func(h http.Header) { h.Set("Signature-Input", value) }
	}
	jwt := func(payload string) func(http.Header) {
		tok := "eyJhbGciOiJFZDI1NTE5In0." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
		return func(h http.Header) { h.Set("Signature-Key", `sig=jwt;jwt="`+tok+`"`) }
	}
	const comps = `("@method" "@authority" "@path" "signature-key")`
	tests := []struct {
		name   string
		change func(http.Header)
		code   string
	}{
		{"no Signature-Input", func(h http.Header) { h.Del("Signature-Input") }, CodeInvalidRequest},
		{"no Signature", func(h http.Header) { h.Del("Signature") }, CodeInvalidRequest},
		{"no Signature-Key", func(h http.Header) { h.Del("Signature-Key") }, CodeInvalidRequest},
		{"no signature headers at all", func(h http.Header) {
			h.Del("Signature-Input")
			h.Del("Signature")
			h.Del("Signature-Key")
		}, CodeInvalidRequest},
		{"garbled Signature-Input", si(`sig=("@method"`), CodeInvalidRequest},
		{"empty Signature-Input", si(``), CodeInvalidRequest},
		{"Signature-Input member is a token", si(`sig=abc`), CodeInvalidRequest},
		{"Signature-Input for another label", si(`other=` + comps + `;created=1730217600`), CodeInvalidRequest},
		{"no created", si(`sig=` + comps), CodeInvalidRequest},
		{"created not an integer", si(`sig=` + comps + `;created="1730217600"`), CodeInvalidRequest},
		{"expires not an integer", si(`sig=` + comps + `;created=1730217600;expires=1.5`), CodeInvalidRequest},
		{"expires before created", si(`sig=` + comps + `;created=1730217600;expires=1730217500`), CodeInvalidRequest},
		{"expired", si(`sig=` + comps + `;created=1730217590;expires=1730217599`), CodeInvalidSignature},
		{"alg not a string", si(`sig=` + comps + `;created=1730217600;alg=ed25519`), CodeInvalidRequest},
		{"alg of another algorithm", si(`sig=` + comps + `;created=1730217600;alg="hmac-sha256"`), CodeUnsupportedAlgorithm},
		{"signature-key not covered", si(`sig=("@method" "@authority" "@path");created=1730217600`), CodeInvalidInput},
		{"signature-key covered as sf", si(`sig=("@method" "@authority" "@path" "signature-key";sf);created=1730217600`), CodeInvalidInput},
		{"component not a string", si(`sig=(@method "@path" "signature-key");created=1730217600`), CodeInvalidRequest},
		{"component upper case", si(`sig=("@method" "Signature-Key");created=1730217600`), CodeInvalidRequest},
		{"too many components", si(`sig=(` + strings.Repeat(`"a" `, 64) + `"signature-key");created=1730217600`), CodeInvalidRequest},
		{"component twice", si(`sig=("@method" "@method" "signature-key");created=1730217600`), CodeInvalidRequest},
		{"unknown derived component", si(`sig=("@status" "signature-key");created=1730217600`), CodeInvalidRequest},
		{"signature-params as a component", si(`sig=("@signature-params" "signature-key");created=1730217600`), CodeInvalidRequest},
		{"trailer component", si(`sig=("x";tr "signature-key");created=1730217600`), CodeInvalidRequest},
		{"request component", si(`sig=("x";req "signature-key");created=1730217600`), CodeInvalidRequest},
		{"sf=?0", si(`sig=("x";sf=?0 "signature-key");created=1730217600`), CodeInvalidRequest},
		{"two component parameters", si(`sig=("x";sf;bs "signature-key");created=1730217600`), CodeInvalidRequest},
		{"key on a derived component", si(`sig=("@method";key="a" "signature-key");created=1730217600`), CodeInvalidRequest},
		{"@query-param without name", si(`sig=("@query-param" "signature-key");created=1730217600`), CodeInvalidRequest},
		{"@query-param name not a string", si(`sig=("@query-param";name=x "signature-key");created=1730217600`), CodeInvalidRequest},
		{"garbled Signature", func(h http.Header) { h.Set("Signature", `sig=:abc`) }, CodeInvalidRequest},
		{"Signature is a token", func(h http.Header) { h.Set("Signature", `sig=abc`) }, CodeInvalidRequest},
		{"Signature is an inner list", func(h http.Header) { h.Set("Signature", `sig=(:AAAA:)`) }, CodeInvalidRequest},
		{"Signature for another label", func(h http.Header) { h.Set("Signature", `other=:AAAA:`) }, CodeInvalidRequest},
		{"garbled Signature-Key", func(h http.Header) { h.Set("Signature-Key", `sig=hwk;x="`) }, CodeInvalidRequest},
		{"two Signature-Key lines", func(h http.Header) { h.Add("Signature-Key", `sig=hwk;kty="OKP"`) }, CodeInvalidRequest},
		{"Signature-Key for another label", func(h http.Header) {
			h.Set("Signature-Key", strings.Replace(h.Get("Signature-Key"), "sig=", "other=", 1))
		}, CodeInvalidRequest},
		{"unknown scheme", func(h http.Header) {
			h.Set("Signature-Key", `sig=jwks_uri;id="https://a.example";dwk="aauth-person.json";kid="k"`)
		}, CodeUnsupportedScheme},
		{"x509 scheme", func(h http.Header) { h.Set("Signature-Key", `sig=x509;x5u="https://a.example/c"`) }, CodeUnsupportedScheme},
		{"hwk RSA", hwk(`alg="RS256";kty="RSA";n="AQAB";e="AQAB"`), CodeUnsupportedAlgorithm},
		{"hwk X25519", hwk(`alg="Ed25519";kty="OKP";crv="X25519";x="` + x + `"`), CodeUnsupportedAlgorithm},
		{"hwk P-384", hwk(`alg="ES384";kty="EC";crv="P-384";x="` + x + `";y="` + x + `"`), CodeUnsupportedAlgorithm},
		{"hwk EdDSA", hwk(`alg="EdDSA";kty="OKP";crv="Ed25519";x="` + x + `"`), CodeUnsupportedAlgorithm},
		{"hwk alg none", hwk(`alg="none";kty="OKP";crv="Ed25519";x="` + x + `"`), CodeUnsupportedAlgorithm},
		{"hwk alg of the other key type", hwk(`alg="ES256";kty="OKP";crv="Ed25519";x="` + x + `"`), CodeInvalidKey},
		{"hwk without alg", hwk(`kty="OKP";crv="Ed25519";x="` + x + `"`), CodeUnsupportedAlgorithm},
		{"hwk private key", hwk(`alg="Ed25519";kty="OKP";crv="Ed25519";x="` + x + `";d="` + x + `"`), CodeInvalidKey},
		{"hwk short x", hwk(`alg="Ed25519";kty="OKP";crv="Ed25519";x="AAAA"`), CodeInvalidKey},
		{"hwk padded x", hwk(`alg="Ed25519";kty="OKP";crv="Ed25519";x="` + x + `="`), CodeInvalidKey},
		{"hwk no x", hwk(`alg="Ed25519";kty="OKP";crv="Ed25519"`), CodeInvalidKey},
		{"hwk EC point not on the curve", hwk(`alg="ES256";kty="EC";crv="P-256";x="` + x + `";y="` + x + `"`), CodeInvalidKey},
		{"jwt not three parts", func(h http.Header) { h.Set("Signature-Key", `sig=jwt;jwt="eyJ.auth.token.x"`) }, CodeInvalidJWT},
		{"jwt payload not base64url", func(h http.Header) { h.Set("Signature-Key", `sig=jwt;jwt="a.b+/.c"`) }, CodeInvalidJWT},
		{"jwt payload not JSON", jwt(`not json`), CodeInvalidJWT},
		{"jwt payload an array", jwt(`[1]`), CodeInvalidJWT},
		{"jwt without cnf", jwt(`{"iss":"https://agent.example"}`), CodeInvalidJWT},
		{"jwt cnf not an object", jwt(`{"cnf":"x"}`), CodeInvalidJWT},
		{"jwt cnf without jwk", jwt(`{"cnf":{"jkt":"abc"}}`), CodeInvalidJWT},
		{"jwt cnf.jwk null", jwt(`{"cnf":{"jwk":null}}`), CodeInvalidJWT},
		{"jwt cnf.jwk member not a string", jwt(`{"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":5}}}`), CodeInvalidKey},
		{"jwt cnf.jwk private", jwt(`{"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"` + x + `","alg":"Ed25519","d":"` + x + `"}}}`), CodeInvalidKey},
		{"jwt cnf.jwk without alg", jwt(`{"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}}}`), CodeUnsupportedAlgorithm},
		{"jwt cnf.jwk EdDSA", jwt(`{"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"` + x + `","alg":"EdDSA"}}}`), CodeUnsupportedAlgorithm},
		{"jwt cnf.jwk oct", jwt(`{"cnf":{"jwk":{"kty":"oct","k":"AAAA","alg":"HS256"}}}`), CodeInvalidKey},
		{"jwt cnf.jwk RSA", jwt(`{"cnf":{"jwk":{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"RS256"}}}`), CodeUnsupportedAlgorithm},
		// Right key, but the Signature-Key is not what was signed.
		{"jwt cnf.jwk valid", jwt(`{"cnf":{"jwk":{"kty":"OKP","crv":"Ed25519","x":"` + x + `","alg":"Ed25519"}}}`), CodeInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := v.request(t)
			tt.change(req.Header)
			opts := v.options(true)
			res, err := verifyChecked(t, req, opts)
			if res != nil {
				t.Errorf("result with error: %+v", res)
			}
			wantCode(t, err, tt.code)
			noSecrets(t, err, req)
		})
	}
}

func TestDigest(t *testing.T) {
	v := findVector(t, currentFile, "current-04-post-json-explicit-content-type")
	body := []byte(*v.Inputs.Body)
	tests := []struct {
		name    string
		values  []string
		body    []byte
		covered bool
		code    string
	}{
		{"sha-256", []string{*v.Expected.ContentDigest}, body, true, ""},
		{"sha-256 and sha-512", []string{*v.Expected.ContentDigest + ", sha-512=:" + b64sha512(body) + ":"}, body, true, ""},
		{"unknown algorithm ignored", []string{"md5=:AAAA:, " + *v.Expected.ContentDigest}, body, true, ""},
		{"only an unknown algorithm, covered", []string{"md5=:AAAA:"}, body, true, CodeInvalidRequest},
		{"only an unknown algorithm, not covered", []string{"md5=:AAAA:"}, body, false, ""},
		{"wrong sha-512 beside a right sha-256", []string{*v.Expected.ContentDigest + ", sha-512=:" + b64sha512([]byte("x")) + ":"}, body, true, CodeInvalidSignature},
		{"mismatch", []string{*v.Expected.ContentDigest}, []byte("other"), true, CodeInvalidSignature},
		{"mismatch, not covered", []string{*v.Expected.ContentDigest}, []byte("other"), false, CodeInvalidSignature},
		{"not a dictionary", []string{"sha-256"}, body, true, CodeInvalidRequest},
		{"garbled", []string{"sha-256=:"}, body, true, CodeInvalidRequest},
		{"not a byte sequence", []string{`sha-256="abc"`}, body, true, CodeInvalidRequest},
		{"inner list", []string{`sha-256=(:AAAA:)`}, body, true, CodeInvalidRequest},
		{"missing", nil, body, true, CodeInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDigest(tt.values, tt.body, tt.covered)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	e := &Error{Code: CodeInvalidSignature, Detail: "does not verify", Err: cause}
	if e.Error() != "aauth: invalid_signature: does not verify: cause" {
		t.Errorf("Error() = %q", e.Error())
	}
	if !errors.Is(e, cause) {
		t.Error("Unwrap does not reach the cause")
	}
	if got := (&Error{Code: CodeClockSkew}).Error(); got != "aauth: clock_skew" {
		t.Errorf("Error() = %q", got)
	}
	if got := e.SignatureError(); got != "error=invalid_signature" {
		t.Errorf("SignatureError() = %q", got)
	}
	if got := (&Error{Code: "not a token"}).SignatureError(); got != "error=invalid_request" {
		t.Errorf("SignatureError() = %q", got)
	}
	if CodeOf(errors.New("x")) != "" || CodeOf(nil) != "" {
		t.Error("CodeOf of a foreign error")
	}
	if CodeOf(errors.Join(errors.New("x"), e)) != CodeInvalidSignature {
		t.Error("CodeOf does not unwrap")
	}
}

func TestThumbprintOf(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	got, err := ThumbprintOf(ed25519.PublicKey(x))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 8037 Appendix A.3.
	if got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("Ed25519 thumbprint = %s", got)
	}
	pk := ed25519.PublicKey(x)
	if got2, _ := ThumbprintOf(&pk); got2 != got {
		t.Errorf("*ed25519.PublicKey thumbprint = %s", got2)
	}

	// The P-256 key of the ES256 vectors, whose thumbprint the vector file
	// states.
	es := findVector(t, currentFile, "current-20-get-hwk-es256")
	ec := es.publicKey(t).(*ecdsa.PublicKey)
	for _, k := range []any{ec, *ec} {
		if got, err := ThumbprintOf(k); err != nil || got != "ydQXMtvbsOsZyFir-Y7A8t7fKEM1gbKPvyFkdpu4fvI" {
			t.Errorf("P-256 thumbprint = %s, %v", got, err)
		}
	}

	// RFC 7638 §3.1: the RSA example key.
	rsaJWK := []byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`)
	rsaPub := jwkPublic(t, rsaJWK)
	if got, err := ThumbprintOf(rsaPub); err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Errorf("RSA thumbprint = %s, %v", got, err)
	}

	for _, bad := range []any{nil, "key", ed25519.PublicKey{1}, (*ecdsa.PublicKey)(nil)} {
		if _, err := ThumbprintOf(bad); err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
			t.Errorf("ThumbprintOf(%T) = %v", bad, err)
		}
	}
}

func b64sha512(b []byte) string {
	sum := sha512.Sum512(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// jwkPublic reads a public JWK with jwx.
func jwkPublic(t *testing.T, data []byte) any {
	t.Helper()
	k, err := jwk.ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestRequestUntouched: Verify leaves a client-side request as it was,
// except for a body that it reads and replaces with an identical one.
func TestRequestUntouched(t *testing.T) {
	v := findVector(t, currentFile, "current-08-get-no-path") // URL with an empty path
	req := v.request(t)
	req.Host = "Resource.Example:443"
	before := req.Clone(req.Context())
	if _, err := verifyWithKeyChecked(t, req, "", v.publicKey(t), v.options(true)); err != nil {
		t.Fatal(err)
	}
	if req.Host != before.Host || req.URL.String() != before.URL.String() || req.URL.Path != "" || req.Method != before.Method {
		t.Errorf("request changed: %s %s Host %s", req.Method, req.URL, req.Host)
	}
	if len(req.Header) != len(before.Header) {
		t.Errorf("headers changed: %v", req.Header)
	}
	for k, vs := range before.Header {
		if !slices.Equal(req.Header[k], vs) {
			t.Errorf("header %s changed: %q", k, req.Header[k])
		}
	}

	post := findVector(t, currentFile, "current-17-post-json-utf8-body")
	req = post.request(t)
	res, err := verifyWithKeyChecked(t, req, "", post.publicKey(t), post.options(true))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != *post.Inputs.Body {
		t.Errorf("Result.Body = %q", res.Body)
	}
	for i := 0; i < 2; i++ { // the body, then a GetBody copy for a retry
		b, err := io.ReadAll(req.Body)
		if err != nil || string(b) != *post.Inputs.Body {
			t.Errorf("body read %d = %q, %v", i, b, err)
		}
		if req.Body, err = req.GetBody(); err != nil {
			t.Fatal(err)
		}
	}
	// Verifying twice works: the body is there for the second digest check.
	if _, err := verifyWithKeyChecked(t, req, "", post.publicKey(t), post.options(true)); err != nil {
		t.Errorf("second verification: %v", err)
	}
	// A request that needs no digest check keeps its body unread.
	get := findVector(t, currentFile, "current-01-get-hwk")
	req = get.request(t)
	req.Body = io.NopCloser(strings.NewReader("unread"))
	if res, err := verifyChecked(t, req, get.options(true)); err != nil || res.Body != nil {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != "unread" {
		t.Errorf("body = %q", b)
	}
}
