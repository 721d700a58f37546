package aauthtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

// propose posts a mission proposal and returns the answer.
func propose(c *client, w *World, body map[string]any) *response {
	return c.do("POST", w.PS.URL+psMissionPath, "", body, nil)
}

func TestPSMissionApproval(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 4, 7, 14, 30, 0, 0, time.UTC))
	w := NewWorld(WorldOptions{Now: clk.Now})
	defer w.Close()
	c := newClient(t, w)
	c.now = clk.Now
	expires := clk.Now().Add(30 * time.Minute)
	w.PS.QueueAt(EndpointMission, Approve().MissionExpires(expires).MissionCapabilities("interaction", "payment"))
	r := propose(c, w, map[string]any{
		"description": "# Plan\n\nBook things.",
		"tools":       []map[string]any{{"name": "WebSearch", "description": "Search the web"}},
		"resources":   []string{w.Resource.URL, "https://hotels.example"},
	}).expect(t, 200)

	// Surface 1: s256, mission (base64url of the blob), capabilities and a
	// person token per proposed resource; the blob is JSON and s256 its
	// digest.
	var a struct {
		S256         string            `json:"s256"`
		Mission      string            `json:"mission"`
		Capabilities []string          `json:"capabilities"`
		PersonTokens map[string]string `json:"person_tokens"`
	}
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(a.Mission)
	if err != nil || !json.Valid(raw) || psclient.MissionDigest(raw) != a.S256 {
		t.Fatalf("mission %q, s256 %q: %v", a.Mission, a.S256, err)
	}
	blob, err := psclient.DecodeMissionBlob(a.Mission, a.S256)
	if err != nil {
		t.Fatal(err)
	}
	if blob.Agent != c.agent.Subject || !blob.ApprovedAt.Equal(clk.Now()) || !blob.ExpiresAt.Equal(expires) || blob.Description != "# Plan\n\nBook things." ||
		len(blob.ApprovedTools) != 1 || !slices.Equal(blob.ApprovedResources, []string{w.Resource.URL, "https://hotels.example"}) {
		t.Errorf("blob %+v", blob)
	}
	if !slices.Equal(a.Capabilities, []string{"interaction", "payment"}) || len(a.PersonTokens) != 2 {
		t.Errorf("capabilities %v, person tokens %v", a.Capabilities, a.PersonTokens)
	}
	for res, tok := range a.PersonTokens {
		pt, err := parseToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		exp, _ := pt.time("exp")
		if pt.kind != TokenPerson || pt.str("aud") != res || pt.str("mission_s256") != a.S256 || exp.After(expires) || pt.str("sub") != w.PS.Subject(res) {
			t.Errorf("person token for %s: %v", res, pt.claims)
		}
	}
	// The server keeps and serves the very bytes it digested.
	ms := w.PS.Missions()
	if len(ms) != 1 || string(ms[0].Blob) != string(raw) || ms[0].S256 != a.S256 || ms[0].Agent != c.agent.Subject || len(ms[0].PersonTokens) != 2 {
		t.Errorf("Missions %+v", ms)
	}
	grs := w.PS.GovernanceRequests()
	if len(grs) != 1 || grs[0].Endpoint != EndpointMission || grs[0].Tools[0].Name != "WebSearch" || len(grs[0].Resources) != 2 {
		t.Errorf("GovernanceRequests %+v", grs)
	}

	// Tokens under the mission never outlive it, and once it has expired
	// the mission is terminated on every path.
	pr := c.do("POST", w.PS.URL+"/aauth/token/person", "", map[string]any{"resource": w.Resource.URL, "mission_s256": a.S256}, nil).expect(t, 200)
	pt, _ := parseToken(tokenOf(t, pr))
	if exp, _ := pt.time("exp"); exp.After(expires) {
		t.Errorf("a person token outlives the mission: %v > %v", exp, expires)
	}
	clk.Advance(31 * time.Minute)
	r = c.do("POST", w.PS.URL+"/aauth/token/person", "", map[string]any{"resource": w.Resource.URL, "mission_s256": a.S256}, nil).expect(t, 403)
	if r.str(t, "error") != "mission_terminated" || r.str(t, "termination_reason") != "expired" || r.str(t, "mission_status") != "terminated" {
		t.Errorf("after expiry: %s", r.Body)
	}
}

