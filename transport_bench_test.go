package aauth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// The warm round-trip benchmark: an aauth.Transport holding a cached auth
// token sends a GET to a loopback httptest server, interleaved with the same
// GET sent by a plain http.Transport and one bare ed25519.Sign over the base
// the Transport signs. Both clients have their own keep-alive connection to
// the same server, which answers every request alike, so the difference is
// what the Transport adds: the credential lookup, the request clone, the
// signature and its headers on the wire. x-plain+sig is the ratio to the
// unavoidable part, plain round trip plus one signature.

// benchAuthToken is an auth token of a realistic size: the claims the kit's
// person server puts in one, signed with benchKey. The benchmark server does
// not look at it.
func benchAuthToken(origin, ps string) string {
	enc := base64.RawURLEncoding
	pub := benchKey.Public().(ed25519.PublicKey)
	hdr, _ := json.Marshal(map[string]any{"alg": "EdDSA", "typ": "aa-auth+jwt", "kid": "ps-key-1"})
	claims, _ := json.Marshal(map[string]any{
		"iss":   ps,
		"aud":   origin,
		"sub":   "pairwise-3f1c9a7e2b8d4c60a1e5",
		"agent": "aauth:assistant@agent.example",
		"scope": "read",
		"iat":   1730217600,
		"exp":   1730221200,
		"jti":   "6f9d1c2e-8a47-4b3e-9c15-0d2f7a8e4b61",
		"cnf":   map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc.EncodeToString(pub)}},
	})
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	return signing + "." + enc.EncodeToString(ed25519.Sign(benchKey, []byte(signing)))
}

func newBenchServer(b *testing.B) *httptest.Server {
	body := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// roundTrip sends req through rt and reads the whole answer.
func roundTrip(b *testing.B, rt http.RoundTripper, req *http.Request) {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// warmTransport returns a Transport to srv whose cache holds an auth token
// for srv's origin, so that each request is one signed round trip
// presenting that token, and the signature base of such a request.
func warmTransport(b *testing.B, srv *httptest.Server, url string) (*Transport, []byte) {
	const ps = "https://ps.example"
	origin := srv.URL
	t := &Transport{
		Base:         srv.Client().Transport.(*http.Transport).Clone(),
		Keys:         StaticKeys(benchKey, JWT(benchToken)),
		PersonServer: ps,
		Capabilities: []wire.Capability{wire.CapabilityInteraction},
	}
	t.init()
	jkt, err := keys.Thumbprint(benchKey.Public())
	if err != nil {
		b.Fatal(err)
	}
	tok := benchAuthToken(origin, ps)
	t.store(context.Background(), authKey(origin, t.PersonServer, jkt), &psclient.Token{Value: tok, Expiry: time.Now().Add(24 * time.Hour)}, "auth")

	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := Signer{Profile: t.Profile}
	base, err := s.SignatureBase(req, KeyMaterial{Signer: benchKey, Key: JWT(tok)})
	if err != nil {
		b.Fatal(err)
	}
	return t, base
}

// BenchmarkTransportWarm is the warm round trip alone.
func BenchmarkTransportWarm(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, _ := warmTransport(b, srv, url)
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	roundTrip(b, t, req) // open the connection
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, t, req)
	}
}

// BenchmarkPlainRoundTrip is the same GET through a plain http.Transport.
func BenchmarkPlainRoundTrip(b *testing.B) {
	srv := newBenchServer(b)
	plain := srv.Client().Transport.(*http.Transport).Clone()
	req, err := http.NewRequest("GET", srv.URL+"/mcp/tools?x=1", nil)
	if err != nil {
		b.Fatal(err)
	}
	roundTrip(b, plain, req)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, plain, req)
	}
}

// signedRequest returns a copy of req carrying the headers t puts on it
// (Signature-Key with the auth token, Signature-Input, Signature,
// AAuth-Capabilities), for a plain client to send: the wire's share of a
// warm round trip without the Transport's work.
func signedRequest(b *testing.B, t *Transport, req *http.Request) *http.Request {
	var signed http.Header
	rt := t.Base
	t.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		signed = r.Header.Clone()
		return rt.RoundTrip(r)
	})
	roundTrip(b, t, req)
	t.Base = rt
	sreq := req.Clone(req.Context())
	sreq.Header = signed
	return sreq
}

