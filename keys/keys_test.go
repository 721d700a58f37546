package keys_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// RFC 8037 Appendix A.1 (= RFC 8032 §7.1 TEST 1).
const (
	rfc8037X          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037D          = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
	rfc8037JWK        = `{"kty":"OKP","crv":"Ed25519","d":"` + rfc8037D + `","x":"` + rfc8037X + `"}`
)

// rfc9421P256 returns the RFC 9421 B.1.3 test-key-ecc-p256 as a private
// JWK, taken from the current signature vectors.
func rfc9421P256(t testing.TB) (jwkJSON []byte, x, y, d string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "signatures-current.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []struct {
			ID     string `json:"id"`
			Inputs struct {
				Key json.RawMessage `json:"key"`
			} `json:"inputs"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for _, v := range file.Vectors {
		if strings.HasSuffix(v.ID, "-es256") {
			var k struct{ X, Y, D string }
			if err := json.Unmarshal(v.Inputs.Key, &k); err != nil {
				t.Fatal(err)
			}
			return v.Inputs.Key, k.X, k.Y, k.D
		}
	}
	t.Fatal("no *-es256 vector in testdata/signatures-current.json")
	return nil, "", "", ""
}

// opaqueSigner hides a key's concrete type, as an HSM or KMS signer does.
type opaqueSigner struct{ crypto.Signer }

func mustP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestGenerateKey(t *testing.T) {
	a, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != ed25519.PrivateKeySize || a.Equal(b) {
		t.Fatalf("Generate: bad or repeated key")
	}
	sig := ed25519.Sign(a, []byte("m"))
	if !ed25519.Verify(a.Public().(ed25519.PublicKey), []byte("m"), sig) {
		t.Fatal("generated key does not verify")
	}
}

func TestRFC8037Key(t *testing.T) {
	for _, p := range []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed} {
		key, err := keys.ParsePrivateJWK([]byte(rfc8037JWK), p)
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		priv, ok := key.(ed25519.PrivateKey)
		if !ok {
			t.Fatalf("%v: got %T, want ed25519.PrivateKey", p, key)
		}
		if got := b64(priv.Public().(ed25519.PublicKey)); got != rfc8037X {
			t.Errorf("x = %s", got)
		}
		tp, err := keys.Thumbprint(priv.Public())
		if err != nil || tp != rfc8037Thumbprint {
			t.Errorf("Thumbprint = %q, %v; want %s", tp, err, rfc8037Thumbprint)
		}
		// RFC 8037 A.4: Ed25519 is deterministic, so the signature is fixed.
		sig := ed25519.Sign(priv, []byte("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"))
		if got := b64(sig); got != "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg" {
			t.Errorf("RFC 8037 A.4 signature = %s", got)
		}
	}

	key, _ := keys.ParsePrivateJWK([]byte(rfc8037JWK), wire.ProfileCurrent)
	priv, err := keys.MarshalPrivateJWK(key)
	if err != nil {
		t.Fatal(err)
	}
	wantPriv := `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","d":"` + rfc8037D + `","alg":"Ed25519","kid":"` + rfc8037Thumbprint + `"}`
	if string(priv) != wantPriv {
		t.Errorf("MarshalPrivateJWK =\n%s\nwant\n%s", priv, wantPriv)
	}
	pub, err := keys.MarshalPublicJWK(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	wantPub := `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","alg":"Ed25519","kid":"` + rfc8037Thumbprint + `"}`
	if string(pub) != wantPub {
		t.Errorf("MarshalPublicJWK =\n%s\nwant\n%s", pub, wantPub)
	}
}

func TestRFC9421P256Key(t *testing.T) {
	data, x, y, d := rfc9421P256(t)
	key, err := keys.ParsePrivateJWK(data, wire.ProfileCurrent)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		t.Fatalf("got %T, want P-256 *ecdsa.PrivateKey", key)
	}
	out, err := keys.MarshalPrivateJWK(priv)
	if err != nil {
		t.Fatal(err)
	}
	jk, err := jwk.Import(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	tpBytes, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	tp := b64(tpBytes)
	want := `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `","d":"` + d + `","alg":"ES256","kid":"` + tp + `"}`
	if string(out) != want {
		t.Errorf("MarshalPrivateJWK =\n%s\nwant\n%s", out, want)
	}
	if got, _ := keys.Thumbprint(priv.Public()); got != tp {
		t.Errorf("Thumbprint = %s, jwx says %s", got, tp)
	}
	digest := sha256.Sum256([]byte("msg"))
	sig, err := priv.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
		t.Fatalf("parsed P-256 key does not sign: %v", err)
	}
}

