package resource_test

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
)

// A metered resource (the Budgets draft): each completion may cost up to
// its max_tokens at a micro-dollar a token, held against the auth token's
// budget before the handler runs, and the handler charges what it used.
// A request that does not fit is refused 401 reason=insufficient-budget
// (or budget-exhausted) with a fresh resource token, and every response
// carries AAuth-Budget with what remains.
func ExampleBudgets() {
	rs := &resource.Resource{
		Issuer: "https://inference.example",
		Mode:   resource.AuthToken,
		Scope:  "inference.completions",
		Budgets: &resource.Budgets{
			Units: []resource.BudgetUnit{{Unit: "USD", Decimals: 6, Max: 10_000_000}},
			// Resource tokens offer $5; the person server may grant less.
			Offer: &r3.BudgetClaim{Amount: 5_000_000, Unit: "USD", Decimals: 6},
			Cost: func(r *http.Request, grant r3.BudgetClaim) (int64, error) {
				// Priced in the token's denomination, not the metadata's.
				if grant.Unit != "USD" || grant.Decimals != 6 {
					return 0, fmt.Errorf("priced in micro-dollars only")
				}
				var req struct {
					MaxTokens int64 `json:"max_tokens"`
				}
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MaxTokens <= 0 {
					return 0, fmt.Errorf("max_tokens is required")
				}
				return req.MaxTokens, nil
			},
		},
	}
	http.Handle("/v1/completions", rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		used := int64(421) // tokens the model produced
		if err := resource.Charge(r.Context(), used); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, `{"choices":[]}`)
	})))
}
