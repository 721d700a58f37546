package resource_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
)

// budgetE2E is a metered resource behind the kit's person server, called
// by aauth.Transport: each call holds 250 micro-dollars and is charged
// charge (250 unless set).
type budgetE2E struct {
	*e2e
	tr *aauth.Transport

	mu      sync.Mutex
	reasons []string // the reason of each challenge the agent met
}

func newBudgetE2E(t *testing.T, offer *r3.BudgetClaim) *budgetE2E {
	t.Helper()
	b := &budgetE2E{}
	b.e2e = newE2E(t, func(rs *resource.Resource) {
		rs.Mode, rs.Scope = resource.AuthToken, "infer"
		rs.Budgets = &resource.Budgets{
			Units: []resource.BudgetUnit{{Unit: "USD", Decimals: 6}},
			Offer: offer,
			Cost:  func(*http.Request, r3.BudgetClaim) (int64, error) { return 250, nil },
		}
	}, func(e *e2e) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := resource.Charge(r.Context(), 250); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			e.echo(w, r)
		})
	})
	b.tr = &aauth.Transport{Keys: b.ap.AgentKeys("alice"), PersonServer: b.ps.URL, OnEvent: func(ev aauth.Event) {
		if ev.Reason != "" {
			b.mu.Lock()
			b.reasons = append(b.reasons, ev.Reason)
			b.mu.Unlock()
		}
	}}
	b.client = b.tr.Client()
	return b
}

// call makes one call and returns what the agent knows of its budget.
func (b *budgetE2E) call(t *testing.T) (r3.Budget, bool) {
	t.Helper()
	b.get(t, "/infer")
	return b.tr.Budget(b.srv.URL)
}

// authBudgets are the budget claims of the auth tokens the person server
// issued, in order (nil for one without).
func (b *budgetE2E) authBudgets() []any {
	var out []any
	for _, it := range b.ps.Issued() {
		if it.Kind == aauthtest.TokenAuth {
			out = append(out, it.Claims["budget"])
		}
	}
	return out
}

func budgetJSON(v any) string {
	j, _ := json.Marshal(v)
	return string(j)
}

// TestTransportBudgetSpentAndRenewed: the person server copies the
// resource token's budget into the auth token; the agent sees it spent
// call by call in AAuth-Budget; once it is spent the resource answers
// reason=budget-exhausted and the agent re-authorizes and carries on with
// a fresh budget, which the person server narrowed (never raised).
func TestTransportBudgetSpentAndRenewed(t *testing.T) {
	b := newBudgetE2E(t, &r3.BudgetClaim{Amount: 1000, Unit: "USD", Decimals: 6})
	for _, want := range []int64{750, 500, 250, 0} {
		got, ok := b.call(t)
		if !ok || got.Remaining != want || got.Cost != 250 || got.Unit != "USD" || got.Decimals != 6 {
			t.Fatalf("Transport.Budget = %+v, %v; want remaining %d", got, ok, want)
		}
	}
	// The person server grants less this time; a policy asking for more
	// than the offer is held to the offer.
	b.ps.SetBudgetPolicy(func(tr *aauthtest.TokenRequest, offered r3.BudgetClaim) int64 {
		if offered.Unit != "USD" || offered.Decimals != 6 || offered.Amount != 1000 {
			t.Errorf("the policy was offered %+v", offered)
		}
		return 600
	})
	if got, _ := b.call(t); got.Remaining != 350 {
		t.Fatalf("after re-authorizing: %+v", got)
	}
	b.mu.Lock()
	reasons := b.reasons
	b.mu.Unlock()
	if len(reasons) != 1 || reasons[0] != r3.ReasonBudgetExhausted {
		t.Errorf("challenge reasons %q, want one budget-exhausted", reasons)
	}
	want := `[{"amount":1000,"decimals":6,"unit":"USD"},{"amount":600,"decimals":6,"unit":"USD"}]`
	if got := budgetJSON(b.authBudgets()); got != want {
		t.Errorf("auth token budgets %s, want %s", got, want)
	}
	b.ps.SetBudgetPolicy(func(*aauthtest.TokenRequest, r3.BudgetClaim) int64 { return 5000 })
	b.call(t) // 100 left
	if got, _ := b.call(t); got.Remaining != 750 {
		t.Fatalf("after the third token: %+v", got)
	}
	if got := budgetJSON(b.authBudgets()[2]); got != `{"amount":1000,"decimals":6,"unit":"USD"}` {
		t.Errorf("a policy raising the amount got %s", got)
	}
	if len(b.callers) != 7 {
		t.Errorf("the handler ran %d times, want 7", len(b.callers))
	}
}

