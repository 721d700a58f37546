package aauthtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
)

// subWorld is a World with a parent agent ("planner") and two of its
// sub-agents, as SigningTransport-level clients that answer no challenge.
type subWorld struct {
	*World
	clock  *FakeClock
	parent *client
	subs   []*client
}

func newSubWorld(t *testing.T, opts WorldOptions) *subWorld {
	t.Helper()
	clock := NewFakeClock(time.Now())
	opts.Now = clock.Now
	w := NewWorld(opts)
	t.Cleanup(w.Close)
	sw := &subWorld{World: w, clock: clock}
	parent, err := w.NewAgent("planner")
	if err != nil {
		t.Fatal(err)
	}
	sw.parent = &client{t: t, agent: parent, now: clock.Now}
	for _, name := range []string{"w1", "w2"} {
		a, err := w.Agent.NewSubagent("planner", name)
		if err != nil {
			t.Fatal(err)
		}
		sw.subs = append(sw.subs, &client{t: t, agent: a, now: clock.Now})
	}
	return sw
}

// personFor asks the person server, as the parent, for a person token for
// the sub-agent presenting subToken.
func (sw *subWorld) personFor(subToken string) *response {
	ep := claimStr(metadata(sw.parent.t, sw.PS), "person_token_endpoint")
	return sw.parent.do("POST", ep, "", map[string]any{"resource": sw.Resource.URL, "subagent_token": subToken}, nil)
}

// authFor exchanges, as the parent, a resource token the sub-agent got.
func (sw *subWorld) authFor(subToken, rt, presented string) *response {
	ep := claimStr(metadata(sw.parent.t, sw.PS), "auth_token_endpoint")
	return sw.parent.do("POST", ep, "", map[string]any{"resource_token": rt, "presented_token": presented, "subagent_token": subToken}, nil)
}

// subFlow runs the parent-mediated flow for sub: the sub-agent calls, the
// parent gets its person token, the sub-agent presents it, the parent
// exchanges the resource token, the sub-agent calls with the auth token.
func (sw *subWorld) subFlow(t *testing.T, sub *client) (person, auth string) {
	t.Helper()
	url := sw.Resource.URL + "/data"
	if ch := sub.do("GET", url, "", nil, nil).expect(t, 401).challenge(t); ch.Requirement != "person-token" {
		t.Fatalf("first challenge %q", ch.Requirement)
	}
	person = sw.personFor(sub.agent.Token).expect(t, 200).str(t, "person_token")
	rt := sub.do("GET", url, person, nil, nil).expect(t, 401).challenge(t).ResourceToken
	auth = sw.authFor(sub.agent.Token, rt, person).expect(t, 200).str(t, "auth_token")
	sub.do("GET", url, auth, nil, nil).expect(t, 200)
	return person, auth
}

