package psclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// Every function that takes a Profile refuses one that is neither current
// nor seed before it sends anything, with an error matching
// wire.ErrUnknownProfile.
func TestUnknownProfileRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	const bad = wire.Profile(7)
	ctx := context.Background()
	client := srv.Client()
	pending := srv.URL + "/pending/1"
	md := &psclient.Metadata{
		Issuer:              srv.URL,
		AuthTokenEndpoint:   srv.URL + "/token",
		PersonTokenEndpoint: srv.URL + "/person",
	}
	accepted := func() *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/token", nil)
		return &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{"Location": {pending}}, Body: http.NoBody, Request: req}
	}

	for name, call := range map[string]func() error{
		"ExchangeToken": func() error {
			_, err := psclient.ExchangeToken(ctx, client, psclient.ExchangeRequest{Profile: bad, Metadata: md, ResourceToken: "rt", PresentedToken: "pt"})
			return err
		},
		"RequestPersonToken": func() error {
			_, err := psclient.RequestPersonToken(ctx, client, psclient.PersonTokenRequest{Profile: bad, Metadata: md, Resource: "https://r.example"})
			return err
		},
		"Discover": func() error {
			_, err := psclient.Discover(ctx, client, srv.URL, bad)
			return err
		},
		"MetadataCache.Get": func() error {
			_, err := (&psclient.MetadataCache{}).Get(ctx, client, srv.URL, bad)
			return err
		},
		"PollDeferred": func() error {
			_, err := psclient.PollDeferred(ctx, client, pending, psclient.PollOptions{Profile: bad})
			return err
		},
		"FollowDeferred": func() error {
			_, err := psclient.FollowDeferred(ctx, client, accepted(), psclient.PollOptions{Profile: bad})
			return err
		},
		"AnswerClarification": func() error {
			return psclient.AnswerClarification(ctx, client, pending, "yes", bad)
		},
	} {
		err := call()
		if !errors.Is(err, wire.ErrUnknownProfile) {
			t.Errorf("%s: %v, want an error matching wire.ErrUnknownProfile", name, err)
			continue
		}
		if strings.Count(err.Error(), "aauth: ") != 1 {
			t.Errorf("%s: message %q", name, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
	// AuthTokenEndpointFor has no error to return: an unknown profile reads
	// the current name first.
	if got := md.AuthTokenEndpointFor(bad); got != md.AuthTokenEndpoint {
		t.Errorf("AuthTokenEndpointFor(unknown) = %q", got)
	}
}
