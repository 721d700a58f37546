package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// mockinSubagentSetup starts mockin, an agent provider and a resource
// that trust each other, as TestMockin does. One trusted_servers entry
// covers the parent and its sub-agents: they share the provider (iss).
func mockinSubagentSetup(t *testing.T) (*mockin, *aauthtest.AgentProvider, *aauthtest.Resource) {
	t.Helper()
	m := startMockin(t)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: m.URL})
	t.Cleanup(ap.Close)
	rs := aauthtest.NewResource(aauthtest.ResourceOptions{
		PersonServer:   m.URL,
		TrustedAgents:  []string{ap.URL},
		PersonTokenJTI: true, // mockin reads person_token_jti only
	})
	t.Cleanup(rs.Close)
	rs.TrustKey(ap.URL, "", ap.PublicKey())
	return m, ap, rs
}

func mockinTrust(ctx context.Context, t *testing.T, m *mockin, ap *aauthtest.AgentProvider, extra map[string]any) {
	t.Helper()
	m.reset(ctx, t)
	cfg := map[string]any{"trusted_servers": map[string]any{ap.URL: agentEntity(t, ap)}}
	for k, v := range extra {
		cfg[k] = v
	}
	m.configure(ctx, t, cfg)
}

// signedAs is a client that signs as a, presenting tok (the agent token
// when tok is "").
func signedAs(a *aauthtest.Agent, tok string, base http.RoundTripper) *http.Client {
	if tok == "" {
		tok = a.Token
	}
	return (&aauth.SigningTransport{Base: base, Keys: aauth.StaticKeys(a.Key, aauth.JWT(tok))}).Client()
}

// TestMockinSubagentWire runs the parent-mediated flow of AAuth -11
// (interop Surface 5) against mockin 2.0.0, step by step with psclient and
// plain signing clients: the parent asks for each sub-agent's person token
// with subagent_token, the sub-agent presents it, the parent exchanges the
// resource token with resource_token, presented_token and subagent_token,
// and the sub-agent calls with the auth token. Every token a sub-agent
// holds is bound to its own key.
func TestMockinSubagentWire(t *testing.T) {
	m, ap, rs := mockinSubagentSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
	defer cancel()
	mockinTrust(ctx, t, m, ap, nil)

	parent, err := ap.NewAgent("planner")
	if err != nil {
		t.Fatal(err)
	}
	wl := &wireLog{names: [][2]string{{m.URL, "ps"}, {rs.URL, "rs"}}}
	base := wl.wrap(m.http.Transport)
	psClient := signedAs(parent, "", base)
	defer func() {
		if t.Failed() {
			t.Logf("wire:\n%s", strings.Join(wl.lines(), "\n"))
		}
	}()

	call := func(c *http.Client) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rs.URL+"/data", nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return resp, b
	}
	var subs []*aauthtest.Agent
	var subjects []string
	for _, name := range []string{"w1", "w2"} {
		sub, err := ap.NewSubagent("planner", name)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
		jkt, _ := keys.Thumbprint(sub.Key.Public())

		if resp, _ := call(signedAs(sub, "", base)); resp.StatusCode != 401 {
			t.Fatalf("%s: first call %d", name, resp.StatusCode)
		}
		person, err := psclient.RequestPersonToken(ctx, psClient, psclient.PersonTokenRequest{
			PersonServer: m.URL, Cache: &psclient.MetadataCache{}, Resource: rs.URL, SubagentToken: sub.Token,
		})
		if err != nil {
			t.Fatalf("%s: person token: %v", name, err)
		}
		resp, _ := call(signedAs(sub, person.Value, base))
		ch, err := aauthRequirement(resp)
		if err != nil || ch.ResourceToken == "" {
			t.Fatalf("%s: presenting the person token: %d %v", name, resp.StatusCode, err)
		}
		auth, err := psclient.ExchangeToken(ctx, psClient, psclient.ExchangeRequest{
			PersonServer: m.URL, Cache: &psclient.MetadataCache{}, ResourceToken: ch.ResourceToken,
			PresentedToken: person.Value, SubagentToken: sub.Token,
		})
		if err != nil {
			t.Fatalf("%s: exchange: %v", name, err)
		}
		resp, body := call(signedAs(sub, auth.Value, base))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: with the auth token: %d %s", name, resp.StatusCode, body)
		}
		var echo struct{ Presented, Sub string }
		json.Unmarshal(body, &echo)
		subjects = append(subjects, echo.Sub)

		pt, at, rt := jwtParts(t, person.Value), jwtParts(t, auth.Value), jwtParts(t, ch.ResourceToken)
		switch {
		case cnfJKT(t, pt) != jkt || cnfJKT(t, at) != jkt:
			t.Errorf("%s: person or auth token not bound to the sub-agent's key", name)
		case rt.str("agent_jkt") != jkt || rt.str("person_token_jti") != pt.str("jti"):
			t.Errorf("%s: resource token %v", name, rt.claims)
		case echo.Presented != "auth" || echo.Sub == "":
			t.Errorf("%s: the resource served %s", name, body)
		}
		for _, tok := range []jwt{pt, at} {
			for _, claim := range []string{"parent_agent", "agent", "act"} {
				if tok.claims[claim] != nil {
					t.Errorf("%s: a %s token names an agent (%s)", name, tok.typ, claim)
				}
			}
		}
	}
	if subjects[0] != subjects[1] {
		t.Errorf("the two sub-agents act for different people: %q", subjects)
	}

	// Wire: the parent alone talks to mockin, each sub-agent to the
	// resource; bodies carry the sub-agent tokens.
	want := []string{}
	for range subs {
		want = append(want,
			"GET rs/data [agent] → 401 requirement=person-token",
			"GET ps/.well-known/aauth-person.json [agent] → 200",
			"POST ps/aauth/token/person [agent] → 200",
			"GET rs/data [person] → 401 requirement=auth-token",
			"GET ps/.well-known/aauth-person.json [agent] → 200",
			"POST ps/aauth/token/auth [agent] → 200",
			"GET rs/data [auth] → 200",
		)
	}
	if got := wl.lines(); !slices.Equal(got, want) {
		t.Errorf("wire:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var pb, ab struct {
		SubagentToken string `json:"subagent_token"`
	}
	json.Unmarshal(wl.body("POST ps/aauth/token/person"), &pb)
	json.Unmarshal(wl.body("POST ps/aauth/token/auth"), &ab)
	if pb.SubagentToken != subs[0].Token || ab.SubagentToken != subs[0].Token {
		t.Error("the token requests do not carry the sub-agent token")
	}
}

