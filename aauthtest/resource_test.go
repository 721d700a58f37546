package aauthtest

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/resource"
	"github.com/aauthgo/aauth/wire"
)

func sigErr(t *testing.T, r *response) *wire.SignatureError {
	t.Helper()
	r.expect(t, 401)
	se, err := wire.ParseSignatureError(r.Header.Get("Signature-Error"))
	if err != nil {
		t.Fatalf("Signature-Error %q: %v", r.Header.Get("Signature-Error"), err)
	}
	return se
}

func TestResourceModes(t *testing.T) {
	t.Run("agent-token", func(t *testing.T) {
		for _, p := range profiles {
			w := NewWorld(WorldOptions{Profile: p, Resource: ResourceOptions{Mode: AccessAgentToken}})
			defer w.Close()
			c := newClient(t, w)
			b := c.do("GET", w.Resource.URL+"/a", "", nil, nil).expect(t, 200).json(t)
			if b["presented"] != "agent" || b["agent"] != c.agent.Subject || b["path"] != "/a" {
				t.Errorf("%s: echo %v", p, b)
			}
		}
	})
	t.Run("person-token", func(t *testing.T) {
		w := NewWorld(WorldOptions{Resource: ResourceOptions{Mode: AccessPersonToken}})
		defer w.Close()
		c := newClient(t, w)
		if ch := c.do("GET", w.Resource.URL+"/a", "", nil, nil).challenge(t); ch.Requirement != wire.RequirementPersonToken {
			t.Fatalf("requirement %q", ch.Requirement)
		}
		pt := c.personToken(w.PS, w.Resource.URL)
		b := c.do("GET", w.Resource.URL+"/a", pt, nil, nil).expect(t, 200).json(t)
		if b["presented"] != "person" || b["sub"] != w.PS.Subject(w.Resource.URL) {
			t.Errorf("echo %v", b)
		}
		// A person token for another resource is refused.
		other := c.personToken(w.PS, "https://other.example")
		if se := sigErr(t, c.do("GET", w.Resource.URL+"/a", other, nil, nil)); se.Code != "invalid_jwt" {
			t.Errorf("code %q", se.Code)
		}
	})
	t.Run("person-token in the seed profile is auth-token", func(t *testing.T) {
		w := NewWorld(WorldOptions{Profile: wire.ProfileSeed, Resource: ResourceOptions{Mode: AccessPersonToken}})
		defer w.Close()
		c := newClient(t, w)
		if ch := c.do("GET", w.Resource.URL+"/a", "", nil, nil).challenge(t); ch.Requirement != wire.RequirementAuthToken {
			t.Fatalf("requirement %q", ch.Requirement)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		w := NewWorld(WorldOptions{})
		defer w.Close()
		// The resource package's answer: a bad signature (none), and
		// what to sign with.
		r := get(t, w.Resource.URL+"/a").expect(t, 401)
		if r.challenge(t).Requirement != wire.RequirementAgentToken || r.Header.Get("Accept-Signature-Scheme") != "jwt" || r.Header.Get("Signature-Error") != "error=invalid_signature" {
			t.Errorf("headers %v", r.Header)
		}
		rec := w.Resource.Requests()[0]
		if rec.Signed || rec.Presented != TokenNone || rec.SignatureError != "invalid_signature" {
			t.Errorf("record %+v", rec)
		}
	})
}

func TestResourceSessionTokens(t *testing.T) {
	t.Run("current", func(t *testing.T) {
		w := NewWorld(WorldOptions{Resource: ResourceOptions{Mode: AccessSessionToken}})
		defer w.Close()
		c := newClient(t, w)
		url := w.Resource.URL + "/s"
		r := c.do("GET", url, "", nil, nil).expect(t, 200)
		tok, ok, err := wire.ParseAccess(r.Header)
		if !ok || err != nil {
			t.Fatalf("AAuth-Access %q: %v", r.Header.Get("AAuth-Access"), err)
		}
		authz := http.Header{"Authorization": {"AAuth " + tok}}
		r = c.do("GET", url, "", nil, authz).expect(t, 200)
		if r.Header.Get("AAuth-Access") != "" || r.json(t)["presented"] != "session" {
			t.Errorf("session call: %v %s", r.Header, r.Body)
		}
		last := w.Resource.Requests()[len(w.Resource.Requests())-1]
		if last.Session != tok || !last.Covers("authorization") || last.Presented != TokenAgent {
			t.Errorf("record %+v", last)
		}
		// Signed the April way, Authorization is not covered.
		seedSigned := &client{t: t, agent: c.agent, profile: wire.ProfileSeed}
		se := sigErr(t, seedSigned.do("GET", url, "", nil, authz))
		if se.Code != "invalid_input" || !contains(strings.Join(se.RequiredInput, " "), "authorization") {
			t.Errorf("Signature-Error %+v", se)
		}
		// Another agent cannot use it: the token is disregarded, and the
		// other agent gets a session of its own.
		other := newClient(t, w)
		r = other.do("GET", url, "", nil, authz).expect(t, 200)
		if got := r.Header.Get("AAuth-Access"); got == "" || got == tok || r.json(t)["presented"] != "agent" {
			t.Errorf("another agent presenting the session token: AAuth-Access %q, %s", got, r.Body)
		}
		// Revoked: disregarded too, and replaced.
		w.Resource.Revoke(tok)
		r = c.do("GET", url, "", nil, authz).expect(t, 200)
		if got := r.Header.Get("AAuth-Access"); got == "" || got == tok || r.json(t)["presented"] != "agent" {
			t.Errorf("a revoked session token: AAuth-Access %q, %s", got, r.Body)
		}
		if iss := w.Resource.Issued(); len(iss) != 3 || iss[0].Kind != TokenSession || iss[0].Token != tok || iss[2].Token != r.Header.Get("AAuth-Access") {
			t.Errorf("Issued %+v", iss)
		}
	})
	t.Run("rotation", func(t *testing.T) {
		w := NewWorld(WorldOptions{Resource: ResourceOptions{Mode: AccessSessionToken, RotateSessionTokens: true}})
		defer w.Close()
		c := newClient(t, w)
		url := w.Resource.URL + "/s"
		tok1 := c.do("GET", url, "", nil, nil).expect(t, 200).Header.Get("AAuth-Access")
		r := c.do("GET", url, "", nil, http.Header{"Authorization": {"AAuth " + tok1}}).expect(t, 200)
		tok2 := r.Header.Get("AAuth-Access")
		if tok2 == "" || tok2 == tok1 {
			t.Fatalf("no replacement: %q %q", tok1, tok2)
		}
		// The replaced token is forgotten: presenting it gets a new one.
		if got := c.do("GET", url, "", nil, http.Header{"Authorization": {"AAuth " + tok1}}).expect(t, 200).json(t)["presented"]; got != "agent" {
			t.Errorf("the replaced token was accepted (%v)", got)
		}
		if got := c.do("GET", url, "", nil, http.Header{"Authorization": {"AAuth " + tok2}}).expect(t, 200).json(t)["presented"]; got != "session" {
			t.Errorf("the replacement was not accepted (%v)", got)
		}
	})
	t.Run("seed", func(t *testing.T) {
		w := NewWorld(WorldOptions{Profile: wire.ProfileSeed, Resource: ResourceOptions{Mode: AccessSessionToken}})
		defer w.Close()
		c := newClient(t, w)
		url := w.Resource.URL + "/s"
		tok := c.do("GET", url, "", nil, nil).expect(t, 200).Header.Get("AAuth-Access")
		r := c.do("POST", url, "", map[string]any{"x": 1}, http.Header{"Authorization": {"Bearer " + tok}}).expect(t, 200)
		last := w.Resource.Requests()[len(w.Resource.Requests())-1]
		if last.Covers("authorization") || last.Session != tok || r.json(t)["presented"] != "session" {
			t.Errorf("seed session call %+v", last)
		}
	})
}

func TestResourceSignatureErrors(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) { testResourceSignatureErrors(t, p) })
	}
}