func TestJWKRoundTrip(t *testing.T) {
	ed, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []crypto.Signer{ed, mustP256(t)} {
		for _, p := range []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed} {
			data, err := keys.MarshalPrivateJWK(key)
			if err != nil {
				t.Fatal(err)
			}
			back, err := keys.ParsePrivateJWK(data, p)
			if err != nil {
				t.Fatalf("%T %v: %v", key, p, err)
			}
			if !back.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
				t.Errorf("%T %v: private round trip changed the key", key, p)
			}
			again, err := keys.MarshalPrivateJWK(back)
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("%T %v: second marshal differs: %s vs %s (%v)", key, p, again, data, err)
			}

			pubData, err := keys.MarshalPublicJWK(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(pubData, []byte(`"d"`)) {
				t.Errorf("public JWK has d: %s", pubData)
			}
			pub, err := keys.ParsePublicJWK(pubData, p)
			if err != nil {
				t.Fatalf("%T %v: %v", key, p, err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Errorf("%T %v: public round trip changed the key", key, p)
			}

			// jwx reads what we write, and agrees on the key and thumbprint.
			jk, err := jwk.ParseKey(data)
			if err != nil {
				t.Fatal(err)
			}
			var raw any
			if err := jwk.Export(jk, &raw); err != nil {
				t.Fatal(err)
			}
			var rawSigner crypto.Signer
			switch r := raw.(type) {
			case ed25519.PrivateKey:
				rawSigner = r
			case *ecdsa.PrivateKey:
				rawSigner = r
			default:
				t.Fatalf("jwx exported %T", raw)
			}
			if !rawSigner.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
				t.Errorf("jwx reads a different key")
			}
			kid, _ := jk.KeyID()
			tp, _ := jk.Thumbprint(crypto.SHA256)
			if kid != b64(tp) {
				t.Errorf("kid %s, jwx thumbprint %s", kid, b64(tp))
			}
		}
	}
}

func TestThumbprintMatchesJWX(t *testing.T) {
	for n := 0; n < 20; n++ {
		ed, _ := keys.Generate()
		for _, pub := range []crypto.PublicKey{ed.Public(), mustP256(t).Public()} {
			jk, err := jwk.Import(pub)
			if err != nil {
				t.Fatal(err)
			}
			want, err := jk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			got, err := keys.Thumbprint(pub)
			if err != nil || got != b64(want) {
				t.Fatalf("Thumbprint(%T) = %s, %v; jwx %s", pub, got, err, b64(want))
			}
		}
	}
}

func TestThumbprintAllocations(t *testing.T) {
	key, _ := keys.ParsePrivateJWK([]byte(rfc8037JWK), wire.ProfileCurrent)
	pub := key.Public()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := keys.Thumbprint(pub); err != nil {
			t.Fatal(err)
		}
	})
	// The result string is the only allocation.
	if allocs > 1 {
		t.Errorf("Thumbprint(Ed25519) allocates %v times per call, want 1", allocs)
	}
}

func BenchmarkThumbprint(b *testing.B) {
	ed, _ := keys.Generate()
	ec := mustP256(b)
	for _, k := range []crypto.Signer{ed, ec} {
		pub := k.Public()
		b.Run(fmt.Sprintf("%T", pub), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				keys.Thumbprint(pub)
			}
		})
	}
}

func TestOpaqueSigner(t *testing.T) {
	ed, _ := keys.Generate()
	for _, key := range []crypto.Signer{ed, mustP256(t)} {
		hsm := opaqueSigner{key}
		want, _ := keys.Thumbprint(key.Public())
		if got, err := keys.Thumbprint(hsm.Public()); err != nil || got != want {
			t.Errorf("Thumbprint(hsm.Public()) = %s, %v", got, err)
		}
		pub, err := keys.MarshalPublicJWK(hsm.Public())
		if err != nil || !strings.Contains(string(pub), want) {
			t.Errorf("MarshalPublicJWK(hsm.Public()) = %s, %v", pub, err)
		}
		_, err = keys.MarshalPrivateJWK(hsm)
		if err == nil || !strings.Contains(err.Error(), "cannot export") {
			t.Errorf("MarshalPrivateJWK(hsm) error = %v, want cannot export", err)
		}
	}
}

