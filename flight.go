package aauth

import (
	"context"
	"errors"
	"sync"

	"github.com/aauthgo/aauth/psclient"
)

// flights makes sure that when many requests need the same missing token at
// once, one of them fetches it and the others wait for its result (or for
// their own context).
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	tok  *psclient.Token
	err  error
}

// do runs fetch for key unless a fetch for key is already running, in which
// case it waits for that one. A waiter whose leader failed only because the
// leader's context ended tries again itself, so one caller giving up never
// fails the others.
func (f *flights) do(ctx context.Context, key string, fetch func() (*psclient.Token, error)) (tok *psclient.Token, leader bool, err error) {
	for {
		f.mu.Lock()
		if f.m == nil {
			f.m = make(map[string]*flight)
		}
		if fl, ok := f.m[key]; ok {
			f.mu.Unlock()
			select {
			case <-fl.done:
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			if fl.err != nil && isContextError(fl.err) && ctx.Err() == nil {
				continue
			}
			return fl.tok, false, fl.err
		}
		fl := &flight{done: make(chan struct{})}
		f.m[key] = fl
		f.mu.Unlock()

		func() {
			defer func() {
				f.mu.Lock()
				delete(f.m, key)
				f.mu.Unlock()
				close(fl.done)
			}()
			fl.tok, fl.err = fetch()
		}()
		return fl.tok, true, fl.err
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// lockFetch takes the cross-process lock on key when the cache is a
// TokenLocker. Failing to take it is not fatal: the fetch goes on alone,
// as it would with any other cache. Only the end of ctx stops it.
func (t *Transport) lockFetch(ctx context.Context, key, kind string) (unlock func(), err error) {
	l, ok := t.tokens.(TokenLocker)
	if !ok {
		return func() {}, nil
	}
	unlock, err = l.LockToken(ctx, key)
	if err == nil {
		return unlock, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr
	}
	t.emit(ctx, Event{Step: StepError, Detail: "locking the " + kind + " token failed; fetching it without the lock", Err: err})
	return func() {}, nil
}

// flightToken runs fetch for key once among concurrent callers.
func (t *Transport) flightToken(ctx context.Context, key string, fetch func() (*psclient.Token, error)) (*psclient.Token, error) {
	tok, _, err := t.flights.do(ctx, key, fetch)
	return tok, err
}

// fetchOnce returns the token cached under key if usable says it may be
// used, else fetches one and caches it: once among the run's concurrent
// callers (and, with a TokenLocker cache, among processes).
func (r *run) fetchOnce(key, kind string, usable func(*psclient.Token) bool, fetch func() (*psclient.Token, error)) (*psclient.Token, error) {
	tok, err := r.t.flightToken(r.ctx, key, func() (*psclient.Token, error) {
		unlock, err := r.t.lockFetch(r.ctx, key, kind)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if tok := r.t.cached(r.ctx, key); tok != nil && usable(tok) {
			return tok, nil
		}
		tok, err := fetch()
		if err != nil {
			return nil, err
		}
		r.t.store(r.ctx, key, tok, kind)
		return tok, nil
	})
	if err == nil {
		// What the origin's state kept is stale now (see pick).
		r.o.forgetCredential()
	}
	return tok, err
}
