package aauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// The hostile table's mission and governance rows: a person server that
// approves missions badly, answers governance requests badly, or relays
// badly. The governance call a case makes is in its script; its outcome
// goes to e.gov, checked with wantGov. The case's request then shows what
// the Transport does next.

// propose proposes a mission naming the kit resource, the person server
// answering with d, and keeps the outcome.
func (e *hostileEnv) propose(d aauthtest.Decision) *psclient.MissionApproval {
	e.w.PS.QueueAt(aauthtest.EndpointMission, d)
	a, err := e.tr.ProposeMission(context.Background(), psclient.MissionProposal{
		Description: "Read the data",
		Tools:       []psclient.Tool{{Name: "Summarize"}},
		Resources:   []string{e.w.Resource.URL},
	})
	e.gov = err
	e.approval = a
	return a
}

// wantGov expects the script's governance call to have failed matching
// each target.
func wantGov(targets ...error) hostileWant {
	return hostileWant{fmt.Sprintf("governance call errors.Is %v", targets), func(e *hostileEnv, _ hostileResult) error {
		if e.gov == nil {
			return errors.New("the governance call did not fail")
		}
		for _, target := range targets {
			if !errors.Is(e.gov, target) {
				return fmt.Errorf("governance error %v is not %v", e.gov, target)
			}
		}
		if strings.Count(e.gov.Error(), "aauth: ") != 1 {
			return fmt.Errorf("governance error %q repeats the prefix", e.gov)
		}
		return nil
	}}
}

// noMission expects the Transport to work under no mission.
func noMission() hostileWant {
	return also("no mission adopted", func(e *hostileEnv) error {
		if m := e.tr.CurrentMission(); m != nil {
			return fmt.Errorf("the Transport works under %s", m.S256)
		}
		return nil
	})
}

// relayCount expects n relays at the person server and m calls of
// OnInteraction.
func relayCount(n, m int) hostileWant {
	return also(fmt.Sprintf("%d relays, %d OnInteraction calls", n, m), func(e *hostileEnv) error {
		relays := 0
		for _, gr := range e.w.PS.GovernanceRequests() {
			if gr.Endpoint == aauthtest.EndpointInteraction {
				relays++
			}
		}
		if relays != n || int(e.interactions.Load()) != m {
			return fmt.Errorf("%d relays, %d OnInteraction calls", relays, e.interactions.Load())
		}
		return nil
	})
}

// proposeFault is a case whose approval is broken by f: the proposal
// fails with want, and the request then runs without a mission.
func proposeFault(name string, f aauthtest.Fault, want ...error) hostileCase {
	return hostileCase{name: name, script: func(e *hostileEnv) {
		e.propose(aauthtest.Malformed(f))
	}, want: and(wantGov(want...), noMission(), wantStatus(200))}
}

// resourceInteraction holds the resource's next call for an interaction
// that completes by itself after three polls (nobody in the table visits
// pages).
func resourceInteraction(e *hostileEnv) {
	e.w.Resource.Queue(aauthtest.Defer(aauthtest.Interaction().Times(3)))
}