func TestPSMissionLifecycle(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	s256 := propose(c, w, map[string]any{"description": "d", "resources": []string{w.Resource.URL}}).expect(t, 200).str(t, "s256")
	url := w.PS.URL + psMissionPath + "/" + s256

	// The action discriminator is required and closed.
	for _, body := range []map[string]any{{"description": "x"}, {"action": "rename", "description": "x"}, {"action": "update"}, {"action": "completion"}} {
		if r := c.do("POST", url, "", body, nil).expect(t, 400); r.str(t, "error") != "invalid_request" {
			t.Errorf("%v: %s", body, r.Body)
		}
	}
	if r := c.do("POST", w.PS.URL+psMissionPath+"/not-a-digest", "", map[string]any{"action": "update", "description": "x"}, nil); r.Status != 400 {
		t.Errorf("malformed s256: %d", r.Status)
	}

	// An update is digested as kept, and changes nothing else.
	r := c.do("POST", url, "", map[string]any{"action": "update", "description": "Hotel moved"}, nil).expect(t, 200)
	m := w.PS.Missions()[0]
	if len(m.Updates) != 1 || r.str(t, "s256") != psclient.MissionDigest(m.Updates[0].Body) || m.Updates[0].S256 != r.str(t, "s256") || m.Terminated {
		t.Errorf("update: %s, %+v", r.Body, m)
	}

	// Unknown and not-owned missions get the same answer.
	other := newClient(t, w)
	otherAgent, _ := w.NewAgent("bob")
	other.agent = otherAgent
	a := other.do("POST", url, "", map[string]any{"action": "update", "description": "x"}, nil).expect(t, 404)
	b := c.do("POST", w.PS.URL+psMissionPath+"/"+psclient.MissionDigest([]byte("none")), "", map[string]any{"action": "update", "description": "x"}, nil).expect(t, 404)
	if string(a.Body) != string(b.Body) || !sameHeaderNames(a.Header, b.Header) {
		t.Errorf("not owned %s %v\nunknown %s %v", a.Body, a.Header, b.Body, b.Header)
	}

	// Completion accepted: terminated (completed), for good.
	c.do("POST", url, "", map[string]any{"action": "completion", "summary": "Done."}, nil).expect(t, 200)
	m = w.PS.Missions()[0]
	if !m.Terminated || m.Reason != "completed" || m.Summary != "Done." {
		t.Errorf("after completion %+v", m)
	}
	for _, req := range []struct {
		url  string
		body map[string]any
	}{
		{url, map[string]any{"action": "update", "description": "x"}},
		{w.PS.URL + "/aauth/token/person", map[string]any{"resource": w.Resource.URL, "mission_s256": s256}},
		{w.PS.URL + psPermissionPath, map[string]any{"action": "x", "mission_s256": s256}},
		{w.PS.URL + psAuditPath, map[string]any{"action": "x", "mission_s256": s256}},
		{w.PS.URL + psInteractionPath, map[string]any{"type": "question", "question": "q", "mission_s256": s256}},
	} {
		r := c.do("POST", req.url, "", req.body, nil).expect(t, 403)
		if r.str(t, "error") != "mission_terminated" || r.str(t, "termination_reason") != "completed" {
			t.Errorf("%s: %s", req.url, r.Body)
		}
	}
	if err := w.PS.TerminateMission(s256, "revoked"); err != nil {
		t.Fatal(err)
	}
	if w.PS.Missions()[0].Reason != "completed" {
		t.Error("a terminated mission changed its reason")
	}
}

