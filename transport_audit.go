package aauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/psclient"
)

// ErrAuditQueueFull is returned by Transport.Audit when AuditQueueSize
// records already wait to be sent: the record is not queued, and the
// caller decides what to do with it.
var ErrAuditQueueFull = errors.New("aauth: audit queue full")

// Audit queue bounds.
const (
	defaultAuditQueueSize = 256
	auditAttempts         = 3                // sends of one record, when the failure is transient
	auditRetryWait        = time.Second      // before the second send; doubled before the third
	auditCloseTimeout     = 30 * time.Second // Close's bound on the flush
	maxAuditFailures      = 16               // failures kept for Flush; the rest are counted
)

var errTransportClosed = errors.New("aauth: the Transport is closed")

// auditQueue holds the audit records waiting to be sent. One goroutine
// sends them in order; it starts with the first record and stops when the
// queue is empty, so that a Transport that never audits has none, and one
// never closed leaves none behind.
type auditQueue struct {
	mu       sync.Mutex
	q        []psclient.AuditRecord
	running  bool
	closed   bool
	pending  int           // queued or being sent
	idle     chan struct{} // closed when pending drops to zero
	failures []error
	more     int // failures beyond those kept
	ctx      context.Context
	cancel   context.CancelFunc
}

// Audit records an action the agent took in the current mission (see
// psclient.Audit), without waiting: the record is queued and sent in the
// background, in order. It fills MissionS256 from the current mission
// when empty; without a mission it returns psclient.ErrNoMission, after
// the mission ended its *psclient.MissionError. A full queue returns
// ErrAuditQueueFull. A record the person server refuses, or that cannot be
// sent after retries, is reported by a StepError event and by the next
// Flush or Close: no record is dropped silently.
func (t *Transport) Audit(rec psclient.AuditRecord) error {
	t.init()
	st := t.gov.mission.Load()
	if rec.MissionS256 == "" {
		if st == nil {
			return psclient.ErrNoMission
		}
		rec.MissionS256 = st.s256
	}
	if st != nil && rec.MissionS256 == st.s256 {
		if err := t.missionErr(st); err != nil {
			return err
		}
	}
	if rec.Action == "" {
		return errors.New("aauth: AuditRecord.Action is empty")
	}
	return t.gov.audit.push(t, rec)
}

func (a *auditQueue) push(t *Transport, rec psclient.AuditRecord) error {
	size := t.AuditQueueSize
	if size <= 0 {
		size = defaultAuditQueueSize
	}
	a.mu.Lock()
	switch {
	case a.closed:
		a.mu.Unlock()
		return errTransportClosed
	case len(a.q) >= size:
		a.mu.Unlock()
		// Told without the lock: OnEvent may call back into the Transport.
		t.emit(context.Background(), Event{Step: StepError, Detail: "audit record " + safetext.Clean(rec.Action, 64) + " not queued: the queue is full", Err: ErrAuditQueueFull})
		return ErrAuditQueueFull
	}
	defer a.mu.Unlock()
	a.q = append(a.q, rec)
	if a.pending == 0 {
		a.idle = make(chan struct{})
	}
	a.pending++
	if a.ctx == nil {
		a.ctx, a.cancel = context.WithCancel(context.Background())
	}
	if !a.running {
		a.running = true
		go a.run(t, a.ctx)
	}
	return nil
}

// run sends the queued records, then stops.
func (a *auditQueue) run(t *Transport, ctx context.Context) {
	for {
		a.mu.Lock()
		if len(a.q) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		rec := a.q[0]
		a.q = a.q[1:]
		a.mu.Unlock()

		err := t.sendAudit(ctx, rec)

		a.mu.Lock()
		if err != nil {
			if len(a.failures) < maxAuditFailures {
				a.failures = append(a.failures, err)
			} else {
				a.more++
			}
		}
		a.finished(1)
		a.mu.Unlock()
	}
}

