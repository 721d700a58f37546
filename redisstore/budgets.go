package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth/resource"
)

// BudgetLedger is the resource.BudgetLedger of a Store: the budgets of
// auth tokens metered by every replica of a resource's fleet, so that a
// token cannot spend its budget once at each replica. Get it from
// Store.Budgets.
//
// A budget is a hash (amount, spent, held) under the hash of its token's
// issuer and jti, expiring (PX) at the token's exp plus
// Options.ClockSkew. Each reservation and settlement is one Lua script,
// atomic across the fleet (Budgets draft §Concurrency). It fails closed,
// whatever the Options say: while Redis is unavailable, Reserve returns
// an error matching ErrUnavailable and the resource refuses metered
// requests with 503, since a replica that cannot count must not serve a
// budget.
type BudgetLedger struct {
	s *Store
}

var _ resource.BudgetLedger = (*BudgetLedger)(nil)

// Budgets returns the store's budget ledger, for
// resource.Budgets.Ledger. It holds no state of its own: every
// BudgetLedger of a Store is the same.
func (s *Store) Budgets() *BudgetLedger { return &BudgetLedger{s: s} }

// reserveScript holds ARGV[2] against the budget at KEYS[1], whose
// amount is ARGV[1] (the smaller of it and the amount held is kept) and
// which lives ARGV[3] milliseconds at least. It returns {remaining, 1}
// when it held, {remaining, 0} when the hold does not fit, and {-1, 0}
// for a value that is not a budget. Amounts are at most 15 digits, exact
// in Lua's numbers.
var reserveScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then
	redis.call('HSET', KEYS[1], 'amount', ARGV[1], 'spent', 0, 'held', 0)
	redis.call('PEXPIRE', KEYS[1], ARGV[3])
elseif t ~= 'hash' then
	return {-1, 0}
else
	local ttl = redis.call('PTTL', KEYS[1])
	if ttl >= 0 and ttl < tonumber(ARGV[3]) then
		redis.call('PEXPIRE', KEYS[1], ARGV[3])
	end
end
local v = redis.call('HMGET', KEYS[1], 'amount', 'spent', 'held')
local amount, spent, held = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
if amount == nil or spent == nil or held == nil then
	return {-1, 0}
end
if tonumber(ARGV[1]) < amount then
	amount = tonumber(ARGV[1])
	redis.call('HSET', KEYS[1], 'amount', ARGV[1])
end
local rem = amount - spent - held
if rem < 0 then rem = 0 end
local n = tonumber(ARGV[2])
if n > rem then
	return {rem, 0}
end
if n > 0 then
	redis.call('HINCRBY', KEYS[1], 'held', ARGV[2])
end
return {rem - n, 1}
`)

// settleScript ends a hold of ARGV[1] at KEYS[1], committing ARGV[2] of
// it (each clamped to what is held), and returns what remains; -1 for a
// value that is not a budget, 0 for a budget no longer held.
var settleScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then
	return 0
elseif t ~= 'hash' then
	return -1
end
local v = redis.call('HMGET', KEYS[1], 'amount', 'spent', 'held')
local amount, spent, held = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
if amount == nil or spent == nil or held == nil then
	return -1
end
local r = math.min(tonumber(ARGV[1]), held)
local c = math.min(tonumber(ARGV[2]), r)
if r > 0 then redis.call('HINCRBY', KEYS[1], 'held', -r) end
if c > 0 then redis.call('HINCRBY', KEYS[1], 'spent', c) end
local rem = amount - spent - c - held + r
if rem < 0 then rem = 0 end
return rem
`)

// budgetKey is the store's key of the budget of the token (issuer, jti).
func (l *BudgetLedger) budgetKey(k resource.BudgetKey) string {
	return l.s.key("budget", k.Issuer+"\x00"+k.JTI)
}

// maxFigure is the largest amount the Budgets draft allows (15 digits).
const maxFigure = 999_999_999_999_999

// Reserve implements resource.BudgetLedger: one script, atomic across
// the fleet. A budget whose token has already expired is not written.
func (l *BudgetLedger) Reserve(ctx context.Context, key resource.BudgetKey, amount, n int64, until time.Time) (int64, bool, error) {
	if amount < 0 || amount > maxFigure || n < 0 {
		return 0, false, fmt.Errorf("aauth: a budget reservation needs an amount of at most 15 digits and a non-negative hold")
	}
	n = min(n, maxFigure+1) // past any amount: it cannot fit
	ttl := until.Sub(l.s.now()) + l.s.opts.ClockSkew
	if ttl <= 0 {
		return 0, false, nil
	}
	var res []int64
	err := l.s.do(ctx, func(ctx context.Context) error {
		var err error
		res, err = reserveScript.Run(ctx, l.s.client, []string{l.budgetKey(key)}, amount, n, max(ttl.Milliseconds(), 1)).Int64Slice()
		return err
	})
	switch {
	case err != nil:
		return 0, false, err
	case len(res) != 2 || res[0] < 0:
		return 0, false, ErrForeign
	}
	return res[0], res[1] == 1, nil
}

// Settle implements resource.BudgetLedger: one script, atomic across the
// fleet.
func (l *BudgetLedger) Settle(ctx context.Context, key resource.BudgetKey, reserved, cost int64) (int64, error) {
	reserved = min(max(reserved, 0), maxFigure)
	cost = min(max(cost, 0), reserved)
	var rem int64
	err := l.s.do(ctx, func(ctx context.Context) error {
		var err error
		rem, err = settleScript.Run(ctx, l.s.client, []string{l.budgetKey(key)}, reserved, cost).Int64()
		return err
	})
	switch {
	case err != nil:
		return 0, err
	case rem < 0:
		return 0, ErrForeign
	}
	return rem, nil
}
