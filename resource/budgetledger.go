package resource

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// BudgetKey names the budget of one auth token: the token's issuer and
// jti. A budget is scoped to the token that carries it and expires with
// it (Budgets draft §Token Scope), so nothing longer-lived is needed.
type BudgetKey struct {
	Issuer, JTI string
}

// BudgetLedger meters the budgets of auth tokens (Budgets draft
// §Enforcement): what each has committed and what requests in flight
// hold. Both methods are atomic per key, so that concurrent requests
// presenting one token can never together commit or hold more than its
// granted amount (§Concurrency). The in-memory ledger serves one process;
// a fleet of replicas needs a shared one (package redisstore has one).
type BudgetLedger interface {
	// Reserve holds n (n >= 0) against the budget of key, whose granted
	// amount is amount and which may be forgotten after until (the
	// token's exp). When n exceeds what remains it holds nothing and
	// reports ok false. remaining is what is left net of every hold,
	// this one included when it was made. A ledger that cannot hold a
	// new budget without forgetting one in force returns a
	// *BudgetLedgerFullError.
	Reserve(ctx context.Context, key BudgetKey, amount, n int64, until time.Time) (remaining int64, ok bool, err error)

	// Settle ends a hold of reserved made by Reserve: it commits cost
	// (0 <= cost <= reserved) and releases the rest. It returns what
	// remains. Settling a budget the ledger no longer holds (its token
	// expired) is not an error.
	Settle(ctx context.Context, key BudgetKey, reserved, cost int64) (remaining int64, err error)
}

// DefaultBudgetCapacity is the number of budgets the in-memory ledger
// holds when given no capacity: each is kept until its token expires, an
// hour at most.
const DefaultBudgetCapacity = 100_000

// BudgetLedgerFullError is returned by a BudgetLedger full of budgets
// whose tokens have not expired: forgetting one would let its token spend
// its budget again. The resource answers 503.
type BudgetLedgerFullError struct {
	// RetryAfter is when a budget is next due to expire, freeing room.
	RetryAfter time.Duration
}

// Error says the ledger is full and when room is next due.
func (e *BudgetLedgerFullError) Error() string {
	return fmt.Sprintf("aauth: the budget ledger is full of budgets in force; room in %s", e.RetryAfter.Round(time.Second))
}

// MemoryBudgetLedger is a BudgetLedger in memory, bounded in size. It
// never forgets a budget before its token expires: when full of budgets
// in force, Reserve returns a *BudgetLedgerFullError (failing closed). It
// is safe for concurrent use. The zero value is not ready: use
// NewMemoryBudgetLedger.
type MemoryBudgetLedger struct {
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[BudgetKey]*budgetEntry
	// earliest is at or before the earliest until held: a full ledger
	// sweeps only once it has passed, so that a flood costs no sweep
	// per request.
	earliest time.Time
}

// budgetEntry is one token's budget. spent+held never exceeds amount.
type budgetEntry struct {
	amount, spent, held int64
	until               time.Time
}

func (e *budgetEntry) remaining() int64 { return e.amount - e.spent - e.held }

// NewMemoryBudgetLedger returns a ledger holding at most capacity
// budgets; capacity 0 means DefaultBudgetCapacity.
func NewMemoryBudgetLedger(capacity int) *MemoryBudgetLedger {
	if capacity <= 0 {
		capacity = DefaultBudgetCapacity
	}
	return &MemoryBudgetLedger{max: capacity, m: map[BudgetKey]*budgetEntry{}}
}

func (l *MemoryBudgetLedger) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// Reserve implements BudgetLedger. A second token presenting the same
// key with a different amount gets the smaller of the two.
func (l *MemoryBudgetLedger) Reserve(_ context.Context, key BudgetKey, amount, n int64, until time.Time) (int64, bool, error) {
	if amount < 0 || n < 0 {
		return 0, false, fmt.Errorf("aauth: a budget reservation needs a non-negative amount and hold")
	}
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e != nil && e.until.Before(now) {
		delete(l.m, key) // expired: its token is refused anyway
		e = nil
	}
	if e == nil {
		if len(l.m) >= l.max {
			if !now.Before(l.earliest) {
				l.sweep(now)
			}
			if len(l.m) >= l.max {
				return 0, false, &BudgetLedgerFullError{RetryAfter: l.earliest.Sub(now)}
			}
		}
		e = &budgetEntry{amount: amount, until: until}
		if len(l.m) == 0 || until.Before(l.earliest) {
			l.earliest = until
		}
		l.m[key] = e
	}
	if amount < e.amount {
		e.amount = amount
	}
	if until.After(e.until) {
		e.until = until
	}
	// remaining is negative when a smaller amount came after spending.
	if rem := max(e.remaining(), 0); n > rem {
		return rem, false, nil
	}
	e.held += n
	return max(e.remaining(), 0), true, nil
}

// Settle implements BudgetLedger.
func (l *MemoryBudgetLedger) Settle(_ context.Context, key BudgetKey, reserved, cost int64) (int64, error) {
	if reserved < 0 {
		reserved = 0
	}
	cost = min(max(cost, 0), reserved)
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[key]
	if e == nil {
		return 0, nil
	}
	reserved = min(reserved, e.held)
	cost = min(cost, reserved)
	e.held -= reserved
	e.spent += cost
	return max(e.remaining(), 0), nil
}

// sweep drops the budgets expired at now and finds the earliest until
// left. l.mu is held.
func (l *MemoryBudgetLedger) sweep(now time.Time) {
	var earliest time.Time
	for k, e := range l.m {
		if e.until.Before(now) {
			delete(l.m, k)
		} else if earliest.IsZero() || e.until.Before(earliest) {
			earliest = e.until
		}
	}
	l.earliest = earliest
}

// Len returns the number of budgets held, expired ones not yet dropped
// included.
func (l *MemoryBudgetLedger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
