package resource

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/wire"
)

// Budgets meters auth tokens that carry a budget (the Budgets draft): the
// person server granted the agent up to an amount at this resource, and
// the resource counts. Set Resource.Budgets to a non-nil value (the zero
// Budgets works) to enforce them; with Budgets nil a token's budget claim
// is ignored.
//
// A request bearing an auth token with a budget claim is metered:
// before the handler runs, the resource holds the request's maximum cost
// (Cost) against what the token has left, and refuses the request with
// 401 requirement=auth-token, reason=budget-exhausted or
// insufficient-budget, and a fresh resource token when it does not fit;
// the handler is then not run and nothing is drawn down. The handler
// states the actual cost with [Charge]; the hold is then committed up to
// that cost and the rest released. A handler that never calls Charge
// costs what was held. Every response the handler writes carries
// AAuth-Budget with what remains. Requests with tokens that carry no
// budget are not metered, unless Default is set.
type Budgets struct {
	// Cost returns the maximum cost of r in the unit and scale of the
	// token's budget (grant), held before the handler runs (Budgets
	// draft §The Budget Is a Hard Cap); nil holds nothing, and the
	// handler's Charge then holds as it goes. It may read the body,
	// which is given again to the handler when the resource kept it. An
	// error refuses the request with 403 invalid_budget: the resource
	// cannot price it in that unit.
	Cost func(r *http.Request, grant r3.BudgetClaim) (int64, error)

	// Units are the units the resource denominates budgets in,
	// published as budget_units. When set, an auth token whose budget
	// names another unit is refused with 403 invalid_budget, and Offer
	// must name one of them with its decimals.
	Units []BudgetUnit

	// Offer, when set, is the budget put in every resource token the
	// resource issues (§Resource Token Extensions): the most it will
	// have granted on one auth token. A Need's ResourceTokenClaims may
	// set a budget of their own for one request instead. An agent asking
	// for less at the authorization endpoint, in the offer's unit, gets
	// what it asked for.
	Offer *r3.BudgetClaim

	// Default, when set, is the budget of an auth token that carries
	// none: the resource's own default (§Auth Token Extensions), metered
	// per token like a granted one. Nil serves such tokens unmetered. A
	// person server that drops the budget of a resource token therefore
	// grants no more than Default.
	Default *r3.BudgetClaim

	// Committed, when set, is told each cost committed against a budget,
	// after the ledger has it: where the resource posts consumption to its
	// per-person ledger, keyed by the caller's (Issuer, Subject) and this
	// resource (Budgets draft §Aggregation), which this package does not
	// keep. It must not block for long: it runs before the response
	// header is written (in the trailer case, after the body).
	Committed func(ctx context.Context, c *Caller, grant r3.BudgetClaim, cost int64)

	// Ledger holds what each token has spent and holds; nil means an
	// in-memory ledger of at most DefaultBudgetCapacity budgets. A fleet
	// of replicas needs a shared one. A ledger that fails is answered
	// 503: a budget the resource cannot count is not served. A
	// settlement that fails leaves its hold in place, so the budget is
	// short of it until the token expires (never over), and the response
	// reports no cost.
	Ledger BudgetLedger
}

// BudgetUnit is one member of budget_units in the resource's metadata
// (Budgets draft §Resource Metadata Extensions).
type BudgetUnit struct {
	// Unit names what is metered, such as "USD" or "tokens".
	Unit string `json:"unit"`
	// Decimals is the scale of amounts in this unit.
	Decimals int64 `json:"decimals"`
	// Max is the largest amount the resource accepts on one auth token;
	// zero leaves it out.
	Max int64 `json:"max,omitempty"`
	// Description says what the unit meters (Markdown, for consent
	// screens); optional.
	Description string `json:"description,omitempty"`
}

// maxBudgetFigure is the largest figure the draft allows (§Range Limits).
const maxBudgetFigure = 999_999_999_999_999

