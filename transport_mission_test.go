package aauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// missionWorld is a World whose agent proposes a mission naming the
// resource.
func missionWorld(t *testing.T, opts aauthtest.WorldOptions, d aauthtest.Decision) (*world, *psclient.MissionApproval) {
	t.Helper()
	w := newWorld(t, aauth.ProfileCurrent, opts)
	w.PS.QueueAt(aauthtest.EndpointMission, d)
	a, err := w.tr.ProposeMission(context.Background(), psclient.MissionProposal{
		Description: "Read the data",
		Tools:       []psclient.Tool{{Name: "Summarize", Description: "Summarize the data"}},
		Resources:   []string{w.Resource.URL},
	})
	if err != nil {
		t.Fatalf("ProposeMission: %v", err)
	}
	return w, a
}

func TestTransportUnderMission(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve())
	if w.tr.CurrentMission() != a || a.PersonTokens[w.Resource.URL] == nil {
		t.Fatalf("approval %+v", a)
	}
	resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	// The approval's person token was presented at once: no person-token
	// request, and the resource's first request carried it.
	if n := len(w.PS.PersonTokenRequests()); n != 0 {
		t.Errorf("%d person-token requests, want 0", n)
	}
	res := agentRequests(w.Resource.Requests())
	if len(res) != 2 || res[0].Presented != aauthtest.TokenPerson || res[0].Token != a.PersonTokens[w.Resource.URL].Value || res[1].Presented != aauthtest.TokenAuth {
		t.Fatalf("resource requests %v", res)
	}
	// The mission flows into the auth token.
	if got, _ := res[1].Claims["mission_s256"].(string); got != a.S256 {
		t.Errorf("auth token mission_s256 %q, want %q", got, a.S256)
	}

	// A resource not in the mission gets a person token naming it.
	w.Resource.Reset()
	other := aauthtest.NewResource(aauthtest.ResourceOptions{PersonServer: w.PS.URL, TrustedAgents: []string{w.Agent.URL}, Now: w.clock.Now})
	defer other.Close()
	w.PS.TrustResource(other.URL)
	resp, body = get(t, w.tr.Client(), other.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("other resource: %d %s", resp.StatusCode, body)
	}
	found := false
	for _, tr := range w.PS.TokenRequests() {
		if tr.Kind == aauthtest.TokenPerson {
			found = true
			if tr.Resource != other.URL || tr.MissionS256 != a.S256 {
				t.Errorf("person-token request for %s under %q", tr.Resource, tr.MissionS256)
			}
		}
	}
	if !found {
		t.Error("no person-token request for the other resource")
	}
}

func TestTransportMissionCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    aauthtest.PersonServerOptions
		caps    []string
		disable bool
		want    string
	}{
		{"relay: interaction added", aauthtest.PersonServerOptions{RelayInteractions: true}, []string{"interaction"}, false, "interaction, budget"},
		{"widened: only interaction", aauthtest.PersonServerOptions{RelayInteractions: true}, []string{"payment", "clarification", "admin", "interaction, payment", "interaction"}, false, "interaction, budget"},
		{"relay off: nothing added", aauthtest.PersonServerOptions{RelayInteractions: true}, []string{"interaction", "payment"}, true, "budget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{PersonServer: tc.opts})
			w.tr.Capabilities = nil
			w.tr.DisableRelay = tc.disable
			w.PS.QueueAt(aauthtest.EndpointMission, aauthtest.Approve().MissionCapabilities(tc.caps...))
			if _, err := w.tr.ProposeMission(context.Background(), psclient.MissionProposal{Description: "d"}); err != nil {
				t.Fatal(err)
			}
			get(t, w.tr.Client(), w.Resource.URL+"/data")
			for _, r := range agentRequests(w.Resource.Requests()) {
				if got := r.Header.Get("AAuth-Capabilities"); got != tc.want {
					t.Errorf("%s presenting %s: AAuth-Capabilities %q, want %q", r.Path, r.Presented, got, tc.want)
				}
			}
			for _, tr := range w.PS.TokenRequests() {
				if got := strings.Join(tr.Capabilities, ", "); got != tc.want {
					t.Errorf("token request capabilities %q, want %q", got, tc.want)
				}
			}
		})
	}
}

