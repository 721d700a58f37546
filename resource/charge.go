package resource

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aauthgo/aauth/r3"
)

// ErrBudgetExceeded is returned by Charge when the auth token's budget
// cannot cover the charge: nothing of it is committed. A handler that
// meets it stops (truncates) or refuses the work it could not pay for
// (Budgets draft §The Budget Is a Hard Cap).
var ErrBudgetExceeded = errors.New("aauth: the auth token's budget cannot cover the charge")

// ErrBudgetSettled is returned by Charge after the response header was
// written without ChargeLater: the request's cost was settled then.
var ErrBudgetSettled = errors.New("aauth: the request's cost was settled when its response header was written; call ChargeLater first to charge while streaming")

// Charge adds cost, in the unit and scale of the auth token's budget
// (Caller.Budget), to what the request being served costs. It is for
// handlers behind [Resource.Require] with Resource.Budgets set. Past what
// Budgets.Cost held before the handler ran, Charge holds more, atomically;
// when the budget cannot cover it, it returns ErrBudgetExceeded and
// charges nothing. For a request that is not metered (no budget on its
// token) it does nothing and returns nil, so handlers may call it
// unconditionally.
//
// Charge before the response header is written: the header then reports
// the cost. To charge while streaming, call ChargeLater first.
func Charge(ctx context.Context, cost int64) error {
	m := meterFrom(ctx)
	if m == nil {
		return nil
	}
	if cost < 0 {
		return errors.New("aauth: Charge needs a non-negative cost")
	}
	return m.charge(cost)
}

// ChargeLater says the request's cost will be known only after its
// response header is written (a streamed response; Budgets draft
// §Streaming): the header then carries what is held (reserved) and
// announces a trailer, and the trailer carries the cost once the handler
// returns. Call it before writing anything; afterwards it does nothing.
// For a request that is not metered it does nothing.
func ChargeLater(ctx context.Context) {
	if m := meterFrom(ctx); m != nil {
		m.mu.Lock()
		if !m.written {
			m.deferred = true
		}
		m.mu.Unlock()
	}
}

type meterKey struct{}

func withMeter(ctx context.Context, m *meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

func meterFrom(ctx context.Context) *meter {
	m, _ := ctx.Value(meterKey{}).(*meter)
	return m
}

// meter is one metered request: what it holds and what it was charged.
type meter struct {
	c      *config
	ctx    context.Context
	caller *Caller
	key    BudgetKey
	grant  r3.BudgetClaim
	until  time.Time

	mu        sync.Mutex
	held      int64 // held in the ledger for this request
	cost      int64 // charged so far
	charged   bool
	deferred  bool // ChargeLater
	buffered  bool // the answer is kept whole and sent after the handler (a held call)
	written   bool // the response header was written
	settled   bool
	committed int64 // what settle committed, for post
	remaining int64 // as the ledger last said
}

func (m *meter) charge(cost int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settled {
		return ErrBudgetSettled
	}
	if cost > maxBudgetFigure || m.cost+cost > maxBudgetFigure { // never overflows: both are at most 15 digits
		return ErrBudgetExceeded
	}
	total := m.cost + cost
	if extra := total - m.held; extra > 0 {
		remaining, ok, err := m.c.budgets.ledger.Reserve(m.ctx, m.key, m.grant.Amount, extra, m.until)
		if err != nil {
			return err
		}
		if !ok {
			m.remaining = remaining
			return ErrBudgetExceeded
		}
		m.held += extra
		m.remaining = remaining
	}
	m.cost, m.charged = total, true
	return nil
}

// settle commits the cost (what was held, when the handler charged
// nothing) and releases the rest. m.mu is held.
func (m *meter) settle() (cost int64, ok bool) {
	cost = m.held
	if m.charged {
		cost = m.cost
	}
	m.settled = true
	remaining, err := m.c.budgets.ledger.Settle(context.WithoutCancel(m.ctx), m.key, m.held, cost)
	if err != nil {
		if l := m.c.rs.Logger; l != nil {
			l.LogAttrs(m.ctx, slog.LevelError, "aauth: the budget ledger failed to settle a request", slog.String("detail", err.Error()))
		}
		return cost, false
	}
	m.remaining = remaining
	m.committed = cost
	return cost, true
}

// post tells Budgets.Committed what settle committed, outside m.mu (it is
// the application's code).
func (m *meter) post() {
	m.mu.Lock()
	cost := m.committed
	m.committed = 0
	m.mu.Unlock()
	if p := m.c.budgets.posted; p != nil && cost > 0 {
		p(context.WithoutCancel(m.ctx), m.caller, m.grant, cost)
	}
}

// header sets AAuth-Budget on h as the response header is written: the
// cost and what remains, settling now; or, after ChargeLater, what is
// held and what remains net of it, announcing the trailer.
//
// A buffered answer (a held call's, sent whole once the handler returns)
// gets its header only then (final): it has no trailer, and the cost is
// known by then.
func (m *meter) header(h http.Header, final bool) {
	defer m.post()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.written || m.buffered && !final {
		return
	}
	m.written = true
	b := r3.Budget{Unit: m.grant.Unit, Decimals: m.grant.Decimals, Members: r3.BudgetRemaining | r3.BudgetUnit}
	if m.deferred {
		b.Remaining, b.Reserved = m.remaining, m.held
		b.Members |= r3.BudgetReserved
		h.Add("Trailer", r3.BudgetHeader)
	} else {
		cost, ok := m.settle()
		if !ok {
			return // a fault in metering: no figure to report (§Sending Rules)
		}
		b.Remaining, b.Cost = m.remaining, cost
		b.Members |= r3.BudgetCost
	}
	if v, err := formatBudget(b); err == nil {
		h[budgetField] = []string{v}
	}
}

// finish settles the request once the handler has returned (or
// panicked): a response not yet begun gets the header form, a streamed one
// its cost in the trailer.
func (m *meter) finish(w *budgetWriter) {
	m.mu.Lock()
	written, settled := m.written, m.settled
	m.mu.Unlock()
	if !written {
		m.mu.Lock()
		m.deferred = false
		m.mu.Unlock()
		m.header(w.Header(), true)
		return
	}
	if settled {
		return
	}
	defer m.post()
	m.mu.Lock()
	defer m.mu.Unlock()
	cost, ok := m.settle()
	if !ok {
		return
	}
	if v, err := r3.FormatBudget(r3.Budget{Cost: cost, Members: r3.BudgetCost}); err == nil {
		w.Header()[budgetField] = []string{v} // a declared trailer: sent after the body
	}
}

// budgetWriter puts AAuth-Budget on a metered response before its header
// is written. Flush and http.ResponseController keep working (Unwrap).
type budgetWriter struct {
	http.ResponseWriter
	m *meter
}

// WriteHeader implements http.ResponseWriter. Informational (1xx)
// answers pass through untouched.
func (w *budgetWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.m.header(w.ResponseWriter.Header(), false)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *budgetWriter) Write(p []byte) (int, error) {
	w.m.header(w.ResponseWriter.Header(), false)
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher.
func (w *budgetWriter) Flush() { _ = w.FlushError() }

// FlushError flushes, for http.ResponseController.
func (w *budgetWriter) FlushError() error {
	w.m.header(w.ResponseWriter.Header(), false)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the ResponseWriter wrapped, for http.ResponseController.
func (w *budgetWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