func testResourceSignatureErrors(t *testing.T, p wire.Profile) {
	clock := NewFakeClock(time.Now())
	w := NewWorld(WorldOptions{Profile: p, Now: clock.Now})
	defer w.Close()
	c := newClient(t, w)
	c.now = clock.Now
	url := w.Resource.URL + "/data?q=1"
	at := c.fullFlow(w)

	t.Run("clock skew", func(t *testing.T) {
		w.Resource.SetClockOffset(-2 * time.Minute)
		defer w.Resource.SetClockOffset(0)
		if se := sigErr(t, c.do("GET", url, at, nil, nil)); se.Code != "clock_skew" {
			t.Errorf("code %q", se.Code)
		}
		rec := w.Resource.Requests()[len(w.Resource.Requests())-1]
		if rec.SignatureError != "clock_skew" || rec.Signed || rec.Presented != TokenAuth {
			t.Errorf("record %+v", rec)
		}
	})
	t.Run("old signature", func(t *testing.T) {
		w.Resource.SetClockOffset(2 * time.Minute)
		defer w.Resource.SetClockOffset(0)
		if se := sigErr(t, c.do("GET", url, at, nil, nil)); se.Code != "invalid_signature" {
			t.Errorf("code %q", se.Code)
		}
	})
	t.Run("required components", func(t *testing.T) {
		w.Resource.RequireComponents("@query")
		defer w.Resource.RequireComponents()
		se := sigErr(t, c.do("GET", url, at, nil, nil))
		if se.Code != "invalid_input" || !contains(strings.Join(se.RequiredInput, " "), "@query") {
			t.Errorf("Signature-Error %+v", se)
		}
		c.extra = []string{"@query"}
		defer func() { c.extra = nil }()
		c.do("GET", url, at, nil, nil).expect(t, 200)
	})
	t.Run("revoked", func(t *testing.T) {
		other := newClient(t, w)
		other.now = clock.Now
		at2 := other.fullFlow(w)
		w.Resource.Revoke(at2)
		if se := sigErr(t, other.do("GET", url, at2, nil, nil)); se.Code != "revoked_jwt" {
			t.Errorf("code %q", se.Code)
		}
	})
	t.Run("token of another resource", func(t *testing.T) {
		r2 := NewResource(ResourceOptions{Profile: p, Now: clock.Now, PersonServer: w.PS.URL})
		defer r2.Close()
		if se := sigErr(t, c.do("GET", r2.URL+"/x", at, nil, nil)); se.Code != "invalid_jwt" {
			t.Errorf("code %q", se.Code)
		}
	})
	t.Run("untrusted person server", func(t *testing.T) {
		if p == wire.ProfileSeed {
			t.Skip("no person tokens in the seed profile")
		}
		ps2 := NewPersonServer(PersonServerOptions{Now: clock.Now})
		defer ps2.Close()
		pt := c.personToken(ps2, w.Resource.URL)
		if se := sigErr(t, c.do("GET", url, pt, nil, nil)); se.Code != "invalid_jwt" {
			t.Errorf("code %q", se.Code)
		}
	})
	t.Run("resource token in Signature-Key", func(t *testing.T) {
		rt := w.Resource.Issued()[0].Token
		if se := sigErr(t, c.do("GET", url, rt, nil, nil)); se.Code != "invalid_jwt" {
			t.Errorf("code %q", se.Code)
		}
	})
	t.Run("expired auth token", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		defer clock.Advance(-2 * time.Hour)
		// The agent token expired too; present the auth token anyway.
		if se := sigErr(t, c.do("GET", url, at, nil, nil)); se.Code != "expired_jwt" {
			t.Errorf("code %q", se.Code)
		}
	})
}