func TestTransportMissionExpires(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	expires := w.clock.Now().Add(20 * time.Minute)
	w.PS.QueueAt(aauthtest.EndpointMission, aauthtest.Approve().MissionExpires(expires))
	a, err := w.tr.ProposeMission(context.Background(), psclient.MissionProposal{Description: "d", Resources: []string{w.Resource.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if tok := a.PersonTokens[w.Resource.URL]; tok == nil || tok.Expiry.After(expires) {
		t.Fatalf("person token %+v outlives the mission", tok)
	}
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sent := len(w.Resource.Requests())
	w.clock.Advance(21 * time.Minute)
	_, err = w.tr.Client().Get(w.Resource.URL + "/data")
	var me *psclient.MissionError
	if !errors.As(err, &me) || me.Reason != psclient.TerminationExpired || !errors.Is(err, psclient.ErrMissionTerminated) {
		t.Fatalf("after expiry: %v", err)
	}
	if n := len(w.Resource.Requests()); n != sent {
		t.Errorf("%d requests sent after the mission expired", n-sent)
	}
	if err := w.tr.Audit(psclient.AuditRecord{Action: "x"}); !errors.Is(err, psclient.ErrMissionTerminated) {
		t.Errorf("audit after expiry: %v", err)
	}
	// A new mission (or none) lets the agent go on.
	if err := w.tr.UseMission(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("without a mission: %d", resp.StatusCode)
	}
}

func TestTransportMissionTerminated(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve().PersonTokensFor())
	if err := w.PS.TerminateMission(a.S256, "cosmic-ray"); err != nil {
		t.Fatal(err)
	}
	_, err := w.tr.Client().Get(w.Resource.URL + "/data")
	var me *psclient.MissionError
	if !errors.As(err, &me) || me.Reason != "cosmic-ray" || me.MissionS256 != a.S256 {
		t.Fatalf("terminated: %v", err)
	}
	var ee *aauth.ExchangeError
	if !errors.As(err, &ee) || ee.StatusCode != 403 {
		t.Errorf("the person server's answer is not kept: %v", err)
	}
	// The next request sends nothing.
	w.Resource.Reset()
	before := len(w.PS.Requests())
	if _, err := w.tr.Client().Get(w.Resource.URL + "/data"); !errors.Is(err, psclient.ErrMissionTerminated) {
		t.Fatalf("second request: %v", err)
	}
	if len(w.Resource.Requests()) != 0 || len(w.PS.Requests()) != before {
		t.Errorf("requests sent after the mission ended")
	}
	if _, err := w.tr.UpdateMission(context.Background(), "more"); !errors.Is(err, psclient.ErrMissionTerminated) {
		t.Errorf("update: %v", err)
	}
}

func TestTransportUseMissionRefuses(t *testing.T) {
	for _, f := range []aauthtest.Fault{aauthtest.FaultMissionOtherAgent, aauthtest.FaultMissionExpired} {
		t.Run(string(f), func(t *testing.T) {
			w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
			w.PS.QueueAt(aauthtest.EndpointMission, aauthtest.Malformed(f))
			a, err := w.tr.ProposeMission(context.Background(), psclient.MissionProposal{Description: "d"})
			if a != nil || !errors.Is(err, psclient.ErrInvalidMission) {
				t.Fatalf("%+v, %v", a, err)
			}
			if w.tr.CurrentMission() != nil {
				t.Error("the Transport adopted the mission")
			}
		})
	}
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve())
	forged := *a
	forged.S256 = psclient.MissionDigest([]byte("another blob"))
	if err := w.tr.UseMission(context.Background(), &forged); !errors.Is(err, psclient.ErrInvalidMission) {
		t.Errorf("forged approval: %v", err)
	}
	if w.tr.CurrentMission() != a {
		t.Error("a refused approval replaced the mission")
	}
}

func TestTransportMissionPersonTokenOtherKeyNotSeeded(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Malformed(aauthtest.FaultMissionPersonTokenOtherKey))
	if a.PersonTokens[w.Resource.URL] == nil {
		t.Fatal("no person token in the approval")
	}
	get(t, w.tr.Client(), w.Resource.URL+"/data")
	for _, r := range agentRequests(w.Resource.Requests()) {
		if r.Token == a.PersonTokens[w.Resource.URL].Value {
			t.Fatal("a person token bound to another key was presented")
		}
	}
	if n := len(w.PS.PersonTokenRequests()); n != 1 {
		t.Errorf("%d person-token requests, want 1", n)
	}
}