func sameHeaderNames(a, b http.Header) bool {
	names := func(h http.Header) []string {
		var out []string
		for k := range h {
			if k != "Date" {
				out = append(out, k)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(names(a), names(b))
}

func TestPSMissionTerminatedMidFlow(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	s256 := propose(c, w, map[string]any{"description": "d"}).expect(t, 200).str(t, "s256")
	if err := w.PS.TerminateMission(s256, "administrative"); err != nil {
		t.Fatal(err)
	}
	r := c.do("POST", w.PS.URL+"/aauth/token/person", "", map[string]any{"resource": w.Resource.URL, "mission_s256": s256}, nil).expect(t, 403)
	if r.str(t, "termination_reason") != "administrative" {
		t.Errorf("%s", r.Body)
	}
	if err := w.PS.TerminateMission("nope", "x"); err == nil {
		t.Error("terminated an unknown mission")
	}
}

func TestPSMissionDeferredAndFaults(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	w.PS.QueueAt(EndpointMission, Defer(Clarification("Which dates?")))
	r := propose(c, w, map[string]any{"description": "d"}).expect(t, 202)
	loc := r.Header.Get("Location")
	c.do("POST", loc, "", map[string]any{"action": "clarification_response", "clarification_response": "May"}, nil).expect(t, 202)
	r = c.do("GET", loc, "", nil, nil).expect(t, 200)
	if _, err := psclient.ParseMissionApproval(r.Body); err != nil {
		t.Fatalf("deferred approval: %v", err)
	}

	for _, f := range []Fault{FaultMissionDigestMismatch, FaultMissionNotBase64URL, FaultMissionNotJSON, FaultMissionDuplicateMember, FaultMissionHuge} {
		w.PS.QueueAt(EndpointMission, Malformed(f))
		r := propose(c, w, map[string]any{"description": "d"}).expect(t, 200)
		if _, err := psclient.ParseMissionApproval(r.Body); err == nil {
			t.Errorf("%s: the approval parses", f)
		}
	}
	w.PS.QueueAt(EndpointMission, Malformed(FaultMissionPersonTokenUnproposed))
	r = propose(c, w, map[string]any{"description": "d", "resources": []string{w.Resource.URL}}).expect(t, 200)
	if a, err := psclient.ParseMissionApproval(r.Body); err != nil || len(a.PersonTokens) != 2 || a.PersonTokens["https://unproposed.example"] == nil {
		t.Errorf("unproposed token: %+v, %v", a, err)
	}
	w.PS.QueueAt(EndpointMission, Deny())
	propose(c, w, map[string]any{"description": "d"}).expect(t, 403)
	if r := propose(c, w, map[string]any{"resources": []string{"x"}}); r.Status != 400 {
		t.Errorf("no description: %d", r.Status)
	}
}

func TestPSPermissionAndAudit(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	url := w.PS.URL + psPermissionPath
	if r := c.do("POST", url, "", map[string]any{"action": "SendEmail", "parameters": map[string]any{"to": "a@b"}}, nil).expect(t, 200); r.str(t, "permission") != "granted" {
		t.Errorf("%s", r.Body)
	}
	w.PS.QueueAt(EndpointPermission, DenyPermission("Not today."), Malformed(FaultPermissionNeither), Defer(Approval()).Then(Deny()))
	if r := c.do("POST", url, "", map[string]any{"action": "x"}, nil).expect(t, 200); r.str(t, "permission") != "denied" || r.str(t, "reason") != "Not today." {
		t.Errorf("%s", r.Body)
	}
	if r := c.do("POST", url, "", map[string]any{"action": "x"}, nil).expect(t, 200); r.str(t, "permission") != "maybe" {
		t.Errorf("%s", r.Body)
	}
	r := c.do("POST", url, "", map[string]any{"action": "x"}, nil).expect(t, 202)
	c.do("GET", r.Header.Get("Location"), "", nil, nil).expect(t, 403)
	c.do("POST", url, "", map[string]any{"description": "no action"}, nil).expect(t, 400)
	c.do("POST", url, "", map[string]any{"action": "x", "mission_s256": psclient.MissionDigest([]byte("none"))}, nil).expect(t, 404)

	audit := w.PS.URL + psAuditPath
	s256 := propose(c, w, map[string]any{"description": "d"}).expect(t, 200).str(t, "s256")
	c.do("POST", audit, "", map[string]any{"action": "WebSearch", "mission_s256": s256, "result": map[string]any{"n": 12}}, nil).expect(t, 201)
	c.do("POST", audit, "", map[string]any{"action": "WebSearch"}, nil).expect(t, 400)
	var got []GovernanceRequest
	for _, gr := range w.PS.GovernanceRequests() {
		if gr.Endpoint == EndpointAudit {
			got = append(got, gr)
		}
	}
	if len(got) != 1 || got[0].Action != "WebSearch" || got[0].MissionS256 != s256 || !strings.Contains(string(got[0].Body), `"n":12`) {
		t.Errorf("audit records %+v", got)
	}
}

func TestPSRelayAndQuestion(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	url := w.PS.URL + psInteractionPath
	relay := map[string]any{"type": "interaction", "url": "https://r.example/i", "code": "ABCD2345"}
	c.do("POST", url, "", relay, nil).expect(t, 424)
	w.PS.QueueAt(EndpointInteraction, Defer(Interacting()), UserUnreachable())
	r := c.do("POST", url, "", relay, nil).expect(t, 202)
	if r.str(t, "status") != "interacting" || r.Header.Get("Location") == "" {
		t.Errorf("relay: %v %s", r.Header, r.Body)
	}
	if r := c.do("GET", r.Header.Get("Location"), "", nil, nil).expect(t, 200); r.str(t, "status") != "completed" {
		t.Errorf("relay poll: %s", r.Body)
	}
	if r := c.do("POST", url, "", relay, nil).expect(t, 403); r.str(t, "error") != "user_unreachable" {
		t.Errorf("%s", r.Body)
	}
	c.do("POST", url, "", map[string]any{"type": "completion"}, nil).expect(t, 400)
	c.do("POST", url, "", map[string]any{"type": "interaction", "url": "https://r.example/i"}, nil).expect(t, 400)

	if r := c.do("POST", url, "", map[string]any{"type": "question", "question": "Go?"}, nil).expect(t, 200); r.str(t, "answer") != "yes" {
		t.Errorf("%s", r.Body)
	}
	w.PS.QueueAt(EndpointQuestion, Defer(Pending()).Then(Answer("Only the refundable one.")))
	r = c.do("POST", url, "", map[string]any{"type": "question", "question": "Go?"}, nil).expect(t, 202)
	if r := c.do("GET", r.Header.Get("Location"), "", nil, nil).expect(t, 200); r.str(t, "answer") != "Only the refundable one." {
		t.Errorf("%s", r.Body)
	}
}

func TestPSRelayVisits(t *testing.T) {
	w := NewWorld(WorldOptions{PersonServer: PersonServerOptions{RelayVisits: true}})
	defer w.Close()
	c := newClient(t, w)
	// A page of a resource: the person server, reaching the person,
	// opens it with the code.
	visits := make(chan string, 4)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		visits <- r.URL.Query().Get("code")
	}))
	defer page.Close()
	c.do("POST", w.PS.URL+psInteractionPath, "", map[string]any{"type": "interaction", "url": page.URL + "/interact", "code": "ABCD-2345"}, nil).expect(t, 202)
	select {
	case code := <-visits:
		if code != "ABCD-2345" {
			t.Errorf("visited with code %q", code)
		}
	default:
		t.Error("the relayed interaction was not opened before the answer")
	}
	// Not a loopback URL: never opened.
	c.do("POST", w.PS.URL+psInteractionPath, "", map[string]any{"type": "interaction", "url": "https://r.example/i", "code": "ABCD2345"}, nil).expect(t, 202)
	if len(visits) != 0 {
		t.Error("a non-loopback URL was opened")
	}
}

