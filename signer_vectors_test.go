package aauth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/wire"
)

// sigVectorFile is the shape of testdata/signatures-{seed,current}.json.
type sigVectorFile struct {
	Vectors []sigVector `json:"vectors"`
}

type sigVector struct {
	ID     string `json:"id"`
	Inputs struct {
		Method       *string           `json:"method"`
		URL          string            `json:"url"`
		Headers      map[string]string `json:"headers"`
		Body         *string           `json:"body"`
		Key          map[string]string `json:"key"`
		SignatureKey struct {
			Type string `json:"type"`
			JWT  string `json:"jwt"`
		} `json:"signature_key"`
		Label      string   `json:"label"`
		Components []string `json:"components"`
		DigestMode string   `json:"content_digest_mode"`
		ClockMS    int64    `json:"clock_ms"`
		Created    int64    `json:"created"`
	} `json:"inputs"`
	Expected struct {
		CoveredComponents []string          `json:"covered_components"`
		SignatureBase     string            `json:"signature_base"`
		SignatureKey      string            `json:"signature_key"`
		SignatureInput    string            `json:"signature_input"`
		Signature         string            `json:"signature"`
		Deterministic     bool              `json:"signature_deterministic"`
		AutoContentType   *string           `json:"auto_content_type"`
		ContentDigest     *string           `json:"content_digest"`
		HeadersSet        map[string]string `json:"headers_added_or_set"`
		HeadersAfter      [][2]string       `json:"request_headers_after_signing"`
	} `json:"expected"`
}

func loadSigVectors(t testing.TB, name string) []sigVector {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f sigVectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return f.Vectors
}

// testKeyFromJWK decodes the private JWKs of the vector files (test-only; the
// library's JWK parser has its own tests).
func testKeyFromJWK(t testing.TB, k map[string]string) crypto.Signer {
	t.Helper()
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	switch k["kty"] {
	case "OKP":
		return ed25519.NewKeyFromSeed(dec(k["d"]))
	case "EC":
		priv := &ecdsa.PrivateKey{D: new(big.Int).SetBytes(dec(k["d"]))}
		priv.Curve = elliptic.P256()
		priv.X = new(big.Int).SetBytes(dec(k["x"]))
		priv.Y = new(big.Int).SetBytes(dec(k["y"]))
		return priv
	}
	t.Fatalf("unsupported kty %q", k["kty"])
	return nil
}

// vectorRequest builds the request a vector's inputs describe.
func vectorRequest(t testing.TB, v sigVector) *http.Request {
	t.Helper()
	method := "GET"
	if v.Inputs.Method != nil {
		method = *v.Inputs.Method
	}
	var req *http.Request
	var err error
	switch {
	case v.Inputs.Body == nil:
		req, err = http.NewRequest(method, v.Inputs.URL, nil)
	case *v.Inputs.Body == "":
		// "" is a body for fetch; http.NewRequest would turn it into NoBody.
		req, err = http.NewRequest(method, v.Inputs.URL, nil)
		if err == nil {
			req.Body = io.NopCloser(strings.NewReader(""))
		}
	default:
		req, err = http.NewRequest(method, v.Inputs.URL, strings.NewReader(*v.Inputs.Body))
	}
	if err != nil {
		t.Fatalf("%s: %v", v.ID, err)
	}
	for k, val := range v.Inputs.Headers {
		req.Header.Set(k, val)
	}
	return req
}

func vectorKeyMaterial(t testing.TB, v sigVector) KeyMaterial {
	km := KeyMaterial{Signer: testKeyFromJWK(t, v.Inputs.Key)}
	switch v.Inputs.SignatureKey.Type {
	case "hwk":
		km.Key = HWK()
	case "jwt":
		km.Key = JWT(v.Inputs.SignatureKey.JWT)
	case "jkt_jwt":
		km.Key = JKTJWT(v.Inputs.SignatureKey.JWT)
	default:
		t.Fatalf("%s: signature key type %q", v.ID, v.Inputs.SignatureKey.Type)
	}
	return km
}