// jwkWith returns the RFC 8037 key (or, for EC, the RFC 9421 key) with
// members replaced or removed (value nil).
func jwkWith(t *testing.T, base string, changes map[string]any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseJWKErrors(t *testing.T) {
	ecJWK, _, _, ecD := rfc9421P256(t)
	ec := string(ecJWK)
	other := mustP256(t)
	otherPoint, _ := other.PublicKey.Bytes()
	otherEd, _ := keys.Generate()
	rsaJWK := `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","d":"X4cTteJY_gn4FYPsXB8rdXix5vwsg1FLN5E3EaG6RJoVH-HLLKD9M7dx5oo7GURknchnrRweUkC7hT5fJLM0WbFAKNLWY2vv7B6NqXSzUvxT0_YSfqijwp3RTzlBaCxWp4doFk5N2o8Gy_nHNKroADIkJ46pRUohsXywbReAdYaMwFs9tv8d_cPVY3i07a3t8MN6TNwm0dSawm9v47UiCl3Sk5ZiG7xojPLu4sbg1U2jx4IBTNBznbJSzFHK66jT8bgkuqsk0GjskDJk19Z4qwjwbsnn4j2WBii3RL-Us2lGVkY8fkFzme1z0HbIkfz0Y6mqnOYtqc0X4jfcKoAC8Q"}`

	cases := []struct {
		name  string
		data  string
		p     wire.Profile
		want  string
		priv  bool // the error applies to ParsePrivateJWK only
		pub   bool // the error applies to ParsePublicJWK only
		input string
	}{
		{name: "not json", data: `{"kty":`, want: "not valid JSON"},
		{name: "array", data: `[1,2]`, want: "not a JSON object"},
		{name: "null", data: `null`, want: "not a JSON object"},
		{name: "number member", data: `{"kty":"OKP","crv":"Ed25519","x":12345678901234567890}`, want: `member "x" is not a string`},
		{name: "no kty", data: `{"crv":"Ed25519","x":"` + rfc8037X + `"}`, want: "no kty"},
		{name: "RSA", data: rsaJWK, want: "RSA keys are not supported"},
		{name: "oct", data: `{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}`, want: "symmetric (oct)"},
		{name: "unknown kty", data: `{"kty":"PQC"}`, want: `unsupported key type "PQC"`},
		{name: "X25519", data: `{"kty":"OKP","crv":"X25519","x":"` + rfc8037X + `"}`, want: `unsupported OKP curve "X25519"`},
		{name: "Ed448", data: `{"kty":"OKP","crv":"Ed448","x":"x"}`, want: `unsupported OKP curve "Ed448"`},
		{name: "OKP no crv", data: `{"kty":"OKP","x":"` + rfc8037X + `"}`, want: "no crv"},
		{name: "P-384", data: `{"kty":"EC","crv":"P-384","x":"a","y":"b"}`, want: `unsupported EC curve "P-384"`},
		{name: "secp256k1", data: `{"kty":"EC","crv":"secp256k1","x":"a","y":"b"}`, want: `unsupported EC curve "secp256k1"`},
		{name: "EC no crv", data: `{"kty":"EC","x":"a","y":"b"}`, want: "no crv"},
		{name: "use enc", data: string(jwkWith(t, rfc8037JWK, map[string]any{"use": "enc"})), want: `use is "enc"`},
		{name: "EdDSA current", data: string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "EdDSA"})), want: `alg "EdDSA" is not accepted in the current profile`},
		{name: "ES256 on OKP", data: string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "ES256"})), want: `alg "ES256" does not match an OKP Ed25519 key`},
		{name: "ES256 on OKP seed", p: wire.ProfileSeed, data: string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "ES256"})), want: `does not match an OKP Ed25519 key`},
		{name: "none on OKP", data: string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "none"})), want: `alg "none" does not match`},
		{name: "Ed25519 on EC", data: string(jwkWith(t, ec, map[string]any{"alg": "Ed25519"})), want: `alg "Ed25519" does not match an EC P-256 key`},
		{name: "EdDSA on EC seed", p: wire.ProfileSeed, data: string(jwkWith(t, ec, map[string]any{"alg": "EdDSA"})), want: `alg "EdDSA" does not match an EC P-256 key`},
		{name: "HS256 on EC", data: string(jwkWith(t, ec, map[string]any{"alg": "HS256"})), want: `alg "HS256" does not match`},
		{name: "ES384 on EC", data: string(jwkWith(t, ec, map[string]any{"alg": "ES384"})), want: `alg "ES384" does not match`},
		{name: "public only", data: `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`, want: "no private key (d)", priv: true},
		{name: "public only EC", data: string(jwkWith(t, ec, map[string]any{"d": nil})), want: "no private key (d)", priv: true},
		{name: "upper-case D is not d", data: `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","D":"` + rfc8037D + `"}`, want: "no private key (d)", priv: true},
		{name: "private given to public", data: rfc8037JWK, want: "contains a private key (d)", pub: true},
		{name: "mismatched Ed25519", data: string(jwkWith(t, rfc8037JWK, map[string]any{"x": b64(otherEd.Public().(ed25519.PublicKey))})), want: "mismatched", priv: true, input: rfc8037D},
		{name: "mismatched P-256", data: string(jwkWith(t, ec, map[string]any{"x": b64(otherPoint[1:33]), "y": b64(otherPoint[33:])})), want: "mismatched", priv: true, input: ecD},
		{name: "no x", data: string(jwkWith(t, rfc8037JWK, map[string]any{"x": nil})), want: "no x"},
		{name: "no y", data: string(jwkWith(t, ec, map[string]any{"y": nil})), want: "no y"},
		{name: "padded x", data: string(jwkWith(t, rfc8037JWK, map[string]any{"x": rfc8037X + "="})), want: "member x is not base64url"},
		{name: "std base64 x", data: string(jwkWith(t, rfc8037JWK, map[string]any{"x": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"})), want: "member x is not base64url"},
		{name: "short x", data: string(jwkWith(t, rfc8037JWK, map[string]any{"x": "AAAA"})), want: "member x is 3 bytes, want 32"},
		{name: "short EC y", data: string(jwkWith(t, ec, map[string]any{"y": "AAAA"})), want: "member y is 3 bytes, want 32"},
		{name: "not on curve", data: string(jwkWith(t, ec, map[string]any{"y": b64(make([]byte, 32))})), want: "not a point on P-256"},
		{name: "bad d base64", data: string(jwkWith(t, rfc8037JWK, map[string]any{"d": rfc8037D + "!"})), want: "member d is not base64url", priv: true},
		{name: "short d", data: string(jwkWith(t, rfc8037JWK, map[string]any{"d": rfc8037D[:20]})), want: "member d is 15 bytes", priv: true},
		{name: "EC d out of range", data: string(jwkWith(t, ec, map[string]any{"d": b64(bytes.Repeat([]byte{0xff}, 32))})), want: "not a valid P-256 private key", priv: true},
		{name: "EC d zero", data: string(jwkWith(t, ec, map[string]any{"d": b64(make([]byte, 32))})), want: "not a valid P-256 private key", priv: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(fn string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error, want %q", fn, tc.want)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "aauth: ") {
					t.Errorf("%s: error %q lacks the aauth: prefix", fn, msg)
				}
				if !strings.Contains(msg, tc.want) {
					t.Errorf("%s: error %q, want it to contain %q", fn, msg, tc.want)
				}
				for _, secret := range []string{rfc8037D, ecD, tc.input} {
					if secret != "" && strings.Contains(msg, secret[:8]) {
						t.Errorf("%s: error %q contains private key material", fn, msg)
					}
				}
			}
			if !tc.pub {
				_, err := keys.ParsePrivateJWK([]byte(tc.data), tc.p)
				check("ParsePrivateJWK", err)
			}
			if !tc.priv {
				// ParsePublicJWK refuses d before anything else, so the
				// other checks are exercised on the public half.
				data := []byte(tc.data)
				if !tc.pub {
					data = withoutD(data)
				}
				_, err := keys.ParsePublicJWK(data, tc.p)
				check("ParsePublicJWK", err)
			}
		})
	}
}

