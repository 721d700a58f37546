package sigverify

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
)

// FuzzVerify feeds arbitrary Signature-Input, Signature and Signature-Key
// values to Verify and VerifyWithKey on a GET and a POST with a body: they
// must never panic, and every failure must be a safe *Error.
func FuzzVerify(f *testing.F) {
	for _, file := range []string{currentFile, seedFile} {
		for _, v := range loadVectors(f, file).Vectors {
			f.Add(v.Expected.SignatureInput, v.Expected.Signature, v.Expected.SignatureKey, v.Inputs.Body != nil)
		}
	}
	const comps = `("@method" "@authority" "@path" "signature-key")`
	for _, si := range []string{
		``, `sig=`, `sig=()`, `sig=();created=1730217600`, `sig=` + comps + `;created=-1`,
		`sig=("x";sf "signature-key");created=1730217600`, `sig=("x";key="a" "signature-key");created=1730217600`,
		`sig=("x";bs "signature-key");created=1730217600`, `sig=("@query-param";name="q" "signature-key");created=1730217600`,
		`sig=("@query-param";name="a%20b" "signature-key");created=1730217600`, `sig=("@target-uri" "@scheme" "@request-target" "@query" "signature-key");created=1730217600`,
		`sig=(` + strings.Repeat(`"a" `, 50) + `"signature-key");created=1730217600`, `sig=` + comps + `;created=1730217600;expires=9223372036854775807`,
		`sig=` + comps + `;created=-9223372036854775808`, `sig=` + comps + `;created=1730217600, sig=` + comps,
	} {
		f.Add(si, `sig=:AAAA:`, `sig=hwk;kty="OKP";crv="Ed25519";x="11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`, false)
	}
	get := findVector(f, currentFile, "current-01-get-hwk")
	post := findVector(f, currentFile, "current-04-post-json-explicit-content-type")
	created := time.Unix(get.Inputs.Created, 0)
	opts := Options{Now: func() time.Time { return created }, RequireDigest: true}
	pub := get.publicKey(f)

	f.Fuzz(func(t *testing.T, si, sig, sk string, withBody bool) {
		v := get
		if withBody {
			v = post
		}
		for _, withKey := range []bool{false, true} {
			req := v.request(t)
			req.Header.Set("Signature-Input", si)
			req.Header.Set("Signature", sig)
			req.Header.Set("Signature-Key", sk)
			var err error
			if withKey {
				_, err = VerifyWithKey(req, "", pub, opts)
			} else {
				_, err = Verify(req, opts)
			}
			if err == nil {
				continue
			}
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "aauth: "+e.Code) {
				t.Fatalf("error %q lacks the aauth: <code> prefix", msg)
			}
			if h, perr := aauth.ParseSignatureKey(sk); perr == nil && len(h.Token) > 40 && strings.Contains(msg, h.Token) {
				t.Fatalf("error %q shows the token", msg)
			}
			if len(msg) > 400 {
				t.Fatalf("error of %d bytes echoes its input", len(msg))
			}
		}
	})
}