func TestResourceStepUp(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) { testResourceStepUp(t, p) })
	}
}

func testResourceStepUp(t *testing.T, p wire.Profile) {
	w := NewWorld(WorldOptions{Profile: p})
	defer w.Close()
	c := newClient(t, w)
	url := w.Resource.URL + "/data"
	at := c.fullFlow(w)

	w.Resource.StepUp("write")
	r := c.do("GET", url, at, nil, nil).expect(t, 401)
	ch := r.challenge(t)
	if ch.Requirement != wire.RequirementAuthToken {
		t.Fatalf("requirement %q", ch.Requirement)
	}
	rt, _ := parseToken(ch.ResourceToken)
	atok, _ := parseToken(at)
	if rt.str("scope") != "read write" {
		t.Errorf("step-up resource token scope %q", rt.str("scope"))
	}
	if p == wire.ProfileCurrent && (rt.str("presented_jti") != atok.str("jti") || rt.str("sub") != atok.str("sub")) {
		t.Errorf("step-up resource token %v", rt.claims)
	}
	if p == wire.ProfileSeed && (rt.str("agent") != c.agent.Subject || rt.str("aud") != w.PS.URL) {
		t.Errorf("seed step-up resource token %v", rt.claims)
	}
	// The old token keeps being challenged: it lacks the new scope.
	c.do("GET", url, at, nil, nil).expect(t, 401)
	// Exchange presenting the auth token.
	at2 := c.authToken(w.PS, ch.ResourceToken, at)
	b := c.do("GET", url, at2, nil, nil).expect(t, 200).json(t)
	if b["scope"] != "read write" {
		t.Errorf("echo %v", b)
	}
	if tr := w.PS.TokenRequests(); p == wire.ProfileCurrent && tr[len(tr)-1].PresentedKind != TokenAuth {
		t.Errorf("presented kind %q", tr[len(tr)-1].PresentedKind)
	}
	// A step-up with a scope already held still challenges once.
	w.Resource.StepUp("read")
	c.do("GET", url, at2, nil, nil).expect(t, 401)
	c.do("GET", url, at2, nil, nil).expect(t, 200)
}