// A relay asking for max_wait is held no longer than that (AAuth -11
// interaction endpoint): the first poll once the window has passed, on
// the server's clock, gets 408 expired and the pending URL is gone after
// it. A relay that ends within the window, or asks for none, is played
// as scripted; a max_wait that is no number of seconds is refused.
func TestPSRelayMaxWait(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	w := NewWorld(WorldOptions{Now: clk.Now, PersonServer: PersonServerOptions{RelayInteractions: true}})
	defer w.Close()
	c := newClient(t, w)
	c.now = clk.Now
	url := w.PS.URL + psInteractionPath
	relay := func(maxWait any) map[string]any {
		m := map[string]any{"type": "interaction", "url": "https://r.example/i", "code": "ABCD2345"}
		if maxWait != nil {
			m["max_wait"] = maxWait
		}
		return m
	}
	// The person never engages: the relay would stay pending 50 polls.
	unengaged := Defer(Pending().Times(50))

	w.PS.QueueAt(EndpointInteraction, unengaged)
	r := c.do("POST", url, "", relay(30), nil).expect(t, 202)
	loc := r.Header.Get("Location")
	c.do("GET", loc, "", nil, nil).expect(t, 202)
	clk.Advance(29 * time.Second)
	c.do("GET", loc, "", nil, nil).expect(t, 202)
	clk.Advance(time.Second)
	end := c.do("GET", loc, "", nil, nil).expect(t, 408)
	if end.str(t, "error") != "expired" || !strings.Contains(end.str(t, "detail"), "max_wait of 30 s") {
		t.Errorf("end %s", end.Body)
	}
	c.do("GET", loc, "", nil, nil).expect(t, 410)
	if grs := w.PS.GovernanceRequests(); grs[len(grs)-1].MaxWait != 30 {
		t.Errorf("recorded max_wait %d", grs[len(grs)-1].MaxWait)
	}

	// No max_wait: no bound.
	w.PS.QueueAt(EndpointInteraction, unengaged)
	loc = c.do("POST", url, "", relay(nil), nil).expect(t, 202).Header.Get("Location")
	clk.Advance(45 * time.Minute) // within the agent token's hour
	c.do("GET", loc, "", nil, nil).expect(t, 202)

	// Engaged within the window: the scripted end.
	w.PS.QueueAt(EndpointInteraction, Defer(Interacting()))
	loc = c.do("POST", url, "", relay(30), nil).expect(t, 202).Header.Get("Location")
	clk.Advance(10 * time.Second)
	if r := c.do("GET", loc, "", nil, nil).expect(t, 200); r.str(t, "status") != "completed" {
		t.Errorf("relay end %s", r.Body)
	}

	for _, bad := range []any{-1, 86401, "30", 1.5} {
		if r := c.do("POST", url, "", relay(bad), nil); r.Status != http.StatusBadRequest {
			t.Errorf("max_wait %v: %d %s", bad, r.Status, r.Body)
		}
	}
}

