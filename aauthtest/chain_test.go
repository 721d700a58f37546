package aauthtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
)

// chainWorld is a World whose resource A is an intermediary that calls a
// second resource B for its callers (AAuth -11 "Call Chaining"): the
// intermediary's agent tokens are issued under A's own identifier, as its
// own agent provider, and the person server and B know that provider's key.
type chainWorld struct {
	*World
	clock  *FakeClock
	caller *client   // C, an agent calling A
	B      *Resource // the downstream resource
	apA    *agentprovider.Issuer
	inter  *client // A acting as an agent
}

func newChainWorld(t *testing.T, po PersonServerOptions) *chainWorld {
	t.Helper()
	clock := NewFakeClock(time.Now())
	w := NewWorld(WorldOptions{Now: clock.Now, PersonServer: po})
	t.Cleanup(w.Close)
	cw := &chainWorld{World: w, clock: clock}
	cw.caller = newClient(t, w)
	cw.caller.now = clock.Now
	cw.B = NewResource(ResourceOptions{Now: clock.Now, PersonServer: w.PS.URL})
	t.Cleanup(cw.B.Close)
	w.PS.TrustResource(cw.B.URL)
	cw.apA, cw.inter = cw.intermediaryOf(t, w.Resource)
	return cw
}

// intermediaryOf makes rs its own agent provider (a key the person server
// and the downstream resources trust under rs's identifier) and returns an
// agent of it, aauth:mcp@127.0.0.1, whose token has no ps.
func (cw *chainWorld) intermediaryOf(t *testing.T, rs *Resource) (*agentprovider.Issuer, *client) {
	t.Helper()
	key, _ := keys.Generate()
	kid, _ := keys.Thumbprint(key.Public())
	iss := &agentprovider.Issuer{Issuer: rs.URL, Key: key, KeyID: kid, Now: cw.clock.Now}
	cw.PS.TrustAgentProvider(rs.URL)
	cw.Resource.TrustAgentProvider(rs.URL)
	cw.PS.TrustKey(rs.URL, kid, key.Public())
	cw.B.TrustKey(rs.URL, kid, key.Public())
	cw.Resource.TrustKey(rs.URL, kid, key.Public())
	_, agentKey, _ := ed25519.GenerateKey(rand.Reader)
	tok, exp, err := iss.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:mcp@127.0.0.1", Key: agentKey.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return iss, &client{t: t, agent: &Agent{Subject: "aauth:mcp@127.0.0.1", Key: agentKey, Token: tok, Expiry: exp}, now: cw.clock.Now}
}

// upstreamAuth runs the caller's whole flow at A and returns the auth
// token it presented there.
func (cw *chainWorld) upstreamAuth(t *testing.T) string {
	t.Helper()
	return cw.caller.fullFlow(cw.World)
}

func (cw *chainWorld) personWith(c *client, upstream, resource string, extra map[string]any) *response {
	body := map[string]any{"resource": resource, "upstream_token": upstream}
	for k, v := range extra {
		body[k] = v
	}
	return c.do("POST", claimStr(metadata(c.t, cw.PS), "person_token_endpoint"), "", body, nil)
}

func (cw *chainWorld) authWith(c *client, upstream, rt, presented string) *response {
	return c.do("POST", claimStr(metadata(c.t, cw.PS), "auth_token_endpoint"), "", map[string]any{"resource_token": rt, "presented_token": presented, "upstream_token": upstream}, nil)
}

// chain runs the intermediary's downstream flow at rs under upstream and
// returns the downstream person and auth tokens.
func (cw *chainWorld) chain(t *testing.T, c *client, upstream string, rs *Resource) (person, auth string) {
	t.Helper()
	person = cw.personWith(c, upstream, rs.URL, nil).expect(t, 200).str(t, "person_token")
	rt := c.do("GET", rs.URL+"/data", person, nil, nil).expect(t, 401).challenge(t).ResourceToken
	auth = cw.authWith(c, upstream, rt, person).expect(t, 200).str(t, "auth_token")
	c.do("GET", rs.URL+"/data", auth, nil, nil).expect(t, 200)
	return person, auth
}

