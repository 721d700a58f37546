package aauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
)

// The findings of issue 11 about bounds and the warm path, each as a test
// that failed on the code before the fix: the token cache's cliff at 4,096
// entries, the flood of redirect-reached origins that flushed the caller's
// tokens, the per-origin state that grew without bound, and the
// Transport-wide locks every warm request took.

// originFarm answers for any number of origins, http://o<N>.localhost, in
// process: its Base gives each request answer's status and header. What
// these tests look at is on the agent's side (the requests are signed for
// real all the same), and thousands of origins must cost neither
// thousands of connections nor a server's work.
type originFarm struct {
	base http.RoundTripper
}

func newOriginFarm(answer func(r *http.Request) (int, http.Header)) *originFarm {
	return &originFarm{base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		status, h := answer(r)
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{StatusCode: status, Header: h, Body: http.NoBody, Request: r}, nil
	})}
}

func (f *originFarm) origin(i int) string { return fmt.Sprintf("http://o%d.localhost", i) }

// sessionFor is the session token a farm resource hands out for host.
func sessionFor(host string) string {
	sum := sha256.Sum256([]byte("session " + host))
	return "sess." + hex.EncodeToString(sum[:16])
}

// farmAgent is a Transport over the farm with a fresh key and an agent
// token that names no person server. The key is a P-256 one: its
// arithmetic is assembly, which the race detector does not slow down, and
// these tests sign thousands of requests.
func farmAgent(t testing.TB, f *originFarm) *aauth.Transport {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &aauth.Transport{Base: f.base, Keys: aauth.StaticKeys(key, aauth.JWT("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2ln"))}
}

func farmGet(t testing.TB, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Finding: MemoryCache held at most 4,096 tokens and then discarded all of
// them. The default cache holds more than that, and a full cache drops one
// token at a time.
func TestFindingMemoryCacheCliff(t *testing.T) {
	ctx := context.Background()
	var c aauth.MemoryCache
	const n = 4097
	for i := 0; i < n; i++ {
		if err := c.SetToken(ctx, fmt.Sprintf("session https://r%d.example", i), &aauth.Token{Value: fmt.Sprintf("tok%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	missing := 0
	for i := 0; i < n; i++ {
		tok, err := c.Token(ctx, fmt.Sprintf("session https://r%d.example", i))
		if err != nil || tok.Value != fmt.Sprintf("tok%d", i) {
			missing++
		}
	}
	if missing != 0 || c.Len() != n {
		t.Fatalf("after storing %d tokens, %d are missing and the cache holds %d", n, missing, c.Len())
	}
}

// Finding: an agent that used 4,097 resources in turn got no cache hit at
// all. Each farm origin hands out a session token; on the second round
// every request presents the one it got on the first.
func TestFindingResourcesInTurn(t *testing.T) {
	var hits, misses atomic.Int64
	f := newOriginFarm(func(r *http.Request) (int, http.Header) {
		tok := sessionFor(r.URL.Host)
		if r.Header.Get("Authorization") == "AAuth "+tok {
			hits.Add(1)
			return 200, nil
		}
		misses.Add(1)
		return 200, http.Header{"Aauth-Access": {tok}}
	})
	c := farmAgent(t, f).Client()
	const n = 4097
	for round := 0; round < 2; round++ {
		for i := 0; i < n; i++ {
			if code := farmGet(t, c, f.origin(i)+"/"); code != 200 {
				t.Fatalf("status %d", code)
			}
		}
	}
	if h, m := hits.Load(), misses.Load(); h != n || m != n {
		t.Fatalf("%d resources used twice in turn: %d requests presented the session token, %d did not (want %d and %d)", n, h, m, n, n)
	}
}

// Finding: 4,096 hostile origins flushed the tokens of a resource the
// caller uses, forcing a new exchange (and perhaps a new consent). Here the
// caller uses the kit's resource, then follows links to a hostile site
// whose every answer is a redirect to a new origin carrying a session token:
// 420 requests of ten origins each (http.Client follows nine redirects),
// 4,200 tokens to keep. The caller's next
// request to its resource still presents the auth token it had.
func TestFindingRedirectFloodKeepsCallersTokens(t *testing.T) {
	clk := aauthtest.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	w := aauthtest.NewWorld(aauthtest.WorldOptions{Now: clk.Now})
	t.Cleanup(w.Close)
	var hop atomic.Int64
	f := newOriginFarm(func(r *http.Request) (int, http.Header) {
		return http.StatusFound, http.Header{
			"Aauth-Access": {sessionFor(r.URL.Host)},
			"Location":     {fmt.Sprintf("http://h%d.localhost/", hop.Add(1))},
		}
	})
	kit := &http.Transport{}
	t.Cleanup(kit.CloseIdleConnections)
	// A P-256 agent key: see farmAgent.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	agentToken, err := w.Agent.Mint("alice", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tr := &aauth.Transport{
		Base: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Hostname(), ".localhost") {
				return f.base.RoundTrip(r)
			}
			return kit.RoundTrip(r)
		}),
		Keys:         aauth.StaticKeys(key, aauth.JWT(agentToken)),
		PersonServer: w.PS.URL,
		Clock:        clk,
	}
	c := tr.Client()
	if code := farmGet(t, c, w.Resource.URL+"/data"); code != 200 {
		t.Fatalf("status %d", code)
	}
	tokenRequests := len(w.PS.PersonTokenRequests()) + len(w.PS.AuthTokenRequests())
	for i := 0; i < 420; i++ {
		resp, err := c.Get(fmt.Sprintf("http://start%d.localhost/", i))
		if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
			t.Fatalf("following the hostile site: %v, %v", resp, err)
		}
	}
	if n := hop.Load(); n != 4200 {
		t.Fatalf("%d hostile answers, want 4,200", n)
	}
	sends := len(w.Resource.Requests())
	if code := farmGet(t, c, w.Resource.URL+"/data"); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := len(w.PS.PersonTokenRequests()) + len(w.PS.AuthTokenRequests()) - tokenRequests; n != 0 {
		t.Errorf("after the flood, %d new token requests for the caller's resource: its tokens were evicted", n)
	}
	if n := len(w.Resource.Requests()) - sends; n != 1 {
		t.Errorf("after the flood, %d resource requests, want 1 presenting the cached auth token", n)
	}
}

