package wire

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

const testJWT = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiYWEtYWdlbnQrand0In0.eyJpc3MiOiJodHRwczovL2FnZW50LmV4YW1wbGUifQ.c2ln"

func TestParseSignatureKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want SignatureKeyHeader
	}{
		{
			name: "hwk current",
			in:   `sig=hwk;alg="Ed25519";kty="OKP";crv="Ed25519";x="11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeHWK, Params: map[string]string{
				"alg": "Ed25519", "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
		},
		{
			name: "hwk seed EC",
			in:   `sig=hwk;kty="EC";crv="P-256";x="abc";y="def"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeHWK, Params: map[string]string{
				"kty": "EC", "crv": "P-256", "x": "abc", "y": "def"}},
		},
		{
			name: "jwt",
			in:   `sig=jwt;jwt="` + testJWT + `"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeJWT, Token: testJWT, Params: map[string]string{"jwt": testJWT}},
		},
		{
			name: "jkt-jwt with another label",
			in:   `aauth=jkt-jwt;jwt="` + testJWT + `"`,
			want: SignatureKeyHeader{Label: "aauth", Scheme: SchemeJKTJWT, Token: testJWT, Params: map[string]string{"jwt": testJWT}},
		},
		{
			name: "white space allowed by RFC 9651",
			in:   `  sig=jwt;jwt="` + testJWT + `"  `,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeJWT, Token: testJWT, Params: map[string]string{"jwt": testJWT}},
		},
		{
			name: "token parameter value",
			in:   `sig=hwk;kty=OKP;crv=Ed25519;x="abc"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeHWK, Params: map[string]string{"kty": "OKP", "crv": "Ed25519", "x": "abc"}},
		},
		{
			name: "unknown scheme returned",
			in:   `sig=jwks_uri;id="https://agent.example";dwk="aauth-agent.json";kid="k1"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeJWKSURI, Params: map[string]string{
				"id": "https://agent.example", "dwk": "aauth-agent.json", "kid": "k1"}},
		},
		{
			name: "comma inside a string is not a member separator",
			in:   `sig=jwt;jwt="a,b"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeJWT, Token: "a,b", Params: map[string]string{"jwt": "a,b"}},
		},
		{
			name: "escaped quote inside a string",
			in:   `sig=jwt;jwt="a\",b"`,
			want: SignatureKeyHeader{Label: "sig", Scheme: SchemeJWT, Token: `a",b`, Params: map[string]string{"jwt": `a",b`}},
		},
		{
			name: "scheme without parameters",
			in:   `sig=x509`,
			want: SignatureKeyHeader{Label: "sig", Scheme: "x509", Params: map[string]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignatureKey(tt.in)
			if err != nil {
				t.Fatalf("ParseSignatureKey: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseSignatureKeyErrors(t *testing.T) {
	const secret = "eyJzZWNyZXQiOiJ0b2tlbiJ9.eyJzdWIiOiJ4In0.c2VjcmV0"
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "exactly one"},
		{"bare key", `sig`, "not a token"}, // a bare key is sig=?1, a Boolean
		{"garbage", `=jwt;jwt="` + secret + `"`, "not a structured field"},
		{"unterminated string", `sig=jwt;jwt="` + secret, "not a structured field"},
		{"two members", `sig=jwt;jwt="` + secret + `", other=hwk;kty="OKP"`, "exactly one"},
		{"two members with the same key", `sig=hwk;kty="OKP", sig=jwt;jwt="` + secret + `"`, "exactly one"},
		{"two field lines joined", `sig=jwt;jwt="` + secret + `", sig=jwt;jwt="` + secret + `"`, "exactly one"},
		{"inner list", `sig=(jwt);jwt="` + secret + `"`, "inner list"},
		{"string scheme", `sig="jwt";jwt="` + secret + `"`, "not a token"},
		{"boolean member", `sig;jwt="` + secret + `"`, "not a token"},
		{"integer parameter", `sig=hwk;kty="OKP";x=5`, `"x" is not a string`},
		{"boolean parameter", `sig=jwt;jwt="` + secret + `";flag`, `"flag" is not a string`},
		{"byte sequence parameter", `sig=jwt;jwt=:c2VjcmV0:`, `"jwt" is not a string`},
		{"jwt without jwt", `sig=jwt;x="y"`, "non-empty jwt"},
		{"jwt with empty jwt", `sig=jwt;jwt=""`, "non-empty jwt"},
		{"jkt-jwt without jwt", `sig=jkt-jwt`, "non-empty jwt"},
		{"hwk without kty", `sig=hwk;crv="Ed25519";x="abc"`, "kty"},
		{"hwk with empty kty", `sig=hwk;kty=""`, "kty"},
		{"jwks_uri without kid", `sig=jwks_uri;id="https://ps.example";dwk="aauth-person.json"`, "id, dwk and kid"},
		{"jwks_uri without id", `sig=jwks_uri;dwk="aauth-person.json";kid="k"`, "id, dwk and kid"},
		{"jwks_uri with empty dwk", `sig=jwks_uri;id="https://ps.example";dwk="";kid="k"`, "id, dwk and kid"},
		{"too long", `sig=jwt;jwt="` + strings.Repeat("a", MaxSignatureKeyLen) + `"`, "more than"},
		{"non-ASCII", `sig=jwt;jwt="é` + secret + `"`, "not a structured field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSignatureKey(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "aauth: ") {
				t.Errorf("error %q lacks the aauth: prefix", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not mention %q", msg, tt.want)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "c2VjcmV0") {
				t.Errorf("error %q leaks the token", msg)
			}
		})
	}
}

