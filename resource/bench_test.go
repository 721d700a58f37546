package resource

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The verification benchmarks set the middleware's cost on a warm request
// (issuer keys cached) carrying an auth token against what cannot be
// avoided: ed25519.Verify of the request's signature plus ed25519.Verify
// of the token's signature. The two are interleaved in one loop so that
// both see the same machine load, and the ratio (x-bare) is reported; see
// BENCHMARKS.md.

// warmRequest is a warm auth-token GET as a server reads it, the handler
// behind Require, and the two bare verifications it implies.
type warmRequest struct {
	req     *http.Request
	handler http.Handler
	bare    func()
}

// asReceived is signed as a server receives it: written and read back.
func asReceived(b testing.TB, signed *http.Request) *http.Request {
	b.Helper()
	var buf bytes.Buffer
	if err := signed.Write(&buf); err != nil {
		b.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "127.0.0.1:1"
	return req
}

func newWarmRequest(b testing.TB, parseEachTime bool) *warmRequest {
	w := newWorld(b, func(rs *Resource) { rs.Mode, rs.Scope, rs.noTokenCache = AuthToken, "read", parseEachTime })
	at := w.authToken("read write", nil)
	signed := w.request("GET", "/api/data?x=1", "")
	w.agent.sign(b, signed, at, w.clock.Now())

	req := asReceived(b, signed)
	served := 0
	h := w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if c, ok := FromContext(r.Context()); ok && c.Kind == KindAuth {
			served++
		}
	}))
	// Warm: the person server's keys are fetched once here.
	h.ServeHTTP(discard{}, req)
	if served != 1 {
		b.Fatal("the warm-up request was not served")
	}

	// The bare work: the request signature over its base, the token's
	// signature over its signing input.
	base := signatureBaseOf(b, w, at)
	rsig := sigBytes(b, req.Header.Get("Signature"))
	agentPub := w.agent.pub.(ed25519.PublicKey)
	i := strings.LastIndexByte(at, '.')
	tin, tsig := []byte(at[:i]), mustB64URL(b, at[i+1:])
	psPub := w.ps.key.Public().(ed25519.PublicKey)
	bare := func() {
		if !ed25519.Verify(agentPub, base, rsig) || !ed25519.Verify(psPub, tin, tsig) {
			b.Fatal("bare verification failed")
		}
	}
	bare()
	return &warmRequest{req: req, handler: h, bare: bare}
}

// signatureBaseOf rebuilds the base the agent signed, by signing the same
// request again at the same clock (Ed25519 is deterministic).
func signatureBaseOf(b testing.TB, w *world, token string) []byte {
	r := w.request("GET", "/api/data?x=1", "")
	w.agent.sign(b, r, token, w.clock.Now())
	sp := strings.TrimPrefix(r.Header.Get("Signature-Input"), "sig=")
	base := `"@method": GET` + "\n" +
		`"@authority": ` + r.Host + "\n" +
		`"@path": /api/data` + "\n" +
		`"signature-key": ` + r.Header.Get("Signature-Key") + "\n" +
		`"@signature-params": ` + sp
	if !ed25519.Verify(w.agent.pub.(ed25519.PublicKey), []byte(base), sigBytes(b, r.Header.Get("Signature"))) {
		b.Fatalf("the rebuilt base is not what was signed: %q", base)
	}
	return []byte(base)
}

func sigBytes(b testing.TB, v string) []byte {
	_, rest, _ := strings.Cut(v, "=:")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(rest, ":"))
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func mustB64URL(b testing.TB, s string) []byte {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

// BenchmarkVerifyWarmRatio interleaves the middleware on a warm
// auth-token request with the two bare Ed25519 verifications, in
// alternating order, and reports their ratio two ways: x-bare, of the
// total times, and x-bare-med, of the medians of the per-iteration times,
// which a preemption landing in one half barely moves. Absolute times are
// reported too.
func BenchmarkVerifyWarmRatio(b *testing.B) { benchWarmRatio(b, false) }

// BenchmarkVerifyWarmRatioParsed is the same with the token taken apart on
// every request, as for an agent's first request with a new token.
func BenchmarkVerifyWarmRatioParsed(b *testing.B) { benchWarmRatio(b, true) }

func benchWarmRatio(b *testing.B, parseEachTime bool) {
	wr := newWarmRequest(b, parseEachTime)
	var mwT, bareT time.Duration
	var mws, bares []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var m, bb time.Duration
		if i%2 == 0 {
			t0 := time.Now()
			wr.handler.ServeHTTP(discard{}, wr.req)
			t1 := time.Now()
			wr.bare()
			m, bb = t1.Sub(t0), time.Since(t1)
		} else {
			t0 := time.Now()
			wr.bare()
			t1 := time.Now()
			wr.handler.ServeHTTP(discard{}, wr.req)
			bb, m = t1.Sub(t0), time.Since(t1)
		}
		mwT += m
		bareT += bb
		mws, bares = append(mws, m), append(bares, bb)
	}
	b.StopTimer()
	b.ReportMetric(float64(mwT)/float64(bareT), "x-bare")
	b.ReportMetric(float64(median(mws))/float64(median(bares)), "x-bare-med")
	b.ReportMetric(float64(mwT.Nanoseconds())/float64(b.N), "verify-ns/op")
	b.ReportMetric(float64(bareT.Nanoseconds())/float64(b.N), "bare-ns/op")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkVerifyWarm is the middleware alone: allocations, instruction
// counts; BenchmarkVerifyWarmParsed takes the token apart every time.
func BenchmarkVerifyWarm(b *testing.B)       { benchWarm(b, false) }
func BenchmarkVerifyWarmParsed(b *testing.B) { benchWarm(b, true) }

func benchWarm(b *testing.B, parseEachTime bool) {
	wr := newWarmRequest(b, parseEachTime)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		wr.handler.ServeHTTP(discard{}, wr.req)
	}
}

// BenchmarkBareVerifyPair is the two bare verifications alone.
func BenchmarkBareVerifyPair(b *testing.B) {
	wr := newWarmRequest(b, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		wr.bare()
	}
}

// TestWarmAllocationBudget holds the allocations of a warm request (a
// count, not a time): at most 24 with the token kept taken apart, 40
// without. BENCHMARKS.md has the figures.
func TestWarmAllocationBudget(t *testing.T) {
	for _, tc := range []struct {
		parse bool
		max   float64
	}{{false, 24}, {true, 40}} {
		wr := newWarmRequest(t, tc.parse)
		n := testing.AllocsPerRun(200, func() { wr.handler.ServeHTTP(discard{}, wr.req) })
		if n > tc.max {
			t.Errorf("parse each time %v: %v allocations, budget %v", tc.parse, n, tc.max)
		}
		t.Logf("parse each time %v: %v allocations", tc.parse, n)
	}
}
