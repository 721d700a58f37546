package aauthtest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// These tests run the library's own person-server client (ExchangeToken,
// RequestPersonToken, PollDeferred) against the kit: the two sides of the
// wire must agree.

func psClient(t *testing.T, w *World, clock *FakeClock) (*Agent, *http.Client) {
	t.Helper()
	a, err := w.NewAgent("alice")
	if err != nil {
		t.Fatal(err)
	}
	return a, (&aauth.SigningTransport{Keys: a, Profile: w.Profile, Now: clock.Now}).Client()
}

func TestLibraryClientAgainstKit(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			clock := NewFakeClock(time.Now())
			w := NewWorld(WorldOptions{Profile: p, Now: clock.Now})
			defer w.Close()
			a, hc := psClient(t, w, clock)
			poll := psclient.PollOptions{
				Clock: clock,
				OnInteraction: func(ctx context.Context, url, code string) error {
					// The person opens the page.
					resp, err := http.Get(url + "?code=" + code)
					if err != nil {
						return err
					}
					resp.Body.Close()
					return nil
				},
				OnClarification: func(ctx context.Context, q aauth.Clarification) (string, error) {
					return "answer to " + q.Question, nil
				},
			}

			// challenge runs the resource side up to the auth-token
			// requirement and returns the resource token and the token
			// presented to get it.
			challenge := func() (rt, presented string) {
				t.Helper()
				c := &client{t: t, agent: a, profile: p, now: clock.Now}
				presented = a.Token
				if p == wire.ProfileCurrent {
					pt, err := psclient.RequestPersonToken(ctx, hc, psclient.PersonTokenRequest{
						PersonServer: w.PS.URL, Resource: w.Resource.URL, Poll: poll,
						Capabilities: []wire.Capability{wire.CapabilityInteraction},
					})
					if err != nil {
						t.Fatalf("RequestPersonToken: %v", err)
					}
					presented = pt.Value
				}
				r := c.do("GET", w.Resource.URL+"/data", presented, nil, nil).expect(t, 401)
				return r.challenge(t).ResourceToken, presented
			}
			exchange := func(rt, presented string) (*aauth.Token, error) {
				return psclient.ExchangeToken(ctx, hc, psclient.ExchangeRequest{
					PersonServer: w.PS.URL, Profile: p, ResourceToken: rt, PresentedToken: presented,
					Justification: "tests", Poll: poll,
				})
			}

			for _, tc := range []struct {
				name string
				d    Decision
				want error
			}{
				{"approve", Approve(), nil},
				{"interaction", Defer(Interaction()), nil},
				{"approval and bursts", Defer(Approval(), Status(429, "1"), Status(503, "2"), Pending().RetryAfter("Wed, 21 Oct 2015 07:28:00 GMT")), nil},
				{"clarification", Defer(Clarification("Why?", "a", "b")), nil},
				{"interacting", Defer(Interacting(), Pending()), nil},
				{"deny", Deny(), aauth.ErrDenied},
				{"denied after interaction", Defer(Interaction().Times(1)).Then(Deny()), aauth.ErrDenied},
				{"abandon", Defer(Approval()).Then(Abandon()), aauth.ErrAbandoned},
				{"revoked", Defer(Approval()).Then(Revoked()), aauth.ErrRevoked},
				{"expire", Defer(Approval()).Then(Expire()), aauth.ErrExpired},
				{"gone", Defer(Approval()).Then(Gone()), aauth.ErrGone},
				{"server error", Defer(Approval()).Then(ServerError()), aauth.ErrServer},
				{"as unreachable", Defer(Approval()).Then(ASUnreachable()), aauth.ErrASUnreachable},
				{"user unreachable", Fail(403, "user_unreachable", "no way to reach them"), aauth.ErrUserUnreachable},
			} {
				t.Run(tc.name, func(t *testing.T) {
					rt, presented := challenge()
					w.PS.Queue(TokenAuth, tc.d)
					tok, err := exchange(rt, presented)
					if tc.want != nil {
						if !errors.Is(err, tc.want) {
							t.Fatalf("error %v, want %v", err, tc.want)
						}
						return
					}
					if err != nil {
						t.Fatalf("ExchangeToken: %v", err)
					}
					iss := w.PS.Issued()
					if last := iss[len(iss)-1]; last.Token != tok.Value || last.Kind != TokenAuth {
						t.Errorf("got a token the server did not issue last")
					}
					c := &client{t: t, agent: a, profile: p, now: clock.Now}
					c.do("GET", w.Resource.URL+"/data", tok.Value, nil, nil).expect(t, 200)
				})
			}
			wantAction := "clarification_response"
			if p == wire.ProfileSeed {
				wantAction = "" // @aauth/mcp-agent sent no action
			}
			ans := w.PS.ClarificationAnswers()
			if len(ans) != 1 || ans[0].Action != wantAction || ans[0].Response != "answer to Why?" {
				t.Errorf("clarification answers %+v", ans)
			}
		})
	}
}

func TestLibraryClientDeferredAuthToken(t *testing.T) {
	clock := NewFakeClock(time.Now())
	w := NewWorld(WorldOptions{Now: clock.Now, Resource: ResourceOptions{DeferAuthToken: true}})
	defer w.Close()
	a, hc := psClient(t, w, clock)
	pt, err := psclient.RequestPersonToken(ctx, hc, psclient.PersonTokenRequest{PersonServer: w.PS.URL, Resource: w.Resource.URL})
	if err != nil {
		t.Fatal(err)
	}
	withToken := func(tok string) *http.Client {
		return (&aauth.SigningTransport{Keys: aauth.StaticKeys(a.Key, aauth.JWT(tok)), Now: clock.Now}).Client()
	}
	resp, err := withToken(pt.Value).Get(w.Resource.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	_, err = psclient.FollowDeferred(ctx, withToken(pt.Value), resp, psclient.PollOptions{Clock: clock})
	var need *psclient.AuthTokenRequiredError
	if !errors.As(err, &need) {
		t.Fatalf("FollowDeferred: %v", err)
	}
	at, err := psclient.ExchangeToken(ctx, hc, psclient.ExchangeRequest{PersonServer: w.PS.URL, ResourceToken: need.Challenge.ResourceToken, PresentedToken: pt.Value})
	if err != nil {
		t.Fatal(err)
	}
	final, err := psclient.PollDeferred(ctx, withToken(at.Value), need.Location, psclient.PollOptions{Clock: clock, RequestURL: w.Resource.URL + "/data"})
	if err != nil {
		t.Fatal(err)
	}
	if b := readResponse(t, final).expect(t, 200).json(t); b["presented"] != "auth" {
		t.Errorf("held call served as %v", b)
	}
}
