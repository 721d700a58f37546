package aauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/psclient"
)

// relaySession is a run's interaction relays: the context its polls run
// under (cancelled, with the cause, when a relay learns that nobody can
// reach the person), and the goroutines watching relays at the person
// server while the polls go on.
type relaySession struct {
	pctx    context.Context
	pcancel context.CancelCauseFunc
	wctx    context.Context
	wcancel context.CancelFunc
	wg      sync.WaitGroup
	direct  sync.Mutex // OnInteraction is called by one goroutine at a time
	fatal   atomic.Pointer[fatalErr]
}

type fatalErr struct{ err error }

// relayTimeout bounds the relay request itself (not the relay's deferral,
// which is watched while the resource is polled).
var relayTimeout = 10 * time.Second

// pollCtx is the context of the run's polls: the person server's deferred
// answers and the resource's. A relay that ends badly cancels it.
func (r *run) pollCtx() context.Context {
	if r.relay == nil {
		s := &relaySession{}
		s.pctx, s.pcancel = context.WithCancelCause(r.ctx)
		s.wctx, s.wcancel = context.WithCancel(r.ctx)
		r.relay = s
	}
	return r.relay.pctx
}

// finishRelays ends the run's relays: the watchers are stopped and waited
// for, an error a relay ended the polls with replaces the polls' own
// (context.Canceled), and the polls' context is released when resp's body
// is closed (or now, without a response).
func (r *run) finishRelays(resp *http.Response, err error) (*http.Response, error) {
	s := r.relay
	if s == nil {
		return resp, err
	}
	s.wcancel()
	s.wg.Wait()
	if f := s.fatal.Load(); f != nil && err != nil {
		err = f.err
	}
	if resp == nil || resp.Body == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		s.pcancel(nil)
		return resp, err
	}
	body := resp.Body
	resp.Body = &cancelOnClose{ReadCloser: body, cancel: func() { s.pcancel(nil) }}
	return resp, err
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
	once   sync.Once
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(c.cancel)
	return err
}

// interaction handles a new (url, code) a deferred answer asked the agent
// to send the person to: relayed through the person server first when it
// can be (see relays), else given to OnInteraction.
func (r *run) interaction(ctx context.Context, u, code string) error {
	cu := safetext.Clean(u, 256)
	r.t.emit(ctx, Event{Step: StepInteraction, URL: cu, Detail: "the person must visit " + cu + " (code " + safetext.Clean(code, 64) + ")"})
	if r.relays(u) {
		relayed, err := r.relayInteraction(ctx, u, code)
		if err != nil || relayed {
			return err
		}
	}
	return r.direct(ctx, u, code)
}

// direct sends the person to u itself, through OnInteraction.
func (r *run) direct(ctx context.Context, u, code string) error {
	if r.t.OnInteraction == nil {
		return nil
	}
	if r.relay != nil {
		r.relay.direct.Lock()
		defer r.relay.direct.Unlock()
	}
	return r.t.OnInteraction(ctx, u, code)
}

// relays reports whether an interaction at u is relayed: relaying is on,
// the profile has the relay, the agent has a person server, and u is not
// the person server's own page (the person server handed that one to the
// agent to direct the person; relaying it back would go round in a circle).
func (r *run) relays(u string) bool {
	if r.t.DisableRelay || !r.tab.Governance || r.ps == "" && r.t.PersonServerMetadata == nil || r.viaParent() {
		// A sub-agent talks to no person server (subagent.go).
		return false
	}
	ps := r.ps
	if md := r.t.PersonServerMetadata; md != nil && md.Issuer != "" {
		ps = md.Issuer
	}
	pu, err1 := url.Parse(ps)
	iu, err2 := url.Parse(u)
	if err1 != nil || err2 != nil {
		return false
	}
	po, err1 := originOf(pu)
	uo, err2 := originOf(iu)
	return err1 == nil && err2 == nil && po != uo
}

// relayEndpoint reports whether the person server publishes an interaction
// endpoint the Transport would relay to.
func (r *run) relayEndpoint(ctx context.Context) bool {
	if r.t.DisableRelay || !r.tab.Governance {
		return false
	}
	md := r.t.PersonServerMetadata
	if md == nil {
		var err error
		if md, err = r.t.metadata.Get(ctx, r.t.psClient(r.km), r.ps, r.t.Profile); err != nil {
			return false
		}
	}
	return md.InteractionEndpoint != ""
}