// withoutD removes the d member from a JSON object, leaving anything else
// as it is.
func withoutD(data []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || m == nil {
		return data
	}
	delete(m, "d")
	out, _ := json.Marshal(m)
	return out
}

func TestParseJWKAlg(t *testing.T) {
	ecJWK, _, _, _ := rfc9421P256(t)
	ok := []struct {
		data string
		p    wire.Profile
	}{
		{rfc8037JWK, wire.ProfileCurrent},
		{string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "Ed25519"})), wire.ProfileCurrent},
		{string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "Ed25519"})), wire.ProfileSeed},
		{string(jwkWith(t, rfc8037JWK, map[string]any{"alg": "EdDSA"})), wire.ProfileSeed},
		{string(jwkWith(t, rfc8037JWK, map[string]any{"use": "sig", "kid": "k1", "key_ops": []string{"sign"}})), wire.ProfileCurrent},
		{string(ecJWK), wire.ProfileCurrent},
		{string(jwkWith(t, string(ecJWK), map[string]any{"alg": nil})), wire.ProfileCurrent},
		{string(ecJWK), wire.ProfileSeed},
	}
	for _, tc := range ok {
		if _, err := keys.ParsePrivateJWK([]byte(tc.data), tc.p); err != nil {
			t.Errorf("ParsePrivateJWK(%s, %v): %v", tc.data, tc.p, err)
		}
		pub := jwkWith(t, tc.data, map[string]any{"d": nil})
		if _, err := keys.ParsePublicJWK(pub, tc.p); err != nil {
			t.Errorf("ParsePublicJWK(%s, %v): %v", pub, tc.p, err)
		}
	}
	// An out-of-range Profile is treated as strictly as the current one.
	eddsa := jwkWith(t, rfc8037JWK, map[string]any{"alg": "EdDSA"})
	if _, err := keys.ParsePrivateJWK(eddsa, wire.Profile(9)); err == nil {
		t.Error("unknown profile accepted EdDSA")
	}
}