// budgetState is Budgets checked, with defaults applied.
type budgetState struct {
	cost       func(*http.Request, r3.BudgetClaim) (int64, error)
	posted     func(context.Context, *Caller, r3.BudgetClaim, int64) // Committed
	units      []BudgetUnit
	offer      map[string]any // the resource token's budget claim, or nil
	offerClaim r3.BudgetClaim // the same, when offer is set
	ledger     BudgetLedger
	fallback   *r3.BudgetClaim // Default
}

// compileBudgets checks Resource.Budgets.
func (c *config) compileBudgets() error {
	b := c.rs.Budgets
	if b == nil {
		return nil
	}
	s := &budgetState{cost: b.Cost, posted: b.Committed, units: slices.Clone(b.Units), ledger: b.Ledger, fallback: b.Default}
	if d := b.Default; d != nil && (d.Unit == "" || d.Amount < 0 || d.Amount > maxBudgetFigure || d.Decimals < 0 || d.Decimals > 18) {
		return fmt.Errorf("aauth: Resource.Budgets.Default needs a unit, decimals from 0 to 18 and an amount of at most 15 digits")
	}
	if d := b.Default; d != nil && len(s.units) > 0 && !slices.ContainsFunc(s.units, func(u BudgetUnit) bool { return u.Unit == d.Unit && u.Decimals == d.Decimals }) {
		return fmt.Errorf("aauth: Resource.Budgets.Default must name a unit of Units, with its decimals")
	}
	for _, u := range s.units {
		if u.Unit == "" || u.Decimals < 0 || u.Decimals > 18 || u.Max < 0 || u.Max > maxBudgetFigure {
			return fmt.Errorf("aauth: Resource.Budgets.Units: %q needs a name, decimals from 0 to 18 and a max of at most 15 digits", shorten(u.Unit))
		}
	}
	if o := b.Offer; o != nil {
		if o.Unit == "" || o.Amount < 0 || o.Amount > maxBudgetFigure || o.Decimals < 0 || o.Decimals > 18 {
			return fmt.Errorf("aauth: Resource.Budgets.Offer needs a unit, decimals from 0 to 18 and an amount of at most 15 digits")
		}
		if len(s.units) > 0 {
			i := slices.IndexFunc(s.units, func(u BudgetUnit) bool { return u.Unit == o.Unit })
			if i < 0 || s.units[i].Decimals != o.Decimals || (s.units[i].Max > 0 && o.Amount > s.units[i].Max) {
				return fmt.Errorf("aauth: Resource.Budgets.Offer must name a unit of Units, with its decimals and within its max")
			}
		}
		s.offer = map[string]any{"amount": o.Amount, "unit": o.Unit, "decimals": o.Decimals}
		s.offerClaim = *o
	}
	if s.ledger == nil {
		l := NewMemoryBudgetLedger(0)
		l.now = c.rs.now
		s.ledger = l
	}
	c.budgets = s
	return nil
}

// budgetKey names caller's budget in the ledger: (iss, jti), or the
// token's hash for a token without a jti.
func budgetKey(caller *Caller) BudgetKey {
	if caller.JTI != "" {
		return BudgetKey{Issuer: caller.Issuer, JTI: caller.JTI}
	}
	h := sha256.Sum256([]byte(caller.Token))
	return BudgetKey{Issuer: caller.Issuer, JTI: "sha256:" + base64.RawURLEncoding.EncodeToString(h[:])}
}

// metered returns next metering budgeted auth tokens, or next itself when
// the resource does not meter.
func (c *config) metered(next http.Handler) http.Handler {
	if c.budgets == nil || next == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := FromContext(r.Context())
		if !ok || caller.Kind != KindAuth {
			next.ServeHTTP(w, r)
			return
		}
		grant, err := caller.budgetClaim()
		if err != nil {
			c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidBudget, Detail: "the auth token's budget claim is not a valid budget object", Err: err})
			return
		}
		if grant == nil {
			if grant = c.budgets.fallback; grant == nil {
				next.ServeHTTP(w, r)
				return
			}
		}
		c.meter(w, r, caller, *grant, next)
	})
}

