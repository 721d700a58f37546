package aauth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestRFC9421B26 signs RFC 9421 Appendix B.2.6 (Ed25519) through the generic
// signing path: header components, the RFC's component order, a String
// parameter (keyid) and a label other than "sig".
func TestRFC9421B26(t *testing.T) {
	raw, err := os.ReadFile("testdata/rfc9421-b26.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Request struct {
			Method  string      `json:"method"`
			URL     string      `json:"url"`
			Headers [][2]string `json:"headers"`
			Body    string      `json:"body"`
		} `json:"request"`
		Key struct {
			JWK map[string]string `json:"jwk_private"`
		} `json:"key"`
		Label      string   `json:"label"`
		Components []string `json:"covered_components"`
		Params     []struct {
			Name  string `json:"name"`
			Value any    `json:"value"`
		} `json:"params"`
		SignatureBase  string `json:"signature_base"`
		SignatureInput string `json:"signature_input"`
		Signature      string `json:"signature"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(v.Request.Method, v.Request.URL, strings.NewReader(v.Request.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range v.Request.Headers {
		if h[0] != "Host" {
			req.Header.Add(h[0], h[1])
		}
	}
	seed, _ := base64.RawURLEncoding.DecodeString(v.Key.JWK["d"])
	key := ed25519.NewKeyFromSeed(seed)

	var created int64
	var extra []sigParam
	for _, p := range v.Params {
		switch val := p.Value.(type) {
		case float64:
			if p.Name == "created" {
				created = int64(val)
			} else {
				extra = append(extra, sigParam{p.Name, int64(val)})
			}
		case string:
			extra = append(extra, sigParam{p.Name, val})
		}
	}
	m, err := prepare(req)
	if err != nil {
		t.Fatal(err)
	}
	input := signatureInput(v.Label, v.Components, created, extra...)
	base, err := buildBase(req, &m, v.Components, input[len(v.Label)+1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := signMessage(req, &m, key, v.Label, v.Components, input, nil, nil); err != nil {
		t.Fatal(err)
	}
	if string(base) != v.SignatureBase {
		t.Fatalf("base:\n got %q\nwant %q", base, v.SignatureBase)
	}
	if got := req.Header.Get("Signature-Input"); got != v.SignatureInput {
		t.Errorf("Signature-Input:\n got %s\nwant %s", got, v.SignatureInput)
	}
	if got := req.Header.Get("Signature"); got != v.Signature {
		t.Errorf("Signature:\n got %s\nwant %s", got, v.Signature)
	}
}