// relayInteraction relays an interaction to the person server. It reports
// whether the person server took it; an error ends the request (nobody
// can reach the person, the mission has ended).
func (r *run) relayInteraction(ctx context.Context, u, code string) (bool, error) {
	client := r.t.psClient(r.km)
	// A person server slow to take the relay must not keep the agent from
	// directing the person itself.
	rctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	loc, err := psclient.RelayInteraction(rctx, client, psclient.InteractionRelay{
		PersonServer: r.ps,
		Metadata:     r.t.PersonServerMetadata,
		Cache:        &r.t.metadata,
		Profile:      r.t.Profile,
		URL:          u,
		Code:         code,
		MissionS256:  r.t.missionS256(),
	})
	var me *psclient.MissionError
	var mde *psclient.MetadataError
	switch {
	case err == nil && loc == "":
		r.t.emit(ctx, Event{Step: StepRelay, URL: r.ps, Detail: "the person server took the interaction"})
		return true, nil
	case err == nil:
		r.t.emit(ctx, Event{Step: StepRelay, URL: r.ps, Detail: "the person server is reaching the person; polling the resource meanwhile"})
		r.watch(client, loc, u, code)
		return true, nil
	case errors.Is(err, psclient.ErrUserUnreachable), errors.As(err, &me), ctx.Err() != nil:
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		r.t.emit(ctx, Event{Step: StepRelay, URL: r.ps, Detail: "the interaction cannot be relayed", Err: err})
		return false, err
	case errors.As(err, &mde) && mde.Code == psclient.MetadataEndpointMissing:
		// The person server relays nothing: say nothing more.
		return false, nil
	case errors.Is(err, psclient.ErrInteractionUnavailable):
		r.t.emit(ctx, Event{Step: StepRelay, URL: r.ps, Detail: "the person server cannot reach the person; directing them"})
		return false, nil
	}
	// The relay is a better channel, not a gate: any other failure falls
	// back to directing the person.
	r.t.emit(ctx, Event{Step: StepRelay, URL: r.ps, Detail: "relaying failed; directing the person", Err: err})
	return false, nil
}

// watch polls a relay's pending URL at the person server while the run's
// own polls go on. The relay says when the person was reached, never when
// the interaction is complete: that is the resource's pending URL's to
// say. A relay that ends unavailable falls back to OnInteraction; one that
// ends with nobody to reach the person, or the mission ended, ends the
// run's polls.
func (r *run) watch(client *http.Client, loc, u, code string) {
	s := r.relay
	if s == nil {
		r.pollCtx()
		s = r.relay
	}
	opts := psclient.PollOptions{
		Profile:     r.t.Profile,
		MaxDuration: r.t.MaxPollDuration,
		Clock:       r.t.Clock,
		OnInteraction: func(ctx context.Context, u2, code2 string) error {
			return r.direct(ctx, u2, code2)
		},
	}
	ps := r.ps // r's fields belong to the run's goroutine
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx := s.wctx
		resp, err := psclient.PollDeferred(ctx, client, loc, opts)
		if err == nil {
			resp.Body.Close()
			r.t.emit(ctx, Event{Step: StepRelay, URL: ps, Detail: "the person server reached the person"})
			return
		}
		if ctx.Err() != nil {
			return // the run is over
		}
		var me *psclient.MissionError
		if errors.Is(err, psclient.ErrUserUnreachable) || errors.As(err, &me) || errors.Is(err, psclient.ErrMissionTerminated) || errors.Is(err, psclient.ErrMissionNotFound) {
			r.t.emit(ctx, Event{Step: StepRelay, URL: ps, Detail: "the relay ended: nobody can reach the person", Err: err})
			s.fatal.CompareAndSwap(nil, &fatalErr{err})
			s.pcancel(err)
			return
		}
		r.t.emit(ctx, Event{Step: StepRelay, URL: ps, Detail: "the relay ended without reaching the person; directing them", Err: err})
		if err := r.direct(ctx, u, code); err != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", psclient.ErrInteraction, err)
			s.fatal.CompareAndSwap(nil, &fatalErr{err})
			s.pcancel(err)
		}
	}()
}