// budgetField is AAuth-Budget as a key of an http.Header (canonical), set
// directly: canonicalizing the name allocated on every response.
const budgetField = "Aauth-Budget"

// codeInvalidBudget is the problem code of a budget the resource cannot
// meter (Budgets draft §Errors).
const codeInvalidBudget = "invalid_budget"

// meter serves r, whose auth token grants grant, under its budget.
func (c *config) meter(w http.ResponseWriter, r *http.Request, caller *Caller, grant r3.BudgetClaim, next http.Handler) {
	s := c.budgets
	if len(s.units) > 0 && !slices.ContainsFunc(s.units, func(u BudgetUnit) bool { return u.Unit == grant.Unit }) {
		c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidBudget, Detail: "the auth token's budget is in a unit the resource does not meter"})
		return
	}
	caller.Budget = &grant
	var n int64
	if s.cost != nil {
		var err error
		n, err = s.cost(r, grant)
		if r.GetBody != nil {
			r.Body, _ = r.GetBody() // the body again, whatever Cost read
		}
		switch {
		case err != nil:
			c.refuse(w, r, &Error{Status: http.StatusForbidden, Code: codeInvalidBudget, Detail: "the request cannot be priced in the auth token's budget unit", Err: err})
			return
		case n < 0:
			c.refuse(w, r, &Error{Status: http.StatusInternalServerError, Code: "server_error", Detail: "the resource priced the request below zero"})
			return
		}
	}
	key := budgetKey(caller)
	remaining, ok, err := s.ledger.Reserve(r.Context(), key, grant.Amount, n, caller.Expiry)
	if err != nil {
		c.refuse(w, r, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Detail: "the budget ledger failed", Err: err})
		return
	}
	if !ok || remaining == 0 && n == 0 {
		c.refuseBudget(w, r, caller, grant, remaining, n)
		return
	}
	m := &meter{c: c, ctx: r.Context(), caller: caller, key: key, grant: grant, until: caller.Expiry, held: n, remaining: remaining}
	_, m.buffered = w.(*recorder)
	bw := &budgetWriter{ResponseWriter: w, m: m}
	defer m.finish(bw)
	next.ServeHTTP(bw, r.WithContext(withMeter(r.Context(), m)))
}

// refuseBudget answers a request its budget cannot cover: 401
// requirement=auth-token with a fresh resource token and the reason
// (Budgets draft §Budget Exhaustion), and AAuth-Budget saying what is
// left and, for insufficient-budget, what the request needed.
func (c *config) refuseBudget(w http.ResponseWriter, r *http.Request, caller *Caller, grant r3.BudgetClaim, remaining, required int64) {
	// The token's own scope (it met the request's need) and account; for
	// R3, every definition, as for any challenge (R3 §Resource
	// Enforcement).
	need := Need{Scope: caller.Scope}
	if caller.Account != "" {
		need.ResourceTokenClaims = map[string]any{"account": caller.Account}
	}
	if c.r3 != nil {
		need = c.withDocument(need, caller, c.r3.all)
	}
	rt, _, err := c.resourceToken(r.Context(), caller, need)
	if err != nil {
		c.refuse(w, r, tokenIssueError(err))
		return
	}
	b := r3.Budget{Remaining: remaining, Unit: grant.Unit, Decimals: grant.Decimals, Members: r3.BudgetRemaining | r3.BudgetUnit}
	reason, code, detail := r3.ReasonBudgetExhausted, "budget_exhausted", "the auth token's budget is spent: exchange the resource token for a new auth token"
	if remaining > 0 {
		reason, code, detail = r3.ReasonInsufficientBudget, "insufficient_budget", "the request may cost more than the auth token's budget has left"
		b.Required, b.Members = required, b.Members|r3.BudgetRequired
	}
	if bv, err := formatBudget(b); err == nil {
		w.Header()[budgetField] = []string{bv}
	}
	if l := c.rs.Logger; l != nil {
		l.LogAttrs(r.Context(), slog.LevelInfo, "aauth: request refused",
			slog.String("method", r.Method), slog.String("path", shorten(r.URL.Path)),
			slog.Int("status", http.StatusUnauthorized), slog.String("code", code))
	}
	c.challengeWith(w, wire.Challenge{Requirement: "auth-token", ResourceToken: rt, Extensions: map[string]string{"reason": reason}}, code, detail)
}

