package aauth_test

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// The cold flow, counted: round trips per profile for one cold request, and
// 1,000 concurrent cold requests to one resource, which must share one
// person-token request (current profile) and one exchange. These are
// counts, not times, so the benchmarks assert them as the tests do; the
// benchmarks also report them, for BENCHMARKS.md.

// coldRoundTrips is what one cold request costs: the README's table.
var coldRoundTrips = map[aauth.Profile]struct{ resource, ps int }{
	aauth.ProfileCurrent: {3, 3}, // agent → person → auth token; metadata, person token, auth token
	aauth.ProfileSeed:    {2, 2}, // agent → auth token; metadata, token
}

// signedCount counts the requests that carry a Signature-Key: the agent's.
// The kit's servers also fetch each other's metadata and keys, unsigned.
func signedCount(reqs []aauthtest.RecordedRequest) int {
	n := 0
	for _, r := range reqs {
		if r.Header.Get("Signature-Key") != "" {
			n++
		}
	}
	return n
}

// coldTransport is a Transport with an empty cache: its first request to
// any resource is cold. Its own connection pool keeps enough idle
// connections for the concurrent case, so a thousand requests do not open
// thousands of connections one after another.
func coldTransport(w *aauthtest.World, keys aauth.KeySource) *aauth.Transport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 1024
	return &aauth.Transport{
		Base:          base,
		Keys:          keys,
		PersonServer:  w.PS.URL,
		Profile:       w.Profile,
		Capabilities:  []aauth.Capability{aauth.CapabilityInteraction},
		Justification: "read the data",
	}
}

func closeIdle(t *aauth.Transport) { t.Base.(*http.Transport).CloseIdleConnections() }

// coldCounts is what a cold run cost at the servers.
type coldCounts struct {
	resource, ps        int // signed requests received
	personTokens, exchs int // POSTs to the person-token and auth-token endpoints
}

func countCold(w *aauthtest.World) coldCounts {
	return coldCounts{
		resource:     signedCount(w.Resource.Requests()),
		ps:           signedCount(w.PS.Requests()),
		personTokens: w.PS.PersonTokenRequests(),
		exchs:        w.PS.AuthTokenRequests(),
	}
}

// concurrentCold sends n GETs to one resource at once through a fresh
// Transport and returns how many did not end in 200.
func concurrentCold(w *aauthtest.World, keys aauth.KeySource, n int) (failed int) {
	tr := coldTransport(w, keys)
	defer closeIdle(tr)
	c := tr.Client()
	url := w.Resource.URL + "/data"
	start := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := c.Get(url)
			if err != nil {
				bad.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				bad.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(bad.Load())
}

// checkConcurrentCold asserts the one-exchange property of a concurrent
// cold run.
func checkConcurrentCold(tb testing.TB, p aauth.Profile, n, failed int, got coldCounts) {
	tb.Helper()
	if failed != 0 {
		tb.Fatalf("%d of %d requests failed", failed, n)
	}
	wantPerson := 1
	if p == aauth.ProfileSeed {
		wantPerson = 0
	}
	if got.personTokens != wantPerson || got.exchs != 1 {
		tb.Fatalf("%d concurrent cold requests: %d person-token requests and %d exchanges, want %d and 1", n, got.personTokens, got.exchs, wantPerson)
	}
}

// A thousand goroutines start cold on one resource: one person-token
// request (current profile) and one exchange serve them all.
func TestTransportThousandConcurrentColdOneExchange(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := aauthtest.NewWorld(aauthtest.WorldOptions{Profile: p})
			defer w.Close()
			const n = 1000
			failed := concurrentCold(w, w.AgentKeys("alice"), n)
			got := countCold(w)
			checkConcurrentCold(t, p, n, failed, got)
			t.Logf("%d requests: %d signed resource requests, %d signed person-server requests", n, got.resource, got.ps)
		})
	}
}

// BenchmarkTransportCold runs one cold request per iteration, each through
// a fresh Transport, and asserts and reports its round trips.
func BenchmarkTransportCold(b *testing.B) {
	for _, p := range profiles {
		b.Run(p.String(), func(b *testing.B) {
			w := aauthtest.NewWorld(aauthtest.WorldOptions{Profile: p})
			defer w.Close()
			keys := w.AgentKeys("alice")
			want := coldRoundTrips[p]
			var got coldCounts
			for b.Loop() {
				b.StopTimer()
				w.Reset()
				tr := coldTransport(w, keys)
				b.StartTimer()
				resp, err := tr.Client().Get(w.Resource.URL + "/data")
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				b.StopTimer()
				closeIdle(tr)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				got = countCold(w)
				if got.resource != want.resource || got.ps != want.ps {
					b.Fatalf("cold %s: %d resource + %d person-server round trips, want %d + %d", p, got.resource, got.ps, want.resource, want.ps)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(got.resource), "resource-rt/op")
			b.ReportMetric(float64(got.ps), "ps-rt/op")
			b.ReportMetric(float64(got.resource+got.ps), "rt/op")
		})
	}
}

// BenchmarkTransportCold1000 sends 1,000 concurrent cold requests to one
// resource per iteration, through a fresh Transport, and asserts and
// reports that they cost one exchange.
func BenchmarkTransportCold1000(b *testing.B) {
	const n = 1000
	for _, p := range profiles {
		b.Run(p.String(), func(b *testing.B) {
			w := aauthtest.NewWorld(aauthtest.WorldOptions{Profile: p})
			defer w.Close()
			keys := w.AgentKeys("alice")
			var got coldCounts
			for b.Loop() {
				b.StopTimer()
				w.Reset()
				b.StartTimer()
				failed := concurrentCold(w, keys, n)
				b.StopTimer()
				got = countCold(w)
				checkConcurrentCold(b, p, n, failed, got)
				b.StartTimer()
			}
			b.ReportMetric(float64(got.exchs), "exchanges/op")
			b.ReportMetric(float64(got.personTokens), "person-tokens/op")
			b.ReportMetric(float64(got.resource), "resource-rt/op")
			b.ReportMetric(float64(got.ps), "ps-rt/op")
		})
	}
}