// BenchmarkPlainRoundTripSignedHeaders is the plain round trip carrying
// the headers a warm Transport's request carries, copied from one: its
// difference to BenchmarkPlainRoundTrip is what the signature headers cost
// net/http on the wire (client and server), and its difference to
// BenchmarkTransportWarm, less a bare signature, what the Transport itself
// adds.
func BenchmarkPlainRoundTripSignedHeaders(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, _ := warmTransport(b, srv, url)
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	sreq := signedRequest(b, t, req)
	plain := srv.Client().Transport.(*http.Transport).Clone()
	roundTrip(b, plain, sreq)
	b.ReportAllocs()
	for b.Loop() {
		roundTrip(b, plain, sreq)
	}
}

// BenchmarkWireShareRatio measures in time what BenchmarkPlainRoundTrip-
// SignedHeaders measures in instructions: a plain round trip carrying the
// warm Transport's headers (plus a bare signature), interleaved with the
// plain round trip (plus the same signature). x-floor is their ratio: what
// the warm ratio would be if the Transport itself cost nothing.
func BenchmarkWireShareRatio(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, base := warmTransport(b, srv, url)
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	sreq := signedRequest(b, t, req)
	withHeaders := srv.Client().Transport.(*http.Transport).Clone()
	plain := srv.Client().Transport.(*http.Transport).Clone()
	roundTrip(b, withHeaders, sreq)
	roundTrip(b, plain, req)

	var signedT, plainT time.Duration
	var signeds, plains []time.Duration
	op := func(c http.RoundTripper, r *http.Request) time.Duration {
		t0 := time.Now()
		roundTrip(b, c, r)
		ed25519.Sign(benchKey, base)
		return time.Since(t0)
	}
	i := 0
	for b.Loop() {
		var s, p time.Duration
		if i&1 == 0 {
			s, p = op(withHeaders, sreq), op(plain, req)
		} else {
			p, s = op(plain, req), op(withHeaders, sreq)
		}
		signedT, plainT = signedT+s, plainT+p
		signeds, plains = append(signeds, s), append(plains, p)
		i++
	}
	b.ReportMetric(float64(signedT)/float64(plainT), "x-floor")
	b.ReportMetric(float64(median(signeds))/float64(median(plains)), "x-floor-med")
}

// BenchmarkBareEd25519Warm is the bare signature over the base the warm
// Transport signs: with BenchmarkTransportWarm and BenchmarkPlainRoundTrip,
// the third term of the ratio for instruction counts (see BENCHMARKS.md).
func BenchmarkBareEd25519Warm(b *testing.B) {
	srv := newBenchServer(b)
	_, base := warmTransport(b, srv, srv.URL+"/mcp/tools?x=1")
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(benchKey, base)
	}
}

// BenchmarkTransportWarmRatio interleaves three clients, rotating which
// goes first: the warm Transport; a plain http.Transport sending the bare
// request, then a bare signature over the Transport's base (the budget's
// baseline, x-plain+sig); and a plain http.Transport sending the request
// with the headers the Transport puts on it, then the same signature
// (x-wire+sig: what any client sending these headers pays, so the ratio is
// the Transport's own work).
func BenchmarkTransportWarmRatio(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, base := warmTransport(b, srv, url)
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	sreq := signedRequest(b, t, req)
	plain := srv.Client().Transport.(*http.Transport).Clone()
	wire := srv.Client().Transport.(*http.Transport).Clone()
	roundTrip(b, plain, req)
	roundTrip(b, wire, sreq)

	ops := [3]func() time.Duration{
		func() time.Duration { t0 := time.Now(); roundTrip(b, t, req); return time.Since(t0) },
		func() time.Duration {
			t0 := time.Now()
			roundTrip(b, plain, req)
			ed25519.Sign(benchKey, base)
			return time.Since(t0)
		},
		func() time.Duration {
			t0 := time.Now()
			roundTrip(b, wire, sreq)
			ed25519.Sign(benchKey, base)
			return time.Since(t0)
		},
	}
	var total [3]time.Duration
	var each [3][]time.Duration
	i := 0
	for b.Loop() {
		for k := range 3 {
			j := (i + k) % 3
			d := ops[j]()
			total[j] += d
			each[j] = append(each[j], d)
		}
		i++
	}
	reportWarmRatios(b, total, each, b.N)
}