// requested reads the budget an agent asked for at the authorization
// endpoint (Budgets draft §Authorization Endpoint Extensions) from the
// request body, and returns the budget claim of the resource token: the
// offer, lowered to the request when the request is in the offer's unit
// (at the offer's scale, rounded down). A request in another unit gets
// the offer (the resource sets the unit); without an offer, no budget.
// Asking for more than the offer is not an error: the resource narrows.
// A malformed budget, or one in a unit Units does not declare, is 400
// invalid_budget.
func (s *budgetState) requested(body []byte) (map[string]any, *Error) {
	req, err := r3.ParseBudgetClaim(body)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: codeInvalidBudget, Detail: "budget must be an object with a non-negative integer amount of at most 15 digits, a unit and decimals", Err: err}
	}
	if req != nil && len(s.units) > 0 && !slices.ContainsFunc(s.units, func(u BudgetUnit) bool { return u.Unit == req.Unit }) {
		return nil, &Error{Status: http.StatusBadRequest, Code: codeInvalidBudget, Detail: "the resource does not meter in unit " + shorten(req.Unit)}
	}
	if s.offer == nil {
		return nil, nil
	}
	if req == nil || req.Unit != s.offerClaim.Unit {
		return s.offer, nil
	}
	amount := min(rescale(req.Amount, req.Decimals, s.offerClaim.Decimals, s.offerClaim.Amount), s.offerClaim.Amount)
	return map[string]any{"amount": amount, "unit": s.offerClaim.Unit, "decimals": s.offerClaim.Decimals}, nil
}

// rescale converts amount from scale from to scale to, rounding down,
// and returning limit when the result would pass it.
func rescale(amount, from, to, limit int64) int64 {
	for ; from > to; from-- {
		amount /= 10
	}
	for ; from < to; from++ {
		if amount > limit/10 {
			return limit
		}
		amount *= 10
	}
	return amount
}

// budgetOnce is a token's budget claim, read the first time a metered
// request presents the token: a token is kept taken apart (tokenCache),
// and its claim is the same on every request.
type budgetOnce struct {
	once  sync.Once
	claim *r3.BudgetClaim
	err   error
}

// budgetClaim returns the budget claim of the caller's token: nil when it
// has none.
func (c *Caller) budgetClaim() (*r3.BudgetClaim, error) {
	if c.budget == nil { // a Caller not made by Verify
		return r3.ParseBudgetClaim(c.payload)
	}
	b := c.budget
	b.once.Do(func() { b.claim, b.err = r3.ParseBudgetClaim(c.payload) })
	return b.claim, b.err
}

