package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/aauthgo/aauth/wire"
)

// errReported ends a command whose failures are already on stderr: exit
// status 1, nothing more to say.
var errReported = errors.New("failures reported")

// fetchEach fetches the URLs in order through client (one Transport, so
// that a token one URL obtained serves the next) and writes each answer
// as curl does: the bodies one after the other, each after its head with
// -i. A failure is reported on stderr as it happens and the next URL is
// fetched all the same; the error returned is the last URL's, or
// errReported when only earlier ones failed. An interruption ends the run.
func (e *env) fetchEach(ctx context.Context, client *http.Client, o *fetchOptions, targets []*url.URL, x *explainer) error {
	failed := false
	for i, u := range targets {
		o.target = u
		if x != nil {
			x.fetching(u)
		}
		err := e.fetchOne(ctx, client, o)
		switch {
		case err == nil:
			continue
		case i == len(targets)-1 || ctx.Err() != nil:
			return err
		}
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		e.errorLine(err.Error())
		failed = true
	}
	if failed {
		return errReported
	}
	return nil
}

// fetchOne makes the request o describes for o.target and writes the
// answer.
func (e *env) fetchOne(ctx context.Context, client *http.Client, o *fetchOptions) error {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	req, err := o.newRequest(ctx)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return requestError(ctx, req, o.timeout, err)
	}
	defer resp.Body.Close()
	var problem *wire.Problem
	if resp.StatusCode >= 400 {
		// Read (and put back) the error body before it is copied out.
		problem, _ = wire.ReadProblem(resp)
	}
	if o.include {
		writeHead(e.stdout, resp)
	}
	if _, err := io.Copy(e.stdout, resp.Body); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %v", req.Method, showURL(req.URL), err)
	}
	if resp.StatusCode >= 400 {
		return statusError(req, resp, problem)
	}
	return nil
}

// dryRunEach prints each URL's request, signed, instead of sending it,
// separated by an empty line.
func (e *env) dryRunEach(ctx context.Context, o *fetchOptions, targets []*url.URL) error {
	for i, u := range targets {
		o.target = u
		req, err := o.newRequest(ctx)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		if err := e.dryRun(req, o); err != nil {
			return err
		}
	}
	return nil
}

// fetching tells the trace the URL fetched now: requests to its origin
// are the resource's, the others are indented. The answer held from the
// URL before is written first.
func (x *explainer) fetching(u *url.URL) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.flush()
	x.origin = originOf(u)
}
