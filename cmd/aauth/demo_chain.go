package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"

	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/intermediary"
	"github.com/aauthgo/aauth/resource"
)

// demoChain is the demo's third part (current profile): a second
// resource, a summarizer, answers the agent by fetching the first
// resource for the same person (AAuth -11 call chaining). The summarizer
// is its own agent provider (intermediary.New); the person server issues
// its downstream person and auth tokens bound to the summarizer's key,
// with the auth token the agent presented to it as upstream_token, and
// without asking the person again.
func (e *env) demoChain(ctx context.Context, w *aauthtest.World, agent *aauthtest.Agent) error {
	fmt.Fprintf(e.stderr, "\nCall chaining: a summarizer, itself a resource, answers by fetching the data for the same person; its tokens come from the person server with the agent's auth token as upstream_token, bound to the summarizer's own key.\n")
	base, release := e.transport()
	defer release()

	data := w.Resource.URL + "/data"
	summarizer := &resource.Resource{Mode: resource.AuthToken, Scope: "summarize", Client: &http.Client{Transport: base}}
	if e.clock != nil {
		summarizer.Now = e.clock.Now
	}
	dataURL, err := url.Parse(data)
	if err != nil {
		return err
	}
	// The summarizer's own steps are traced under the agent's request to
	// it, each line prefixed with its name.
	trace := &prefixWriter{prefix: "    summarizer: "}
	inner := newExplainer(trace, dataURL, false)
	downstream, err := intermediary.New(summarizer, intermediary.Options{Name: "summarizer", Base: base, Clock: e.clock, OnEvent: inner.event})
	if err != nil {
		return err
	}
	defer downstream.Close()
	srv := httptest.NewUnstartedServer(summarizer.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, data, nil)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := downstream.RoundTrip(req)
		if err != nil {
			http.Error(rw, "fetching the data: "+trimPrefix(err), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil || resp.StatusCode != http.StatusOK {
			http.Error(rw, fmt.Sprintf("fetching the data: %d %v", resp.StatusCode, err), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(rw, "summary: the data resource answered %d bytes for this person\n", len(body))
	})))
	srv.Start()
	defer srv.Close()
	summarizer.Issuer = srv.URL
	// The person server knows the summarizer as a resource and as an
	// agent provider; it fetches its metadata and keys like any other's.
	w.PS.TrustResource(srv.URL)
	w.PS.TrustAgentProvider(srv.URL)

	target, err := url.Parse(srv.URL + "/summary")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "  summarizer      %s  fetches %s to answer\n", srv.URL, data)
	fmt.Fprintf(e.stderr, "(the summarizer's steps, each line marked, are shown before the agent's request they answer)\n")
	fmt.Fprintf(e.stderr, "$ aauth fetch --explain %s\n", target)
	x := newExplainer(e.stderr, target, false)
	defer x.done()
	trace.w = x
	tr := e.demoAgent(base, w, agent, x)
	defer tr.Close()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return err
	}
	resp, err := tr.Client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	inner.done()
	trace.flush()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the summarizer answered %s: %s", resp.Status, clip(string(body), 200))
	}
	fmt.Fprintf(x, "· the summarizer says %q\n", clip(string(bytes.TrimSpace(body)), 200))
	return nil
}

// prefixWriter writes each whole line written to it to w, after prefix.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append([]byte(p.prefix), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
}

// flush writes a last line without its new line.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.w.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}
