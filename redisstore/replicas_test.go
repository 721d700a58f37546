package redisstore_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/redisstore"
	"github.com/aauthgo/aauth/resource"
)

// These tests run a fleet of resource replicas: resource.Resource
// instances with one Issuer, each on its own server and its own Store
// (its own Redis connection, as separate processes have), behind a load
// balancer that sends requests to them in turn. An agent talks to the
// balancer with the library's Transport; an attacker replays a request
// it captured straight to a replica.

// fleet is the resource replicas, their balancer, and an agent.
type fleet struct {
	t        *testing.T
	ap       *aauthtest.AgentProvider
	replicas []*replica // behind the balancer; set before the first request
	lb       *httptest.Server
	next     atomic.Int64
	approved atomic.Int64 // calls of Approve that granted

	agent *http.Client
	tap   *tap
}

// replica is one resource.Resource with its server and store.
type replica struct {
	rs     *resource.Resource
	srv    *httptest.Server
	store  *redisstore.Store
	served atomic.Int64
	mu     sync.Mutex
	caller *resource.Caller // the last served
}

// newFleet starts n replicas. Each gets a Store on addr with opts, unless
// memory is set: then each keeps its replays and sessions to itself, as
// without a shared store.
func newFleet(t *testing.T, n int, addr string, opts redisstore.Options, memory bool, configure func(rs *resource.Resource)) *fleet {
	t.Helper()
	f := &fleet{t: t}
	f.ap = aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{})
	t.Cleanup(f.ap.Close)
	f.lb = httptest.NewServer(http.HandlerFunc(f.balance))
	t.Cleanup(f.lb.Close)
	for range n {
		f.replicas = append(f.replicas, f.start(addr, opts, memory, configure))
	}
	f.tap = &tap{}
	f.agent = (&aauth.Transport{Keys: f.ap.AgentKeys("alice"), Base: f.tap}).Client()
	return f
}

// start starts a replica.
func (f *fleet) start(addr string, opts redisstore.Options, memory bool, configure func(rs *resource.Resource)) *replica {
	rep := &replica{rs: &resource.Resource{Issuer: f.lb.URL, PollInterval: -1}}
	if configure != nil {
		configure(rep.rs)
	}
	if !memory {
		rdb := newClient(addr)
		f.t.Cleanup(func() { rdb.Close() })
		rep.store = redisstore.New(rdb, opts)
		rep.rs.Replay, rep.rs.Sessions = rep.store.Replay(), rep.store.Sessions()
	}
	rep.srv = httptest.NewServer(rep.rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.FromContext(r.Context())
		rep.mu.Lock()
		rep.caller = c
		rep.mu.Unlock()
		rep.served.Add(1)
		io.WriteString(w, "served")
	})))
	f.t.Cleanup(rep.srv.Close)
	return rep
}

// approve is an Approve that grants, counting.
func (f *fleet) approve(context.Context, resource.ApprovalRequest) resource.Approval {
	f.approved.Add(1)
	return resource.Approval{Decision: resource.Granted, Scope: "files"}
}

// balance sends each request to the next replica, keeping its Host (the
// balancer's), for which the agent signed.
func (f *fleet) balance(w http.ResponseWriter, r *http.Request) {
	rep := f.replicas[int(f.next.Add(1)-1)%len(f.replicas)]
	target, _ := url.Parse(rep.srv.URL)
	(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}}).ServeHTTP(w, r)
}