// BenchmarkTransportWarmRatioParallel is the warm ratio at 64 goroutines
// (b.SetParallelism(32) on GOMAXPROCS=2): the three clients of
// BenchmarkTransportWarmRatio are run in alternate phases, each a
// b.RunParallel of b.N operations, in the order ABCCBA (three times) so
// that a drift in the machine's load falls on all. The machine is
// saturated in every phase, so a phase's time is what its operations cost
// the machine, contention included. Every client keeps enough idle
// connections for all 64 goroutines.
func BenchmarkTransportWarmRatioParallel(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, base := warmTransport(b, srv, url)
	t.Base.(*http.Transport).MaxIdleConnsPerHost = 128
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	sreq := signedRequest(b, t, req)
	plain := srv.Client().Transport.(*http.Transport).Clone()
	plain.MaxIdleConnsPerHost = 128
	wire := plain.Clone()
	b.Cleanup(plain.CloseIdleConnections)
	b.Cleanup(wire.CloseIdleConnections)
	b.Cleanup(t.Base.(*http.Transport).CloseIdleConnections)
	b.SetParallelism(32)
	ops := [3]func(req, sreq *http.Request){
		func(req, _ *http.Request) { roundTrip(b, t, req) },
		func(req, _ *http.Request) {
			roundTrip(b, plain, req)
			ed25519.Sign(benchKey, base)
		},
		func(_, sreq *http.Request) {
			roundTrip(b, wire, sreq)
			ed25519.Sign(benchKey, base)
		},
	}
	phase := func(op func(req, sreq *http.Request)) time.Duration {
		t0 := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine has its own requests, as callers do.
			req, sreq := req.Clone(context.Background()), sreq.Clone(context.Background())
			for pb.Next() {
				op(req, sreq)
			}
		})
		return time.Since(t0)
	}
	var total [3]time.Duration
	var each [3][]time.Duration
	const rounds = 3
	for range rounds {
		for _, j := range []int{0, 1, 2, 2, 1, 0} {
			d := phase(ops[j])
			total[j] += d
			each[j] = append(each[j], d)
		}
	}
	reportWarmRatios(b, total, each, 2*rounds*b.N)
}

// reportWarmRatios reports the warm ratios of the three clients (the
// Transport, plain + signature, the same headers plain + signature): of
// their total times and of the medians of their samples, and the time per
// operation of each over ops operations.
func reportWarmRatios(b *testing.B, total [3]time.Duration, each [3][]time.Duration, ops int) {
	b.ReportMetric(float64(total[0])/float64(total[1]), "x-plain+sig")
	b.ReportMetric(float64(median(each[0]))/float64(median(each[1])), "x-plain+sig-med")
	b.ReportMetric(float64(total[0])/float64(total[2]), "x-wire+sig")
	b.ReportMetric(float64(median(each[0]))/float64(median(each[2])), "x-wire+sig-med")
	n := float64(ops)
	b.ReportMetric(float64(total[0].Nanoseconds())/n, "aauth-ns/op")
	b.ReportMetric(float64(total[1].Nanoseconds())/n, "plain+sig-ns/op")
	b.ReportMetric(float64(total[2].Nanoseconds())/n, "wire+sig-ns/op")
}

// BenchmarkTransportWarmParallel is the warm round trip alone at 64
// goroutines, for its mutex and CPU profiles.
func BenchmarkTransportWarmParallel(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, _ := warmTransport(b, srv, url)
	t.Base.(*http.Transport).MaxIdleConnsPerHost = 128
	b.Cleanup(t.Base.(*http.Transport).CloseIdleConnections)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			roundTrip(b, t, req)
		}
	})
}

// BenchmarkTransportWarmInProcess isolates the client's share: the warm
// Transport over a Base that answers in process (no connection, no server),
// interleaved with the bare signature over the same base. x-sig is their
// ratio and overhead-ns/op the time the Transport adds to the signature;
// what the round-trip ratio adds on top is the signature headers' cost on
// the wire (net/http writing, validating and parsing about 1 KiB more).
func BenchmarkTransportWarmInProcess(b *testing.B) {
	srv := newBenchServer(b)
	url := srv.URL + "/mcp/tools?x=1"
	t, base := warmTransport(b, srv, url)
	t.Base = roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	var aauthT, sigT time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		roundTrip(b, t, req)
		t1 := time.Now()
		ed25519.Sign(benchKey, base)
		t2 := time.Now()
		aauthT += t1.Sub(t0)
		sigT += t2.Sub(t1)
	}
	b.ReportMetric(float64(aauthT)/float64(sigT), "x-sig")
	b.ReportMetric(float64((aauthT-sigT).Nanoseconds())/float64(b.N), "overhead-ns/op")
}