func TestSignatureKeyHeaderStringRedacts(t *testing.T) {
	h, err := ParseSignatureKey(`sig=jwt;jwt="` + testJWT + `"`)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.String(); strings.Contains(s, testJWT) || !strings.HasPrefix(s, "sig=jwt(") {
		t.Errorf("String() = %q", s)
	}
}

// vectorFile is the part of signatures-*.json these tests read.
type vectorFile struct {
	Vectors []struct {
		ID     string `json:"id"`
		Inputs struct {
			Key          map[string]string `json:"key"`
			SignatureKey struct {
				Type string `json:"type"`
				JWT  string `json:"jwt"`
			} `json:"signature_key"`
			Label string `json:"label"`
		} `json:"inputs"`
		Expected struct {
			SignatureKey string `json:"signature_key"`
		} `json:"expected"`
	} `json:"vectors"`
}

func loadVectors(t testing.TB, name string) vectorFile {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	return f
}

func TestParseSignatureKeyVectors(t *testing.T) {
	for _, file := range []string{"signatures-current.json", "signatures-seed.json"} {
		for _, v := range loadVectors(t, file).Vectors {
			t.Run(v.ID, func(t *testing.T) {
				got, err := ParseSignatureKey(v.Expected.SignatureKey)
				if err != nil {
					t.Fatalf("ParseSignatureKey: %v", err)
				}
				if got.Label != v.Inputs.Label {
					t.Errorf("Label = %q, want %q", got.Label, v.Inputs.Label)
				}
				wantScheme := Scheme(strings.ReplaceAll(v.Inputs.SignatureKey.Type, "_", "-"))
				if got.Scheme != wantScheme {
					t.Errorf("Scheme = %q, want %q", got.Scheme, wantScheme)
				}
				if got.Token != v.Inputs.SignatureKey.JWT {
					t.Errorf("Token = %q, want %q", got.Token, v.Inputs.SignatureKey.JWT)
				}
				if wantScheme == SchemeHWK {
					// The hwk parameters are the public members of the key.
					want := map[string]string{}
					for k, val := range v.Inputs.Key {
						if k != "d" {
							want[k] = val
						}
					}
					if !reflect.DeepEqual(got.Params, want) {
						t.Errorf("Params = %v, want %v", got.Params, want)
					}
				}
			})
		}
	}
}
