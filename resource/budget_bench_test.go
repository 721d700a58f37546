package resource

import (
	"net/http"
	"testing"
	"time"

	"github.com/aauthgo/aauth/r3"
)

// The budget benchmarks set what metering costs on a warm auth-token GET:
// the same request, with the same token carrying a budget claim, to a
// resource with Budgets (hold 1, Charge 1, settle, AAuth-Budget) and to
// one without (the claim unread). Interleaved in alternating order; the
// ratio is x-plain. See BENCHMARKS.md.

// newWarmBudgeted is a warm GET whose token carries a 15-digit budget,
// and the handler behind Require, metered or not.
func newWarmBudgeted(b testing.TB, metered bool) func() {
	w := newWorld(b, func(rs *Resource) {
		rs.Mode, rs.Scope = AuthToken, "read"
		if metered {
			rs.Budgets = &Budgets{Cost: func(*http.Request, r3.BudgetClaim) (int64, error) { return 1, nil }}
		}
	})
	at := w.authToken("read", map[string]any{"budget": budgetOf(999_999_999_999_999)})
	signed := w.request("GET", "/api/data?x=1", "")
	w.agent.sign(b, signed, at, w.clock.Now())
	req := asReceived(b, signed)
	served := 0
	h := w.rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := Charge(r.Context(), 1); err != nil {
			b.Fatal(err)
		}
		rw.WriteHeader(http.StatusNoContent)
		served++
	}))
	// A header map kept from request to request, as a server's is
	// within one response: metering reads back what it set.
	rw := keptHeader{http.Header{}}
	serve := func() {
		clear(rw.h)
		h.ServeHTTP(rw, req)
	}
	serve()
	if served != 1 {
		b.Fatal("the warm-up request was not served")
	}
	return serve
}

// BenchmarkBudgetWarmRatio interleaves the metered and the unmetered
// request and reports x-plain (ratio of the totals) and x-plain-med (of
// the per-iteration medians).
func BenchmarkBudgetWarmRatio(b *testing.B) {
	metered, plain := newWarmBudgeted(b, true), newWarmBudgeted(b, false)
	var mT, pT time.Duration
	var ms, ps []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var m, p time.Duration
		if i%2 == 0 {
			t0 := time.Now()
			metered()
			t1 := time.Now()
			plain()
			m, p = t1.Sub(t0), time.Since(t1)
		} else {
			t0 := time.Now()
			plain()
			t1 := time.Now()
			metered()
			p, m = t1.Sub(t0), time.Since(t1)
		}
		mT += m
		pT += p
		ms, ps = append(ms, m), append(ps, p)
	}
	b.StopTimer()
	b.ReportMetric(float64(mT)/float64(pT), "x-plain")
	b.ReportMetric(float64(median(ms))/float64(median(ps)), "x-plain-med")
	b.ReportMetric(float64(mT.Nanoseconds())/float64(b.N), "metered-ns/op")
	b.ReportMetric(float64(pT.Nanoseconds())/float64(b.N), "plain-ns/op")
}

// BenchmarkBudgetWarm and BenchmarkBudgetWarmPlain are each alone, for
// allocations.
func BenchmarkBudgetWarm(b *testing.B)      { benchBudgetWarm(b, true) }
func BenchmarkBudgetWarmPlain(b *testing.B) { benchBudgetWarm(b, false) }

func benchBudgetWarm(b *testing.B, metered bool) {
	serve := newWarmBudgeted(b, metered)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}

// TestBudgetAllocationBudget holds the allocations metering adds to a
// warm request (a count, not a time): at most 14 over the same request
// unmetered. BENCHMARKS.md has the figures.
func TestBudgetAllocationBudget(t *testing.T) {
	metered, plain := newWarmBudgeted(t, true), newWarmBudgeted(t, false)
	m, p := testing.AllocsPerRun(200, metered), testing.AllocsPerRun(200, plain)
	if m-p > 14 {
		t.Errorf("metering allocates %.0f times per request (%.0f against %.0f), want at most 14", m-p, m, p)
	}
	t.Logf("%.0f allocations metered, %.0f not", m, p)
}

// keptHeader is a ResponseWriter that keeps nothing but its header map.
type keptHeader struct{ h http.Header }

func (k keptHeader) Header() http.Header       { return k.h }
func (keptHeader) Write(p []byte) (int, error) { return len(p), nil }
func (keptHeader) WriteHeader(int)             {}