// formatBudget is r3.FormatBudget, byte for byte, without its
// allocations for the values every metered response carries: integers,
// and a unit that is a plain RFC 9651 String (printable ASCII, no quote
// or backslash). Anything else goes to r3.FormatBudget.
func formatBudget(b r3.Budget) (string, error) {
	plain := b.Has(r3.BudgetRemaining) && b.Members&^(r3.BudgetRemaining|r3.BudgetCost|r3.BudgetReserved|r3.BudgetRequired|r3.BudgetUnit) == 0
	for _, v := range []int64{b.Remaining, b.Cost, b.Reserved, b.Required} {
		plain = plain && v >= 0 && v <= maxBudgetFigure
	}
	if b.Has(r3.BudgetUnit) {
		plain = plain && b.Unit != "" && b.Decimals >= 0 && b.Decimals <= 18
		for i := 0; plain && i < len(b.Unit); i++ {
			ch := b.Unit[i]
			plain = ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\'
		}
	}
	if !plain {
		return r3.FormatBudget(b)
	}
	buf := make([]byte, 0, 96)
	buf = append(buf, "remaining="...)
	buf = strconv.AppendInt(buf, b.Remaining, 10)
	for _, f := range []struct {
		m    r3.BudgetMember
		name string
		v    int64
	}{{r3.BudgetCost, ", cost=", b.Cost}, {r3.BudgetReserved, ", reserved=", b.Reserved}, {r3.BudgetRequired, ", required=", b.Required}} {
		if b.Has(f.m) {
			buf = append(buf, f.name...)
			buf = strconv.AppendInt(buf, f.v, 10)
		}
	}
	if b.Has(r3.BudgetUnit) {
		buf = append(buf, `, unit="`...)
		buf = append(buf, b.Unit...)
		buf = append(buf, `", decimals=`...)
		buf = strconv.AppendInt(buf, b.Decimals, 10)
	}
	return string(buf), nil
}

// budgetNote puts AAuth-Budget (what remains) on the answers the resource
// itself gives a request bearing a budgeted auth token before any handler
// runs, such as a scope step-up or a 403: the field belongs on every
// response to that token (Budgets draft §Sending Rules). Answers that
// already carry it (metered ones, budget refusals) are left alone.
type budgetNote struct {
	http.ResponseWriter
	c      *config
	r      *http.Request
	caller *Caller
	done   bool
}

// noteBudgets wraps w when caller presents an auth token with a budget
// (or Default applies) that the resource meters.
func (c *config) noteBudgets(w http.ResponseWriter, r *http.Request, caller *Caller) http.ResponseWriter {
	if c.budgets == nil || caller.Kind != KindAuth {
		return w
	}
	if grant, err := caller.budgetClaim(); err != nil || grant == nil && c.budgets.fallback == nil {
		return w
	}
	return &budgetNote{ResponseWriter: w, c: c, r: r, caller: caller}
}

func (n *budgetNote) note() {
	if n.done {
		return
	}
	n.done = true
	h := n.ResponseWriter.Header()
	if len(h[budgetField]) > 0 {
		return
	}
	grant, err := n.caller.budgetClaim()
	if err != nil {
		return
	}
	if grant == nil {
		grant = n.c.budgets.fallback
	}
	if units := n.c.budgets.units; len(units) > 0 && !slices.ContainsFunc(units, func(u BudgetUnit) bool { return u.Unit == grant.Unit }) {
		return // refused as invalid_budget: not metered, nothing to report
	}
	remaining, _, err := n.c.budgets.ledger.Reserve(n.r.Context(), budgetKey(n.caller), grant.Amount, 0, n.caller.Expiry)
	if err != nil {
		return
	}
	if v, err := formatBudget(r3.Budget{Remaining: remaining, Unit: grant.Unit, Decimals: grant.Decimals, Members: r3.BudgetRemaining | r3.BudgetUnit}); err == nil {
		h[budgetField] = []string{v}
	}
}

// WriteHeader implements http.ResponseWriter.
func (n *budgetNote) WriteHeader(code int) {
	if code >= 200 {
		n.note()
	}
	n.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (n *budgetNote) Write(p []byte) (int, error) {
	n.note()
	return n.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (n *budgetNote) Flush() {
	n.note()
	_ = http.NewResponseController(n.ResponseWriter).Flush()
}

// Unwrap returns the ResponseWriter wrapped, for http.ResponseController.
func (n *budgetNote) Unwrap() http.ResponseWriter { return n.ResponseWriter }