// The library's relay and poller against the kit on one fake clock: the
// poller sleeps through Retry-After on it, the kit ends the relay when
// max_wait is up, and the poller surfaces that as ErrExpired.
func TestPSRelayMaxWaitLibraryClient(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	w := NewWorld(WorldOptions{Now: clk.Now, PersonServer: PersonServerOptions{RelayInteractions: true}})
	defer w.Close()
	_, hc := psClient(t, w, clk)
	w.PS.QueueAt(EndpointInteraction, Defer(Interacting(), Pending().RetryAfter("5").Times(100)))
	ctx := context.Background()
	loc, err := psclient.RelayInteraction(ctx, hc, psclient.InteractionRelay{PersonServer: w.PS.URL, URL: "https://r.example/i", Code: "ABCD2345", MaxWait: 30 * time.Second})
	if err != nil || loc == "" {
		t.Fatalf("relay: %q, %v", loc, err)
	}
	start := clk.Now()
	_, err = psclient.PollDeferred(ctx, hc, loc, psclient.PollOptions{Clock: clk})
	if !errors.Is(err, psclient.ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	if held := clk.Now().Sub(start); held < 30*time.Second || held > 35*time.Second {
		t.Errorf("the relay was held %v of the fake clock, want 30 s to one poll interval more", held)
	}
	if n := w.PS.Polls(); n > 8 {
		t.Errorf("%d polls", n)
	}
}
