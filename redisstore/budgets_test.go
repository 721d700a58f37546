package redisstore_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/redisstore"
	"github.com/aauthgo/aauth/resource"
)

// TestBudgetLedger: a budget held and settled at one replica is seen at
// another; a hold past what remains holds nothing; the smaller amount for
// one token is kept; the key lives until the token's exp plus ClockSkew.
func TestBudgetLedger(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	a := f.store.Budgets()
	b := f.open(t, redisstore.Options{}).Budgets() // another replica
	key := resource.BudgetKey{Issuer: "https://ps.example", JTI: "at-1"}
	until := f.clock.Now().Add(time.Hour)

	if rem, ok, err := a.Reserve(ctx, key, 1000, 300, until); rem != 700 || !ok || err != nil {
		t.Fatalf("Reserve: %d %v %v", rem, ok, err)
	}
	if rem, ok, err := b.Reserve(ctx, key, 1000, 701, until); rem != 700 || ok || err != nil {
		t.Fatalf("a hold past what remains, at another replica: %d %v %v", rem, ok, err)
	}
	if rem, err := b.Settle(ctx, key, 300, 120); rem != 880 || err != nil {
		t.Fatalf("Settle at another replica: %d %v", rem, err)
	}
	if rem, err := a.Settle(ctx, key, 300, 300); rem != 880 || err != nil {
		t.Fatalf("settling a hold twice released nothing more: %d %v", rem, err)
	}
	if rem, ok, _ := a.Reserve(ctx, key, 500, 0, until); rem != 380 || !ok {
		t.Fatalf("a smaller amount: %d %v", rem, ok)
	}
	if rem, ok, _ := a.Reserve(ctx, key, 5000, 381, until); rem != 380 || ok {
		t.Fatalf("a larger amount raised the budget: %d %v", rem, ok)
	}
	want := time.Hour + redisstore.DefaultClockSkew
	if d := f.raw.PTTL(ctx, redisKey("budget", "https://ps.example\x00at-1")).Val(); d > want || d < want-10*time.Second {
		t.Fatalf("PTTL %v, want about %v", d, want)
	}
	if _, _, err := a.Reserve(ctx, key, -1, 0, until); err == nil {
		t.Fatal("a negative amount was accepted")
	}
	if rem, ok, err := a.Reserve(ctx, resource.BudgetKey{Issuer: "x", JTI: "old"}, 10, 1, f.clock.Now().Add(-time.Hour)); ok || rem != 0 || err != nil {
		t.Fatalf("an expired token's budget: %d %v %v", rem, ok, err)
	}
	if rem, err := a.Settle(ctx, resource.BudgetKey{Issuer: "x", JTI: "never"}, 10, 10); rem != 0 || err != nil {
		t.Fatalf("settling a budget not held: %d %v", rem, err)
	}
}

// TestBudgetLedgerForeignAndDown: a value that is not a budget is left
// alone (ErrForeign); while Redis is down the ledger fails closed.
func TestBudgetLedgerForeignAndDown(t *testing.T) {
	f := newFixture(t, redisstore.Options{ReplayOutage: redisstore.LocalOnly})
	ctx := context.Background()
	l := f.store.Budgets()
	key := resource.BudgetKey{Issuer: "https://ps.example", JTI: "foreign"}
	raw := redisKey("budget", "https://ps.example\x00foreign")
	f.raw.Set(ctx, raw, "not a budget", 0)
	if _, _, err := l.Reserve(ctx, key, 10, 1, f.clock.Now().Add(time.Hour)); !errors.Is(err, redisstore.ErrForeign) {
		t.Fatalf("Reserve over a foreign value: %v", err)
	}
	f.raw.Del(ctx, raw)
	f.raw.HSet(ctx, raw, "amount", "ten")
	if _, err := l.Settle(ctx, key, 1, 1); !errors.Is(err, redisstore.ErrForeign) {
		t.Fatalf("Settle over a foreign hash: %v", err)
	}
	if v := f.raw.HGet(ctx, raw, "amount").Val(); v != "ten" {
		t.Fatalf("the foreign value was changed: %q", v)
	}
	f.srv.Stop()
	if _, ok, err := l.Reserve(ctx, key, 10, 1, f.clock.Now().Add(time.Hour)); ok || !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Reserve while down: %v %v", ok, err)
	}
	if _, err := l.Settle(ctx, key, 1, 1); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Settle while down: %v", err)
	}
}

// TestBudgetLedgerRace: replicas race for the last units of one budget;
// exactly as many holds succeed as the budget covers.
func TestBudgetLedgerRace(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	replicas := []*redisstore.BudgetLedger{f.store.Budgets(), f.open(t, redisstore.Options{}).Budgets(), f.open(t, redisstore.Options{}).Budgets()}
	key := resource.BudgetKey{Issuer: "https://ps.example", JTI: "race"}
	until := f.clock.Now().Add(time.Hour)
	var mu sync.Mutex
	held := 0
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := replicas[i%len(replicas)].Reserve(ctx, key, 100, 10, until)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				held++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if held != 10 {
		t.Fatalf("%d holds of 10 out of 100, want 10", held)
	}
	if rem, _, _ := replicas[0].Reserve(ctx, key, 100, 0, until); rem != 0 {
		t.Fatalf("remaining %d", rem)
	}
}

// TestBudgetAcrossReplicas: two replicas of a metered resource share one
// Redis ledger behind a balancer that alternates between them. The
// agent's budget is spent across both, exactly once: the fifth call of
// 250 out of 1000 is refused budget-exhausted wherever it lands, and the
// agent re-authorizes and carries on.
func TestBudgetAcrossReplicas(t *testing.T) {
	_, signer, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFleet(t, 2, startRedis(t).Addr, redisstore.Options{}, false, func(rs *resource.Resource) {
		rs.Mode, rs.Scope = resource.AuthToken, "infer"
		rs.SigningKeys = []resource.SigningKey{{Signer: signer}} // one resource, whichever replica signs
		rs.Budgets = &resource.Budgets{
			Offer: &r3.BudgetClaim{Amount: 1000, Unit: "USD", Decimals: 6},
			Cost:  func(*http.Request, r3.BudgetClaim) (int64, error) { return 250, nil },
		}
	})
	for _, rep := range f.replicas {
		rep.rs.Budgets.Ledger = rep.store.Budgets() // before the first request
	}
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	t.Cleanup(ps.Close)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: ps.URL})
	t.Cleanup(ap.Close)
	tr := &aauth.Transport{Keys: ap.AgentKeys("alice"), PersonServer: ps.URL}
	agent := tr.Client()
	for i, want := range []int64{750, 500, 250, 0, 750} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", f.lb.URL+"/infer", nil)
		resp, err := agent.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		cancel()
		if b, ok := tr.Budget(f.lb.URL); resp.StatusCode != 200 || !ok || b.Remaining != want {
			t.Fatalf("call %d: %d, budget %+v %v; want remaining %d", i+1, resp.StatusCode, b, ok, want)
		}
	}
	auth := 0
	for _, it := range ps.Issued() {
		if it.Kind == aauthtest.TokenAuth {
			auth++
		}
	}
	if served := f.served(); auth != 2 || served[0] == 0 || served[1] == 0 || served[0]+served[1] != 5 {
		t.Fatalf("%d auth tokens; served %v", auth, served)
	}
}
