package psclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// Both token requests write subagent_token and upstream_token after their
// primary members, in a stable order, byte for byte (AAuth -11 person
// token endpoint, auth token endpoint).
func TestDelegationBodies(t *testing.T) {
	s := newPSServer(t)
	s.serveMetadata(wire.ProfileCurrent)
	s.Mux.HandleFunc("POST /aauth/person", func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, map[string]any{"person_token": "p", "expires_in": 60})
	})
	s.Mux.HandleFunc("POST /aauth/token", func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, map[string]any{"auth_token": "a", "expires_in": 60})
	})
	caps := []wire.Capability{wire.CapabilityInteraction}
	c := psTestClient(wire.ProfileCurrent)
	cache := &psclient.MetadataCache{}
	ctx := psCtx(t)
	calls := []struct {
		do   func() error
		want string
	}{
		{func() error {
			_, err := psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Cache: cache, Resource: "https://r.example",
				MissionS256: "m256", SubagentToken: "sat", Capabilities: caps, LoginHint: "alice", Extra: map[string]any{"subagent_token": "ignored"}})
			return err
		}, `{"resource":"https://r.example","mission_s256":"m256","subagent_token":"sat","capabilities":["interaction"],"login_hint":"alice"}`},
		{func() error {
			_, err := psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Cache: cache, Resource: "https://r.example",
				UpstreamToken: "up", Extra: map[string]any{"upstream_token": "ignored"}})
			return err
		}, `{"resource":"https://r.example","upstream_token":"up"}`},
		{func() error {
			_, err := psclient.ExchangeToken(ctx, c, psclient.ExchangeRequest{PersonServer: s.URL, Cache: cache, ResourceToken: "rt", PresentedToken: "pt",
				SubagentToken: "sat", Justification: "j", Capabilities: caps})
			return err
		}, `{"resource_token":"rt","presented_token":"pt","subagent_token":"sat","justification":"j","capabilities":["interaction"]}`},
		{func() error {
			_, err := psclient.ExchangeToken(ctx, c, psclient.ExchangeRequest{PersonServer: s.URL, Cache: cache, ResourceToken: "rt", PresentedToken: "pt",
				UpstreamToken: "up"})
			return err
		}, `{"resource_token":"rt","presented_token":"pt","upstream_token":"up"}`},
	}
	for i, call := range calls {
		if err := call.do(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		reqs := s.requests()
		if got := reqs[len(reqs)-1].Body; got != call.want {
			t.Errorf("call %d body\n got %s\nwant %s", i, got, call.want)
		}
		checkSigned(t, reqs[len(reqs)-1], wire.ProfileCurrent)
	}
}

