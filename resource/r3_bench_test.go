package resource

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

// The R3 benchmark sets what per-tool enforcement adds to a warm request:
// a tools/call of a granted tool (read as MCP, the grant looked up and
// decided) against the same POST to a resource in plain auth-token mode,
// interleaved in one loop; see BENCHMARKS.md.

// neverSeen is a ReplayStore that remembers nothing, so that one signed
// POST can be served again and again.
type neverSeen struct{}

func (neverSeen) Seen(context.Context, string, time.Time) (bool, error) { return false, nil }

// warmCall is a warm signed POST of a tools/call as a server reads it, and
// the handler behind Require.
type warmCall struct {
	req     *http.Request
	body    []byte
	handler http.Handler
}

func (wc *warmCall) serve() {
	wc.req.Body = io.NopCloser(bytes.NewReader(wc.body))
	wc.handler.ServeHTTP(discard{}, wc.req)
}

func newWarmCall(b testing.TB, withR3 bool) *warmCall {
	var w *world
	body := toolCall(7, "search", `{"q":"quarterly report","limit":10}`)
	var at string
	if withR3 {
		w = newR3World(b, func(rs *Resource) { rs.Replay = neverSeen{} })
		resp := w.do("POST", "/mcp", toolCall(1, "search", ""), w.personToken(nil))
		rt := verifyResourceToken(b, w, resourceTokenOf(b, resp))
		at = w.authToken("", grantClaims(rt, []string{"search", "fetch"}, []string{"send_email"}))
	} else {
		w = newWorld(b, func(rs *Resource) { rs.Mode, rs.Replay = AuthToken, neverSeen{} })
		at = w.authToken("", nil)
	}
	signed := w.request("POST", "/mcp", body)
	w.agent.sign(b, signed, at, w.clock.Now())
	req := asReceived(b, signed)
	served := 0
	h := w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if c, ok := FromContext(r.Context()); ok && c.Kind == KindAuth && (!withR3 || c.Grant != nil) {
			served++
		}
	}))
	wc := &warmCall{req: req, body: []byte(body), handler: h}
	wc.serve()
	wc.serve()
	if served != 2 {
		b.Fatal("the warm-up calls were not served")
	}
	return wc
}

// BenchmarkR3WarmRatio interleaves a granted tools/call under R3 with the
// same call to a resource without R3 and reports the ratio of the totals
// (x-plain) and of the medians (x-plain-med).
func BenchmarkR3WarmRatio(b *testing.B) {
	r3c, plain := newWarmCall(b, true), newWarmCall(b, false)
	var rT, pT time.Duration
	var rs, ps []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var r, p time.Duration
		if i%2 == 0 {
			t0 := time.Now()
			r3c.serve()
			t1 := time.Now()
			plain.serve()
			r, p = t1.Sub(t0), time.Since(t1)
		} else {
			t0 := time.Now()
			plain.serve()
			t1 := time.Now()
			r3c.serve()
			p, r = t1.Sub(t0), time.Since(t1)
		}
		rT += r
		pT += p
		rs, ps = append(rs, r), append(ps, p)
	}
	b.StopTimer()
	b.ReportMetric(float64(rT)/float64(pT), "x-plain")
	b.ReportMetric(float64(median(rs))/float64(median(ps)), "x-plain-med")
	b.ReportMetric(float64(rT.Nanoseconds())/float64(b.N), "r3-ns/op")
	b.ReportMetric(float64(pT.Nanoseconds())/float64(b.N), "plain-ns/op")
}

// BenchmarkR3Warm is the R3 call alone, for its allocations.
func BenchmarkR3Warm(b *testing.B) {
	wc := newWarmCall(b, true)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		wc.serve()
	}
}

// BenchmarkR3WarmPlain is the same call without R3.
func BenchmarkR3WarmPlain(b *testing.B) {
	wc := newWarmCall(b, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		wc.serve()
	}
}