func TestTransportPermission(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve())
	ctx := context.Background()
	// An approved tool needs no asking.
	if err := w.tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "Summarize"}); err != nil {
		t.Fatal(err)
	}
	if n := len(w.PS.GovernanceRequests()); n != 1 { // the proposal
		t.Fatalf("%d governance requests", n)
	}
	if err := w.tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "SendEmail", Parameters: map[string]string{"to": "bob"}}); err != nil {
		t.Fatal(err)
	}
	grs := w.PS.GovernanceRequests()
	if last := grs[len(grs)-1]; last.Endpoint != aauthtest.EndpointPermission || last.MissionS256 != a.S256 || last.Action != "SendEmail" {
		t.Errorf("permission request %+v", last)
	}
	w.PS.QueueAt(aauthtest.EndpointPermission, aauthtest.DenyPermission("Not to Bob."), aauthtest.Malformed(aauthtest.FaultPermissionNeither))
	err := w.tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "SendEmail"})
	var pd *psclient.PermissionDeniedError
	if !errors.As(err, &pd) || pd.Reason != "Not to Bob." || !errors.Is(err, aauth.ErrDenied) {
		t.Errorf("denied: %v", err)
	}
	if err := w.tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "SendEmail"}); !errors.Is(err, psclient.ErrMalformedAnswer) {
		t.Errorf("neither: %v", err)
	}
}

func TestTransportCompleteMission(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve())
	ctx := context.Background()
	digest, err := w.tr.UpdateMission(ctx, "Also summarize")
	if err != nil || !psclient.ValidDigest(digest) {
		t.Fatalf("update %q: %v", digest, err)
	}
	w.PS.QueueAt(aauthtest.EndpointMissionCompletion, aauthtest.Defer(aauthtest.Clarification("Anything else?")))
	w.tr.OnClarification = func(context.Context, aauth.Clarification) (string, error) { return "No, all done.", nil }
	if err := w.tr.CompleteMission(ctx, "Read and summarized the data."); err != nil {
		t.Fatal(err)
	}
	ms := w.PS.Missions()
	if !ms[0].Terminated || ms[0].Reason != "completed" || len(ms[0].Updates) != 1 || ms[0].S256 != a.S256 {
		t.Errorf("mission %+v", ms[0])
	}
	_, err = w.tr.Client().Get(w.Resource.URL + "/data")
	var me *psclient.MissionError
	if !errors.As(err, &me) || me.Reason != psclient.TerminationCompleted {
		t.Errorf("after completion: %v", err)
	}
}

