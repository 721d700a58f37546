package psclient_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// A standalone exchange under WithObserver reports every request it sends
// and every poll, with its status and, for polls, the wait chosen; in
// order, and without the query of a pending URL.
func TestObserver(t *testing.T) {
	s := newPSServer(t)
	s.serveMetadata(wire.ProfileCurrent)
	s.Mux.HandleFunc("POST /aauth/token", func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/pending/1?secret=s3cr3t", "2", "", nil)
	})
	s.Mux.HandleFunc("GET /pending/1", psSequence(
		psClarify(`{"status":"pending","clarification":"Which account?"}`),
		psStatus(429, "application/json", `{"error":"slow_down"}`),
		psOK200,
	))
	s.Mux.HandleFunc("POST /pending/1", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })

	var got []string
	ctx := psclient.WithObserver(context.Background(), func(o psclient.Observation) {
		got = append(got, fmt.Sprintf("%s %s %s %d %v %v", o.Kind, o.Method, strings.TrimPrefix(o.URL, s.URL), o.Status, o.Wait, o.Err))
	})
	_, err := psclient.ExchangeToken(ctx, psTestClient(wire.ProfileCurrent), psclient.ExchangeRequest{
		PersonServer:   s.URL,
		Cache:          &psclient.MetadataCache{},
		ResourceToken:  "rt",
		PresentedToken: psTestAgentToken,
		Poll: psclient.PollOptions{Clock: psFake(), OnClarification: func(context.Context, psclient.Clarification) (string, error) {
			return "the work one", nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"metadata GET " + psclient.WellKnownPath + " 200 0s <nil>",
		"token POST /aauth/token 202 0s <nil>",
		"deferred  /pending/1 202 2s <nil>",
		"poll GET /pending/1 202 0s <nil>",
		"answer POST /pending/1 204 0s <nil>",
		"poll GET /pending/1 429 10s <nil>",
		"poll GET /pending/1 200 0s <nil>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("observations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A request that gets no answer is observed with its error; cancelling
// is observed too.
func TestObserverErrorAndCancel(t *testing.T) {
	s := psPollServer(t, psInteraction("javascript:x", "AAAA1111", "pending"))
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx = psclient.WithObserver(ctx, func(o psclient.Observation) {
		got = append(got, fmt.Sprintf("%s %s %d", o.Kind, o.Method, o.Status))
	})
	if _, err := psclient.PollDeferred(ctx, psTestClient(wire.ProfileCurrent), s.URL+"/pending/1", psclient.PollOptions{Clock: psFake()}); err == nil {
		t.Fatal("no error")
	}
	s.Close()
	if _, err := psclient.PollDeferred(ctx, psTestClient(wire.ProfileCurrent), s.URL+"/pending/1", psclient.PollOptions{Clock: psFake()}); err == nil {
		t.Fatal("no error from a closed server")
	}
	if want := "poll GET 202,cancel DELETE 204,poll GET 0"; strings.Join(got, ",") != want {
		t.Errorf("observations %q, want %q", strings.Join(got, ","), want)
	}
}