func claimsOf(t *testing.T, tok string) *token {
	t.Helper()
	p, err := parseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The chained flow: the downstream tokens are for the same person, under
// B's directed subject (never the upstream's), bound to the intermediary's
// key, capped by the upstream token, and the person server records the
// chain (CC-04, CC-07, CC-11, CC-12, CC-15, CC-16, CC-17, CC-24, CC-25).
func TestPSChainFlow(t *testing.T) {
	cw := newChainWorld(t, PersonServerOptions{})
	up := cw.upstreamAuth(t)
	person, auth := cw.chain(t, cw.inter, up, cw.B)
	u, p, a := claimsOf(t, up), claimsOf(t, person), claimsOf(t, auth)
	interJKT := jktOf(t, cw.inter.agent)
	switch {
	case p.str("aud") != cw.B.URL || a.str("aud") != cw.B.URL:
		t.Errorf("audiences %q %q", p.str("aud"), a.str("aud"))
	case p.str("sub") != cw.PS.Subject(cw.B.URL) || p.str("sub") == u.str("sub") || a.str("sub") != p.str("sub"):
		t.Errorf("subjects: upstream %q, person %q, auth %q", u.str("sub"), p.str("sub"), a.str("sub"))
	case cnfThumbprint(t, person) != interJKT || cnfThumbprint(t, auth) != interJKT:
		t.Error("downstream tokens not bound to the intermediary's key")
	}
	for _, claim := range []string{"act", "agent", "upstream", "parent_agent"} {
		if a.claims[claim] != nil || p.claims[claim] != nil {
			t.Errorf("a downstream token carries %s", claim)
		}
	}
	trs := cw.PS.TokenRequests()
	last := trs[len(trs)-2:]
	for _, tr := range last {
		if tr.Agent != cw.inter.agent.Subject || tr.AgentIssuer != cw.Resource.URL || tr.Upstream == nil {
			t.Fatalf("request %+v", tr)
		}
		if tr.Upstream.Kind != TokenAuth || tr.Upstream.Audience != cw.Resource.URL || tr.Upstream.Caller != cw.caller.agent.Subject || len(tr.Upstream.Lineage) != 0 || tr.Person != "alice" {
			t.Errorf("upstream info %+v", *tr.Upstream)
		}
	}
	issued := cw.PS.Issued()
	for _, it := range issued[len(issued)-2:] {
		if it.Upstream != u.str("jti") || it.Agent != cw.inter.agent.Subject {
			t.Errorf("issued record %+v", it)
		}
	}

	// The upstream token caps the downstream ones.
	cw.PS.Queue(TokenPerson, Approve().Lifetime(10*time.Minute))
	short := cw.caller.personToken(cw.PS, cw.Resource.URL)
	sp, _ := cw.chain(t, cw.inter, short, cw.B)
	se, _ := claimsOf(t, short).time("exp")
	if de, _ := claimsOf(t, sp).time("exp"); !de.Equal(se) {
		t.Errorf("downstream exp %v, upstream %v", de, se)
	}

	// A person token as upstream carries its mission downstream: the
	// caller's mission, which the intermediary does not own.
	mission := cw.PS.AddMission(cw.caller.agent.Subject, "read the data through A")
	ep := claimStr(metadata(t, cw.PS), "person_token_endpoint")
	withMission := cw.caller.do("POST", ep, "", map[string]any{"resource": cw.Resource.URL, "mission_s256": mission}, nil).expect(t, 200).str(t, "person_token")
	mp := cw.personWith(cw.inter, withMission, cw.B.URL, nil).expect(t, 200).str(t, "person_token")
	if claimsOf(t, mp).str("mission_s256") != mission {
		t.Errorf("downstream person token %v", claimsOf(t, mp).claims)
	}
	// The mission ends: so does the chain.
	if err := cw.PS.TerminateMission(mission, "done"); err != nil {
		t.Fatal(err)
	}
	if got := cw.personWith(cw.inter, withMission, cw.B.URL, nil).expect(t, http.StatusForbidden).str(t, "error"); got != "mission_terminated" {
		t.Errorf("after the mission ended: %q", got)
	}
}

// Two people through one intermediary: each downstream token is for the
// upstream token's person; the intermediary is bound to neither (CC-04).
func TestPSChainTwoPersons(t *testing.T) {
	cw := newChainWorld(t, PersonServerOptions{Persons: []string{"bob"}})
	ep := claimStr(metadata(t, cw.PS), "person_token_endpoint")
	alice := cw.caller.personToken(cw.PS, cw.Resource.URL)
	bob := cw.caller.do("POST", ep, "", map[string]any{"resource": cw.Resource.URL, "login_hint": "bob"}, nil).expect(t, 200).str(t, "person_token")
	for person, up := range map[string]string{"alice": alice, "bob": bob} {
		p, a := cw.chain(t, cw.inter, up, cw.B)
		want := cw.PS.SubjectOf(person, cw.B.URL)
		if claimsOf(t, p).str("sub") != want || claimsOf(t, a).str("sub") != want {
			t.Errorf("%s: downstream subjects %q %q, want %q", person, claimsOf(t, p).str("sub"), claimsOf(t, a).str("sub"), want)
		}
	}
	if cw.PS.SubjectOf("alice", cw.B.URL) == cw.PS.SubjectOf("bob", cw.B.URL) {
		t.Fatal("two people share a subject")
	}
}

// What the person server refuses about upstream tokens (CC-03, CC-13,
// CC-14, CC-18 … CC-22, CC-27, CC-33, D12, D18).
func TestPSChainRefusals(t *testing.T) {
	cw := newChainWorld(t, PersonServerOptions{})
	up := cw.upstreamAuth(t)
	atB := cw.caller.personToken(cw.PS, cw.B.URL)

	otherPS := NewPersonServer(PersonServerOptions{})
	defer otherPS.Close()
	otherPS.TrustKey(cw.Agent.URL, "", cw.Agent.PublicKey())
	foreign := cw.caller.personToken(otherPS, cw.Resource.URL)

	// A token of this server it has no record of.
	now := cw.clock.Now()
	unrecorded, err := cw.PS.key.mint(typPerson, map[string]any{"iss": cw.PS.URL, "dwk": dwkPerson, "aud": cw.Resource.URL, "jti": randomID(8), "sub": "p_x",
		"cnf": map[string]any{"jwk": publicJWK(cw.caller.agent.Key.Public(), true)}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	arrayAud, err := cw.PS.key.mint(typPerson, map[string]any{"iss": cw.PS.URL, "dwk": dwkPerson, "aud": []string{cw.Resource.URL}, "jti": claimsOf(t, up).str("jti"), "sub": "p_x",
		"cnf": map[string]any{"jwk": publicJWK(cw.caller.agent.Key.Public(), true)}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}

	// An intermediary whose agent token comes from another provider: it
	// cannot show the upstream token was for it.
	_, elsewhere := cw.intermediaryOf(t, cw.B)

	cases := []struct {
		name     string
		c        *client
		upstream string
		extra    map[string]any
		status   int
		code     string
	}{
		{"upstream-other-audience", cw.inter, atB, nil, 400, "invalid_upstream_token"},
		{"upstream-agent-token", cw.inter, cw.caller.agent.Token, nil, 400, "invalid_upstream_token"},
		{"upstream-garbage", cw.inter, "not a jwt", nil, 400, "invalid_upstream_token"},
		{"upstream-foreign-ps", cw.inter, foreign, nil, 400, "invalid_upstream_token"},
		{"upstream-unrecorded", cw.inter, unrecorded, nil, 400, "invalid_upstream_token"},
		{"upstream-aud-array", cw.inter, arrayAud, nil, 400, "invalid_upstream_token"},
		{"intermediary-foreign-ap", elsewhere, up, nil, 400, "invalid_upstream_token"},
		{"upstream-with-mission", cw.inter, up, map[string]any{"mission_s256": "bWlzc2lvbg"}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		r := cw.personWith(tc.c, tc.upstream, cw.B.URL, tc.extra)
		if r.Status != tc.status || r.str(t, "error") != tc.code {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), tc.upstream) && len(tc.upstream) > 20 {
			t.Errorf("%s: the answer quotes the token", tc.name)
		}
	}
	// The resource token at the auth endpoint must be for a downstream
	// resource too: B's resource token, with the upstream of another
	// audience, is refused there as well.
	person := cw.personWith(cw.inter, up, cw.B.URL, nil).expect(t, 200).str(t, "person_token")
	rt := cw.inter.do("GET", cw.B.URL+"/data", person, nil, nil).expect(t, 401).challenge(t).ResourceToken
	if got := cw.authWith(cw.inter, atB, rt, person).expect(t, 400).str(t, "error"); got != "invalid_upstream_token" {
		t.Errorf("auth endpoint, other audience: %q", got)
	}
	// A downstream person token of one person presented under another
	// person's upstream token.
	cw2 := newChainWorld(t, PersonServerOptions{Persons: []string{"bob"}})
	ep := claimStr(metadata(t, cw2.PS), "person_token_endpoint")
	bobUp := cw2.caller.do("POST", ep, "", map[string]any{"resource": cw2.Resource.URL, "login_hint": "bob"}, nil).expect(t, 200).str(t, "person_token")
	aliceUp := cw2.caller.personToken(cw2.PS, cw2.Resource.URL)
	alicePerson := cw2.personWith(cw2.inter, aliceUp, cw2.B.URL, nil).expect(t, 200).str(t, "person_token")
	rt2 := cw2.inter.do("GET", cw2.B.URL+"/data", alicePerson, nil, nil).expect(t, 401).challenge(t).ResourceToken
	if got := cw2.authWith(cw2.inter, bobUp, rt2, alicePerson).expect(t, 400).str(t, "error"); got != "invalid_upstream_token" {
		t.Errorf("another person's upstream: %q", got)
	}

	// Expired, revoked, and the caller's agent token revoked.
	cw.PS.Revoke(up)
	if got := cw.personWith(cw.inter, up, cw.B.URL, nil).expect(t, 400).str(t, "error"); got != "revoked_upstream_token" {
		t.Errorf("revoked: %q", got)
	}
	fresh := cw.caller.personToken(cw.PS, cw.Resource.URL)
	cw.PS.Revoke(cw.caller.agent.Token)
	if got := cw.personWith(cw.inter, fresh, cw.B.URL, nil).expect(t, 400).str(t, "error"); got != "revoked_upstream_token" {
		t.Errorf("caller revoked: %q", got)
	}
	cw3 := newChainWorld(t, PersonServerOptions{})
	cw3.PS.Queue(TokenPerson, Approve().Lifetime(time.Minute))
	short := cw3.caller.personToken(cw3.PS, cw3.Resource.URL)
	cw3.clock.Advance(2 * time.Minute)
	if got := cw3.personWith(cw3.inter, short, cw3.B.URL, nil).expect(t, 400).str(t, "error"); got != "expired_upstream_token" {
		t.Errorf("expired: %q", got)
	}
}

// Chains are bounded: no loop back to a resource the chain passed
// through, no more than MaxChainDepth intermediaries (LB-04, LB-05).
func TestPSChainBounds(t *testing.T) {
	cw := newChainWorld(t, PersonServerOptions{MaxChainDepth: 1})
	up := cw.upstreamAuth(t)
	// A → A: the intermediary calls itself for its caller.
	r := cw.personWith(cw.inter, up, cw.Resource.URL, nil)
	if r.Status != http.StatusForbidden || r.str(t, "error") != "denied" || !strings.Contains(r.str(t, "detail"), "loops back") {
		t.Errorf("self loop: %d %s", r.Status, r.Body)
	}
	// A → B, then B (an intermediary too) → A: a loop; B → C: too deep.
	_, authB := cw.chain(t, cw.inter, up, cw.B)
	_, interB := cw.intermediaryOf(t, cw.B)
	r = cw.personWith(interB, authB, cw.Resource.URL, nil)
	if r.Status != http.StatusForbidden || !strings.Contains(r.str(t, "detail"), "loops back") {
		t.Errorf("A → B → A: %d %s", r.Status, r.Body)
	}
	C := NewResource(ResourceOptions{Now: cw.clock.Now, PersonServer: cw.PS.URL})
	defer C.Close()
	r = cw.personWith(interB, authB, C.URL, nil)
	if r.Status != http.StatusForbidden || !strings.Contains(r.str(t, "detail"), "deeper") {
		t.Errorf("A → B → C with depth 1: %d %s", r.Status, r.Body)
	}

	// AllowChainLoops lets the loops through; the lineage grows hop by hop.
	open := newChainWorld(t, PersonServerOptions{AllowChainLoops: true})
	up = open.upstreamAuth(t)
	open.personWith(open.inter, up, open.Resource.URL, nil).expect(t, 200)
	_, authB = open.chain(t, open.inter, up, open.B)
	_, interB = open.intermediaryOf(t, open.B)
	open.personWith(interB, authB, open.Resource.URL, nil).expect(t, 200)
	trs := open.PS.TokenRequests()
	if l := trs[len(trs)-1].Upstream.Lineage; !slices.Equal(l, []string{open.Resource.URL}) {
		t.Errorf("lineage %q", l)
	}
}

// A pending chained request ends when its upstream token expires (408
// expired) or is revoked (403 revoked) meanwhile (CC-09, CC-28).
func TestPSChainPending(t *testing.T) {
	cw := newChainWorld(t, PersonServerOptions{})
	cw.PS.Queue(TokenPerson, Approve().Lifetime(10*time.Minute))
	up := cw.caller.personToken(cw.PS, cw.Resource.URL)
	cw.PS.SetPolicy(func(tr *TokenRequest) Decision {
		if tr.Upstream != nil {
			return Defer(Approval().Times(100))
		}
		return Approve()
	})
	first := cw.personWith(cw.inter, up, cw.B.URL, nil).expect(t, 202)
	second := cw.personWith(cw.inter, up, cw.B.URL, nil).expect(t, 202)
	cw.inter.do("GET", first.Header.Get("Location"), "", nil, nil).expect(t, 202)
	cw.clock.Advance(11 * time.Minute)
	if got := cw.inter.do("GET", first.Header.Get("Location"), "", nil, nil).expect(t, http.StatusRequestTimeout).str(t, "error"); got != "expired" {
		t.Errorf("after the upstream expired: %q", got)
	}
	cw.clock.Advance(-11 * time.Minute)
	cw.PS.Revoke(up)
	if got := cw.inter.do("GET", second.Header.Get("Location"), "", nil, nil).expect(t, http.StatusForbidden).str(t, "error"); got != "revoked" {
		t.Errorf("after the upstream was revoked: %q", got)
	}
}

// Revoking an upstream token revokes what was issued with it, down the
// chain (CC-29).
func TestPSChainRevocationCascade(t *testing.T) {
	cw := newChainWorld(t, PersonServerOptions{AllowChainLoops: true})
	up := cw.upstreamAuth(t)
	person := cw.personWith(cw.inter, up, cw.B.URL, nil).expect(t, 200).str(t, "person_token")
	// A second hop from the first downstream token.
	_, interB := cw.intermediaryOf(t, cw.B)
	_, authB := cw.chain(t, cw.inter, up, cw.B)
	deep := cw.personWith(interB, authB, cw.Resource.URL, nil).expect(t, 200).str(t, "person_token")
	rt := cw.inter.do("GET", cw.B.URL+"/data", person, nil, nil).expect(t, 401).challenge(t).ResourceToken
	cw.PS.Revoke(up)
	if got := cw.authWith(cw.inter, authB, rt, person).expect(t, 400).str(t, "error"); got != "revoked_upstream_token" {
		t.Errorf("the downstream auth token as upstream after the cascade: %q", got)
	}
	for name, tok := range map[string]string{"downstream person": person, "second hop": deep} {
		tk := claimsOf(t, tok)
		if !cw.PS.revoked.has(tk) {
			t.Errorf("%s token not revoked", name)
		}
	}
}