// Finding: the Transport's per-origin state (what clock_skew and
// invalid_input answers teach it) grew with every origin that sent one.
// Each of these origins asks for sixteen components with long names, as
// many as one origin may; the state they leave must stay far below what
// keeping it all would take (each origin's list is about 14 KiB).
func TestFindingPerOriginStateBounded(t *testing.T) {
	var comps []string
	for i := 0; i < 16; i++ {
		comps = append(comps, fmt.Sprintf(`"x-%02d-%s"`, i, strings.Repeat("n", 850)))
	}
	required := "error=invalid_input, required_input=(" + strings.Join(comps, " ") + ")"
	f := newOriginFarm(func(*http.Request) (int, http.Header) {
		return 401, http.Header{"Signature-Error": {required}}
	})
	tr := farmAgent(t, f)
	c := tr.Client()
	farmGet(t, c, f.origin(0)+"/")
	before := liveHeap()
	const n = 1000
	for i := 1; i <= n; i++ {
		if code := farmGet(t, c, f.origin(i)+"/"); code != 401 {
			t.Fatalf("status %d", code)
		}
	}
	grown := liveHeap() - before
	runtime.KeepAlive(tr)
	t.Logf("%d origins: the live heap grew by %.1f MB", n, float64(grown)/1e6)
	if grown > 8<<20 {
		t.Fatalf("%d origins asking for components: the live heap grew by %.1f MB", n, float64(grown)/1e6)
	}
}

func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// countingCache counts the lookups a Transport makes in its TokenCache.
type countingCache struct {
	aauth.MemoryCache
	lookups atomic.Int64
}

func (c *countingCache) Token(ctx context.Context, key string) (*aauth.Token, error) {
	c.lookups.Add(1)
	return c.MemoryCache.Token(ctx, key)
}

// warmFarm is a resource that accepts every request (the agent token
// first, then the session token it hands out), and a Transport over it
// whose requests are warm: the session token is cached.
func warmFarm(t testing.TB, tokens aauth.TokenCache) (*aauth.Transport, string) {
	f := newOriginFarm(func(r *http.Request) (int, http.Header) {
		if tok := sessionFor(r.URL.Host); r.Header.Get("Authorization") != "AAuth "+tok {
			return 200, http.Header{"Aauth-Access": {tok}}
		}
		return 200, nil
	})
	tr := farmAgent(t, f)
	tr.Tokens = tokens
	// A long host name, as some are: the locks the warm path used to take
	// were held while it was hashed.
	url := "http://" + strings.Repeat(strings.Repeat("w", 62)+".", 3) + "localhost/data"
	for i := 0; i < 2; i++ {
		farmGet(t, tr.Client(), url)
	}
	return tr, url
}

