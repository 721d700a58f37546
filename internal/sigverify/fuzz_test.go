package sigverify

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/wire"
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
				_, err = verifyWithKeyChecked(t, req, "", pub, opts)
			} else {
				_, err = verifyChecked(t, req, opts)
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
			if h, perr := wire.ParseSignatureKey(sk); perr == nil && len(h.Token) > 40 && strings.Contains(msg, h.Token) {
				t.Fatalf("error %q shows the token", msg)
			}
			if len(msg) > 400 {
				t.Fatalf("error of %d bytes echoes its input", len(msg))
			}
		}
	})
}

// FuzzSignatureBase builds the signature base of a request read from
// fuzzed wire parts, signs it, and checks that the request then verifies,
// that no value breaks a line of the base, and that httpsign agrees
// wherever it can represent the request.
func FuzzSignatureBase(f *testing.F) {
	f.Add("GET", "/a|b^c?x=1&y=%2F", "Resource.Example:443", "a=1, b=(x y)", "x", uint16(0xffff))
	f.Add("patch", "/a%2Fb?", "h", " 1 ", "a%20b", uint16(0x0f0f))
	f.Add("GET", "https://h.example/p?q=a+b&q=c", "h.example", "?1", "q", uint16(0x07ff))
	f.Add("OPTIONS", "*", "h", "", "", uint16(0x00ff))
	f.Add("GET", "/p?%E2%82=1&t~=*", "h:80", "x;y=1", "t%7E", uint16(0x0400))
	pub := testKey.Public()
	comps := []string{
		`"@method"`, `"@authority"`, `"@path"`, `"@query"`, `"@request-target"`, `"@target-uri"`, `"@scheme"`,
		`"x-a"`, `"x-a";sf`, `"x-a";bs`, `"x-a";key="a"`,
	}
	f.Fuzz(func(t *testing.T, method, target, host, value, qname string, mask uint16) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nX-A: " + value + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		var ids []string
		for i, c := range comps {
			if mask&(1<<i) != 0 {
				ids = append(ids, c)
			}
		}
		if mask&(1<<len(comps)) != 0 {
			ids = append(ids, `"@query-param";name=`+strconv.Quote(qname))
		}
		req.Header.Set("Signature-Input", "sig=("+strings.Join(ids, " ")+");created=1")
		req.Header.Set("Signature", "sig=:AAAA:")
		s, err := parseSignature(req.Header, "sig")
		if err != nil {
			if CodeOf(err) != CodeInvalidRequest {
				t.Fatalf("parseSignature: %v", err)
			}
			return
		}
		base, err := signatureBase(req, s)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("signatureBase: untyped error %v", err)
			}
			return
		}
		if n := strings.Count(string(base), "\n"); n != len(s.components) {
			t.Fatalf("base has %d lines for %d components:\n%s", n+1, len(s.components), base)
		}
		sig := ed25519.Sign(testKey, base)
		req.Header.Set("Signature", "sig=:"+base64.StdEncoding.EncodeToString(sig)+":")
		if s.sig, err = base64.StdEncoding.DecodeString(base64.StdEncoding.EncodeToString(sig)); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyWithKey(req, "sig", pub, Options{Now: func() time.Time { return time.Unix(1, 0) }}); err != nil {
			t.Fatalf("own base does not verify: %v", err)
		}
		crossCheck(t, req, "sig", pub)
	})
}
