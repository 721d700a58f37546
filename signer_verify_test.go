package aauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/keys"
)

// TestSignerVerifiedByServer sends generated requests through a
// SigningTransport to a server that checks them with sigverify (which
// builds the signature base from the wire with code of its own, and is
// cross-checked against httpsign in its tests), in both profiles and with
// both key types. The JavaScript reference does the same in interop/.
func TestSignerVerifiedByServer(t *testing.T) {
	now := time.Unix(1730217600, 0)
	type result struct {
		desc string
		err  error
	}
	results := make(chan result, 1)
	var profile aauth.Profile
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := sigverify.Verify(r, sigverify.Options{
			Now:           func() time.Time { return now },
			RequireAlg:    profile == aauth.ProfileCurrent,
			RequireDigest: profile == aauth.ProfileCurrent,
		})
		results <- result{r.Method + " " + r.RequestURI, err}
	}))
	defer srv.Close()

	ed, _ := keys.Generate()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	// Real agent tokens whose cnf.jwk is the signing key, for the jwt scheme.
	tokens := map[[2]int]string{}
	provider, _ := keys.Generate()
	for _, p := range []aauth.Profile{aauth.ProfileCurrent, aauth.ProfileSeed} {
		iss := &agentprovider.Issuer{Issuer: "https://agent.example", Key: provider, Profile: p, Now: func() time.Time { return now }}
		for ki, k := range []crypto.Signer{ed, ec} {
			tok, _, err := iss.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:bot@agent.example", Key: k.Public()})
			if err != nil {
				t.Fatal(err)
			}
			tokens[[2]int{int(p), ki}] = tok
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	paths := []string{"", "/", "/api/data", "/a b/%7Euser/é", "/a/./b/../c", "/x/%2F/~y", "/q|^{}", "/%e2%82%ac"}
	queries := []string{"", "?x=1", "?y=a%20b&z=é"}
	bodies := []string{"", `{"jsonrpc":"2.0","id":1}`, "plain text", strings.Repeat("z", 70000)}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "post"}
	host := strings.Replace(srv.URL, "127.0.0.1", "LocalHost", 1)
	for i := 0; i < 200; i++ {
		profile = aauth.Profile(i % 2)
		var key crypto.Signer = ed
		ki := 0
		if rng.IntN(3) == 0 {
			key, ki = ec, 1
		}
		m := methods[rng.IntN(len(methods))]
		u := host + paths[rng.IntN(len(paths))] + queries[rng.IntN(len(queries))]
		var body io.Reader
		b := ""
		if m != "GET" && m != "DELETE" && m != "OPTIONS" {
			b = bodies[rng.IntN(len(bodies))]
			body = strings.NewReader(b)
		}
		req, err := http.NewRequest(m, u, body)
		if err != nil {
			t.Fatal(err)
		}
		if b != "" && rng.IntN(2) == 0 {
			req.Header.Set("Content-Type", " application/json ")
		}
		sk := aauth.HWK()
		if rng.IntN(2) == 0 {
			sk = aauth.JWT(tokens[[2]int{int(profile), ki}])
		}
		tr := &aauth.SigningTransport{Keys: aauth.StaticKeys(key, sk), Profile: profile, Now: func() time.Time { return now }}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s %s: %v", m, u, err)
		}
		resp.Body.Close()
		if r := <-results; r.err != nil {
			t.Errorf("%s profile, %T key, %s: %v", profile, key, r.desc, r.err)
		}
	}
}