func TestResourcePersonTokenJTI(t *testing.T) {
	for _, on := range []bool{false, true} {
		w := NewWorld(WorldOptions{Resource: ResourceOptions{PersonTokenJTI: on}})
		defer w.Close()
		c := newClient(t, w)
		url := w.Resource.URL + "/data"
		c.do("GET", url, "", nil, nil).expect(t, 401)
		pt := c.personToken(w.PS, w.Resource.URL)
		ch := c.do("GET", url, pt, nil, nil).challenge(t)
		rt, _ := parseToken(ch.ResourceToken)
		ptok, _ := parseToken(pt)
		want := ""
		if on {
			want = ptok.str("jti")
		}
		if rt.str("person_token_jti") != want || rt.str("presented_jti") != ptok.str("jti") {
			t.Errorf("PersonTokenJTI %v: resource token %v", on, rt.claims)
		}
		// The kit's person server reads presented_jti; the extra claim
		// changes nothing for it.
		at := c.authToken(w.PS, ch.ResourceToken, pt)
		// A step-up names the auth token presented as presented_jti and,
		// with PersonTokenJTI, the person token it stems from, which the
		// resource remembers, as person_token_jti: mockin looks every
		// resource token's person token up by it.
		w.Resource.StepUp("write")
		ch = c.do("GET", url, at, nil, nil).challenge(t)
		atok, _ := parseToken(at)
		if rt, _ := parseToken(ch.ResourceToken); rt.str("person_token_jti") != want || rt.str("presented_jti") != atok.str("jti") {
			t.Errorf("PersonTokenJTI %v: step-up resource token %v", on, rt.claims)
		}
	}
}

