package aauth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
)

// The chained warm round trip: an intermediary's Transport (Chain set)
// sending, for the caller of a served request, a GET for which it holds a
// downstream auth token, interleaved with the same GET through a warm
// Transport that does not chain. Each chained request comes with a context
// of its own (aauth.WithUpstream, as for one served request each), so the
// reading of the upstream token is in the measure. x-warm is the ratio.

// benchJWT is a compact JWT of typ and claims with a dummy signature: the
// Transport reads these tokens, it never verifies them.
func benchJWT(typ string, claims map[string]any) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]any{"alg": "Ed25519", "typ": typ, "kid": "k1"})
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "." + enc.EncodeToString(make([]byte, 64))
}

// chainedTransport returns a chaining Transport to srv holding, for the
// upstream token it returns, a downstream auth token for srv's origin.
func chainedTransport(b *testing.B, srvURL string, base http.RoundTripper) (*Transport, string) {
	const intermediary, ps = "https://a.example", "https://ps.example"
	pub := benchKey.Public().(ed25519.PublicKey)
	jkt, err := keys.Thumbprint(pub)
	if err != nil {
		b.Fatal(err)
	}
	agentToken := benchJWT("aa-agent+jwt", map[string]any{"iss": intermediary, "dwk": "aauth-agent.json", "sub": "aauth:mcp-a@a.example",
		"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(pub), "alg": "Ed25519"}},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "jti": "a-1"})
	caller, _ := keys.Generate()
	upTok := benchJWT("aa-auth+jwt", map[string]any{"iss": ps, "ps": ps, "aud": intermediary, "sub": "p_caller", "scope": "read", "jti": "u-1",
		"cnf": map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(caller.Public().(ed25519.PublicKey)), "alg": "Ed25519"}},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	t := &Transport{Base: base, Keys: StaticKeys(benchKey, JWT(agentToken)), Chain: true}
	t.init()
	up := parseUpstream(upTok).(*upstream)
	if up.err != nil {
		b.Fatal(up.err)
	}
	key := "auth " + srvURL + " " + up.scope + " " + jkt
	t.store(context.Background(), key, &psclient.Token{Value: benchAuthToken(srvURL, ps), Expiry: time.Now().Add(24 * time.Hour)}, "auth")
	return t, upTok
}

// BenchmarkTransportChainedWarm is the chained warm round trip alone.
func BenchmarkTransportChainedWarm(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, upstream := chainedTransport(b, srv.URL, srv.Client().Transport.(*http.Transport).Clone())
	req, _ := http.NewRequest("GET", url, nil)
	roundTrip(b, t, req.WithContext(WithUpstream(context.Background(), upstream)))
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, t, req.WithContext(WithUpstream(context.Background(), upstream)))
	}
}

// BenchmarkTransportChainedWarmRatio interleaves the chained and the plain
// warm round trips, alternating which goes first.
func BenchmarkTransportChainedWarmRatio(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	warm, _ := warmTransport(b, srv, url)
	chained, upstream := chainedTransport(b, srv.URL, srv.Client().Transport.(*http.Transport).Clone())
	req, _ := http.NewRequest("GET", url, nil)
	roundTrip(b, warm, req)
	roundTrip(b, chained, req.WithContext(WithUpstream(context.Background(), upstream)))
	var warmT, chainT time.Duration
	i := 0
	for b.Loop() {
		creq := req.WithContext(WithUpstream(context.Background(), upstream))
		t0 := time.Now()
		if i&1 == 0 {
			roundTrip(b, chained, creq)
		} else {
			roundTrip(b, warm, req)
		}
		t1 := time.Now()
		if i&1 == 0 {
			roundTrip(b, warm, req)
			warmT += time.Since(t1)
			chainT += t1.Sub(t0)
		} else {
			roundTrip(b, chained, creq)
			chainT += time.Since(t1)
			warmT += t1.Sub(t0)
		}
		i++
	}
	b.ReportMetric(float64(chainT)/float64(warmT), "x-warm")
}
