package aauth_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkHostileOrigins is the memory 100,000 hostile origins leave in a
// Transport (its table of origins and its MemoryCache), measured as the
// growth of the live heap: each origin is visited once and answers with
// what the Transport keeps the most of. Run it with -benchtime=1x; it uses
// only the public API, so that it runs on older code too.
//
//   - signature-errors: 401 with Signature-Error: error=invalid_input
//     naming sixteen headers the request lacks (kept for later requests).
//   - session-tokens: 200 with an AAuth-Access session token of 8 KiB,
//     the longest the Transport accepts.
//   - both: the two at once (a 401 may carry a session token).
//   - tokens-4k: as session-tokens, with tokens just under 4 KiB, the
//     longest that count as one in the MemoryCache's bound.
//   - redirects: the caller calls one origin 10,000 times; each call is a
//     chain of redirects through ten new origins, each with an 8 KiB
//     session token.
func BenchmarkHostileOrigins(b *testing.B) {
	const origins = 100_000
	var names []string
	for i := 0; i < 16; i++ {
		names = append(names, fmt.Sprintf(`"x-hostile-%02d"`, i))
	}
	sigErr := "error=invalid_input, required_input=(" + strings.Join(names, " ") + ")"
	sessionOf := func(host string, n int) string {
		s := sessionFor(host)
		return s + strings.Repeat("x", n-len(s))
	}
	session := func(host string) string { return sessionOf(host, 8<<10) }
	scenarios := []struct {
		name   string
		answer func(r *http.Request) (int, http.Header)
		chain  bool
	}{
		{"signature-errors", func(*http.Request) (int, http.Header) {
			return 401, http.Header{"Signature-Error": {sigErr}}
		}, false},
		{"session-tokens", func(r *http.Request) (int, http.Header) {
			return 200, http.Header{"Aauth-Access": {session(r.URL.Host)}}
		}, false},
		{"both", func(r *http.Request) (int, http.Header) {
			return 401, http.Header{"Signature-Error": {sigErr}, "Aauth-Access": {session(r.URL.Host)}}
		}, false},
		{"tokens-4k", func(r *http.Request) (int, http.Header) {
			return 200, http.Header{"Aauth-Access": {sessionOf(r.URL.Host, 4<<10-1)}}
		}, false},
		{"redirects", nil, true},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			var grown int64
			for b.Loop() {
				var hop atomic.Int64
				answer := sc.answer
				if sc.chain {
					answer = func(r *http.Request) (int, http.Header) {
						return http.StatusFound, http.Header{
							"Aauth-Access": {session(r.URL.Host)},
							"Location":     {fmt.Sprintf("http://h%d.localhost/", hop.Add(1))},
						}
					}
				}
				f := newOriginFarm(answer)
				tr := farmAgent(b, f)
				c := tr.Client()
				if resp, err := c.Get("http://warm.localhost/"); err == nil {
					resp.Body.Close()
				}
				before := liveHeap()
				if sc.chain {
					for i := 0; i < origins/10; i++ {
						if _, err := c.Get("http://start.localhost/"); err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
							b.Fatalf("following the chain: %v", err)
						}
					}
				} else {
					for i := 0; i < origins; i++ {
						farmGet(b, c, f.origin(i)+"/")
					}
				}
				grown = liveHeap() - before
				runtime.KeepAlive(tr)
			}
			b.ReportMetric(float64(grown)/1e6, "MB-live")
			b.ReportMetric(float64(grown)/origins, "B/origin")
		})
	}
}