func vectorSigner(v sigVector, p wire.Profile) *Signer {
	s := &Signer{
		Profile:    p,
		Label:      v.Inputs.Label,
		Components: v.Inputs.Components,
		Now:        func() time.Time { return time.UnixMilli(v.Inputs.ClockMS) },
	}
	switch v.Inputs.DigestMode {
	case "require":
		s.ContentDigest = DigestAlways
	case "omit":
		s.ContentDigest = DigestNever
	}
	return s
}

func TestSignatureVectors(t *testing.T) {
	for _, tc := range []struct {
		file    string
		profile wire.Profile
	}{
		{"signatures-seed.json", wire.ProfileSeed},
		{"signatures-current.json", wire.ProfileCurrent},
	} {
		for _, v := range loadSigVectors(t, tc.file) {
			t.Run(v.ID, func(t *testing.T) {
				checkVector(t, v, tc.profile)
			})
		}
	}
}

func checkVector(t *testing.T, v sigVector, p wire.Profile) {
	req := vectorRequest(t, v)
	km := vectorKeyMaterial(t, v)
	s := vectorSigner(v, p)

	base, err := s.SignatureBase(req.Clone(req.Context()), km)
	if err != nil {
		t.Fatalf("SignatureBase: %v", err)
	}
	if string(base) != v.Expected.SignatureBase {
		t.Fatalf("signature base:\n got %q\nwant %q", base, v.Expected.SignatureBase)
	}
	if err := s.Sign(req, km); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	label := v.Inputs.Label
	if got, want := req.Header.Get("Signature-Key"), v.Expected.SignatureKey; got != want {
		t.Errorf("Signature-Key:\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("Signature-Input"); got != v.Expected.SignatureInput {
		t.Errorf("Signature-Input:\n got %s\nwant %s", got, v.Expected.SignatureInput)
	}
	sig := req.Header.Get("Signature")
	if v.Expected.Deterministic {
		if sig != v.Expected.Signature {
			t.Errorf("Signature:\n got %s\nwant %s", sig, v.Expected.Signature)
		}
	} else {
		// ECDSA is randomised: our signature and the vector's must both verify.
		pub := km.Signer.Public().(*ecdsa.PublicKey)
		for _, s := range []string{sig, v.Expected.Signature} {
			if !verifyRawES256(pub, base, s, label) {
				t.Errorf("ES256 signature %s does not verify", s)
			}
		}
	}
	// Every header the reference set, and nothing else in the request.
	got := map[string]string{}
	for k := range req.Header {
		got[strings.ToLower(k)] = strings.Join(req.Header.Values(k), ", ")
	}
	for k, want := range v.Expected.HeadersSet {
		if k == "signature" && !v.Expected.Deterministic {
			continue
		}
		if got[k] != want {
			t.Errorf("header %s = %q, want %q", k, got[k], want)
		}
	}
	var names []string
	for _, kv := range v.Expected.HeadersAfter {
		names = append(names, kv[0])
		want := kv[1]
		if kv[0] == "signature" && !v.Expected.Deterministic {
			continue
		}
		if got[kv[0]] != want {
			t.Errorf("after signing, %s = %q, want %q", kv[0], got[kv[0]], want)
		}
	}
	var gotNames []string
	for k := range got {
		gotNames = append(gotNames, k)
	}
	sort.Strings(names)
	sort.Strings(gotNames)
	if strings.Join(names, ",") != strings.Join(gotNames, ",") {
		t.Errorf("headers after signing: got %v, want %v", gotNames, names)
	}
}

func verifyRawES256(pub *ecdsa.PublicKey, base []byte, header, label string) bool {
	b64 := strings.TrimSuffix(strings.TrimPrefix(header, label+"=:"), ":")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 64 {
		return false
	}
	h := sha256.Sum256(base)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:]))
}