func TestResourceDeferredAuthToken(t *testing.T) {
	w := NewWorld(WorldOptions{Resource: ResourceOptions{DeferAuthToken: true}})
	defer w.Close()
	c := newClient(t, w)
	url := w.Resource.URL + "/items"
	pt := c.personToken(w.PS, w.Resource.URL)
	r := c.do("POST", url, pt, map[string]any{"name": "x"}, nil)
	ch := expect202(t, r, wire.RequirementAuthToken)
	// Polling with the person token: still the same requirement.
	again := c.do("GET", r.Header.Get("Location"), pt, nil, nil)
	if ch2 := expect202(t, again, wire.RequirementAuthToken); ch2.ResourceToken != ch.ResourceToken {
		t.Error("the resource token changed")
	}
	at := c.authToken(w.PS, ch.ResourceToken, pt)
	b := c.do("GET", r.Header.Get("Location"), at, nil, nil).expect(t, 200).json(t)
	if b["method"] != "POST" || b["path"] != "/items" || b["presented"] != "auth" || b["body_bytes"] == nil {
		t.Errorf("held call served as %v", b)
	}
	// The answer again to the same token (it may have been lost), not to
	// another; the call was served once.
	c.do("GET", r.Header.Get("Location"), at, nil, nil).expect(t, 200)
	at2 := c.authToken(w.PS, ch.ResourceToken, pt)
	c.do("GET", r.Header.Get("Location"), at2, nil, nil).expect(t, 410)
	if n := w.Resource.Served(); n != 1 {
		t.Errorf("served %d times", n)
	}
}

func TestResourceQueue(t *testing.T) {
	for _, p := range profiles {
		t.Run("resource-run interaction then a session token/"+p.String(), func(t *testing.T) { testResourceInteraction(t, p) })
	}
	t.Run("terminal answers replace challenges", func(t *testing.T) {
		w := NewWorld(WorldOptions{})
		defer w.Close()
		c := newClient(t, w)
		w.Resource.Queue(Deny(), Respond(429, http.Header{"Retry-After": {"1"}}, ""))
		if got := c.do("GET", w.Resource.URL+"/x", "", nil, nil).expect(t, 403).str(t, "error"); got != "denied" {
			t.Errorf("error %q", got)
		}
		if got := c.do("GET", w.Resource.URL+"/x", "", nil, nil).expect(t, 429).Header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After %q", got)
		}
		c.do("GET", w.Resource.URL+"/x", "", nil, nil).expect(t, 401) // back to the flow
	})
	t.Run("deferral waits for the access check", func(t *testing.T) {
		w := NewWorld(WorldOptions{})
		defer w.Close()
		c := newClient(t, w)
		w.Resource.Queue(Defer(Approval()).Then(Expire()))
		c.do("GET", w.Resource.URL+"/x", "", nil, nil).expect(t, 401) // challenged: not consumed
		at := c.fullFlowFrom(w)
		r := c.do("GET", w.Resource.URL+"/x", at, nil, nil)
		expect202(t, r, wire.RequirementApproval)
		c.do("GET", r.Header.Get("Location"), at, nil, nil).expect(t, 408)
	})
	t.Run("clarification at the resource", func(t *testing.T) {
		w := NewWorld(WorldOptions{Resource: ResourceOptions{Mode: AccessAgentToken}})
		defer w.Close()
		c := newClient(t, w)
		w.Resource.Queue(Defer(Clarification("Sure?")))
		r := c.do("DELETE", w.Resource.URL+"/thing", "", nil, nil)
		expect202(t, r, wire.RequirementClarification)
		c.do("POST", r.Header.Get("Location"), "", map[string]any{"action": "clarification_response", "clarification_response": "yes"}, nil).expect(t, 202)
		b := c.poll(r).expect(t, 200).json(t)
		if b["method"] != "DELETE" {
			t.Errorf("echo %v", b)
		}
		if a := w.Resource.ClarificationAnswers(); len(a) != 1 || a[0].Response != "yes" {
			t.Errorf("answers %+v", a)
		}
	})
}