// cnfJKT is the thumbprint of a token's cnf.jwk.
func cnfJKT(t *testing.T, j jwt) string {
	t.Helper()
	cnf, _ := j.claims["cnf"].(map[string]any)
	b, err := json.Marshal(cnf["jwk"])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keys.ParsePublicJWK(b, aauth.ProfileCurrent)
	if err != nil {
		t.Fatalf("cnf.jwk %s: %v", b, err)
	}
	jkt, _ := keys.Thumbprint(pub)
	return jkt
}

// aauthRequirement reads a 401's AAuth-Requirement.
func aauthRequirement(resp *http.Response) (wire.Challenge, error) {
	if resp.StatusCode != 401 {
		return wire.Challenge{}, errors.New("not a 401")
	}
	return wire.ParseRequirement(resp.Header.Get("AAuth-Requirement"))
}

// TestMockinSubagentRefusals: mockin refuses a sub-agent token whose
// parent_agent names someone else, and an expired one, with its
// invalid_agent_token, which psclient reads as ErrInvalidSubagentToken
// when a subagent_token was sent (the tolerance AAuth -11 allows: it has
// no invalid_agent_token code of its own). It refuses upstream_token at
// both endpoints with invalid_request: mockin does not implement call
// chaining (CC-36).
func TestMockinSubagentRefusals(t *testing.T) {
	m, ap, rs := mockinSubagentSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
	defer cancel()
	mockinTrust(ctx, t, m, ap, nil)
	parent, err := ap.NewAgent("planner")
	if err != nil {
		t.Fatal(err)
	}
	psClient := signedAs(parent, "", m.http.Transport)
	stranger, err := ap.NewSubagent("someone", "w1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = psclient.RequestPersonToken(ctx, psClient, psclient.PersonTokenRequest{PersonServer: m.URL, Resource: rs.URL, SubagentToken: stranger.Token})
	var ee *psclient.ExchangeError
	if !errors.As(err, &ee) || ee.StatusCode != 400 || ee.Problem.Error != "invalid_agent_token" || !errors.Is(err, psclient.ErrInvalidSubagentToken) {
		t.Errorf("parent_agent names someone else: %v", err)
	}

	// An expired sub-agent token: AAuth -11 says expired_subagent_token,
	// mockin's jose check says invalid_agent_token.
	past := *ap.TokenIssuer()
	past.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	subKey, _ := keys.Generate()
	expired, _, err := past.Issue(ctx, agentprovider.TokenRequest{
		Subject: ap.Subject("planner+old"), ParentAgent: parent.Subject, Key: subKey.Public(), PersonServer: m.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = psclient.RequestPersonToken(ctx, psClient, psclient.PersonTokenRequest{PersonServer: m.URL, Resource: rs.URL, SubagentToken: expired})
	if !errors.As(err, &ee) || ee.StatusCode != 400 || !errors.Is(err, psclient.ErrInvalidSubagentToken) {
		t.Errorf("an expired sub-agent token: %v", err)
	}

	up := parent.Token // any value: mockin refuses the member itself
	_, err = psclient.RequestPersonToken(ctx, psClient, psclient.PersonTokenRequest{PersonServer: m.URL, Resource: rs.URL, UpstreamToken: up})
	if !errors.As(err, &ee) || ee.StatusCode != 400 || ee.Problem.Error != "invalid_request" || !strings.Contains(ee.Problem.Detail, "upstream_token") {
		t.Errorf("upstream_token at the person endpoint: %v", err)
	}
	_, err = psclient.ExchangeToken(ctx, psClient, psclient.ExchangeRequest{PersonServer: m.URL, ResourceToken: "a.b.c", PresentedToken: "a.b.c", UpstreamToken: up})
	if !errors.As(err, &ee) || ee.StatusCode != 400 || ee.Problem.Error != "invalid_request" {
		t.Errorf("upstream_token at the auth endpoint: %v", err)
	}
}

// TestMockinSubagents is the issue's run: an orchestrator and two
// sub-agents, as Transports, calling one resource with mockin as the
// person server. Each sub-agent's Transport gets its tokens through the
// parent's (Transport.Parent); every token it presents is bound to its own
// key; mockin sees only the parent's signatures. Once approved at once,
// with the two sub-agents calling concurrently; once with the person's
// consent asked at mockin's consent page, once for both.
func TestMockinSubagents(t *testing.T) {
	m, ap, rs := mockinSubagentSetup(t)
	t.Run("auto-approved", func(t *testing.T) { testMockinSubagents(t, m, ap, rs, false) })
	t.Run("one-consent", func(t *testing.T) { testMockinSubagents(t, m, ap, rs, true) })
}

func testMockinSubagents(t *testing.T, m *mockin, ap *aauthtest.AgentProvider, rs *aauthtest.Resource, consent bool) {
	ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
	defer cancel()
	rs.Reset()
	cfg := map[string]any{}
	if consent {
		cfg = map[string]any{"person_requirement": "interaction", "auto_approve": false}
	}
	mockinTrust(ctx, t, m, ap, cfg)

	wl := &wireLog{names: [][2]string{{m.URL, "ps"}, {rs.URL, "rs"}}}
	base := wl.wrap(m.http.Transport)
	browsing := &http.Client{Transport: base, CheckRedirect: noFollow}
	defer func() {
		if t.Failed() {
			t.Logf("wire:\n%s", strings.Join(wl.lines(), "\n"))
		}
	}()
	var consents atomic.Int32
	orch := &agentprovider.Keys{Issuer: ap.TokenIssuer(), Subject: ap.Subject("planner"), PersonServer: m.URL}
	parent := &aauth.Transport{
		Base:         base,
		Keys:         orch,
		PersonServer: m.URL,
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		OnInteraction: func(ctx context.Context, u, code string) error {
			consents.Add(1)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"?code="+url.QueryEscape(code), nil)
			resp, err := browsing.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("consent page: %s", resp.Status)
			}
			// mockin keeps no consent: a person server that remembers the
			// person's consent to the parent would answer the next
			// requests at once, and the test makes mockin do so.
			m.configure(ctx, t, map[string]any{"person_requirement": nil})
			return nil
		},
	}
	var subs []*agentprovider.Keys
	for _, name := range []string{"w1", "w2"} {
		k, err := orch.Subagent(name)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, k)
	}
	call := func(k *agentprovider.Keys) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rs.URL+"/data", nil)
		resp, err := (&aauth.Transport{Base: base, Keys: k, Parent: parent}).RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			return fmt.Errorf("%s: %s", resp.Status, b)
		}
		return nil
	}
	if consent {
		// The first sub-agent's request asks the person; the second comes
		// after, and is answered at once.
		for i, k := range subs {
			if err := call(k); err != nil {
				t.Fatalf("sub-agent %d: %v", i, err)
			}
		}
	} else {
		errs := make(chan error, len(subs))
		for _, k := range subs {
			go func() { errs <- call(k) }()
		}
		for range subs {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	wantConsents := int32(0)
	if consent {
		wantConsents = 1
	}
	if n := consents.Load(); n != wantConsents {
		t.Errorf("%d consents, want %d", n, wantConsents)
	}

	// The resource served each sub-agent with an auth token bound to its
	// own key; the two keys differ from each other and from the parent's.
	parentKM, _ := orch.KeyMaterial(ctx)
	parentJKT, _ := keys.Thumbprint(parentKM.Signer.Public())
	served := map[string]string{} // thumbprint → sub
	for _, r := range rs.Requests() {
		if r.Endpoint == aauthtest.EndpointResource && r.Status == 200 {
			if r.Presented != aauthtest.TokenAuth {
				t.Errorf("served with a %s token", r.Presented)
			}
			sub, _ := r.Claims["sub"].(string)
			served[r.Thumbprint] = sub
		}
	}
	var subjects []string
	for i, k := range subs {
		km, _ := k.KeyMaterial(ctx)
		jkt, _ := keys.Thumbprint(km.Signer.Public())
		sub, ok := served[jkt]
		if !ok || jkt == parentJKT {
			t.Errorf("sub-agent %d (%s) was not served with its own key", i, k.Subject)
		}
		subjects = append(subjects, sub)
	}
	if len(served) != 2 || subjects[0] != subjects[1] || subjects[0] == "" {
		t.Errorf("served %v: want two keys, one person", served)
	}
	// Only the parent's agent token reached mockin.
	for _, line := range wl.lines() {
		if strings.HasPrefix(line, "POST ps/") && !strings.Contains(line, "[agent]") {
			t.Errorf("a token request presented something else than an agent token: %s", line)
		}
	}
	if n := len(ap.Requests()); n != 0 {
		t.Errorf("the agent provider got %d requests", n)
	}
}