func TestTransportAudit(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve())
	ctx := context.Background()
	var events []aauth.Event
	var mu sync.Mutex
	w.tr.OnEvent = func(ev aauth.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}
	for _, action := range []string{"one", "two", "three"} {
		if err := w.tr.Audit(psclient.AuditRecord{Action: action, Result: map[string]int{"n": len(action)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, gr := range w.PS.GovernanceRequests() {
		if gr.Endpoint == aauthtest.EndpointAudit {
			if gr.MissionS256 != a.S256 {
				t.Errorf("audit record under %q", gr.MissionS256)
			}
			got = append(got, gr.Action)
		}
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("audit records %v", got)
	}

	// A refused record is reported, by event and by Flush.
	w.PS.QueueAt(aauthtest.EndpointAudit, aauthtest.Fail(400, "invalid_request", "no"))
	if err := w.tr.Audit(psclient.AuditRecord{Action: "bad"}); err != nil {
		t.Fatal(err)
	}
	err := w.tr.Flush(ctx)
	if err == nil || !strings.Contains(err.Error(), `audit record "bad" not recorded`) || strings.Count(err.Error(), "aauth: ") != 1 {
		t.Errorf("flush: %v", err)
	}
	mu.Lock()
	reported := false
	for _, ev := range events {
		reported = reported || ev.Step == aauth.StepError && strings.Contains(ev.Detail, `audit record bad not recorded`)
	}
	mu.Unlock()
	if !reported {
		t.Error("no event reported the refused record")
	}
	if err := w.tr.Flush(ctx); err != nil {
		t.Errorf("failures reported twice: %v", err)
	}

	// Without a mission there is no audit.
	w.tr.UseMission(ctx, nil)
	if err := w.tr.Audit(psclient.AuditRecord{Action: "x"}); !errors.Is(err, psclient.ErrNoMission) {
		t.Errorf("no mission: %v", err)
	}
	if err := w.tr.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := w.tr.Audit(psclient.AuditRecord{Action: "x", MissionS256: a.S256}); err == nil {
		t.Error("audit after Close")
	}
}

func TestTransportAuditQueueFullAndShutdown(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int32
	opts := aauthtest.WorldOptions{PersonServer: aauthtest.PersonServerOptions{Governance: func(gr *aauthtest.GovernanceRequest) aauthtest.Decision {
		if gr.Endpoint == aauthtest.EndpointAudit {
			arrived.Add(1)
			<-release // the person server is slow
		}
		return aauthtest.Approve()
	}}}
	w, _ := missionWorld(t, opts, aauthtest.Approve())
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	w.tr.AuditQueueSize = 1
	if err := w.tr.Audit(psclient.AuditRecord{Action: "first"}); err != nil {
		t.Fatal(err)
	}
	for arrived.Load() == 0 {
		time.Sleep(time.Millisecond) // the first record is at the person server
	}
	if err := w.tr.Audit(psclient.AuditRecord{Action: "second"}); err != nil {
		t.Fatal(err)
	}
	if err := w.tr.Audit(psclient.AuditRecord{Action: "third"}); !errors.Is(err, aauth.ErrAuditQueueFull) {
		t.Fatalf("third: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	close(release)
	err := w.tr.Shutdown(ctx)
	// Either both records made it in time, or what did not is reported.
	if err != nil && !strings.Contains(err.Error(), "not sent before Shutdown") && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("shutdown: %v", err)
	}
}

// The error a RoundTrip returns for a mission error keeps the prefix
// once.
func TestTransportMissionErrorPrefixOnce(t *testing.T) {
	w, a := missionWorld(t, aauthtest.WorldOptions{}, aauthtest.Approve().PersonTokensFor())
	w.PS.TerminateMission(a.S256, "revoked")
	_, err := w.tr.Client().Get(w.Resource.URL + "/data")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Count(err.Error(), "aauth: ") != 1 {
		t.Errorf("%v", err)
	}
	_ = http.StatusOK
}

// A person server rate-limiting the agent's failed mission requests
// (AAuth -11 Mission Endpoint Errors) answers 429: the Transport returns
// it as an error matching psclient.ErrRateLimited, and the mission stays
// current, for the agent to try again after Retry-After.
func TestTransportMissionRateLimited(t *testing.T) {
	w, _ := missionWorld(t, aauthtest.WorldOptions{PersonServer: aauthtest.PersonServerOptions{MissionFailureLimit: 2}}, aauthtest.Approve())
	ctx := context.Background()
	bad := aauthtest.Fail(http.StatusBadRequest, "invalid_request", "scripted")
	w.PS.QueueAt(aauthtest.EndpointMissionUpdate, bad, bad)
	for range 2 {
		if _, err := w.tr.UpdateMission(ctx, "x"); err == nil || errors.Is(err, psclient.ErrRateLimited) {
			t.Fatalf("scripted failure: %v", err)
		}
	}
	_, err := w.tr.UpdateMission(ctx, "x")
	var re *psclient.RequestError
	if !errors.Is(err, psclient.ErrRateLimited) || !errors.As(err, &re) || re.Response.Header.Get("Retry-After") != "60" {
		t.Fatalf("limited: %v", err)
	}
	if strings.Count(err.Error(), "aauth:") != 1 {
		t.Errorf("prefix repeated: %v", err)
	}
	if w.tr.CurrentMission() == nil {
		t.Fatal("the mission was dropped")
	}
	w.clock.Advance(time.Minute)
	if _, err := w.tr.UpdateMission(ctx, "x"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}
