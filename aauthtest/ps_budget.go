package aauthtest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/aauthgo/aauth/r3"
)

// psBudget is how the person server sizes budgets (the Budgets draft).
type psBudget struct {
	mu     sync.Mutex
	policy func(tr *TokenRequest, offered r3.BudgetClaim) int64
}

// SetBudgetPolicy sets how much of a resource token's budget the person
// server grants: policy returns the amount, in the offer's unit and
// scale. An amount above the offer, or below zero, grants the offer (a
// person server may only lower it: Budgets draft §The Narrowing Chain).
// Nil, the default, grants the offer in full.
//
// Whatever the policy, an auth token carries a budget only when its
// resource token did, with the same unit and decimals.
func (ps *PersonServer) SetBudgetPolicy(policy func(tr *TokenRequest, offered r3.BudgetClaim) int64) {
	ps.budget.mu.Lock()
	defer ps.budget.mu.Unlock()
	ps.budget.policy = policy
}

// budgetFor is the budget claim of the auth token issued for the
// resource token rt: nil when rt offers none, and an error when its
// budget is malformed or disagrees with the resource's budget_units
// (invalid_budget, Budgets draft §Errors).
func (ps *PersonServer) budgetFor(ctx context.Context, tr *TokenRequest, rt *token) (map[string]any, error) {
	raw, err := json.Marshal(rt.claims)
	if err != nil {
		return nil, err
	}
	offered, err := r3.ParseBudgetClaim(raw)
	if err != nil || offered == nil {
		return nil, err
	}
	if err := ps.checkBudgetUnits(ctx, rt.str("iss"), *offered); err != nil {
		return nil, err
	}
	amount := offered.Amount
	ps.budget.mu.Lock()
	policy := ps.budget.policy
	ps.budget.mu.Unlock()
	if policy != nil {
		if a := policy(tr, *offered); a >= 0 && a < amount {
			amount = a
		}
	}
	return map[string]any{"amount": amount, "unit": offered.Unit, "decimals": offered.Decimals}, nil
}

// checkBudgetUnits cross-checks an offered budget against the budget_units
// of the resource's metadata: a unit it does not declare, or declares with
// other decimals, is refused, since one of the two figures is stale and a
// guess is off by a power of ten (Budgets draft §Errors). Metadata that
// cannot be fetched, or declares no units, lets the signed offer stand.
func (ps *PersonServer) checkBudgetUnits(ctx context.Context, resource string, offered r3.BudgetClaim) error {
	if loopbackURL(resource) != nil {
		return nil
	}
	var meta struct {
		Units []struct {
			Unit     string `json:"unit"`
			Decimals int64  `json:"decimals"`
		} `json:"budget_units"`
	}
	if ps.resources.getJSON(ctx, resource+"/.well-known/"+dwkResource, &meta) != nil || len(meta.Units) == 0 {
		return nil
	}
	for _, u := range meta.Units {
		if u.Unit == offered.Unit {
			if u.Decimals != offered.Decimals {
				return errors.New("the budget's decimals disagree with the resource's budget_units")
			}
			return nil
		}
	}
	return errors.New("the budget's unit is not in the resource's budget_units")
}