// sendAudit sends one record, retrying a transient failure.
func (t *Transport) sendAudit(ctx context.Context, rec psclient.AuditRecord) error {
	action := safetext.Clean(rec.Action, 64)
	wait := auditRetryWait
	var err error
	for attempt := 1; attempt <= auditAttempts; attempt++ {
		if attempt > 1 {
			if t.clock().Sleep(ctx, wait) != nil {
				break
			}
			wait *= 2
		}
		err = t.postAudit(ctx, rec)
		if err == nil {
			t.emit(ctx, Event{Step: StepGovernance, Detail: "audit record " + action + " recorded"})
			return nil
		}
		if !transientAudit(err) || ctx.Err() != nil {
			break
		}
	}
	t.noteMissionError(ctx, err)
	err = safetext.Wrap(fmt.Sprintf("audit record %q not recorded", action), err)
	t.emit(ctx, Event{Step: StepError, Detail: "audit record " + action + " not recorded", Err: err})
	return err
}

func (t *Transport) postAudit(ctx context.Context, rec psclient.AuditRecord) error {
	r, err := t.govRun(ctx)
	if err != nil {
		return err
	}
	rec.PersonServer, rec.Metadata, rec.Cache, rec.Profile = r.govServer(rec.PersonServer, rec.Metadata, rec.Cache)
	return psclient.Audit(r.ctx, t.psClient(r.km), rec)
}

// transientAudit reports whether sending the record again may work: the
// request did not reach the person server, or it answered 429 or 5xx.
func transientAudit(err error) bool {
	var re *psclient.RequestError
	var me *psclient.MissionError
	var mde *psclient.MetadataError
	switch {
	case errors.As(err, &me):
		return false
	case errors.As(err, &re):
		return re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500
	case errors.As(err, &mde):
		return mde.Code == psclient.MetadataFetchFailed
	}
	return !errors.Is(err, psclient.ErrNoMission) && !errors.Is(err, ErrNoPersonServer)
}

// Flush waits until every queued audit record has been sent or has
// failed, or ctx is done, and returns the failures since the last Flush
// (nil when there were none).
func (t *Transport) Flush(ctx context.Context) error {
	if err := t.gov.audit.wait(ctx); err != nil {
		return err
	}
	return t.gov.audit.takeFailures()
}

// wait waits until no record is queued or being sent, or ctx is done.
func (a *auditQueue) wait(ctx context.Context) error {
	a.mu.Lock()
	idle := a.idle
	busy := a.pending > 0
	a.mu.Unlock()
	if !busy {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("aauth: flushing the audit records: %w", ctx.Err())
	}
}

// finished counts n records done; a.mu is held.
func (a *auditQueue) finished(n int) {
	if n <= 0 || a.pending == 0 {
		return
	}
	a.pending -= n
	if a.pending <= 0 {
		a.pending = 0
		close(a.idle)
	}
}

func (a *auditQueue) takeFailures() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs := a.failures
	if a.more > 0 {
		errs = append(errs, fmt.Errorf("aauth: %d more audit records not recorded", a.more))
	}
	a.failures, a.more = nil, 0
	return errors.Join(errs...)
}

// Close stops the Transport taking audit records and sends those queued,
// waiting at most 30 s: it is Shutdown with that bound. Requests still
// work after Close; only Audit refuses.
func (t *Transport) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), auditCloseTimeout)
	defer cancel()
	return t.Shutdown(ctx)
}

// Shutdown stops the Transport taking audit records and sends those
// queued, until they are all sent or have failed, or ctx is done. Records
// it could not send are reported, each by a StepError event, and all in
// the error, with the failures since the last Flush. Requests still work
// after Shutdown; only Audit refuses.
func (t *Transport) Shutdown(ctx context.Context) error {
	a := &t.gov.audit
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	err := t.Flush(ctx)
	if ctx.Err() == nil {
		return err
	}
	// Time is up: stop the sender and report what it did not send.
	a.mu.Lock()
	left := a.q
	a.q = nil
	if a.cancel != nil {
		a.cancel()
	}
	a.finished(len(left))
	idle := a.idle
	a.mu.Unlock()
	for _, rec := range left {
		t.emit(context.Background(), Event{Step: StepError, Detail: "audit record " + safetext.Clean(rec.Action, 64) + " not sent before Shutdown", Err: errTransportClosed})
	}
	// The record being sent fails at once, its context cancelled; wait for
	// the sender to stop, so that no goroutine outlives Shutdown.
	if idle != nil {
		select {
		case <-idle:
		case <-time.After(5 * time.Second):
		}
	}
	errs := []error{t.gov.audit.takeFailures()}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("aauth: %d audit records not sent before Shutdown", len(left)))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return fmt.Errorf("aauth: flushing the audit records: %w", ctx.Err())
}
