package aauthtest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

var profiles = []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed}

// tokenKind is the kind of the first token request of the profile: the
// person token (current) or the auth token (seed, which has no person
// tokens).
func tokenKind(p wire.Profile) TokenKind {
	if p == wire.ProfileSeed {
		return TokenAuth
	}
	return TokenPerson
}

// startToken sends the profile's first token request and returns the
// answer.
func (c *client) startToken(w *World) *response {
	c.t.Helper()
	if c.profile == wire.ProfileSeed {
		r := c.do("GET", w.Resource.URL+"/x", "", nil, nil).expect(c.t, 401)
		return c.exchange(w.PS, r.challenge(c.t).ResourceToken, "")
	}
	ep := claimStr(metadata(c.t, w.PS), "person_token_endpoint")
	return c.do("POST", ep, "", map[string]any{"resource": w.Resource.URL, "justification": "read the data"}, nil)
}

func (c *client) poll(r *response) *response {
	c.t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		c.t.Fatalf("no Location in %d answer", r.Status)
	}
	return c.do("GET", loc, "", nil, nil)
}

// token returns the token of a 200 token answer.
func tokenOf(t *testing.T, r *response) string {
	t.Helper()
	m := r.json(t)
	for _, k := range []string{"person_token", "auth_token"} {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	t.Fatalf("no token in %s", r.Body)
	return ""
}

// expect202 checks the common headers of a deferred answer.
func expect202(t *testing.T, r *response, requirement wire.Requirement) wire.Challenge {
	t.Helper()
	r.expect(t, 202)
	if r.Header.Get("Location") == "" || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Retry-After") != "0" {
		t.Errorf("202 headers %v", r.Header)
	}
	if requirement == "" {
		if v := r.Header.Get("AAuth-Requirement"); v != "" {
			t.Errorf("unexpected AAuth-Requirement %q", v)
		}
		return wire.Challenge{}
	}
	ch := r.challenge(t)
	if ch.Requirement != requirement {
		t.Errorf("requirement %q, want %q", ch.Requirement, requirement)
	}
	return ch
}

func TestPSMetadata(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := NewWorld(WorldOptions{Profile: p})
			defer w.Close()
			md := metadata(t, w.PS)
			want := map[string]string{"issuer": w.PS.URL, "jwks_uri": w.PS.URL + "/aauth/jwks"}
			if p == wire.ProfileCurrent {
				want["auth_token_endpoint"] = w.PS.URL + "/aauth/token/auth"
				want["person_token_endpoint"] = w.PS.URL + "/aauth/token/person"
				want["interaction_endpoint"] = w.PS.URL + "/aauth/interaction"
			} else {
				want["token_endpoint"] = w.PS.URL + "/aauth/token"
			}
			for k, v := range want {
				if got := claimStr(md, k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if p == wire.ProfileSeed && (md["auth_token_endpoint"] != nil || md["person_token_endpoint"] != nil) {
				t.Errorf("seed metadata has current endpoints: %v", md)
			}
			jwks := get(t, w.PS.URL+"/aauth/jwks").expect(t, 200).json(t)
			keys, _ := jwks["keys"].([]any)
			if len(keys) != 1 {
				t.Fatalf("JWKS %v", jwks)
			}
			k := keys[0].(map[string]any)
			wantAlg := "Ed25519"
			if p == wire.ProfileSeed {
				wantAlg = "EdDSA"
			}
			if k["alg"] != wantAlg || k["kid"] == nil || k["kty"] != "OKP" {
				t.Errorf("JWKS key %v", k)
			}
		})
	}
}

func TestPSMetadataFaults(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	w.PS.EditMetadata(func(doc map[string]any) {
		doc["issuer"] = "https://wrong.example"
		delete(doc, "person_token_endpoint")
		doc["auth_token_endpoint"] = "http://localhost:1/elsewhere"
	})
	md := metadata(t, w.PS)
	if md["issuer"] != "https://wrong.example" || md["person_token_endpoint"] != nil || md["auth_token_endpoint"] != "http://localhost:1/elsewhere" {
		t.Errorf("edited metadata %v", md)
	}
	w.PS.EditMetadata(nil)
	if md := metadata(t, w.PS); md["issuer"] != w.PS.URL {
		t.Errorf("metadata after EditMetadata(nil): %v", md)
	}
}

