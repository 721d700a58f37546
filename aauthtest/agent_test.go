package aauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

func TestAgentProvider(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := NewWorld(WorldOptions{Profile: p})
			defer w.Close()
			md := get(t, w.Agent.URL+"/.well-known/aauth-agent.json").expect(t, 200).json(t)
			if md["issuer"] != w.Agent.URL {
				t.Fatalf("metadata %v", md)
			}
			a, err := w.NewAgent("alice")
			if err != nil {
				t.Fatal(err)
			}
			typ, alg := typOf(t, a.Token)
			wantAlg := map[wire.Profile]string{wire.ProfileCurrent: "Ed25519", wire.ProfileSeed: "EdDSA"}[p]
			if typ != "aa-agent+jwt" || alg != wantAlg {
				t.Errorf("typ %q alg %q", typ, alg)
			}
			c := verifyJWT(t, a.Token, claimStr(md, "jwks_uri"), time.Now())
			if c["iss"] != w.Agent.URL || c["sub"] != "aauth:alice@127.0.0.1" || c["ps"] != w.PS.URL || c["dwk"] != "aauth-agent.json" {
				t.Errorf("claims %v", c)
			}
			cnf := c["cnf"].(map[string]any)["jwk"].(map[string]any)
			if (p == wire.ProfileCurrent) != (cnf["alg"] == "Ed25519") {
				t.Errorf("cnf.jwk %v", cnf)
			}
			if a.Subject != "aauth:alice@127.0.0.1" || a.Expiry.Before(time.Now().Add(59*time.Minute)) {
				t.Errorf("agent %+v", a)
			}
		})
	}
	t.Run("P-256 key", func(t *testing.T) {
		w := NewWorld(WorldOptions{Resource: ResourceOptions{Mode: AccessAgentToken}})
		defer w.Close()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tok, err := w.Agent.Mint("aauth:p256@127.0.0.1", key.Public())
		if err != nil {
			t.Fatal(err)
		}
		tr := &aauth.SigningTransport{Keys: aauth.StaticKeys(key, aauth.JWT(tok))}
		resp, err := tr.Client().Get(w.Resource.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		if r := readResponse(t, resp).expect(t, 200).json(t); r["agent"] != "aauth:p256@127.0.0.1" {
			t.Errorf("echo %v", r)
		}
	})
	t.Run("renewing keys", func(t *testing.T) {
		w := NewWorld(WorldOptions{})
		defer w.Close()
		km, err := w.AgentKeys("carol").KeyMaterial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := parseToken(km.Key.Token)
		if tok.str("ps") != w.PS.URL || tok.str("sub") != "aauth:carol@127.0.0.1" {
			t.Errorf("claims %v", tok.claims)
		}
	})
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewFakeClock(t0)
	c.Advance(time.Minute)
	if !c.Now().Equal(t0.Add(time.Minute)) {
		t.Error(c.Now())
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Error(c.Now())
	}
}

// Many agents run the whole flow at once against one World, with
// deferrals; run with -race.
func TestConcurrentFlows(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := NewWorld(WorldOptions{Profile: p})
			defer w.Close()
			w.PS.SetPolicy(func(tr *TokenRequest) Decision {
				if tr.Kind == TokenAuth {
					return Defer(Approval(), Pending())
				}
				return Approve()
			})
			const n = 12
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := newClient(t, w)
					url := w.Resource.URL + "/data"
					r := c.do("GET", url, "", nil, nil)
					presented := c.agent.Token
					if p == wire.ProfileCurrent {
						presented = c.personToken(w.PS, w.Resource.URL)
						r = c.do("GET", url, presented, nil, nil)
					}
					ch := r.challenge(t)
					r = c.exchange(w.PS, ch.ResourceToken, presented)
					for r.Status == 202 {
						r = c.poll(r)
					}
					at := tokenOf(t, r.expect(t, 200))
					c.do("GET", url, at, nil, nil).expect(t, 200)
				}()
			}
			wg.Wait()
			if got := len(w.PS.AuthTokenRequests()); got != n {
				t.Errorf("AuthTokenRequests = %d", got)
			}
			if got := w.PS.Polls(); got != 2*n {
				t.Errorf("Polls = %d", got)
			}
			if got := w.Resource.Served(); got != n {
				t.Errorf("Served = %d", got)
			}
		})
	}
}

// No goroutine of the servers outlives Close.
func TestNoGoroutineOutlivesClose(t *testing.T) {
	settle := func() int {
		n := runtime.NumGoroutine()
		for i := 0; i < 100; i++ {
			time.Sleep(20 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n {
				return m
			}
			n = m
		}
		return n
	}
	before := settle()
	for i := 0; i < 3; i++ {
		w := NewWorld(WorldOptions{})
		c := newClient(t, w)
		w.PS.Queue(TokenAuth, Defer(Interaction().Times(1)))
		url := w.Resource.URL + "/data"
		pt := c.personToken(w.PS, w.Resource.URL)
		ch := c.do("GET", url, pt, nil, nil).challenge(t)
		r := c.exchange(w.PS, ch.ResourceToken, pt)
		c.poll(r).expect(t, 200)
		w.Close()
	}
	// The test client's own idle connections are not the kit's.
	closeIdle()
	var after int
	for i := 0; i < 50; i++ {
		if after = settle(); after <= before {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
}
