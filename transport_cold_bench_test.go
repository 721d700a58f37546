package aauth_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/wire"
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
		personTokens: len(w.PS.PersonTokenRequests()),
		exchs:        len(w.PS.AuthTokenRequests()),
	}
}

// warmServers runs one cold flow for another agent and forgets its
// records, so that the kit's servers have fetched each other's keys before
// a burst: they cache keys but do not coalesce fetches, and a thousand
// requests arriving before the first fetch completes would fetch them a
// thousand times over, time out on a loaded machine and refuse valid
// tokens (Signature-Error unknown_key), which the Transport rightly
// answers by exchanging again. The Transport under test still starts cold:
// its caches are its own.
func warmServers(tb testing.TB, w *aauthtest.World) {
	tb.Helper()
	tr := coldTransport(w, w.AgentKeys("warm-up"))
	defer closeIdle(tr)
	resp, err := tr.Client().Get(w.Resource.URL + "/data")
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("warm-up: status %d", resp.StatusCode)
	}
	w.Reset()
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
func checkConcurrentCold(tb testing.TB, w *aauthtest.World, n, failed int, got coldCounts) {
	tb.Helper()
	if failed != 0 {
		tb.Fatalf("%d of %d requests failed\n%s", failed, n, answers(w))
	}
	wantPerson := 1
	if w.Profile == aauth.ProfileSeed {
		wantPerson = 0
	}
	if got.personTokens != wantPerson || got.exchs != 1 {
		tb.Fatalf("%d concurrent cold requests: %d person-token requests and %d exchanges, want %d and 1\n%s", n, got.personTokens, got.exchs, wantPerson, answers(w))
	}
}

// answers summarises what the servers answered to the agent's requests,
// without token values: how many of each kind.
func answers(w *aauthtest.World) string {
	count := map[string]int{}
	for _, srv := range []struct {
		name string
		reqs []aauthtest.RecordedRequest
	}{{"resource", w.Resource.Requests()}, {"person server", w.PS.Requests()}} {
		for _, r := range srv.reqs {
			if r.Header.Get("Signature-Key") == "" {
				continue
			}
			k := fmt.Sprintf("%s: %s %s presenting %s → %d", srv.name, r.Method, r.Path, r.Presented, r.Status)
			if v := r.ResponseHeader.Get("AAuth-Requirement"); v != "" {
				if c, err := wire.ParseRequirement(v); err == nil {
					k += " requirement=" + string(c.Requirement)
				}
			}
			if r.SignatureError != "" {
				k += " Signature-Error " + r.SignatureError + " (" + r.Problem + ")"
			}
			count[k]++
		}
	}
	var lines []string
	for k, c := range count {
		lines = append(lines, fmt.Sprintf("  %5d × %s", c, k))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// A thousand goroutines start cold on one resource: one person-token
// request (current profile) and one exchange serve them all.
func TestTransportThousandConcurrentColdOneExchange(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 concurrent requests through the kit: seconds, more under -race")
	}
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := aauthtest.NewWorld(aauthtest.WorldOptions{Profile: p})
			defer w.Close()
			warmServers(t, w)
			const n = 1000
			failed := concurrentCold(w, w.AgentKeys("alice"), n)
			got := countCold(w)
			checkConcurrentCold(t, w, n, failed, got)
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
			warmServers(b, w)
			keys := w.AgentKeys("alice")
			var got coldCounts
			for b.Loop() {
				b.StopTimer()
				w.Reset()
				b.StartTimer()
				failed := concurrentCold(w, keys, n)
				b.StopTimer()
				got = countCold(w)
				checkConcurrentCold(b, w, n, failed, got)
				b.StartTimer()
			}
			b.ReportMetric(float64(got.exchs), "exchanges/op")
			b.ReportMetric(float64(got.personTokens), "person-tokens/op")
			b.ReportMetric(float64(got.resource), "resource-rt/op")
			b.ReportMetric(float64(got.ps), "ps-rt/op")
		})
	}
}