func missionHostileCases() []hostileCase {
	hugeApproval := `{"s256":"x","mission":"x","pad":"` + strings.Repeat(" ", 2<<20) + `"}`
	return []hostileCase{
		proposeFault("mission-s256-mismatch", aauthtest.FaultMissionDigestMismatch, psclient.ErrInvalidMission),
		proposeFault("mission-blob-not-base64url", aauthtest.FaultMissionNotBase64URL, psclient.ErrInvalidMission),
		proposeFault("mission-blob-not-json", aauthtest.FaultMissionNotJSON, psclient.ErrInvalidMission),
		proposeFault("mission-blob-duplicate-member", aauthtest.FaultMissionDuplicateMember, psclient.ErrInvalidMission),
		proposeFault("mission-blob-huge", aauthtest.FaultMissionHuge, psclient.ErrInvalidMission),
		proposeFault("mission-blob-other-agent", aauthtest.FaultMissionOtherAgent, psclient.ErrInvalidMission),
		proposeFault("mission-blob-expired", aauthtest.FaultMissionExpired, psclient.ErrInvalidMission),
		{name: "mission-approval-huge", script: func(e *hostileEnv) {
			e.propose(aauthtest.Respond(200, http.Header{"Content-Type": {"application/json"}}, hugeApproval))
		}, want: and(wantGov(aauth.ErrBodyTooLarge), noMission(), wantStatus(200))},
		{name: "mission-person-token-unproposed", script: func(e *hostileEnv) {
			e.propose(aauthtest.Malformed(aauthtest.FaultMissionPersonTokenUnproposed))
		}, want: and(wantStatus(200), also("the unproposed person token is ignored, never presented", func(e *hostileEnv) error {
			if e.gov != nil || e.approval == nil {
				return fmt.Errorf("proposal: %v", e.gov)
			}
			if _, ok := e.approval.PersonTokens["https://unproposed.example"]; ok || len(e.approval.Ignored) != 1 {
				return fmt.Errorf("kept %v, ignored %v", e.approval.PersonTokens, e.approval.Ignored)
			}
			return nil
		}))},
		{name: "mission-person-token-other-key", script: func(e *hostileEnv) {
			e.propose(aauthtest.Malformed(aauthtest.FaultMissionPersonTokenOtherKey))
		}, want: and(wantStatus(200), also("a person token bound to another key is not presented", func(e *hostileEnv) error {
			tok := e.approval.PersonTokens[e.w.Resource.URL]
			for _, r := range e.w.Resource.Requests() {
				if tok != nil && r.Token == tok.Value {
					return errors.New("it was presented")
				}
			}
			if n := len(e.w.PS.PersonTokenRequests()); n != 1 {
				return fmt.Errorf("%d person-token requests, want 1", n)
			}
			return nil
		}))},
		{name: "mission-capabilities-widened", script: func(e *hostileEnv) {
			e.tr.Capabilities = nil
			e.propose(aauthtest.Approve().MissionCapabilities("payment", "clarification", "admin", "interaction, payment", "interaction"))
		}, want: and(wantStatus(200), also("only interaction is declared", func(e *hostileEnv) error {
			// The kit person server publishes an interaction_endpoint, so
			// interaction can be relayed; nothing else the approval lists
			// is anything the Transport acts on (budget is the Transport's
			// own, declared with or without a mission).
			for _, r := range agentRequests(e.w.Resource.Requests()) {
				if h := r.Header.Get("AAuth-Capabilities"); h != "interaction, budget" {
					return fmt.Errorf("AAuth-Capabilities %q", h)
				}
			}
			return nil
		}))},
		{name: "mission-terminated-mid-flow", script: func(e *hostileEnv) {
			a := e.propose(aauthtest.Approve().PersonTokensFor())
			if a != nil {
				e.w.PS.TerminateMission(a.S256, "evil\u001b[31m\nreason")
			}
		}, want: and(
			wantIs(psclient.ErrMissionTerminated),
			wantAs("reason cleaned", func(me *psclient.MissionError) bool {
				return !strings.ContainsAny(string(me.Reason), "\x1b\n") && strings.HasPrefix(string(me.Reason), "evil")
			}),
			messageLacks("\x1b"),
			also("the next request sends nothing", func(e *hostileEnv) error {
				before := len(e.w.Resource.Requests())
				_, err := e.tr.Client().Get(e.target)
				if !errors.Is(err, psclient.ErrMissionTerminated) || len(e.w.Resource.Requests()) != before {
					return fmt.Errorf("second request: %v, %d sends", err, len(e.w.Resource.Requests())-before)
				}
				return nil
			}))},
		{name: "mission-not-found", script: func(e *hostileEnv) {
			e.propose(aauthtest.Approve().PersonTokensFor())
			e.w.PS.Queue(aauthtest.TokenPerson, aauthtest.Fail(404, "mission_not_found", "no such mission"))
		}, want: and(wantIs(psclient.ErrMissionNotFound), wantAs("not found", func(me *psclient.MissionError) bool { return me.NotFound }))},
		{name: "mission-update-path-injection", script: func(e *hostileEnv) {
			_, e.gov = psclient.UpdateMission(context.Background(), e.tr.Client(), psclient.MissionUpdate{
				PersonServer: e.w.PS.URL, MissionS256: "../../aauth/token/auth?x=", Description: "d",
			})
		}, want: and(wantStatus(200), also("refused before anything was sent", func(e *hostileEnv) error {
			if e.gov == nil || !strings.Contains(e.gov.Error(), "not an unpadded base64url SHA-256") {
				return fmt.Errorf("error %v", e.gov)
			}
			for _, r := range e.w.PS.Requests() {
				if strings.Contains(r.Path, "mission") || r.Method == http.MethodPost && r.Endpoint != aauthtest.EndpointPersonToken && r.Endpoint != aauthtest.EndpointAuthToken {
					return fmt.Errorf("sent %s %s", r.Method, r.Path)
				}
			}
			return nil
		}))},
		{name: "update-digest-malformed", script: func(e *hostileEnv) {
			e.propose(aauthtest.Approve().PersonTokensFor())
			e.w.PS.QueueAt(aauthtest.EndpointMissionUpdate, aauthtest.Respond(200, http.Header{"Content-Type": {"application/json"}}, `{"s256":"../etc/passwd"}`))
			_, e.gov = e.tr.UpdateMission(context.Background(), "more")
		}, want: and(wantGov(psclient.ErrMalformedAnswer), wantStatus(200))},
		{name: "permission-neither", script: func(e *hostileEnv) {
			e.w.PS.QueueAt(aauthtest.EndpointPermission, aauthtest.Malformed(aauthtest.FaultPermissionNeither))
			e.gov = e.tr.RequestPermission(context.Background(), psclient.PermissionRequest{Action: "rm -rf"})
		}, want: and(wantGov(psclient.ErrMalformedAnswer), wantStatus(200))},
		{name: "permission-duplicate-member", script: func(e *hostileEnv) {
			e.w.PS.QueueAt(aauthtest.EndpointPermission, aauthtest.Respond(200, http.Header{"Content-Type": {"application/json"}}, `{"permission":"denied","permission":"granted"}`))
			e.gov = e.tr.RequestPermission(context.Background(), psclient.PermissionRequest{Action: "x"})
		}, want: and(wantGov(psclient.ErrMalformedAnswer), wantStatus(200))},
		{name: "permission-not-json", script: func(e *hostileEnv) {
			e.w.PS.QueueAt(aauthtest.EndpointPermission, aauthtest.Respond(200, http.Header{"Content-Type": {"text/plain"}}, `granted`))
			e.gov = e.tr.RequestPermission(context.Background(), psclient.PermissionRequest{Action: "x"})
		}, want: and(wantGov(psclient.ErrMalformedAnswer), wantStatus(200))},
		{name: "permission-huge", script: func(e *hostileEnv) {
			e.w.PS.QueueAt(aauthtest.EndpointPermission, aauthtest.Respond(200, http.Header{"Content-Type": {"application/json"}}, `{"permission":"granted","pad":"`+strings.Repeat("x", 2<<20)+`"}`))
			e.gov = e.tr.RequestPermission(context.Background(), psclient.PermissionRequest{Action: "x"})
		}, want: and(wantGov(aauth.ErrBodyTooLarge), wantStatus(200))},
		{name: "question-no-answer", script: func(e *hostileEnv) {
			e.w.PS.QueueAt(aauthtest.EndpointQuestion, aauthtest.Respond(200, http.Header{"Content-Type": {"application/json"}}, `{"answer":42}`))
			_, e.gov = e.tr.Ask(context.Background(), "Proceed?")
		}, want: and(wantGov(psclient.ErrMalformedAnswer), wantStatus(200))},
		{name: "relay-unavailable", script: resourceInteraction, want: and(wantStatus(200), relayCount(1, 1))},
		{name: "relay-user-unreachable", script: func(e *hostileEnv) {
			resourceInteraction(e)
			e.w.PS.QueueAt(aauthtest.EndpointInteraction, aauthtest.UserUnreachable())
		}, want: and(wantIs(aauth.ErrUserUnreachable, aauth.ErrInteraction), relayCount(1, 0), also("the resource's pending request was cancelled", func(e *hostileEnv) error {
			for _, r := range e.w.Resource.Requests() {
				if r.Method == http.MethodDelete {
					return nil
				}
			}
			return errors.New("no DELETE")
		}))},
		{name: "relay-202-without-location", script: func(e *hostileEnv) {
			resourceInteraction(e)
			e.w.PS.QueueAt(aauthtest.EndpointInteraction, aauthtest.Respond(202, http.Header{"Content-Type": {"application/json"}}, `{"status":"pending"}`))
		}, want: and(wantStatus(200), relayCount(1, 1))},
		{name: "relay-hangs", script: func(e *hostileEnv) {
			e.t.Cleanup(aauth.SetRelayTimeoutForTest(50 * time.Millisecond))
			resourceInteraction(e)
			release := e.release
			e.w.PS.SetGovernance(func(gr *aauthtest.GovernanceRequest) aauthtest.Decision {
				<-release // the person server never answers the relay
				return aauthtest.Approve()
			})
		}, want: and(wantStatus(200), relayCount(1, 1))},
		{name: "relay-deferred-then-unreachable", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Defer(aauthtest.Interaction()))
			e.w.PS.QueueAt(aauthtest.EndpointInteraction, aauthtest.Defer(aauthtest.Interacting()).Then(aauthtest.UserUnreachable()))
		}, want: and(wantIs(aauth.ErrUserUnreachable), relayCount(1, 0))},
		{name: "audit-rejected", script: func(e *hostileEnv) {
			e.propose(aauthtest.Approve().PersonTokensFor())
			e.w.PS.QueueAt(aauthtest.EndpointAudit, aauthtest.Fail(400, "invalid_request", "no"))
			if err := e.tr.Audit(psclient.AuditRecord{Action: "summarized", Parameters: map[string]string{"secret-ish": "x"}}); err != nil {
				e.gov = err
				return
			}
			e.gov = e.tr.Flush(context.Background())
		}, want: and(wantStatus(200), also("the rejected record is reported", func(e *hostileEnv) error {
			if e.gov == nil || !strings.Contains(e.gov.Error(), `audit record "summarized" not recorded`) {
				return fmt.Errorf("flush: %v", e.gov)
			}
			return nil
		}))},
	}
}