// A call the resource refuses for a component it lacks uses up no queued
// answer.
func TestResourceQueueWaitsForComponents(t *testing.T) {
	w := NewWorld(WorldOptions{Resource: ResourceOptions{Mode: AccessAgentToken}})
	defer w.Close()
	c := newClient(t, w)
	w.Resource.RequireComponents("@query")
	w.Resource.Queue(Deny())
	if se := sigErr(t, c.do("GET", w.Resource.URL+"/x?a=1", "", nil, nil)); se.Code != "invalid_input" {
		t.Fatalf("Signature-Error %+v", se)
	}
	c.extra = []string{"@query"}
	if got := c.do("GET", w.Resource.URL+"/x?a=1", "", nil, nil).expect(t, 403).str(t, "error"); got != "denied" {
		t.Errorf("error %q", got)
	}
	c.do("GET", w.Resource.URL+"/x?a=1", "", nil, nil).expect(t, 200)
}

func testResourceInteraction(t *testing.T, p wire.Profile) {
	w := NewWorld(WorldOptions{Profile: p, Resource: ResourceOptions{Mode: AccessSessionToken}})
	defer w.Close()
	c := newClient(t, w)
	w.Resource.Queue(Defer(Interaction()))
	r := c.do("GET", w.Resource.URL+"/s?x=1", "", nil, nil)
	ch := expect202(t, r, wire.RequirementInteraction)
	if !strings.HasPrefix(ch.URL, w.Resource.URL) || !strings.HasPrefix(r.Header.Get("Location"), w.Resource.URL+scriptedPath) {
		t.Errorf("interaction %v at %q", ch, r.Header.Get("Location"))
	}
	expect202(t, c.poll(r), wire.RequirementInteraction)
	get(t, ch.URL+"?code="+ch.Code).expect(t, 200)
	done := c.poll(r).expect(t, 200)
	if done.Header.Get("AAuth-Access") == "" || done.json(t)["path"] != "/s" {
		t.Errorf("end %v %s", done.Header, done.Body)
	}
	if ix := w.Resource.Interactions(); len(ix) != 1 || !ix[0].Completed {
		t.Errorf("Interactions %+v", ix)
	}
}

// fullFlowFrom runs the flow without asserting the first call (it may
// have been consumed already).
func (c *client) fullFlowFrom(w *World) string {
	c.t.Helper()
	pt := c.personToken(w.PS, w.Resource.URL)
	ch := c.do("GET", w.Resource.URL+"/data", pt, nil, nil).expect(c.t, 401).challenge(c.t)
	return c.authToken(w.PS, ch.ResourceToken, pt)
}

func TestResourceMalformed(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) { testResourceMalformed(t, p) })
	}
}

