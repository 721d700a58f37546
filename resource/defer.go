package resource

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNotProtected is returned by Defer for a request that did not pass
// through Resource.Require.
var ErrNotProtected = errors.New("aauth: the request did not pass through Resource.Require")

// DeferTimeout bounds the work of one Defer.
const DeferTimeout = pendingLifetime

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
	c.pend.update(e, func(e *pendingEntry) { e.cancel, e.running = cancel, true })
	go func() {
		defer cancel()
		res := c.runHeld(ctx, e, caller, "")
		c.pend.finish(e, res, time.Time{})
	}()
	c.writePending(w, e, "", "", "", "")
	return nil
}