func jktOf(t *testing.T, a *Agent) string {
	t.Helper()
	jkt, err := keys.Thumbprint(a.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

func cnfThumbprint(t *testing.T, tok string) string {
	t.Helper()
	p, err := parseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	_, jkt, err := p.cnfKey()
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

// The parent-mediated flow of AAuth -11 against the kit: every token a
// sub-agent holds is bound to its own key, no token names an agent, and
// the person server records the relationship (SA-17, SA-23, SA-24, SA-28,
// SA-30).
func TestPSSubagentFlow(t *testing.T) {
	sw := newSubWorld(t, WorldOptions{})
	for _, sub := range sw.subs {
		person, auth := sw.subFlow(t, sub)
		jkt := jktOf(t, sub.agent)
		if cnfThumbprint(t, person) != jkt || cnfThumbprint(t, auth) != jkt {
			t.Errorf("%s: tokens not bound to the sub-agent's key", sub.agent.Subject)
		}
		for _, tok := range []string{person, auth} {
			p, _ := parseToken(tok)
			for _, claim := range []string{"parent_agent", "agent", "act"} {
				if _, ok := p.claims[claim]; ok {
					t.Errorf("%s token carries %s", p.kind, claim)
				}
			}
			if p.str("sub") != sw.PS.Subject(sw.Resource.URL) {
				t.Errorf("%s token sub %q", p.kind, p.str("sub"))
			}
		}
	}
	trs := sw.PS.TokenRequests()
	if len(trs) != 4 {
		t.Fatalf("%d token requests", len(trs))
	}
	for i, tr := range trs {
		sub := sw.subs[i/2]
		if tr.Agent != sw.parent.agent.Subject || tr.Subagent != sub.agent.Subject || tr.SubagentThumbprint != jktOf(t, sub.agent) || tr.Thumbprint != jktOf(t, sw.parent.agent) {
			t.Errorf("request %d: agent %q sub-agent %q", i, tr.Agent, tr.Subagent)
		}
	}
	for _, it := range sw.PS.Issued() {
		if it.Agent != sw.parent.agent.Subject || it.Subagent == "" || it.Person != "alice" {
			t.Errorf("issued %s: agent %q sub-agent %q person %q", it.Kind, it.Agent, it.Subagent, it.Person)
		}
	}
}

// The five checks of interop Surface 5, each broken once (SA-35).
func TestPSSubagentSurface5(t *testing.T) {
	sw := newSubWorld(t, WorldOptions{})
	sub := sw.subs[0]
	url := sw.Resource.URL + "/data"
	code := func(r *response) string { t.Helper(); return r.expect(t, 400).str(t, "error") }
	challenge := func(c *client, presented string) string {
		t.Helper()
		return c.do("GET", url, presented, nil, nil).expect(t, 401).challenge(t).ResourceToken
	}

	t.Run("Surface5_1_agent_jkt_is_the_subagent_key", func(t *testing.T) {
		// The parent hands over a resource token issued to itself.
		own := sw.parent.personToken(sw.PS, sw.Resource.URL)
		rt := challenge(sw.parent, own)
		if got := code(sw.authFor(sub.agent.Token, rt, own)); got != "invalid_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("Surface5_2_presented_jti_names_the_presented_token", func(t *testing.T) {
		p1 := sw.personFor(sub.agent.Token).expect(t, 200).str(t, "person_token")
		p2 := sw.personFor(sub.agent.Token).expect(t, 200).str(t, "person_token")
		rt := challenge(sub, p1)
		if got := code(sw.authFor(sub.agent.Token, rt, p2)); got != "invalid_resource_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("Surface5_3_presented_token_is_bound_to_the_subagent", func(t *testing.T) {
		// A resource token naming the sub-agent's key and a person token of
		// the parent's: only a resource colluding with the parent writes
		// it, so the test mints it with the resource's key.
		own := sw.parent.personToken(sw.PS, sw.Resource.URL)
		op, _ := parseToken(own)
		now := sw.clock.Now()
		rt, err := sw.Resource.key.mint(typResource, map[string]any{
			"iss": sw.Resource.URL, "dwk": dwkResource, "aud": sw.PS.URL, "ps": sw.PS.URL,
			"jti": randomID(8), "agent_jkt": jktOf(t, sub.agent), "presented_jti": op.str("jti"),
			"sub": op.str("sub"), "scope": "read", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := code(sw.authFor(sub.agent.Token, rt, own)); got != "invalid_presented_token" {
			t.Errorf("error %q", got)
		}
	})
	t.Run("Surface5_4_parent_agent_names_the_signer", func(t *testing.T) {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		other, err := sw.Agent.MintSubagent("someone", "w1", key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if got := code(sw.personFor(other)); got != "invalid_subagent_token" {
			t.Errorf("person endpoint: error %q", got)
		}
		person := sw.personFor(sub.agent.Token).expect(t, 200).str(t, "person_token")
		rt := challenge(sub, person)
		if got := code(sw.authFor(other, rt, person)); got != "invalid_subagent_token" {
			t.Errorf("auth endpoint: error %q", got)
		}
	})
	t.Run("Surface5_5_auth_token_bound_to_the_subagent", func(t *testing.T) {
		_, auth := sw.subFlow(t, sub)
		if cnfThumbprint(t, auth) != jktOf(t, sub.agent) {
			t.Error("auth token not bound to the sub-agent's key")
		}
	})
}

// What else the person server refuses about sub-agents (SA-03, SA-04,
// SA-08, SA-10, SA-13, SA-33, SA-34, D13).
func TestPSSubagentRefusals(t *testing.T) {
	sw := newSubWorld(t, WorldOptions{})
	sub := sw.subs[0]
	code := func(r *response) string { t.Helper(); return r.expect(t, 400).str(t, "error") }
	mint := func(issuer *agentprovider.Issuer, req agentprovider.TokenRequest) string {
		t.Helper()
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		req.Key = key.Public()
		tok, _, err := issuer.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ap := sw.Agent.TokenIssuer()
	planner := sw.parent.agent.Subject
	ep := claimStr(metadata(t, sw.PS), "person_token_endpoint")

	cases := []struct {
		name, token, want string
	}{
		{"not a JWT", "garbage", "invalid_subagent_token"},
		{"a top-level agent token", mint(ap, agentprovider.TokenRequest{Subject: sw.Agent.Subject("helper")}), "invalid_subagent_token"},
		{"parent named in another case", mint(ap, agentprovider.TokenRequest{Subject: sw.Agent.Subject("Planner+x"), ParentAgent: sw.Agent.Subject("Planner")}), "invalid_subagent_token"},
		{"a person token", sw.parent.personToken(sw.PS, sw.Resource.URL), "invalid_subagent_token"},
	}
	// Another agent provider naming the same parent (SA-10).
	otherAP := NewAgentProvider(AgentProviderOptions{})
	defer otherAP.Close()
	sw.PS.TrustAgentProvider(otherAP.URL)
	if otherAP.Subject("planner") != planner {
		t.Fatalf("the two providers name agents differently: %q %q", otherAP.Subject("planner"), planner)
	}
	cases = append(cases, struct{ name, token, want string }{"issued by another agent provider", mint(otherAP.TokenIssuer(), agentprovider.TokenRequest{Subject: otherAP.Subject("planner+w9"), ParentAgent: planner}), "invalid_subagent_token"})
	for _, tc := range cases {
		if got := code(sw.personFor(tc.token)); got != tc.want {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}

	// A sub-agent whose local part does not look like one but whose token
	// names the parent is one: only parent_agent counts (SA-03). The kit's
	// provider refuses to mint it, so the test signs it with its key.
	odd := mint(&agentprovider.Issuer{Issuer: ap.Issuer, Key: ap.Key}, agentprovider.TokenRequest{Subject: planner})
	oddTok, err := parseToken(odd)
	if err != nil {
		t.Fatal(err)
	}
	oddTok.claims["sub"] = sw.Agent.Subject("worker")
	oddTok.claims["parent_agent"] = planner
	rewritten := resign(t, ap, oddTok.claims)
	sw.personFor(rewritten).expect(t, 200)

	// A sub-agent may not ask itself (SA-13, SA-07).
	if got := code(sub.do("POST", ep, "", map[string]any{"resource": sw.Resource.URL}, nil)); got != "invalid_request" {
		t.Errorf("a sub-agent asking for itself: %q", got)
	}
	// Both delegation members at once (D13).
	if got := code(sw.parent.do("POST", ep, "", map[string]any{"resource": sw.Resource.URL, "subagent_token": sub.agent.Token, "upstream_token": "x.y.z"}, nil)); got != "invalid_request" {
		t.Errorf("subagent_token with upstream_token: %q", got)
	}
	// Revoked by its agent provider (SA-34).
	w2 := sw.subs[1]
	sw.PS.Revoke(w2.agent.Token)
	if got := code(sw.personFor(w2.agent.Token)); got != "revoked_subagent_token" {
		t.Errorf("revoked: %q", got)
	}
	// Expired (the parent's token lives on).
	short := mint(ap, agentprovider.TokenRequest{Subject: sw.Agent.Subject("planner+short"), ParentAgent: planner, Lifetime: time.Minute})
	sw.clock.Advance(2 * time.Minute)
	if got := code(sw.personFor(short)); got != "expired_subagent_token" {
		t.Errorf("expired: %q", got)
	}
}

// resign signs claims as an agent token of ap, as the provider would, but
// without its identifier checks.
func resign(t *testing.T, ap *agentprovider.Issuer, claims map[string]any) string {
	t.Helper()
	kid, _ := keys.Thumbprint(ap.Key.Public())
	k := &issuerKey{priv: ap.Key.(ed25519.PrivateKey), kid: kid, alg: jwa.EdDSAEd25519()}
	tok, err := k.mint(typAgent, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Person and auth tokens issued for a sub-agent outlive neither agent
// token (SA-18, SA-32, D7).
func TestPSSubagentCaps(t *testing.T) {
	sw := newSubWorld(t, WorldOptions{})
	ap := sw.Agent.TokenIssuer()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	short, exp, err := ap.Issue(context.Background(), agentprovider.TokenRequest{
		Subject: sw.Agent.Subject("planner+short"), ParentAgent: sw.parent.agent.Subject, Key: key.Public(), Lifetime: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := &client{t: t, agent: &Agent{Subject: sw.Agent.Subject("planner+short"), Key: key, Token: short}, now: sw.clock.Now}
	person, auth := sw.subFlow(t, sub)
	for _, tok := range []string{person, auth} {
		p, _ := parseToken(tok)
		if e, _ := p.time("exp"); !e.Equal(exp) {
			t.Errorf("%s token exp %v, want the sub-agent token's %v", p.kind, e, exp)
		}
	}
}

// ConsentOnce: a parent and its sub-agents need the person once per
// resource, even when the sub-agents ask at the same time (SA-27).
func TestPSConsentOnce(t *testing.T) {
	sw := newSubWorld(t, WorldOptions{})
	sw.PS.SetPolicy(ConsentOnce(Defer(Interaction())))
	ep := claimStr(metadata(t, sw.PS), "person_token_endpoint")
	var wg sync.WaitGroup
	answers := make([]*response, len(sw.subs))
	for i, sub := range sw.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = sw.parent.do("POST", ep, "", map[string]any{"resource": sw.Resource.URL, "subagent_token": sub.agent.Token}, nil)
		}()
	}
	wg.Wait()
	codes := sw.PS.Interactions()
	if len(codes) != 1 {
		t.Fatalf("%d interactions, want 1", len(codes))
	}
	for _, a := range answers {
		a.expect(t, 202)
	}
	// Before the person approves, the others are pending too.
	for _, a := range answers {
		sw.parent.do("GET", a.Header.Get("Location"), "", nil, nil).expect(t, 202)
	}
	if err := sw.PS.CompleteInteraction(codes[0].Code); err != nil {
		t.Fatal(err)
	}
	for i, a := range answers {
		tok := sw.parent.do("GET", a.Header.Get("Location"), "", nil, nil).expect(t, 200).str(t, "person_token")
		if cnfThumbprint(t, tok) != jktOf(t, sw.subs[i].agent) {
			t.Errorf("sub-agent %d: person token bound to another key", i)
		}
	}
	// Later requests, of any kind, for the same resource: at once.
	_, auth := sw.subFlow(t, sw.subs[0])
	if auth == "" || len(sw.PS.Interactions()) != 1 {
		t.Errorf("%d interactions after more requests", len(sw.PS.Interactions()))
	}

	// A denied consent denies the requests that waited on it, and the
	// next ones.
	sw.Reset()
	sw.PS.SetPolicy(ConsentOnce(Defer(Interaction())))
	first := sw.personFor(sw.subs[0].agent.Token).expect(t, 202)
	second := sw.personFor(sw.subs[1].agent.Token).expect(t, 202)
	if err := sw.PS.DenyInteraction(sw.PS.Interactions()[0].Code); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*response{first, second} {
		if got := sw.parent.do("GET", a.Header.Get("Location"), "", nil, nil).expect(t, http.StatusForbidden).str(t, "error"); got != "denied" {
			t.Errorf("after the denial: %q", got)
		}
	}
	if got := sw.personFor(sw.subs[0].agent.Token).expect(t, http.StatusForbidden).str(t, "error"); got != "denied" {
		t.Errorf("a later request: %q", got)
	}
}