func TestPSRefusesBadRequests(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	ep := w.PS.URL + "/aauth/token/person"

	t.Run("unsigned", func(t *testing.T) {
		resp, err := http.Post(ep, "application/json", strings.NewReader(`{"resource":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		r := readResponse(t, resp).expect(t, 401)
		if r.Header.Get("Accept-Signature-Scheme") != "jwt" || r.Header.Get("Accept-Signature-Alg") != "Ed25519, ES256" || r.Header.Get("Signature-Error") != "" {
			t.Errorf("headers %v", r.Header)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	t.Run("no content-digest", func(t *testing.T) {
		c2 := *c
		tr := &aauth.SigningTransport{Keys: c.agent, Profile: wire.ProfileSeed} // seed signing: no digest
		req, _ := http.NewRequest("POST", ep, strings.NewReader(`{"resource":"`+w.Resource.URL+`"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		r := readResponse(t, resp).expect(t, 401)
		se, err := wire.ParseSignatureError(r.Header.Get("Signature-Error"))
		if err != nil || se.Code != "invalid_input" || !contains(strings.Join(se.RequiredInput, " "), "content-digest") {
			t.Errorf("Signature-Error %q (%v)", r.Header.Get("Signature-Error"), err)
		}
		_ = c2
	})
	t.Run("person token in Signature-Key", func(t *testing.T) {
		pt := c.personToken(w.PS, w.Resource.URL)
		r := c.do("POST", ep, pt, map[string]any{"resource": w.Resource.URL}, nil).expect(t, 401)
		if got := r.Header.Get("Signature-Error"); got != "error=invalid_jwt" {
			t.Errorf("Signature-Error %q", got)
		}
	})
	t.Run("revoked agent token", func(t *testing.T) {
		a, _ := w.NewAgent("revoked")
		c2 := &client{t: t, agent: a}
		w.PS.Revoke(a.Token)
		r := c2.do("POST", ep, "", map[string]any{"resource": w.Resource.URL}, nil).expect(t, 401)
		if got := r.Header.Get("Signature-Error"); got != "error=revoked_jwt" {
			t.Errorf("Signature-Error %q", got)
		}
	})
	t.Run("untrusted agent provider", func(t *testing.T) {
		other := NewAgentProvider(AgentProviderOptions{})
		defer other.Close()
		a, _ := other.NewAgent("mallory")
		c2 := &client{t: t, agent: a}
		r := c2.do("POST", ep, "", map[string]any{"resource": w.Resource.URL}, nil).expect(t, 401)
		if got := r.Header.Get("Signature-Error"); got != "error=invalid_jwt" {
			t.Errorf("Signature-Error %q", got)
		}
	})
	for name, body := range map[string]any{
		"no resource":            map[string]any{},
		"resource not a string":  map[string]any{"resource": 12},
		"capabilities not array": map[string]any{"resource": w.Resource.URL, "capabilities": "interaction"},
		"body not an object":     []int{1, 2},
		"relative resource":      map[string]any{"resource": "/x"},
	} {
		t.Run(name, func(t *testing.T) {
			r := c.do("POST", ep, "", body, nil).expect(t, 400)
			if r.str(t, "error") != "invalid_request" || r.str(t, "detail") == "" {
				t.Errorf("body %s", r.Body)
			}
		})
	}
	t.Run("wrong method", func(t *testing.T) {
		c.do("GET", ep, "", nil, nil).expect(t, 405)
	})
	t.Run("unknown path", func(t *testing.T) {
		get(t, w.PS.URL+"/nope").expect(t, 404)
	})
}

func TestPSAuthTokenChecks(t *testing.T) {
	clock := NewFakeClock(time.Now())
	w := NewWorld(WorldOptions{Now: clock.Now})
	defer w.Close()
	c := newClient(t, w)
	c.now = clock.Now
	url := w.Resource.URL + "/data"

	// challengeFor returns a fresh resource token for a fresh person token.
	challengeFor := func() (rt, pt string) {
		pt = c.personToken(w.PS, w.Resource.URL)
		return c.do("GET", url, pt, nil, nil).expect(t, 401).challenge(t).ResourceToken, pt
	}
	code := func(r *response) string { t.Helper(); return r.expect(t, 400).str(t, "error") }

	t.Run("presented_token missing", func(t *testing.T) {
		rt, _ := challengeFor()
		if got := code(c.exchange(w.PS, rt, "")); got != "invalid_request" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("presented_token is another token", func(t *testing.T) {
		rt, _ := challengeFor()
		other := c.personToken(w.PS, w.Resource.URL)
		// A valid token that is not the one the resource token names: the
		// mismatch is invalid_resource_token (AAuth -11 resource token
		// verification, step 3).
		if got := code(c.exchange(w.PS, rt, other)); got != "invalid_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("presented_token is the agent token", func(t *testing.T) {
		rt, _ := challengeFor()
		if got := code(c.exchange(w.PS, rt, c.agent.Token)); got != "invalid_presented_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("presented_token revoked", func(t *testing.T) {
		rt, pt := challengeFor()
		w.PS.Revoke(pt)
		if got := code(c.exchange(w.PS, rt, pt)); got != "revoked_presented_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("resource token not a JWT", func(t *testing.T) {
		_, pt := challengeFor()
		if got := code(c.exchange(w.PS, "garbage", pt)); got != "invalid_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("resource token for another agent", func(t *testing.T) {
		rt, pt := challengeFor()
		other := newClient(t, w)
		if got := code(other.exchange(w.PS, rt, pt)); got != "invalid_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("resource token expired", func(t *testing.T) {
		rt, pt := challengeFor()
		clock.Advance(6 * time.Minute)
		defer clock.Advance(-6 * time.Minute)
		// The agent token lives an hour, so only the resource token expired.
		if got := code(c.exchange(w.PS, rt, pt)); got != "expired_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("untrusted resource", func(t *testing.T) {
		other := NewResource(ResourceOptions{PersonServer: w.PS.URL})
		defer other.Close()
		pt := c.personToken(w.PS, other.URL)
		rt := c.do("GET", other.URL+"/x", pt, nil, nil).expect(t, 401).challenge(t).ResourceToken
		if got := code(c.exchange(w.PS, rt, pt)); got != "invalid_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("auth token capped by the presented token", func(t *testing.T) {
		w.PS.Queue(TokenPerson, Approve().Lifetime(10*time.Minute))
		rt, pt := challengeFor()
		at := c.authToken(w.PS, rt, pt)
		a, _ := parseToken(at)
		p, _ := parseToken(pt)
		ae, _ := a.time("exp")
		pe, _ := p.time("exp")
		if !ae.Equal(pe) {
			t.Errorf("auth token exp %v, want the person token's %v", ae, pe)
		}
	})
}

func TestPSDecisionWire(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			// A still clock: on the real one, a second boundary crossed
			// between the agent token and the auth token (which the agent
			// token caps) makes expires_in 3599.
			w := NewWorld(WorldOptions{Profile: p, Now: NewFakeClock(time.Now()).Now})
			defer w.Close()
			c := newClient(t, w)
			kind := tokenKind(p)
			q := func(d Decision) { w.PS.Queue(kind, d) }

			t.Run("approve", func(t *testing.T) {
				q(Approve())
				r := c.startToken(w).expect(t, 200)
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("headers %v", r.Header)
				}
				if n, _ := r.json(t)["expires_in"].(interface{ String() string }); n == nil || n.String() != "3600" {
					t.Errorf("expires_in %v", r.json(t)["expires_in"])
				}
			})
			t.Run("approval then token, then gone", func(t *testing.T) {
				q(Defer(Approval()))
				r := c.startToken(w)
				expect202(t, r, wire.RequirementApproval)
				if r.str(t, "status") != "pending" {
					t.Errorf("body %s", r.Body)
				}
				polls := w.PS.Polls()
				done := c.poll(r).expect(t, 200)
				tokenOf(t, done)
				if got := c.poll(r).expect(t, 410).str(t, "error"); got != "invalid_code" {
					t.Errorf("after the end: %q", got)
				}
				if w.PS.Polls() != polls+2 {
					t.Errorf("Polls = %d, want %d", w.PS.Polls(), polls+2)
				}
			})
			t.Run("pending, interacting", func(t *testing.T) {
				q(Defer(Pending(), Interacting()))
				r := c.startToken(w)
				expect202(t, r, "")
				r2 := c.poll(r)
				expect202(t, r2, "")
				if r2.str(t, "status") != "interacting" {
					t.Errorf("body %s", r2.Body)
				}
				c.poll(r).expect(t, 200)
			})
			t.Run("interaction completed by the test", func(t *testing.T) {
				q(Defer(Interaction()))
				r := c.startToken(w)
				ch := expect202(t, r, wire.RequirementInteraction)
				if ch.URL != w.PS.URL+"/aauth/consent" || !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{8}$`).MatchString(ch.Code) {
					t.Errorf("interaction url %q code %q", ch.URL, ch.Code)
				}
				again := c.poll(r)
				if ch2 := expect202(t, again, wire.RequirementInteraction); ch2.Code != ch.Code {
					t.Errorf("code changed while waiting: %q → %q", ch.Code, ch2.Code)
				}
				// Codes compare as the draft says: case, hyphen, I/L/O.
				if err := w.PS.CompleteInteraction(strings.ToLower(ch.Code[:4]) + "-" + ch.Code[4:]); err != nil {
					t.Fatal(err)
				}
				c.poll(r).expect(t, 200)
				if err := w.PS.CompleteInteraction(ch.Code); err != ErrUnknownCode {
					t.Errorf("completing twice: %v", err)
				}
				ix := w.PS.Interactions()
				if last := ix[len(ix)-1]; last.Code != ch.Code || !last.Completed || last.Denied {
					t.Errorf("Interactions %+v", ix)
				}
			})
			t.Run("interaction through the consent page", func(t *testing.T) {
				q(Defer(Interaction()))
				r := c.startToken(w)
				ch := expect202(t, r, wire.RequirementInteraction)
				page := get(t, ch.URL+"?code="+ch.Code).expect(t, 200)
				if !contains(string(page.Body), "approved") {
					t.Errorf("consent page %s", page.Body)
				}
				c.poll(r).expect(t, 200)
				get(t, ch.URL+"?code="+ch.Code).expect(t, 404)
			})
			t.Run("interaction denied at the consent page", func(t *testing.T) {
				q(Defer(Interaction()))
				r := c.startToken(w)
				ch := expect202(t, r, wire.RequirementInteraction)
				get(t, ch.URL+"?code="+ch.Code+"&action=deny").expect(t, 200)
				if got := c.poll(r).expect(t, 403).str(t, "error"); got != "denied" {
					t.Errorf("error %q", got)
				}
			})
			t.Run("interaction denied by the test", func(t *testing.T) {
				q(Defer(Interaction()))
				r := c.startToken(w)
				ch := expect202(t, r, wire.RequirementInteraction)
				if err := w.PS.DenyInteraction(ch.Code); err != nil {
					t.Fatal(err)
				}
				c.poll(r).expect(t, 403)
				ix := w.PS.Interactions()
				if last := ix[len(ix)-1]; !last.Denied || last.Completed {
					t.Errorf("Interactions %+v", ix)
				}
			})
			t.Run("interaction completes by itself; new code each round", func(t *testing.T) {
				q(Defer(Interaction().Times(2), Interaction().Times(1)))
				r := c.startToken(w)
				ch1 := expect202(t, r, wire.RequirementInteraction)
				ch1b := expect202(t, c.poll(r), wire.RequirementInteraction)
				ch2 := expect202(t, c.poll(r), wire.RequirementInteraction)
				if ch1.Code != ch1b.Code || ch2.Code == ch1.Code {
					t.Errorf("codes %q %q %q", ch1.Code, ch1b.Code, ch2.Code)
				}
				c.poll(r).expect(t, 200)
			})
			t.Run("clarification", func(t *testing.T) {
				q(Defer(Clarification("Which **project**?", "alpha", "beta")))
				r := c.startToken(w)
				expect202(t, r, wire.RequirementClarification)
				b := r.json(t)
				if b["clarification"] != "Which **project**?" || b["status"] != "pending" || b["timeout"] == nil {
					t.Errorf("body %s", r.Body)
				}
				if opts, _ := b["options"].([]any); len(opts) != 2 || opts[0] != "alpha" {
					t.Errorf("options %v", b["options"])
				}
				expect202(t, c.poll(r), wire.RequirementClarification) // still waiting
				loc := r.Header.Get("Location")
				if p == wire.ProfileCurrent {
					bad := c.do("POST", loc, "", map[string]any{"clarification_response": "alpha"}, nil).expect(t, 400)
					if bad.str(t, "error") != "invalid_request" {
						t.Errorf("answer without action: %s", bad.Body)
					}
					c.do("POST", loc, "", map[string]any{"action": "clarification_response", "clarification_response": "alpha"}, nil).expect(t, 202)
				} else {
					c.do("POST", loc, "", map[string]any{"clarification_response": "alpha"}, nil).expect(t, 204)
				}
				c.poll(r).expect(t, 200)
				ans := w.PS.ClarificationAnswers()
				last := ans[len(ans)-1]
				if last.Response != "alpha" || last.Question != "Which **project**?" || last.Location != loc {
					t.Errorf("answer %+v", last)
				}
				if p == wire.ProfileCurrent && last.Action != "clarification_response" {
					t.Errorf("action %q", last.Action)
				}
			})
			t.Run("clarification rounds", func(t *testing.T) {
				q(Defer(Clarification("one?"), Clarification("two?")))
				r := c.startToken(w)
				loc := r.Header.Get("Location")
				answer := func(s string) {
					body := map[string]any{"action": "clarification_response", "clarification_response": s}
					c.do("POST", loc, "", body, nil)
				}
				answer("1")
				r2 := c.poll(r)
				expect202(t, r2, wire.RequirementClarification)
				if r2.str(t, "clarification") != "two?" {
					t.Errorf("second round %s", r2.Body)
				}
				answer("2")
				c.poll(r).expect(t, 200)
				ans := w.PS.ClarificationAnswers()
				if n := len(ans); n < 2 || ans[n-2].Response != "1" || ans[n-1].Response != "2" || ans[n-1].Question != "two?" {
					t.Errorf("answers %+v", ans)
				}
			})
			t.Run("429 and 503 bursts with Retry-After values", func(t *testing.T) {
				date := "Wed, 21 Oct 2015 07:28:00 GMT"
				q(Defer(Status(429, "3"), Status(429, "3"), Status(503, ""), Pending().RetryAfter(date), Pending().RetryAfter("99999999999")))
				r := c.startToken(w)
				expect202(t, r, "") // a Status step at the endpoint is a plain 202
				for i := 0; i < 2; i++ {
					s := c.poll(r).expect(t, 429)
					if s.Header.Get("Retry-After") != "3" || s.str(t, "error") != "slow_down" {
						t.Errorf("429 %v %s", s.Header, s.Body)
					}
				}
				s := c.poll(r).expect(t, 503)
				if _, ok := s.Header["Retry-After"]; ok {
					t.Errorf("503 has Retry-After %q", s.Header.Get("Retry-After"))
				}
				if got := c.poll(r).expect(t, 202).Header.Get("Retry-After"); got != date {
					t.Errorf("Retry-After %q", got)
				}
				if got := c.poll(r).expect(t, 202).Header.Get("Retry-After"); got != "99999999999" {
					t.Errorf("Retry-After %q", got)
				}
				c.poll(r).expect(t, 200)
			})
			t.Run("no Retry-After", func(t *testing.T) {
				q(Defer(Approval().RetryAfter("")))
				r := c.startToken(w).expect(t, 202)
				if _, ok := r.Header["Retry-After"]; ok {
					t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
				}
			})
			ends := []struct {
				name   string
				d      Decision
				status int
				code   string
			}{
				{"deny", Deny(), 403, "denied"},
				{"abandon", Abandon(), 403, "abandoned"},
				{"revoked", Revoked(), 403, "revoked"},
				{"expire", Expire(), 408, "expired"},
				{"gone", Gone(), 410, "invalid_code"},
				{"server error", ServerError(), 500, "server_error"},
				{"as unreachable", ASUnreachable(), 502, "as_unreachable"},
				{"fail", Fail(403, "user_unreachable", "nobody home"), 403, "user_unreachable"},
			}
			for _, e := range ends {
				t.Run(e.name+" at once", func(t *testing.T) {
					q(e.d)
					r := c.startToken(w).expect(t, e.status)
					if got := r.str(t, "error"); got != e.code {
						t.Errorf("error %q, want %q", got, e.code)
					}
					wantCT := "application/problem+json"
					detail := "detail"
					if p == wire.ProfileSeed {
						wantCT, detail = "application/json", "error_description"
					}
					if ct := r.Header.Get("Content-Type"); ct != wantCT || r.str(t, detail) == "" {
						t.Errorf("%s: Content-Type %q body %s", e.name, ct, r.Body)
					}
				})
				t.Run(e.name+" after approval", func(t *testing.T) {
					q(Defer(Approval()).Then(e.d))
					r := c.startToken(w)
					expect202(t, r, wire.RequirementApproval)
					if got := c.poll(r).expect(t, e.status).str(t, "error"); got != e.code {
						t.Errorf("error %q, want %q", got, e.code)
					}
				})
			}
			t.Run("fail with Retry-After", func(t *testing.T) {
				q(Fail(503, "temporarily_unavailable", "busy").RetryAfter("7"))
				if got := c.startToken(w).expect(t, 503).Header.Get("Retry-After"); got != "7" {
					t.Errorf("Retry-After %q", got)
				}
			})
			t.Run("respond", func(t *testing.T) {
				q(Respond(418, http.Header{"X-Teapot": {"yes"}}, "short and stout"))
				r := c.startToken(w).expect(t, 418)
				if r.Header.Get("X-Teapot") != "yes" || string(r.Body) != "short and stout" {
					t.Errorf("answer %v %s", r.Header, r.Body)
				}
			})
			t.Run("cancel", func(t *testing.T) {
				q(Defer(Interaction()))
				r := c.startToken(w)
				c.do("DELETE", r.Header.Get("Location"), "", nil, nil).expect(t, 204)
				c.poll(r).expect(t, 410)
				c.do("DELETE", r.Header.Get("Location"), "", nil, nil).expect(t, 410)
			})
			t.Run("poll by another agent", func(t *testing.T) {
				q(Defer(Approval()))
				r := c.startToken(w)
				other := newClient(t, w)
				other.poll(r).expect(t, 403)
				c.poll(r).expect(t, 200)
			})
			t.Run("unknown pending URL", func(t *testing.T) {
				c.do("GET", w.PS.URL+"/aauth/pending/nope", "", nil, nil).expect(t, 404)
			})
			t.Run("lifetime, scope and claims", func(t *testing.T) {
				q(Approve().Lifetime(90 * time.Second).Claims(map[string]any{"tenant": "acme"}))
				r := c.startToken(w).expect(t, 200)
				tok, _ := parseToken(tokenOf(t, r))
				iat, _ := tok.time("iat")
				exp, _ := tok.time("exp")
				if exp.Sub(iat) != 90*time.Second || tok.str("tenant") != "acme" {
					t.Errorf("claims %v", tok.claims)
				}
				if n := r.json(t)["expires_in"].(interface{ String() string }).String(); n != "90" && n != "89" {
					t.Errorf("expires_in %s", n)
				}
			})
		})
	}
}

func TestPSQueueAndPolicy(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	var mu sync.Mutex
	var seen []TokenRequest
	w.PS.SetPolicy(func(tr *TokenRequest) Decision {
		mu.Lock()
		seen = append(seen, *tr)
		mu.Unlock()
		if tr.Justification == "read the data" {
			return Deny()
		}
		return Approve()
	})
	w.PS.Queue(TokenPerson, Defer(Approval()), Approve())
	w.PS.Queue(TokenAuth, Deny()) // never used by person-token requests

	expect202(t, c.startToken(w), wire.RequirementApproval) // queued decisions first, in order
	c.startToken(w).expect(t, 200)
	c.startToken(w).expect(t, 403) // then the policy
	mu.Lock()
	n := len(seen)
	mu.Unlock()
	if n != 1 || seen[0].Kind != TokenPerson || seen[0].Resource != w.Resource.URL || seen[0].Agent != c.agent.Subject {
		t.Errorf("policy saw %+v", seen)
	}
	if got := len(w.PS.TokenRequests()); got != 3 {
		t.Errorf("TokenRequests: %d", got)
	}
	w.PS.SetPolicy(nil)
	c.startToken(w).expect(t, 200)

	// Reset forgets queues and records.
	w.PS.Queue(TokenPerson, Deny())
	w.PS.Reset()
	c.startToken(w).expect(t, 200)
	if got := len(w.PS.TokenRequests()); got != 1 {
		t.Errorf("TokenRequests after Reset: %d", got)
	}
}

func TestPSRecordsTokenRequestParameters(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	// The person server checks that the mission exists and is the agent's.
	m256 := c.do("POST", w.PS.URL+"/aauth/mission", "", map[string]any{"description": "d"}, nil).expect(t, 200).str(t, "s256")
	body := map[string]any{
		"resource": w.Resource.URL, "mission_s256": m256, "capabilities": []string{"interaction", "clarification"},
		"login_hint": "alice@example.com", "tenant": "acme", "domain_hint": "acme.com", "prompt": "consent",
		"justification": "because", "platform": "desktop", "device": "laptop",
	}
	r := c.do("POST", w.PS.URL+"/aauth/token/person", "", body, nil).expect(t, 200)
	tr := w.PS.TokenRequests()[0]
	if tr.MissionS256 != m256 || len(tr.Capabilities) != 2 || tr.LoginHint != "alice@example.com" || tr.Tenant != "acme" ||
		tr.DomainHint != "acme.com" || tr.Prompt != "consent" || tr.Justification != "because" || tr.Platform != "desktop" || tr.Device != "laptop" {
		t.Errorf("token request %+v", tr)
	}
	pt, _ := parseToken(tokenOf(t, r))
	if pt.str("mission_s256") != m256 || pt.str("tenant") != "acme" {
		t.Errorf("person token claims %v", pt.claims)
	}
	iss := w.PS.Issued()
	if len(iss) != 1 || iss[0].Kind != TokenPerson || iss[0].Token != pt.raw || iss[0].Expiry.IsZero() {
		t.Errorf("Issued %+v", iss)
	}
}

func TestPSRelay(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	body := map[string]any{"type": "interaction", "url": "https://r.example/i", "code": "ABCD2345"}
	r := c.do("POST", w.PS.URL+"/aauth/interaction", "", body, nil).expect(t, 424)
	if r.str(t, "error") != "interaction_unavailable" {
		t.Errorf("relay answer %s", r.Body)
	}
	ps := NewPersonServer(PersonServerOptions{RelayInteractions: true, TrustedAgents: []string{w.Agent.URL}})
	defer ps.Close()
	r = c.do("POST", ps.URL+"/aauth/interaction", "", body, nil).expect(t, 202)
	if r.str(t, "status") != "interacting" {
		t.Errorf("relay answer %s", r.Body)
	}
}

func TestPSTrustKeyAndRelativeLocation(t *testing.T) {
	ap := NewAgentProvider(AgentProviderOptions{})
	a, err := ap.NewAgent("offline")
	if err != nil {
		t.Fatal(err)
	}
	kid := ""
	if tok, err := parseToken(a.Token); err == nil {
		kid = tok.kid
	}
	ap.Close() // its keys can no longer be fetched

	ps := NewPersonServer(PersonServerOptions{RelativeLocation: true})
	defer ps.Close()
	c := &client{t: t, agent: a}
	ep := ps.URL + "/aauth/token/person"
	body := map[string]any{"resource": "http://127.0.0.1:1"}
	if se := sigErr(t, c.do("POST", ep, "", body, nil)); se.Code != "unknown_key" {
		t.Errorf("unfetchable key: %q", se.Code)
	}
	ps.TrustKey(ap.URL, kid, ap.PublicKey())
	ps.Queue(TokenPerson, Defer(Approval()))
	r := c.do("POST", ep, "", body, nil).expect(t, 202)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/aauth/pending/") {
		t.Fatalf("Location %q is not relative", loc)
	}
	c.do("GET", ps.URL+loc, "", nil, nil).expect(t, 200)
}

// The person server bounds clarification rounds (AAuth -11 Clarification
// Limits): by default 5 questions per request, then 403 denied and the
// pending URL gone; the same question asked again on a poll is no new
// round. MaxClarificationRounds sets another bound, or none.
func TestPSClarificationRoundsBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int // PersonServerOptions.MaxClarificationRounds
		rounds int // questions scripted
		asked  int // questions asked before the end
		denied bool
	}{
		{"default bound", 0, 7, 5, true},
		{"at the default bound", 0, 5, 5, false},
		{"configured higher", 12, 12, 12, false},
		{"configured lower", 2, 3, 2, true},
		{"no bound", -1, 15, 15, false},
	} {
		for _, p := range profiles {
			t.Run(tc.name+"/"+p.String(), func(t *testing.T) {
				w := NewWorld(WorldOptions{Profile: p, PersonServer: PersonServerOptions{MaxClarificationRounds: tc.max}})
				defer w.Close()
				c := newClient(t, w)
				var steps []Step
				for i := range tc.rounds {
					steps = append(steps, Clarification(fmt.Sprintf("question %d?", i)))
				}
				w.PS.Queue(tokenKind(p), Defer(steps...))
				r := c.startToken(w)
				loc := r.Header.Get("Location")
				for i := range tc.asked {
					if i > 0 {
						r = c.poll(r)
					}
					expect202(t, r, wire.RequirementClarification)
					if q := r.str(t, "clarification"); q != fmt.Sprintf("question %d?", i) {
						t.Fatalf("round %d asked %q", i, q)
					}
					if i == 0 {
						// Asked again, unanswered: the same round.
						expect202(t, c.poll(r), wire.RequirementClarification)
					}
					body := map[string]any{"clarification_response": "answer"}
					if p == wire.ProfileCurrent {
						body["action"] = "clarification_response"
					}
					c.do("POST", loc, "", body, nil)
				}
				end := c.poll(r)
				if !tc.denied {
					end.expect(t, 200)
				} else {
					end.expect(t, 403)
					if end.str(t, "error") != "denied" || !strings.Contains(string(end.Body), fmt.Sprintf("limit of %d clarification rounds", tc.asked)) {
						t.Errorf("end %s", end.Body)
					}
					c.poll(r).expect(t, 410)
				}
				if n := len(w.PS.ClarificationAnswers()); n != tc.asked {
					t.Errorf("%d answers taken, want %d", n, tc.asked)
				}
			})
		}
	}
}
