package redisstore_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/redisstore"
	"github.com/aauthgo/aauth/resource"
)

// TestRevocationsKept: a revocation is kept until its end plus ClockSkew,
// a later one of the same token extends it, an earlier one does not, and
// a revocation already over is not written.
func TestRevocationsKept(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	r := f.store.Revocations()
	other := f.open(t, redisstore.Options{}).Revocations() // another replica
	key := redisKey("revoked", "https://ps.example\x00jti-1")
	pttl := func() time.Duration { return f.raw.PTTL(ctx, key).Val() }
	if ok, err := other.Revoked(ctx, "https://ps.example", "jti-1"); ok || err != nil {
		t.Fatalf("revoked before: %v, %v", ok, err)
	}
	if err := r.Revoke(ctx, "https://ps.example", "jti-1", f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, err := other.Revoked(ctx, "https://ps.example", "jti-1"); !ok || err != nil {
		t.Fatalf("not revoked at another replica: %v, %v", ok, err)
	}
	for _, k := range [][2]string{{"https://ps2.example", "jti-1"}, {"https://ps.example", "jti-2"}} {
		if ok, _ := other.Revoked(ctx, k[0], k[1]); ok {
			t.Fatalf("%v revoked too", k)
		}
	}
	want := time.Hour + redisstore.DefaultClockSkew
	if d := pttl(); d > want || d < want-10*time.Second {
		t.Fatalf("PTTL %v, want about %v", d, want)
	}
	_ = r.Revoke(ctx, "https://ps.example", "jti-1", f.clock.Now().Add(time.Minute))
	if d := pttl(); d < want-10*time.Second {
		t.Fatalf("an earlier revocation shortened it: PTTL %v", d)
	}
	_ = r.Revoke(ctx, "https://ps.example", "jti-1", f.clock.Now().Add(2*time.Hour))
	if d := pttl(); d < 2*time.Hour {
		t.Fatalf("a later revocation did not extend it: PTTL %v", d)
	}
	if err := r.Revoke(ctx, "https://ps.example", "over", f.clock.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if f.raw.Exists(ctx, redisKey("revoked", "https://ps.example\x00over")).Val() != 0 {
		t.Fatal("a revocation already over was written")
	}
}

// TestRevocationsExpire: once its end and ClockSkew are over, Redis
// forgets a revocation.
func TestRevocationsExpire(t *testing.T) {
	f := newFixture(t, redisstore.Options{ClockSkew: time.Millisecond})
	ctx := context.Background()
	r := f.store.Revocations()
	if err := r.Revoke(ctx, "https://ps.example", "short", f.clock.Now().Add(20*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.Revoked(ctx, "https://ps.example", "short"); !ok {
		t.Fatal("not revoked")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := r.Revoked(ctx, "https://ps.example", "short")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revocation outlived its end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRevocationsFailClosed: while Redis is down, Revoked reports an error
// matching ErrUnavailable (the resource answers 503), never "not revoked".
func TestRevocationsFailClosed(t *testing.T) {
	f := newFixture(t, redisstore.Options{ReplayOutage: redisstore.LocalOnly})
	ctx := context.Background()
	r := f.store.Revocations()
	if err := r.Revoke(ctx, "https://ps.example", "x", f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.srv.Stop()
	if ok, err := r.Revoked(ctx, "https://ps.example", "y"); ok || !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Revoked while down: %v, %v", ok, err)
	}
	if err := r.Revoke(ctx, "https://ps.example", "y", f.clock.Now().Add(time.Hour)); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Revoke while down: %v", err)
	}
}

// TestRevocationAcrossReplicas: two resource replicas share one Redis. The
// person server revokes the agent's person token at replica A; replica B,
// which never heard of it, refuses the token (revoked_jwt), and the
// agent's Transport recovers there with a new person token.
func TestRevocationAcrossReplicas(t *testing.T) {
	addr := startRedis(t).Addr
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	t.Cleanup(ps.Close)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: ps.URL})
	t.Cleanup(ap.Close)

	// The balancer sends every request to the replica target names.
	var target atomic.Int32
	var replicas [2]*httptest.Server
	var served [2]atomic.Int32
	var lastToken [2]atomic.Value
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := url.Parse(replicas[target.Load()].URL)
		(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		}}).ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	for i := range replicas {
		rdb := newClient(addr)
		t.Cleanup(func() { rdb.Close() })
		store := redisstore.New(rdb, redisstore.Options{})
		rs := &resource.Resource{Issuer: lb.URL, Mode: resource.PersonToken, Replay: store.Replay(), Revocations: store.Revocations()}
		replicas[i] = httptest.NewServer(rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := resource.FromContext(r.Context())
			served[i].Add(1)
			lastToken[i].Store(c.Token)
			io.WriteString(w, "served")
		})))
		t.Cleanup(replicas[i].Close)
	}
	keys := ap.AgentKeys("alice")
	agent := (&aauth.Transport{Keys: keys, PersonServer: ps.URL}).Client()
	get := func(c *http.Client) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", lb.URL+"/data", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	target.Store(0)
	if st := get(agent); st != 200 || served[0].Load() != 1 {
		t.Fatalf("first call: %d", st)
	}
	pt := lastToken[0].Load().(string)
	if err := ps.RevokeAt(context.Background(), lb.URL, pt); err != nil {
		t.Fatal(err)
	}

	// At replica B, the revoked token, signed by the agent's key.
	target.Store(1)
	km, err := keys.KeyMaterial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	direct := (&aauth.SigningTransport{Keys: aauth.StaticKeys(km.Signer, aauth.JWT(pt))}).Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", lb.URL+"/data", nil)
	resp, err := direct.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Signature-Error") != "error=revoked_jwt" {
		t.Fatalf("replica B: %d %q", resp.StatusCode, resp.Header.Get("Signature-Error"))
	}
	// The agent recovers at B with a new person token.
	if st := get(agent); st != 200 || served[1].Load() != 1 {
		t.Fatalf("after the revocation: %d, served by B %d", st, served[1].Load())
	}
	if lastToken[1].Load().(string) == pt {
		t.Fatal("B served the revoked token")
	}
}