// do sends a request through the balancer as the agent and returns the
// status.
func (f *fleet) do(method, path, body string) int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, f.lb.URL+path, strings.NewReader(body))
	if body == "" {
		req.Body = nil
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.agent.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// lastCaller returns the caller rep served last.
func (rep *replica) lastCaller() *resource.Caller {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	return rep.caller
}

// served returns how many requests each replica served.
func (f *fleet) served() []int64 {
	var n []int64
	for _, rep := range f.replicas {
		n = append(n, rep.served.Load())
	}
	return n
}

// tap is the agent's base transport: it keeps a copy of the last signed
// request it sent, as an attacker on the path would.
type tap struct {
	mu     sync.Mutex
	header http.Header
	host   string
	method string
	path   string
	body   []byte
}

func (t *tap) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	t.mu.Lock()
	t.header, t.host, t.method, t.path, t.body = req.Header.Clone(), req.URL.Host, req.Method, req.URL.RequestURI(), body
	t.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// replay sends the captured request again, byte for byte, straight to
// rep, with the Host it was signed for. It returns the status and the
// Signature-Error.
func (t *tap) replay(tb testing.TB, rep *replica) (int, string) {
	tb.Helper()
	t.mu.Lock()
	req, err := http.NewRequest(t.method, rep.srv.URL+t.path, bytes.NewReader(t.body))
	if err == nil {
		req.Header, req.Host = t.header.Clone(), t.host
	}
	t.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Signature-Error")
}

// TestReplicasRefuseReplay: a signed POST served by one replica, replayed
// to the other, is refused there; a replica outside the shared store
// (its own memory) serves the same replay, which shows the request was
// otherwise valid. Sent to both replicas at once, one signed request is
// served once.
func TestReplicasRefuseReplay(t *testing.T) {
	srv := startRedis(t)
	f := newFleet(t, 2, srv.Addr, redisstore.Options{}, false, nil)
	if s := f.do("POST", "/orders", `{"n":1}`); s != http.StatusOK {
		t.Fatalf("POST: %d", s)
	}
	if got := f.served(); got[0] != 1 || got[1] != 0 {
		t.Fatalf("served %v, want the first replica", got)
	}
	for i, rep := range f.replicas {
		status, sigErr := f.tap.replay(t, rep)
		if status != http.StatusUnauthorized || !strings.Contains(sigErr, "invalid_signature") {
			t.Fatalf("replay to replica %d: %d %q, want 401 invalid_signature", i, status, sigErr)
		}
	}
	loner := f.start("", redisstore.Options{}, true, nil) // not behind the balancer
	if status, sigErr := f.tap.replay(t, loner); status != http.StatusOK {
		t.Fatalf("replay to a replica with its own memory: %d %q; the captured request is not valid", status, sigErr)
	}

	// One signed request, 20 copies sent at once to both replicas.
	if s := f.do("POST", "/orders", `{"n":2}`); s != http.StatusOK {
		t.Fatalf("POST: %d", s)
	}
	before := f.replicas[0].served.Load() + f.replicas[1].served.Load()
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range 20 {
		wg.Go(func() {
			if s, _ := f.tap.replay(t, f.replicas[i%2]); s == http.StatusOK {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	after := f.replicas[0].served.Load() + f.replicas[1].served.Load()
	if ok.Load() != 0 || after != before {
		t.Fatalf("%d of 20 replays served", ok.Load())
	}
}

// TestReplicasShareSessions: a session token granted by one replica is
// honoured by the other: one approval for the fleet. With each replica's
// own memory, the second replica knows nothing of it and asks again.
func TestReplicasShareSessions(t *testing.T) {
	srv := startRedis(t)
	for _, memory := range []bool{false, true} {
		var f *fleet
		f = newFleet(t, 2, srv.Addr, redisstore.Options{}, memory, func(rs *resource.Resource) {
			rs.Mode = resource.SessionToken
			rs.Approve = func(ctx context.Context, req resource.ApprovalRequest) resource.Approval { return f.approve(ctx, req) }
		})
		for i := range 4 {
			if s := f.do("GET", "/files", ""); s != http.StatusOK {
				t.Fatalf("memory %v: GET %d: %d", memory, i, s)
			}
		}
		if got := f.served(); got[0] != 2 || got[1] != 2 {
			t.Fatalf("served %v, want 2 and 2", got)
		}
		want := int64(1)
		if memory {
			want = 4 // each replica replaces the other's token
		}
		if n := f.approved.Load(); n != want {
			t.Fatalf("memory %v: %d approvals, want %d", memory, n, want)
		}
		c := f.replicas[1].lastCaller()
		if !memory && (c.Session == nil || c.Session.Scope != "files" || c.Session.Agent != f.ap.Subject("alice")) {
			t.Fatalf("the second replica's caller: %+v", c)
		}
	}
}

// TestReplicasRedisDown: with Redis down, by default state-changing
// requests are refused (503) at every replica, safe ones served, and
// sessions go on; once Redis is back, replays are refused fleet-wide
// again. With LocalOnly, state-changing requests are served and a replay
// is refused by the replica that saw it, though not by the other.
func TestReplicasRedisDown(t *testing.T) {
	srv := startRedis(t)
	t.Run("fail closed", func(t *testing.T) {
		ev := storetest.NewEvents(t, secret)
		f := newFleet(t, 2, srv.Addr, redisstore.Options{RetryAfter: 10 * time.Millisecond, OnEvent: ev.Add}, false, nil)
		f.do("GET", "/warm", "") // the replicas fetch the agent provider's keys
		srv.Stop()
		for i := range 2 { // one at each replica
			if s := f.do("POST", "/orders", `{"n":1}`); s != http.StatusServiceUnavailable {
				t.Fatalf("POST %d with Redis down: %d, want 503", i, s)
			}
		}
		for i := range 2 {
			if s := f.do("GET", "/orders", ""); s != http.StatusOK {
				t.Fatalf("GET %d with Redis down: %d, want 200", i, s)
			}
		}
		if n := ev.Count(redisstore.StepUnavailable); n != 2 {
			t.Fatalf("%d unavailable events, want 2 (one per replica)", n)
		}
		srv.Restart()
		time.Sleep(20 * time.Millisecond) // RetryAfter
		if s := f.do("POST", "/orders", `{"n":2}`); s != http.StatusOK {
			t.Fatalf("POST with Redis back: %d", s)
		}
		for i, rep := range f.replicas {
			if status, _ := f.tap.replay(t, rep); status != http.StatusUnauthorized {
				t.Fatalf("replay to replica %d with Redis back: %d", i, status)
			}
		}
	})
	t.Run("local only", func(t *testing.T) {
		srv.Restart()
		opts := redisstore.Options{RetryAfter: time.Minute, ReplayOutage: redisstore.LocalOnly}
		f := newFleet(t, 2, srv.Addr, opts, false, nil)
		f.do("GET", "/warm", "")
		srv.Stop()
		if s := f.do("POST", "/orders", `{"n":1}`); s != http.StatusOK {
			t.Fatalf("POST with Redis down: %d", s)
		}
		if status, _ := f.tap.replay(t, f.replicas[1]); status != http.StatusUnauthorized {
			t.Fatalf("replay to the replica that served it: %d, want 401", status)
		}
		if status, _ := f.tap.replay(t, f.replicas[0]); status != http.StatusOK {
			t.Fatalf("replay to the other replica: %d; LocalOnly's documented gap is not what the doc says", status)
		}
	})
	t.Run("sessions", func(t *testing.T) {
		srv.Restart()
		var f *fleet
		f = newFleet(t, 2, srv.Addr, redisstore.Options{RetryAfter: time.Minute}, false, func(rs *resource.Resource) {
			rs.Mode = resource.SessionToken
			rs.Approve = func(ctx context.Context, req resource.ApprovalRequest) resource.Approval { return f.approve(ctx, req) }
		})
		f.do("GET", "/files", "") // granted at replica 0
		f.do("GET", "/files", "") // honoured, and read, at replica 1
		srv.Stop()
		for i := range 4 {
			if s := f.do("GET", "/files", ""); s != http.StatusOK {
				t.Fatalf("GET %d with Redis down: %d", i, s)
			}
		}
		if n := f.approved.Load(); n != 1 {
			t.Fatalf("%d approvals, want 1: the replicas went on with the session", n)
		}
	})
}