func FuzzParseJWK(f *testing.F) {
	f.Add([]byte(rfc8037JWK))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":"","d":""}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"AAAA","d":"AAAA","alg":"EdDSA"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`"x"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed} {
			if k, err := keys.ParsePrivateJWK(data, p); err == nil {
				if _, err := keys.MarshalPrivateJWK(k); err != nil {
					t.Errorf("parsed key does not marshal: %v", err)
				}
			}
			if k, err := keys.ParsePublicJWK(data, p); err == nil {
				if _, err := keys.Thumbprint(k); err != nil {
					t.Errorf("parsed key has no thumbprint: %v", err)
				}
			}
		}
	})
}

func TestUnsupportedKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pubs := map[string]crypto.PublicKey{
		"rsa":           rsaKey.Public(),
		"p384":          p384.Public(),
		"short ed25519": ed25519.PublicKey{1, 2, 3},
		"nil":           nil,
		"nil ecdsa":     (*ecdsa.PublicKey)(nil),
		"ecdsa no X":    &ecdsa.PublicKey{Curve: elliptic.P256()},
		"ecdsa value":   mustP256(t).PublicKey,
		"private key":   ed25519.NewKeyFromSeed(make([]byte, 32)),
	}
	for name, pub := range pubs {
		if _, err := keys.Thumbprint(pub); err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
			t.Errorf("Thumbprint(%s) error = %v", name, err)
		}
		if _, err := keys.MarshalPublicJWK(pub); err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
			t.Errorf("MarshalPublicJWK(%s) error = %v", name, err)
		}
	}

	good := mustP256(t)
	mismatchedEC := &ecdsa.PrivateKey{PublicKey: mustP256(t).PublicKey, D: good.D}
	corruptEd, _ := keys.Generate()
	corruptEd[40] ^= 1
	privs := map[string]crypto.Signer{
		"rsa":            rsaKey,
		"p384":           p384,
		"short ed25519":  ed25519.PrivateKey{1, 2, 3},
		"nil":            nil,
		"nil ecdsa":      (*ecdsa.PrivateKey)(nil),
		"ecdsa no D":     &ecdsa.PrivateKey{PublicKey: good.PublicKey},
		"mismatched EC":  mismatchedEC,
		"corrupt Ed":     corruptEd,
		"ecdsa no curve": &ecdsa.PrivateKey{D: big.NewInt(1)},
	}
	for name, key := range privs {
		_, err := keys.MarshalPrivateJWK(key)
		if err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
			t.Errorf("MarshalPrivateJWK(%s) error = %v", name, err)
			continue
		}
		if ec, ok := key.(*ecdsa.PrivateKey); ok && ec != nil && ec.D != nil && strings.Contains(err.Error(), ec.D.String()) {
			t.Errorf("MarshalPrivateJWK(%s) error shows D", name)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.jwk")
	ed, _ := keys.Generate()
	for _, key := range []crypto.Signer{ed, mustP256(t)} {
		if err := keys.WriteFile(path, key); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
		}
		back, err := keys.ReadFile(path, wire.ProfileCurrent)
		if err != nil {
			t.Fatal(err)
		}
		if !back.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) {
			t.Errorf("%T: key file round trip changed the key", key)
		}
	}

	// An existing, wider-mode file is replaced by a 0600 one.
	loose := filepath.Join(dir, "loose.jwk")
	if err := os.WriteFile(loose, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteFile(loose, ed); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(loose); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced key file mode %v, want 0600", fi.Mode().Perm())
	}

	// A relative path in the working directory works.
	t.Chdir(dir)
	if err := keys.WriteFile("relative.jwk", ed); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.ReadFile("relative.jwk", wire.ProfileSeed); err != nil {
		t.Fatal(err)
	}

	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s behind", e.Name())
		}
	}
}

func TestKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	ed, _ := keys.Generate()

	if runtime.GOOS != "windows" {
		target := filepath.Join(dir, "target")
		if err := os.WriteFile(target, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "link.jwk")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := keys.WriteFile(link, ed); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("WriteFile through a symlink: %v", err)
		}
		if b, _ := os.ReadFile(target); len(b) != 0 {
			t.Error("WriteFile wrote through the symlink")
		}
	}
	if err := keys.WriteFile(dir, ed); err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
		t.Errorf("WriteFile over a directory: %v", err)
	}
	missing := filepath.Join(dir, "missing", "k.jwk")
	if err := keys.WriteFile(missing, ed); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile into a missing directory: %v", err)
	} else if msg := err.Error(); !strings.Contains(msg, missing) || strings.Contains(msg, ".tmp-") {
		// The caller knows the path it gave, not the temporary file.
		t.Errorf("WriteFile into a missing directory: %q names the temporary file, not the key file", msg)
	}
	if err := keys.WriteFile(filepath.Join(dir, "hsm.jwk"), opaqueSigner{ed}); err == nil {
		t.Error("WriteFile wrote an opaque signer")
	}

	if _, err := keys.ReadFile(filepath.Join(dir, "nope"), wire.ProfileCurrent); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing): %v", err)
	}
	big := filepath.Join(dir, "big.jwk")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), 1<<17), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.ReadFile(big, wire.ProfileCurrent); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadFile(big): %v", err)
	}
	pubOnly := filepath.Join(dir, "pub.jwk")
	pubJWK, _ := keys.MarshalPublicJWK(ed.Public())
	if err := os.WriteFile(pubOnly, pubJWK, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := keys.ReadFile(pubOnly, wire.ProfileCurrent)
	if err == nil || !strings.Contains(err.Error(), pubOnly) || !strings.Contains(err.Error(), "no private key") || strings.Count(err.Error(), "aauth:") != 1 {
		t.Errorf("ReadFile(public JWK): %v", err)
	}
}

// A profile that is neither current nor seed has no JWK rules: parsing
// under it fails with an error matching wire.ErrUnknownProfile.
func TestParseJWKUnknownProfile(t *testing.T) {
	pub := `{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`
	if _, err := keys.ParsePrivateJWK([]byte(rfc8037JWK), wire.Profile(5)); !errors.Is(err, wire.ErrUnknownProfile) {
		t.Errorf("ParsePrivateJWK: %v", err)
	}
	if _, err := keys.ParsePublicJWK([]byte(pub), wire.Profile(5)); !errors.Is(err, wire.ErrUnknownProfile) {
		t.Errorf("ParsePublicJWK: %v", err)
	}
}
