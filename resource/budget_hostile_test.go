package resource

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/r3"
)

// Budget attacks (Budgets draft): an auth token whose budget claim is
// malformed, out of range or in a unit the resource does not meter is
// refused 403 invalid_budget, never served unmetered; a spent budget
// stays spent; a request bounded past the remainder is refused without
// drawing down; a full ledger fails closed. The race for the last units is
// TestBudgetConcurrentLastUnits.
func init() { hostileCases = append(hostileCases, budgetHostileCases()...) }

// budgetGET signs a GET of path presenting an auth token whose budget
// claim is budget.
func budgetGET(path string, budget any) func(w *world) *http.Request {
	return func(w *world) *http.Request {
		r := w.request("GET", path, "")
		w.agent.sign(w.t, r, w.authToken("data.read", map[string]any{"budget": budget}), w.clock.Now())
		return r
	}
}

// budgetRefusedWith checks a refusal's problem error.
func budgetRefusedWith(code string) func(t *testing.T, resp *http.Response) {
	return func(t *testing.T, resp *http.Response) {
		var p struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(bodyOf(resp)), &p) != nil || p.Error != code {
			t.Errorf("problem %s, want error %s", bodyOf(resp), code)
		}
		if resp.Header.Get(r3.BudgetHeader) != "" {
			t.Errorf("AAuth-Budget %q on a refusal of an unusable budget", resp.Header.Get(r3.BudgetHeader))
		}
	}
}

func budgetHostileCases() []hostileCase {
	invalid := func(name string, budget any) hostileCase {
		return hostileCase{name: name, status: 403, setup: meteredResource(nil),
			req: budgetGET("/data", budget), check: budgetRefusedWith(codeInvalidBudget)}
	}
	exhausted := func(t *testing.T, resp *http.Response) {
		wantBudgetRefusal(t, resp, r3.ReasonBudgetExhausted, 0, 0)
	}
	return []hostileCase{
		invalid("budget-claim-not-an-object", "lots"),
		invalid("budget-claim-array", []any{1000, "USD", 6}),
		invalid("budget-amount-negative", map[string]any{"amount": -5, "unit": "USD", "decimals": 6}),
		invalid("budget-amount-16-digits", map[string]any{"amount": 1_000_000_000_000_000, "unit": "USD", "decimals": 6}),
		invalid("budget-amount-past-int64", json.RawMessage(`{"amount":99999999999999999999999,"unit":"USD","decimals":6}`)),
		invalid("budget-amount-string", map[string]any{"amount": "1000", "unit": "USD", "decimals": 6}),
		invalid("budget-amount-fraction", map[string]any{"amount": 10.5, "unit": "USD", "decimals": 6}),
		invalid("budget-amount-missing", map[string]any{"unit": "USD", "decimals": 6}),
		invalid("budget-decimals-19", map[string]any{"amount": 1000, "unit": "USD", "decimals": 19}),
		invalid("budget-unit-empty", map[string]any{"amount": 1000, "unit": "", "decimals": 6}),
		invalid("budget-unit-not-a-string", map[string]any{"amount": 1000, "unit": 840, "decimals": 6}),
		// The resource prices in USD: a budget in another unit cannot be
		// metered, so it is not served (unmetered would be unbounded).
		invalid("budget-unit-undeclared", map[string]any{"amount": 1000, "unit": "EUR", "decimals": 2}),
		// A declared unit in another scale is enforced in the token's
		// scale (§Auth Token Extensions: against the token, not the
		// metadata): Cost prices it, and it is served.
		{name: "budget-decimals-differ-from-metadata", status: 200, setup: meteredResource(nil),
			req: budgetGET("/data?max=3", map[string]any{"amount": 10, "unit": "USD", "decimals": 0}),
			check: func(t *testing.T, resp *http.Response) {
				if got := resp.Header.Get(r3.BudgetHeader); got != `remaining=7, cost=3, unit="USD", decimals=0` {
					t.Errorf("AAuth-Budget %q", got)
				}
			}},
		{name: "budget-zero", status: 401, setup: meteredResource(nil),
			req: budgetGET("/data?max=0", budgetOf(0)), check: exhausted},
		{name: "budget-request-past-remainder", status: 401, setup: meteredResource(nil),
			req: budgetGET("/data?max=999999999999999", budgetOf(1000)),
			check: func(t *testing.T, resp *http.Response) {
				wantBudgetRefusal(t, resp, r3.ReasonInsufficientBudget, 1000, 999_999_999_999_999)
			}},
		// A handler charging past int64: refused, nothing charged.
		{name: "budget-charge-past-int64", status: 200, setup: meteredResource(nil),
			req: budgetGET("/data?max=0&charge=9223372036854775807", budgetOf(1000)),
			check: func(t *testing.T, resp *http.Response) {
				if got := resp.Header.Get(r3.BudgetHeader); got != `remaining=1000, cost=0, unit="USD", decimals=6` || !strings.Contains(bodyOf(resp), ErrBudgetExceeded.Error()) {
					t.Errorf("AAuth-Budget %q, body %s", got, bodyOf(resp))
				}
			}},
		// The same token again once its budget is spent: still spent.
		{name: "budget-replayed-after-exhaustion", status: 401, setup: meteredResource(nil),
			before: func(w *world) {
				tok := w.authToken("data.read", map[string]any{"budget": budgetOf(300)})
				w.stash = map[string]string{"token": tok}
				if resp := w.do("GET", "/data", "", tok); resp.StatusCode != http.StatusOK {
					w.t.Fatalf("spending: %d", resp.StatusCode)
				}
			},
			req: func(w *world) *http.Request {
				w.clock.Advance(time.Second) // a fresh signature, the same token
				r := w.request("GET", "/data?max=0", "")
				w.agent.sign(w.t, r, w.stash["token"], w.clock.Now())
				return r
			},
			check: exhausted},
		// A ledger of its own for each run (the table outlives a run
		// under -count), room for one budget.
		{name: "budget-ledger-full", status: 503, setup: func(rs *Resource) { meteredResource(NewMemoryBudgetLedger(1))(rs) },
			before: func(w *world) {
				if resp := w.do("GET", "/data", "", w.authToken("data.read", map[string]any{"budget": budgetOf(300)})); resp.StatusCode != http.StatusOK {
					w.t.Fatalf("first budget: %d", resp.StatusCode)
				}
			},
			req: budgetGET("/data", budgetOf(300)), check: budgetRefusedWith("temporarily_unavailable")},
	}
}