// What AAuth -11 rules out is refused before anything is sent: both
// delegation members at once, mission_s256 with upstream_token, and either
// in the seed profile (CC-14, D13).
func TestDelegationRefusedLocally(t *testing.T) {
	s := newPSServer(t)
	s.serveMetadata(wire.ProfileCurrent)
	ctx := psCtx(t)
	c := psTestClient(wire.ProfileCurrent)
	errs := []error{
		func() error {
			_, err := psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Resource: "https://r.example", SubagentToken: "s", UpstreamToken: "u"})
			return err
		}(),
		func() error {
			_, err := psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Resource: "https://r.example", MissionS256: "m", UpstreamToken: "u"})
			return err
		}(),
		func() error {
			_, err := psclient.ExchangeToken(ctx, c, psclient.ExchangeRequest{PersonServer: s.URL, ResourceToken: "rt", PresentedToken: "pt", SubagentToken: "s", UpstreamToken: "u"})
			return err
		}(),
		func() error {
			_, err := psclient.ExchangeToken(ctx, psTestClient(wire.ProfileSeed), psclient.ExchangeRequest{PersonServer: s.URL, Profile: wire.ProfileSeed, ResourceToken: "rt", SubagentToken: "s"})
			return err
		}(),
	}
	for i, err := range errs {
		if err == nil || strings.Count(err.Error(), "aauth: ") != 1 {
			t.Errorf("case %d: %v", i, err)
		}
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// The six codes of AAuth -11 for the two parameters match their sentinels,
// at both endpoints and after a deferral; mockin's invalid_agent_token
// matches ErrInvalidSubagentToken only when a subagent_token was sent.
func TestDelegationErrorCodes(t *testing.T) {
	codes := map[string]error{
		"invalid_subagent_token": psclient.ErrInvalidSubagentToken,
		"expired_subagent_token": psclient.ErrExpiredSubagentToken,
		"revoked_subagent_token": psclient.ErrRevokedSubagentToken,
		"invalid_upstream_token": psclient.ErrInvalidUpstreamToken,
		"expired_upstream_token": psclient.ErrExpiredUpstreamToken,
		"revoked_upstream_token": psclient.ErrRevokedUpstreamToken,
	}
	all := []error{psclient.ErrInvalidSubagentToken, psclient.ErrExpiredSubagentToken, psclient.ErrRevokedSubagentToken,
		psclient.ErrInvalidUpstreamToken, psclient.ErrExpiredUpstreamToken, psclient.ErrRevokedUpstreamToken, psclient.ErrDenied}
	var code string
	s := newPSServer(t)
	s.serveMetadata(wire.ProfileCurrent)
	s.Mux.HandleFunc("POST /aauth/person", func(w http.ResponseWriter, r *http.Request) {
		psProblem(w, 400, code, "scripted")
	})
	s.Mux.HandleFunc("POST /aauth/token", func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/aauth/pending/x", "0", "", nil)
	})
	s.Mux.HandleFunc("GET /aauth/pending/x", func(w http.ResponseWriter, r *http.Request) {
		psProblem(w, 400, code, "scripted")
	})
	ctx := psCtx(t)
	c := psTestClient(wire.ProfileCurrent)
	for code = range codes {
		_, perr := psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Cache: &psclient.MetadataCache{}, Resource: "https://r.example", SubagentToken: "s"})
		_, aerr := psclient.ExchangeToken(ctx, c, psclient.ExchangeRequest{PersonServer: s.URL, Cache: &psclient.MetadataCache{}, ResourceToken: "rt", PresentedToken: "pt", UpstreamToken: "u",
			Poll: psclient.PollOptions{Clock: psFake()}})
		for _, err := range []error{perr, aerr} {
			psMustAs[*psclient.ExchangeError](t, err)
			for _, s := range all {
				if errors.Is(err, s) != (s == codes[code]) {
					t.Errorf("%s: errors.Is(%v, %v) = %v", code, err, s, !(s == codes[code]))
				}
			}
		}
	}
	// mockin 2.0.0 answers invalid_agent_token for a bad subagent_token.
	code = "invalid_agent_token"
	_, err := psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Cache: &psclient.MetadataCache{}, Resource: "https://r.example", SubagentToken: "s"})
	if !errors.Is(err, psclient.ErrInvalidSubagentToken) {
		t.Errorf("invalid_agent_token with a subagent_token: %v", err)
	}
	_, err = psclient.RequestPersonToken(ctx, c, psclient.PersonTokenRequest{PersonServer: s.URL, Cache: &psclient.MetadataCache{}, Resource: "https://r.example"})
	if errors.Is(err, psclient.ErrInvalidSubagentToken) {
		t.Errorf("invalid_agent_token without a subagent_token: %v", err)
	}
}

