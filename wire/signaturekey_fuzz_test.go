package wire

import (
	"strings"
	"testing"
)

func FuzzParseSignatureKey(f *testing.F) {
	for _, file := range []string{"signatures-current.json", "signatures-seed.json"} {
		for _, v := range loadVectors(f, file).Vectors {
			f.Add(v.Expected.SignatureKey)
		}
	}
	for _, s := range []string{
		``, `sig`, `sig=hwk`, `sig=jwt;jwt="a,b", x=y`, `sig=x;p=%"a,b"`, `sig=x;p=%"\", q=r`,
		`sig=(a b);c`, `a=1, b=2`, `sig=jwt;jwt="\"`, `sig=hwk;kty="OKP";kty=5`,
		`sig=jwks_uri;id="http://127.0.0.1:3000";dwk="aauth-person.json";kid="k1"`, `sig=jwks_uri;id="a";dwk="";kid="k"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := ParseSignatureKey(in)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "aauth: ") {
				t.Fatalf("error %q lacks the aauth: prefix", msg)
			}
			if len(msg) > 256 {
				t.Fatalf("error of %d bytes echoes the input", len(msg))
			}
			return
		}
		if h.Label == "" || h.Scheme == "" || h.Params == nil {
			t.Fatalf("incomplete result %#v", h)
		}
		switch h.Scheme {
		case SchemeJWT, SchemeJKTJWT:
			if h.Token == "" || h.Token != h.Params["jwt"] {
				t.Fatalf("token scheme without its token: %#v", h)
			}
		case SchemeHWK:
			if h.Params["kty"] == "" {
				t.Fatalf("hwk without kty: %#v", h)
			}
		case SchemeJWKSURI:
			if h.Params["id"] == "" || h.Params["dwk"] == "" || h.Params["kid"] == "" {
				t.Fatalf("jwks_uri without id, dwk or kid: %#v", h)
			}
		}
		if strings.Contains(h.String(), h.Token) && len(h.Token) > 12 {
			t.Fatalf("String() shows the token")
		}
	})
}