// TestTransportBudgetNotAdded: a resource token without a budget gets an
// auth token without one, whatever the person server's policy, and the
// calls are not metered.
func TestTransportBudgetNotAdded(t *testing.T) {
	b := newBudgetE2E(t, nil)
	b.ps.SetBudgetPolicy(func(*aauthtest.TokenRequest, r3.BudgetClaim) int64 { return 10 })
	for range 5 {
		if _, ok := b.call(t); ok {
			t.Fatal("a budget reported for an unbudgeted token")
		}
	}
	if got := budgetJSON(b.authBudgets()); got != `[null]` {
		t.Errorf("auth token budgets %s", got)
	}
}

// TestKitRefusesMalformedBudget: the person server refuses a resource
// token whose budget is malformed, or disagrees with the resource's
// budget_units (a stale scale), with invalid_budget (Budgets draft
// §Errors); the agent gets the error, and the resource never serves.
func TestKitRefusesMalformedBudget(t *testing.T) {
	for name, budget := range map[string]map[string]any{
		"negative":           {"amount": -1, "unit": "USD", "decimals": 6},
		"stale-decimals":     {"amount": 100, "unit": "USD", "decimals": 2},
		"undeclared-unit":    {"amount": 100, "unit": "EUR", "decimals": 2},
		"decimals-as-string": {"amount": 100, "unit": "USD", "decimals": "6"},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBudgetE2E(t, nil)
			// The Resource refuses to be configured with such an offer
			// (TestBudgetConfigErrors); a Need can still put one in a token.
			b.rs.Policy = func(*http.Request, *resource.Caller) resource.Need {
				return resource.Need{Mode: resource.AuthToken, Scope: "infer", ResourceTokenClaims: map[string]any{"budget": budget}}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", b.srv.URL+"/infer", nil)
			resp, err := b.client.Do(req)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("the agent got %d %s, want the person server's error", resp.StatusCode, body)
			}
			var refused bool
			for _, rr := range b.ps.AuthTokenRequests() {
				refused = refused || strings.Contains(rr.Problem, "budget")
			}
			if !refused || !strings.Contains(err.Error(), "invalid_budget") {
				t.Errorf("the person server did not refuse the budget: %v", err)
			}
			if n := len(b.authBudgets()); n != 0 || len(b.callers) != 0 {
				t.Errorf("%d auth tokens issued, %d calls served", n, len(b.callers))
			}
		})
	}
}

// TestTransportBudgetHeldCall: a call held for an auth token (a 202 the
// agent polls) is metered when it runs, and its answer, kept whole, has
// AAuth-Budget in the header form even when the handler streams
// (ChargeLater): a kept answer has no trailer. Warm calls are streamed,
// and the Transport adds the trailer's cost once the body is read.
func TestTransportBudgetHeldCall(t *testing.T) {
	e := newE2E(t, func(rs *resource.Resource) {
		rs.Policy = func(*http.Request, *resource.Caller) resource.Need {
			return resource.Need{Mode: resource.AuthToken, Scope: "infer", Defer: true}
		}
		rs.Budgets = &resource.Budgets{
			Offer: &r3.BudgetClaim{Amount: 1000, Unit: "USD", Decimals: 6},
			Cost:  func(*http.Request, r3.BudgetClaim) (int64, error) { return 400, nil },
		}
	}, func(e *e2e) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resource.ChargeLater(r.Context())
			io.WriteString(w, "one ")
			w.(http.Flusher).Flush()
			if err := resource.Charge(r.Context(), 150); err != nil {
				t.Error(err)
			}
			e.echo(w, r)
		})
	})
	tr := &aauth.Transport{Keys: e.ap.AgentKeys("alice"), PersonServer: e.ps.URL}
	e.client = tr.Client()
	e.get(t, "/infer")
	if b, ok := tr.Budget(e.srv.URL); !ok || b.Remaining != 850 || b.Cost != 150 || b.Has(r3.BudgetReserved) {
		t.Fatalf("Transport.Budget = %+v, %v; want remaining 850, cost 150", b, ok)
	}
	// Warm: served at once, in the streamed form: the header's figures,
	// and once the body has been read, the trailer's cost with them.
	for _, want := range []int64{450, 300} {
		e.get(t, "/infer")
		b, ok := tr.Budget(e.srv.URL)
		if !ok || b.Remaining != want || b.Reserved != 400 || b.Cost != 150 || b.Balance() != want+400-150 {
			t.Fatalf("Transport.Budget = %+v, %v; want remaining %d, reserved 400, cost 150", b, ok, want)
		}
	}
}