// An answer carries a token, or a failure as a person server would have
// said it, across a process boundary (JSON) and back.
func TestSubagentAnswerRoundTrip(t *testing.T) {
	exp := time.Unix(1730221200, 0).UTC()
	const jwt = "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJwXzEyMzQ1Njc4In0.c2lnbmF0dXJlLWJ5dGVz"
	cases := []struct {
		name   string
		tok    *psclient.Token
		err    error
		status int
		code   string
		is     error
	}{
		{name: "token", tok: &psclient.Token{Value: jwt, ExpiresIn: 3600, Expiry: exp}},
		{name: "person server refusal", err: &psclient.ExchangeError{StatusCode: 400, Problem: &wire.Problem{Error: "expired_subagent_token", Detail: "token " + jwt + " expired"}},
			status: 400, code: "expired_subagent_token", is: psclient.ErrExpiredSubagentToken},
		{name: "denied after deferral", err: &psclient.ExchangeError{StatusCode: 403, Problem: &wire.Problem{Error: "denied"}},
			status: 403, code: "denied", is: psclient.ErrDenied},
		{name: "parent refuses the sub-agent token", err: fmt.Errorf("%w: parent_agent names someone else", psclient.ErrInvalidSubagentToken),
			status: 400, code: "invalid_subagent_token", is: psclient.ErrInvalidSubagentToken},
		{name: "parent refuses the resource token", err: fmt.Errorf("%w: agent_jkt is not the sub-agent's", psclient.ErrResourceToken),
			status: 400, code: "invalid_resource_token"},
		{name: "parent gave up", err: fmt.Errorf("aauth: waiting: %w", context.DeadlineExceeded),
			status: 504, code: "server_error", is: psclient.ErrServer},
		{name: "anything else", err: errors.New("aauth: disk full near " + jwt),
			status: 500, code: "server_error", is: psclient.ErrServer},
	}
	for _, tc := range cases {
		a := psclient.NewSubagentAnswer(tc.tok, tc.err)
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if tc.err != nil && strings.Contains(string(b), "c2lnbmF0dXJl") {
			t.Errorf("%s: the answer carries a token: %s", tc.name, b)
		}
		var back psclient.SubagentAnswer
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		tok, err := back.Result()
		if tc.tok != nil {
			if err != nil || tok.Value != jwt || tok.ExpiresIn != 3600 || !tok.Expiry.Equal(exp) {
				t.Errorf("%s: %v %v (answer %s)", tc.name, tok, err, b)
			}
			continue
		}
		ee := psMustAs[*psclient.ExchangeError](t, err)
		if ee.StatusCode != tc.status || ee.Problem.Error != tc.code || a.Status != tc.status {
			t.Errorf("%s: %d %q (answer %s)", tc.name, ee.StatusCode, ee.Problem.Error, b)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v does not match %v", tc.name, err, tc.is)
		}
		if strings.Count(err.Error(), "aauth: ") != 1 || strings.Contains(err.Error(), "c2lnbmF0dXJl") {
			t.Errorf("%s: message %q", tc.name, err)
		}
	}
	if a := psclient.NewSubagentAnswer(nil, nil); a.Status != 500 {
		t.Errorf("no token, no error: %+v", a)
	}
}

// Result refuses answers a parent (or whatever stands in the channel)
// should not have sent.
func TestSubagentAnswerRefused(t *testing.T) {
	for name, a := range map[string]psclient.SubagentAnswer{
		"empty":            {},
		"both":             {Token: "t", Error: "denied", Status: 403},
		"token with space": {Token: "a b"},
		"token too long":   {Token: strings.Repeat("a", 64<<10+1)},
		"negative life":    {Token: "t", ExpiresIn: -1},
		"absurd life":      {Token: "t", ExpiresIn: 1 << 40},
	} {
		if tok, err := a.Result(); err == nil {
			t.Errorf("%s: accepted as %v", name, tok)
		}
	}
	// A status outside 4xx/5xx is read as a server error.
	_, err := psclient.SubagentAnswer{Status: 200, Error: "denied"}.Result()
	if ee := psMustAs[*psclient.ExchangeError](t, err); ee.StatusCode != 500 || !errors.Is(err, psclient.ErrDenied) {
		t.Errorf("%v", err)
	}
}
