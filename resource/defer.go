package resource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrNotProtected is returned by Defer for a request that did not pass
// through Resource.Require.
var ErrNotProtected = errors.New("aauth: the request did not pass through Resource.Require")

// ErrNotDeferred is returned by SetInteraction outside the work of a
// Defer.
var ErrNotDeferred = errors.New("aauth: the context is not that of deferred work")

// DeferTimeout bounds the work of one Defer, and how long any pending
// call waits.
const DeferTimeout = 15 * time.Minute

// Defer answers r with 202 Accepted and a pending URL, and runs work in
// the background with a copy of r. The agent polls the pending URL,
// signed with the same key, and gets work's answer (status, headers and
// body, kept for a few minutes in case the answer is lost) once it is
// done; a poll that sends Prefer: wait is held until then. The agent can
// cancel with DELETE, which cancels work's context.
//
// work's request has the caller in its context and a context that does
// not end with r's, but after DeferTimeout or a cancel. Its answer is kept
// in memory, up to 4 MiB. Call Defer from a handler behind Require, and
// write nothing to w yourself: on error (ErrNotProtected, too many calls
// pending, an unreadable body) nothing has been written.
func Defer(w http.ResponseWriter, r *http.Request, work http.Handler) error {
	caller, ok := FromContext(r.Context())
	if !ok || caller.res == nil {
		return ErrNotProtected
	}
	c := caller.res
	e, err := c.hold(r, caller, pendingWork, work)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), DeferTimeout)
	ctx = context.WithValue(ctx, pendingKey{}, e)
	c.pend.update(e, func(e *pendingEntry) { e.cancel, e.running = cancel, true })
	go func() {
		defer cancel()
		res := c.runHeld(ctx, e, caller, "")
		c.pend.finish(e, res, time.Time{})
	}()
	c.writePending(w, e, "", "", "", "")
	return nil
}

type pendingKey struct{}

// SetInteraction, called by the work of a Defer with its request's
// context, makes the polls of the deferred call answer 202
// requirement=interaction with url and code: the work waits for a person,
// at url (an https URL without query or fragment; http for loopback
// hosts). An intermediary relays a downstream interaction this way, with
// its own code (AAuth -11, Interaction Chaining). Empty url and code go
// back to plain 202s.
func SetInteraction(ctx context.Context, url, code string) error {
	e, ok := ctx.Value(pendingKey{}).(*pendingEntry)
	if !ok || e == nil {
		return ErrNotDeferred
	}
	if url != "" || code != "" {
		u, err := checkFetchURL(url, false)
		if err != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(url, "?") || code == "" {
			return fmt.Errorf("aauth: SetInteraction: %q and %q are not an interaction URL and code", shorten(url), shorten(code))
		}
	}
	e.store.update(e, func(e *pendingEntry) {
		e.interactionURL, e.interactionCode = url, code
		e.announced = false
		if e.changed != nil {
			close(e.changed) // a poll held by Prefer: wait answers now
			e.changed = nil
		}
	})
	return nil
}
