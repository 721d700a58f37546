package psclient

import (
	"testing"

	"github.com/aauthgo/aauth/r3"
)

// FuzzResourceMetadata: any resource metadata document is read or refused
// whole; what is read has only vocabularies r3 accepts, each with an
// endpoint.
func FuzzResourceMetadata(f *testing.F) {
	for _, s := range []string{
		`{"issuer":"https://r.example","access_mode":"per-call","authorization_endpoint":"https://r.example/a","r3_vocabularies":{"urn:aauth:vocabulary:mcp":"https://r.example/mcp"}}`,
		`{"r3_vocabularies":{"urn:aauth:vocabulary:openapi-gateway":"x","URN:AAUTH:VOCABULARY:MCP":"y","https://v.example":"z"}}`,
		`{"r3_vocabularies":[],"access_mode":7,"scope_descriptions":{"a":1}}`,
		`{"r3_vocabularies":{"urn:aauth:vocabulary:mcp":"a","urn:aauth:vocabulary:mcp":"b"}}`,
		`[]`, `null`, `{`, `{"issuer":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := parseResourceMetadata(b)
		if err != nil {
			return
		}
		for v, ep := range md.Vocabularies {
			if r3.CheckVocabulary(v) != nil || ep == "" {
				t.Fatalf("vocabulary %q → %q kept", v, ep)
			}
		}
		if md.Raw == nil {
			t.Fatal("no Raw")
		}
	})
}
