package resource

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestKeysCachedAndCoalesced(t *testing.T) {
	w := newWorld(t, nil)
	w.ap.set(func(is *issuer) { is.delay = 50 * time.Millisecond })
	at := w.agentToken(nil)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := w.do("GET", "/data", "", at)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d: %s", resp.StatusCode, bodyOf(resp))
			}
		}()
	}
	wg.Wait()
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusOK, "")
	if m, j := w.ap.metaFetches.Load(), w.ap.jwksFetches.Load(); m != 1 || j != 1 {
		t.Errorf("21 requests fetched the metadata %d and the JWK Set %d times, want 1 and 1", m, j)
	}
}

// TestKeyRotationRefetchFloor: an unknown kid refetches the keys, but at
// most once per KeyRefreshInterval.
func TestKeyRotationRefetchFloor(t *testing.T) {
	w := newWorld(t, nil)
	wantStatus(t, w.do("GET", "/data", "", w.agentToken(nil)), http.StatusOK, "")
	w.ap.rotate()
	w.clock.Advance(30 * time.Second)
	at := w.agentToken(nil)
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusUnauthorized, "unknown_key")
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusUnauthorized, "unknown_key")
	if j := w.ap.jwksFetches.Load(); j != 1 {
		t.Fatalf("an unknown kid inside the floor fetched the JWK Set %d times, want 1", j)
	}
	w.clock.Advance(31 * time.Second)
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusOK, "")
	if j := w.ap.jwksFetches.Load(); j != 2 {
		t.Fatalf("JWK Set fetched %d times, want 2", j)
	}
}

// TestKeyTTLAndStaleOnError: keys are fetched again when their max-age is
// over; when the issuer is then unreachable the keys held stay in use.
func TestKeyTTLAndStaleOnError(t *testing.T) {
	w := newWorld(t, nil)
	at := w.agentToken(map[string]any{"exp": t0.Add(23 * time.Hour).Unix()})
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusOK, "")
	w.clock.Advance(61 * time.Minute) // the default hour is over
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusOK, "")
	if j := w.ap.jwksFetches.Load(); j != 2 {
		t.Fatalf("JWK Set fetched %d times after its hour, want 2", j)
	}
	w.ap.set(func(is *issuer) { is.jwksStatus = http.StatusInternalServerError })
	w.clock.Advance(61 * time.Minute)
	wantStatus(t, w.do("GET", "/data", "", at), http.StatusOK, "")
	if j := w.ap.jwksFetches.Load(); j != 3 {
		t.Fatalf("JWK Set fetched %d times, want 3", j)
	}
}

// TestJWKSOverlap: an issuer publishing two keys, each token verifies with
// its own kid.
func TestJWKSOverlap(t *testing.T) {
	w := newWorld(t, nil)
	old := w.ap.publicJWK()
	oldTok := w.agentToken(nil)
	w.ap.rotate()
	w.ap.set(func(is *issuer) { is.extraKeys = []map[string]any{old} })
	newTok := w.agentToken(nil)
	wantStatus(t, w.do("GET", "/data", "", newTok), http.StatusOK, "")
	wantStatus(t, w.do("GET", "/data", "", oldTok), http.StatusOK, "")
	if j := w.ap.jwksFetches.Load(); j != 1 {
		t.Errorf("JWK Set fetched %d times", j)
	}
}

// TestEgressRefused: a resource on a public name does not fetch from a
// loopback issuer, whatever the token says.
func TestEgressRefused(t *testing.T) {
	w := newWorld(t, nil)
	rs := &Resource{Issuer: "https://resource.example", Now: w.clock.Now, Authorities: []string{w.srv.Listener.Addr().String()}}
	rs.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	w.srv.Config.Handler = rs.Require(http.HandlerFunc(w.echo))
	resp := w.do("GET", "/data", "", w.agentToken(nil))
	wantStatus(t, resp, http.StatusUnauthorized, "unknown_key")
	if w.ap.metaFetches.Load() != 0 {
		t.Error("the resource fetched from a loopback address for a public resource")
	}
	c, _ := rs.config()
	_, err := c.keys.key(context.Background(), w.ap.url, dwkAgent, "k", "Ed25519", false)
	if !errors.Is(err, errEgress) {
		t.Errorf("error %v does not wrap ErrEgress", err)
	}
}

func TestCheckFetchURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://ps.example/.well-known/x", false, true},
		{"http://127.0.0.1:8080/x", false, true},
		{"http://localhost/x", false, true},
		{"http://[::1]:9/x", false, true},
		{"http://ps.example/x", false, false},
		{"http://ps.example/x", true, true},
		{"ftp://ps.example/x", false, false},
		{"/relative", false, false},
		{"https://user:pw@ps.example/", false, false},
		{"mailto:a@b", false, false},
	} {
		_, err := checkFetchURL(tc.url, tc.insecure)
		if (err == nil) != tc.ok {
			t.Errorf("checkFetchURL(%q, %v) = %v", tc.url, tc.insecure, err)
		}
	}
}

func TestGuardedDialer(t *testing.T) {
	pub := netip.MustParseAddr("93.184.215.14")
	for _, tc := range []struct {
		addrs []netip.Addr
		allow bool
		ok    bool
	}{
		{[]netip.Addr{netip.MustParseAddr("10.0.0.1")}, false, false},
		{[]netip.Addr{netip.MustParseAddr("169.254.169.254")}, false, false},
		{[]netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, false, false},
		{[]netip.Addr{netip.MustParseAddr("100.64.1.1")}, false, false},
		{[]netip.Addr{netip.MustParseAddr("fd00::1")}, false, false},
	} {
		d := &guardedDialer{allowInternal: tc.allow, lookup: func(context.Context, string, string) ([]netip.Addr, error) { return tc.addrs, nil }}
		_, err := d.DialContext(context.Background(), "tcp", "ps.example:443")
		if !errors.Is(err, errEgress) {
			t.Errorf("%v: dial error %v, want a refused egress", tc.addrs, err)
		}
	}
	if !hostIsInternal("0.1.2.3") || hostIsInternal(pub.String()) || hostIsInternal("api.example") || !hostIsInternal("[::1]") {
		t.Error("hostIsInternal")
	}
}

func TestAuthorityChecked(t *testing.T) {
	w := newWorld(t, nil)
	req := w.request("GET", "/data", "")
	req.Host = "other.example"
	w.agent.sign(t, req, w.agentToken(nil), w.clock.Now())
	wantStatus(t, w.send(req), http.StatusUnauthorized, "invalid_signature")
}

// TestReplayConcurrent: the same signed POST sent 20 times at once is
// served once; the others are refused as replays.
func TestReplayConcurrent(t *testing.T) {
	w := newWorld(t, nil)
	at := w.agentToken(nil)
	wantStatus(t, w.do("GET", "/warm", "", at), http.StatusOK, "") // keys fetched
	proto := w.request("POST", "/pay", `{"amount":5}`)
	w.agent.sign(t, proto, at, w.clock.Now())
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := proto.Clone(context.Background())
			r.Body, _ = proto.GetBody()
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusOK] != 1 || codes[http.StatusUnauthorized] != 19 {
		t.Errorf("answers %v, want one 200 and nineteen 401", codes)
	}
}