func testResourceMalformed(t *testing.T, p wire.Profile) {
	w := NewWorld(WorldOptions{Profile: p})
	defer w.Close()
	c := newClient(t, w)
	thumb, _ := thumbprintOf(c.agent)
	url := w.Resource.URL + "/x"
	cases := []struct {
		f     Fault
		check func(t *testing.T, r *response)
	}{
		{FaultResourceTokenOtherKey, func(t *testing.T, r *response) {
			rt, _ := parseToken(r.expect(t, 401).challenge(t).ResourceToken)
			if rt.str("agent_jkt") == thumb || rt.verifySignature(w.Resource.PublicKey()) != nil {
				t.Errorf("resource token %v", rt.claims)
			}
		}},
		{FaultResourceTokenExpired, func(t *testing.T, r *response) {
			rt, _ := parseToken(r.expect(t, 401).challenge(t).ResourceToken)
			if exp, _ := rt.time("exp"); exp.After(time.Now()) {
				t.Errorf("exp %v", exp)
			}
		}},
		{FaultRequirementCommaFormat, func(t *testing.T, r *response) {
			if v := r.expect(t, 401).Header.Get("AAuth-Requirement"); !strings.HasPrefix(v, `requirement=auth-token, resource-token="ey`) {
				t.Errorf("%q", v)
			}
		}},
		{FaultAccessTokenWhitespace, func(t *testing.T, r *response) {
			if _, ok, err := wire.ParseAccess(r.expect(t, 200).Header); !ok || err == nil {
				t.Errorf("AAuth-Access %q", r.Header.Values("AAuth-Access"))
			}
		}},
		{FaultAccessTokenMultiple, func(t *testing.T, r *response) {
			if _, ok, err := wire.ParseAccess(r.expect(t, 200).Header); !ok || err == nil {
				t.Errorf("AAuth-Access %q", r.Header.Values("AAuth-Access"))
			}
		}},
		{FaultNoLocation, func(t *testing.T, r *response) {
			if r.expect(t, 202).Header.Get("Location") != "" {
				t.Error("Location")
			}
		}},
		{FaultCrossOriginLocation, func(t *testing.T, r *response) {
			loc := r.expect(t, 202).Header.Get("Location")
			if !strings.HasPrefix(loc, "http://localhost:") {
				t.Fatalf("Location %q", loc)
			}
			c.do("GET", loc, "", nil, nil).expect(t, 200)
		}},
		{FaultRequirementUnknown, func(t *testing.T, r *response) {
			if r.expect(t, 401).Header.Get("AAuth-Requirement") != "requirement=bogus" {
				t.Errorf("%v", r.Header)
			}
		}},
		{FaultInteractionNoURL, func(t *testing.T, r *response) {
			if _, err := wire.ParseRequirement(r.expect(t, 401).Header.Get("AAuth-Requirement")); err == nil {
				t.Error("parses")
			}
		}},
		{FaultSignatureErrorUnknown, func(t *testing.T, r *response) {
			if se := sigErr(t, r); se.Code != "something_new" {
				t.Errorf("%+v", se)
			}
		}},
		{FaultNoToken, func(t *testing.T, r *response) { r.expect(t, 500) }},
	}
	for _, tc := range cases {
		t.Run(string(tc.f), func(t *testing.T) {
			w.Resource.Queue(Malformed(tc.f))
			tc.check(t, c.do("GET", url, "", nil, nil))
		})
	}
}

func TestResourceMetadataAndHandler(t *testing.T) {
	var seen *Caller
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		seen, _ = CallerFromContext(r.Context())
		io.WriteString(rw, "hello")
	})
	rs := NewResource(ResourceOptions{Mode: AccessAgentToken, Handler: h, Components: []string{"content-type"}})
	defer rs.Close()
	md := get(t, rs.URL+"/.well-known/aauth-resource.json").expect(t, 200).json(t)
	if md["issuer"] != rs.URL || md["jwks_uri"] != rs.URL+resJWKSPath || md["access_mode"] != "agent-token" {
		t.Errorf("metadata %v", md)
	}
	if comps, _ := md["additional_signature_components"].([]any); len(comps) != 1 {
		t.Errorf("additional_signature_components %v", md["additional_signature_components"])
	}
	ap := NewAgentProvider(AgentProviderOptions{})
	defer ap.Close()
	a, err := ap.NewAgent("bob")
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, agent: a}
	if r := c.do("POST", rs.URL+"/hi", "", map[string]any{}, nil).expect(t, 200); string(r.Body) != "hello" {
		t.Errorf("body %q", r.Body)
	}
	if seen == nil || seen.Presented != TokenAgent || seen.Agent != "aauth:bob@127.0.0.1" || seen.Thumbprint == "" {
		t.Errorf("caller %+v", seen)
	}
	if v := seen.Verified; v == nil || v.Kind != resource.KindAgent || v.Thumbprint != seen.Thumbprint || !slices.Contains(v.Components, "content-type") {
		t.Errorf("the package's caller %+v", v)
	}
	seed := NewResource(ResourceOptions{Profile: wire.ProfileSeed})
	defer seed.Close()
	if md := get(t, seed.URL+"/.well-known/aauth-resource.json").json(t); md["access_mode"] != nil {
		t.Errorf("seed metadata %v", md)
	}
}