// Finding: every warm request looked its credential up in the TokenCache,
// under the MemoryCache's one mutex (68 % of the lock wait at 64
// goroutines). A warm request now finds its credential without the cache.
func TestFindingWarmPathSkipsTokenCache(t *testing.T) {
	c := &countingCache{}
	tr, url := warmFarm(t, c)
	before := c.lookups.Load()
	for i := 0; i < 50; i++ {
		farmGet(t, tr.Client(), url)
	}
	if n := c.lookups.Load() - before; n != 0 {
		t.Fatalf("50 warm requests made %d TokenCache lookups, want 0", n)
	}
}

// Finding: the warm path took two Transport-wide mutexes (the
// MemoryCache's and the per-origin state's), and at 64 goroutines they were
// contended. The mutex profile of 64 goroutines making warm requests must
// show no contended wait on a lock that the Transport took. The
// MemoryCache is also read all along by another goroutine, as another
// Transport sharing it would: a Transport that locked it would wait.
func TestFindingWarmPathNoLockContention(t *testing.T) {
	// More threads than CPUs: a thread descheduled while it holds a lock
	// makes the others wait, as on a loaded machine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	cache := &aauth.MemoryCache{}
	tr, url := warmFarm(t, cache)
	// Answers as plain as can be, so that requests spend their time in
	// the Transport.
	tr.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	prev := runtime.SetMutexProfileFraction(1)
	defer runtime.SetMutexProfileFraction(prev)
	before := transportContention()
	stop := make(chan struct{})
	other := make(chan struct{})
	go func() {
		defer close(other)
		for {
			select {
			case <-stop:
				return
			default:
				cache.Token(context.Background(), "session http://other.example")
			}
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < warmRequestsPerGoroutine; i++ {
				req, _ := http.NewRequest("GET", url, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-other
	after := transportContention()
	for stack, n := range after {
		if n > before[stack] {
			t.Errorf("%d contended waits on a lock taken at:\n%s", n-before[stack], stack)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// transportContention returns the mutex profile's records (contended
// waits per stack) of the mutexes a Transport's RoundTrip locked in this
// module's code. (The profile records a wait with the stack of the
// goroutine that unlocked.) Locks inside the runtime (the garbage
// collector's, the allocator's) and inside other packages (a sync.Pool's,
// refilled after each collection), which any code may wait for, are not
// counted.
func transportContention() map[string]int64 {
	var recs []runtime.BlockProfileRecord
	n, _ := runtime.MutexProfile(nil)
	for {
		recs = make([]runtime.BlockProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MutexProfile(recs); ok {
			recs = recs[:n]
			break
		}
	}
	out := map[string]int64{}
	for _, r := range recs {
		var b strings.Builder
		var locker string // the function that unlocked the contended mutex
		roundTrip := false
		frames := runtime.CallersFrames(r.Stack())
		for {
			fr, more := frames.Next()
			fmt.Fprintf(&b, "\t%s\n", fr.Function)
			if locker == "" && !strings.HasPrefix(fr.Function, "sync.(*Mutex)") && !strings.HasPrefix(fr.Function, "sync.(*RWMutex)") {
				locker = fr.Function
			}
			roundTrip = roundTrip || fr.Function == "github.com/aauthgo/aauth.(*Transport).RoundTrip"
			if !more {
				break
			}
		}
		ours := strings.HasPrefix(locker, "github.com/aauthgo/aauth.") || strings.HasPrefix(locker, "github.com/aauthgo/aauth/internal/")
		if ours && roundTrip {
			out[b.String()] += r.Count
		}
	}
	return out
}

// Finding: a request body without GetBody was read into a growing buffer:
// signing a 1 MiB body allocated 2.1 times the body. Its length is known
// (ContentLength), so the buffer is allocated once at its size.
func TestFindingNonReplayableBodyBufferedOnce(t *testing.T) {
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	km := aauth.KeyMaterial{Signer: key, Key: aauth.JWT("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QifQ.c2ln")}
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var s aauth.Signer
	allocated := func() uint64 {
		req, _ := http.NewRequest("POST", "https://resource.example/upload", nil)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := s.Sign(req, km); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got, _ := io.ReadAll(req.Body); !bytes.Equal(got, body) {
			t.Fatal("the body sent is not the body given")
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	allocated() // warm up the package's pools
	if n := allocated(); n > uint64(len(body))*5/4 {
		t.Fatalf("signing a 1 MiB body without GetBody allocated %.2f times the body", float64(n)/float64(len(body)))
	}
}
