package aauth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
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

// subagentWorld is a kit World with an orchestrator ("planner") whose
// Transport is the parent, and n sub-agents with Transports of their own.
type subagentWorld struct {
	w      *aauthtest.World
	clock  *aauthtest.FakeClock
	orch   *agentprovider.Keys
	parent *aauth.Transport
	subs   []*agentprovider.Keys
	events []aauth.Event
	mu     sync.Mutex
}

func newSubagentWorld(t *testing.T, n int) *subagentWorld {
	t.Helper()
	clock := aauthtest.NewFakeClock(time.Now())
	w := aauthtest.NewWorld(aauthtest.WorldOptions{Now: clock.Now})
	t.Cleanup(w.Close)
	sw := &subagentWorld{w: w, clock: clock}
	sw.orch = &agentprovider.Keys{Issuer: w.Agent.TokenIssuer(), Subject: w.Agent.Subject("planner"), PersonServer: w.PS.URL}
	sw.parent = &aauth.Transport{Keys: sw.orch, PersonServer: w.PS.URL, Clock: clock, OnEvent: sw.record}
	for i := range n {
		k, err := sw.orch.Subagent(fmt.Sprintf("w%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		sw.subs = append(sw.subs, k)
	}
	return sw
}

func (sw *subagentWorld) record(ev aauth.Event) {
	sw.mu.Lock()
	sw.events = append(sw.events, ev)
	sw.mu.Unlock()
}

func (sw *subagentWorld) sub(i int, parent aauth.Parent) *aauth.Transport {
	return &aauth.Transport{Keys: sw.subs[i], Parent: parent, Clock: sw.clock, OnEvent: sw.record}
}

func subGet(t *testing.T, tr *aauth.Transport, url string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func jktOfKeys(t *testing.T, k aauth.KeySource) string {
	t.Helper()
	m, err := k.KeyMaterial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jkt, err := keys.Thumbprint(m.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

// An orchestrator and two sub-agents as goroutines: each sub-agent's calls
// present tokens bound to its own key, every person-server request is the
// parent's, and the person is asked once (SA-11, SA-20, SA-21, SA-23,
// SA-27, SA-28).
func TestSubagentsInProcess(t *testing.T) {
	sw := newSubagentWorld(t, 2)
	sw.w.PS.SetPolicy(aauthtest.ConsentOnce(aauthtest.Defer(aauthtest.Interaction())))
	var consents atomic.Int32
	sw.parent.Capabilities = []aauth.Capability{aauth.CapabilityInteraction}
	sw.parent.OnInteraction = func(ctx context.Context, url, code string) error {
		consents.Add(1)
		return sw.w.PS.CompleteInteraction(code)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(sw.subs))
	for i := range sw.subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := sw.sub(i, sw.parent)
			for range 2 { // the second call is served from the sub-agent's cache
				resp, err := subGet(t, tr, sw.w.Resource.URL+"/data")
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sub-agent %d: %v", i, err)
		}
	}
	if n := consents.Load(); n != 1 {
		t.Errorf("%d consents, want 1", n)
	}
	parentJKT := jktOfKeys(t, sw.orch)
	served := map[string]int{}
	for _, r := range sw.w.Resource.Requests() {
		if r.Endpoint == aauthtest.EndpointResource && r.Status == 200 {
			if r.Presented != aauthtest.TokenAuth {
				t.Errorf("served with a %s token", r.Presented)
			}
			served[r.Thumbprint]++
		}
	}
	for i, k := range sw.subs {
		if served[jktOfKeys(t, k)] != 2 {
			t.Errorf("sub-agent %d served %d times (%v)", i, served[jktOfKeys(t, k)], served)
		}
	}
	if served[parentJKT] != 0 {
		t.Error("the parent's key called the resource")
	}
	for _, r := range sw.w.PS.Requests() {
		if r.Token != "" && r.Thumbprint != parentJKT {
			t.Errorf("%s signed by another key than the parent's", r)
		}
	}
	trs := sw.w.PS.TokenRequests()
	if len(trs) != 4 {
		t.Errorf("%d token requests, want 4 (one person and one auth token per sub-agent)", len(trs))
	}
	for _, tr := range trs {
		if tr.Agent != sw.orch.Subject || !strings.HasPrefix(tr.Subagent, "aauth:planner+w") {
			t.Errorf("token request by %q for %q", tr.Agent, tr.Subagent)
		}
	}
}

// A sub-agent in another process: the hand-over is two JSON values over a
// channel the caller owns, here a pair of pipes. No key and nothing of the
// parent's crosses.
func TestSubagentAcrossProcesses(t *testing.T) {
	sw := newSubagentWorld(t, 1)
	toParent, fromSub := io.Pipe()
	toSub, fromParent := io.Pipe()
	var crossed []string
	var mu sync.Mutex
	done := make(chan struct{})
	go func() { // the parent process
		defer close(done)
		dec, enc := json.NewDecoder(toParent), json.NewEncoder(fromParent)
		for {
			var req psclient.SubagentRequest
			if err := dec.Decode(&req); err != nil {
				return
			}
			tok, err := sw.parent.SubagentToken(context.Background(), req)
			if err := enc.Encode(psclient.NewSubagentAnswer(tok, err)); err != nil {
				return
			}
		}
	}()
	var chanMu sync.Mutex // one exchange on the channel at a time
	enc, dec := json.NewEncoder(fromSub), json.NewDecoder(toSub)
	parent := psclient.ParentFunc(func(ctx context.Context, req psclient.SubagentRequest) (*aauth.Token, error) {
		chanMu.Lock()
		defer chanMu.Unlock()
		b, _ := json.Marshal(req)
		mu.Lock()
		crossed = append(crossed, string(b))
		mu.Unlock()
		if err := enc.Encode(req); err != nil {
			return nil, err
		}
		var a psclient.SubagentAnswer
		if err := dec.Decode(&a); err != nil {
			return nil, err
		}
		return a.Result()
	})
	resp, err := subGet(t, sw.sub(0, parent), sw.w.Resource.URL+"/data")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	fromSub.Close()
	toSub.Close()
	<-done
	if len(crossed) != 2 {
		t.Fatalf("%d requests crossed, want 2", len(crossed))
	}
	parentTok, _ := sw.orch.KeyMaterial(context.Background())
	for _, c := range crossed {
		if strings.Contains(c, parentTok.Key.Token) || strings.Contains(c, `"d"`) {
			t.Errorf("the parent's token or a private key crossed: %.80s", c)
		}
	}

	// A refusal crosses as a typed error: the person server denies.
	other := newSubagentWorld(t, 1)
	other.w.PS.Queue(aauthtest.TokenPerson, aauthtest.Deny())
	a := psclient.NewSubagentAnswer(other.parent.SubagentToken(context.Background(), psclient.SubagentRequest{
		SubagentToken: mustToken(t, other.subs[0]), Resource: other.w.Resource.URL,
	}))
	b, _ := json.Marshal(a)
	var back psclient.SubagentAnswer
	json.Unmarshal(b, &back)
	if _, err := back.Result(); !errors.Is(err, aauth.ErrDenied) {
		t.Errorf("denied across processes: %v (answer %s)", err, b)
	}
}

func mustToken(t *testing.T, k aauth.KeySource) string {
	t.Helper()
	m, err := k.KeyMaterial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m.Key.Token
}

// What a parent refuses before sending anything, and what a sub-agent's
// Transport refuses about its configuration (SA-07, SA-09, SA-12, SA-16,
// SA-22, SA-25, SA-26, SA-31).
func TestSubagentRefusals(t *testing.T) {
	sw := newSubagentWorld(t, 1)
	ctx := context.Background()
	sub := sw.subs[0]
	subTok := mustToken(t, sub)
	res := sw.w.Resource.URL
	noRequests := func(name string) {
		t.Helper()
		if n := len(sw.w.PS.PersonTokenRequests()) + len(sw.w.PS.AuthTokenRequests()); n != 0 {
			t.Errorf("%s: %d token requests sent", name, n)
		}
	}

	// A sub-agent without a parent never asks a person server (SA-07).
	_, err := subGet(t, &aauth.Transport{Keys: sub, PersonServer: sw.w.PS.URL, Clock: sw.clock}, res+"/data")
	if !errors.Is(err, aauth.ErrNoPersonServer) || !strings.Contains(err.Error(), "Transport.Parent") {
		t.Errorf("no parent: %v", err)
	}
	// A top-level agent with a parent, and a Transport its own parent.
	_, err = subGet(t, &aauth.Transport{Keys: sw.orch, Parent: sw.parent, Clock: sw.clock}, res+"/data")
	if err == nil || !strings.Contains(err.Error(), "top-level") {
		t.Errorf("top-level agent with a parent: %v", err)
	}
	self := &aauth.Transport{Keys: sub, Clock: sw.clock}
	self.Parent = self
	if _, err = subGet(t, self, res+"/data"); err == nil {
		t.Error("a Transport its own parent")
	}
	noRequests("configuration")

	// parent_agent naming someone else; another provider; not a
	// sub-agent's token; garbage (SA-16, SA-09, SA-08).
	someone, err := sw.w.Agent.NewSubagent("someone", "w1")
	if err != nil {
		t.Fatal(err)
	}
	otherAP := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{})
	defer otherAP.Close()
	foreign, _ := otherAP.MintSubagent("planner", "w9", someone.Key.Public())
	topLevel, _ := sw.w.Agent.Mint("helper", someone.Key.Public())
	for name, tok := range map[string]string{"parent_agent names someone else": someone.Token, "another provider": foreign, "not a sub-agent": topLevel, "garbage": "x.y.z"} {
		_, err := sw.parent.SubagentToken(ctx, psclient.SubagentRequest{SubagentToken: tok, Resource: res})
		if !errors.Is(err, psclient.ErrInvalidSubagentToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	noRequests("sub-agent tokens")

	// OnSubagent may refuse (SA-31).
	sw.parent.OnSubagent = func(ctx context.Context, subagent string, req psclient.SubagentRequest) error {
		if subagent != sub.Subject {
			return fmt.Errorf("unexpected %q", subagent)
		}
		return errors.New("over the sub-agent budget")
	}
	if _, err := sw.parent.SubagentToken(ctx, psclient.SubagentRequest{SubagentToken: subTok, Resource: res}); err == nil || !strings.Contains(err.Error(), "budget") || strings.Count(err.Error(), "aauth: ") != 1 {
		t.Errorf("OnSubagent: %v", err)
	}
	sw.parent.OnSubagent = nil
	noRequests("OnSubagent")

	// A sub-agent cannot be a parent (SA-12).
	w2, _ := sw.orch.Subagent("w2")
	subParent := &aauth.Transport{Keys: w2, PersonServer: sw.w.PS.URL, Clock: sw.clock}
	if _, err := subParent.SubagentToken(ctx, psclient.SubagentRequest{SubagentToken: subTok, Resource: res}); err == nil || !strings.Contains(err.Error(), "sub-agents have no sub-agents") {
		t.Errorf("a sub-agent as parent: %v", err)
	}

	// Resource tokens and presented tokens bound to the wrong key
	// (Surface 5 checks 1 and 3, before anything is sent).
	person, err := sw.parent.SubagentToken(ctx, psclient.SubagentRequest{SubagentToken: subTok, Resource: res})
	if err != nil {
		t.Fatal(err)
	}
	ownPerson, rtParent := parentChallenge(t, sw)
	rtSub := subChallenge(t, sw, sub, person.Value)
	thirdKey := thirdKeyResourceToken(t, sw, person.Value)
	before := len(sw.w.PS.AuthTokenRequests())
	for name, req := range map[string]psclient.SubagentRequest{
		"resource-token-parent-key":  {SubagentToken: subTok, Resource: res, ResourceToken: rtParent, PresentedToken: ownPerson},
		"resource-token-third-key":   {SubagentToken: subTok, Resource: res, ResourceToken: thirdKey, PresentedToken: person.Value},
		"presented-token-other-key":  {SubagentToken: subTok, Resource: res, ResourceToken: rtSub, PresentedToken: ownPerson},
		"no-presented-token":         {SubagentToken: subTok, Resource: res, ResourceToken: rtSub},
		"resource-of-another-origin": {SubagentToken: subTok, Resource: "https://elsewhere.example", ResourceToken: rtSub, PresentedToken: person.Value},
	} {
		if _, err := sw.parent.SubagentToken(ctx, req); !errors.Is(err, aauth.ErrResourceToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(sw.w.PS.AuthTokenRequests()); n != before {
		t.Errorf("%d exchanges sent for refused resource tokens", n-before)
	}
	// The good one goes through, bound to the sub-agent.
	if _, err := sw.parent.SubagentToken(ctx, psclient.SubagentRequest{SubagentToken: subTok, Resource: res, ResourceToken: rtSub, PresentedToken: person.Value}); err != nil {
		t.Errorf("the sub-agent's own resource token: %v", err)
	}
}

// parentChallenge has the parent present its own person token at the
// resource and returns it with the resource token it got.
func parentChallenge(t *testing.T, sw *subagentWorld) (person, rt string) {
	t.Helper()
	m, _ := sw.orch.KeyMaterial(context.Background())
	c := psClientFor(m, sw)
	tok, err := psclient.RequestPersonToken(context.Background(), c, psclient.PersonTokenRequest{PersonServer: sw.w.PS.URL, Resource: sw.w.Resource.URL})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value, challengeAs(t, sw, m.Signer, tok.Value)
}

func subChallenge(t *testing.T, sw *subagentWorld, k aauth.KeySource, person string) string {
	t.Helper()
	m, _ := k.KeyMaterial(context.Background())
	return challengeAs(t, sw, m.Signer, person)
}

func psClientFor(m aauth.KeyMaterial, sw *subagentWorld) *http.Client {
	return (&aauth.SigningTransport{Keys: aauth.StaticKeys(m.Signer, m.Key), Now: sw.clock.Now}).Client()
}

// challengeAs presents tok, signed with signer, at the resource and returns
// the resource token of its auth-token challenge.
func challengeAs(t *testing.T, sw *subagentWorld, signer crypto.Signer, tok string) string {
	t.Helper()
	c := (&aauth.SigningTransport{Keys: aauth.StaticKeys(signer, aauth.JWT(tok)), Now: sw.clock.Now}).Client()
	resp, err := c.Get(sw.w.Resource.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ch, err := wire.ParseRequirement(resp.Header.Get("AAuth-Requirement"))
	if err != nil || ch.ResourceToken == "" {
		t.Fatalf("status %d, requirement %q: %v", resp.StatusCode, resp.Header.Get("AAuth-Requirement"), err)
	}
	return ch.ResourceToken
}

// thirdKeyResourceToken is a resource token the resource issued to the
// sub-agent presenting person, naming a third key as agent_jkt.
func thirdKeyResourceToken(t *testing.T, sw *subagentWorld, person string) string {
	t.Helper()
	sw.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultResourceTokenOtherKey))
	return subChallenge(t, sw, sw.subs[0], person)
}

// A sub-agent whose token the parent finds expired asks its key source
// again, once, and goes on with the renewed token.
func TestSubagentRenewsAnExpiredToken(t *testing.T) {
	sw := newSubagentWorld(t, 1)
	issuer := *sw.w.Agent.TokenIssuer()
	issuer.Now = func() time.Time { return sw.clock.Now().Add(-2 * time.Hour) }
	old := &agentprovider.Keys{Issuer: &issuer, Subject: sw.subs[0].Subject, ParentAgent: sw.orch.Subject, PersonServer: sw.w.PS.URL}
	var calls atomic.Int32
	keys := aauth.KeySourceFunc(func(ctx context.Context) (aauth.KeyMaterial, error) {
		if calls.Add(1) == 1 {
			return old.KeyMaterial(ctx) // expired an hour ago
		}
		return sw.subs[0].KeyMaterial(ctx)
	})
	resp, err := subGet(t, &aauth.Transport{Keys: keys, Parent: sw.parent, Clock: sw.clock}, sw.w.Resource.URL+"/data")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("key source asked %d times, want 2", n)
	}
	if n := len(sw.w.PS.PersonTokenRequests()); n != 1 {
		t.Errorf("%d person token requests: the expired token was sent", n)
	}
}

// A sub-agent works under its parent's mission: the person token the
// parent obtains for it names the parent's mission (SA-19; the mission
// must belong to the signing agent).
func TestSubagentUnderParentMission(t *testing.T) {
	sw := newSubagentWorld(t, 1)
	s256 := sw.w.PS.AddMission(sw.orch.Subject, "Summarize the week's tickets")
	sw.parent.Mission = &wire.Mission{S256: s256}
	resp, err := subGet(t, sw.sub(0, sw.parent), sw.w.Resource.URL+"/data")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	for _, tr := range sw.w.PS.TokenRequests() {
		if tr.Kind == aauthtest.TokenPerson && tr.MissionS256 != s256 {
			t.Errorf("person token request under mission %q", tr.MissionS256)
		}
	}
	for _, it := range sw.w.PS.Issued() {
		if it.Claims["mission_s256"] != s256 {
			t.Errorf("%s token without the mission", it.Kind)
		}
	}
}
