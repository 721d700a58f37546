package aauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// The steps of a Transport's governance work, as reported in an Event.
const (
	StepMission    Step = "mission"    // a mission was proposed, adopted, updated, completed or ended
	StepGovernance Step = "governance" // a permission was asked for, or an audit record sent
	StepRelay      Step = "relay"      // an interaction was relayed to the person server, or could not be
)

// governance is what a Transport keeps for missions and governance: the
// mission it works under and the audit queue.
type governance struct {
	mission atomic.Pointer[missionState]
	audit   auditQueue
}

// missionState is an adopted mission. It is replaced whole, never
// changed, except for end, set once when the mission ends.
type missionState struct {
	approval *psclient.MissionApproval
	s256     string
	expires  time.Time         // zero: none
	caps     []wire.Capability // what the approval adds that the Transport acts on
	tools    map[string]bool   // approved_tools
	seeded   []string          // person-token cache keys seeded from person_tokens
	end      atomic.Pointer[psclient.MissionError]
}

// ProposeMission proposes a mission to the person server (see
// psclient.ProposeMission) and, once the person approved it, works under
// it (see UseMission). PersonServer, Metadata and Cache left unset in p
// are the Transport's, and so are Profile and Poll: its OnInteraction and
// OnClarification answer the person server while the proposal is
// reviewed. The approval is returned
// for the caller to keep (CurrentMission returns it too).
func (t *Transport) ProposeMission(ctx context.Context, p psclient.MissionProposal) (*psclient.MissionApproval, error) {
	r, err := t.govRun(ctx)
	if err != nil {
		return nil, err
	}
	p.PersonServer, p.Metadata, p.Cache, p.Profile = r.govServer(p.PersonServer, p.Metadata, p.Cache)
	p.Poll = r.pollOptions("")
	t.emit(ctx, Event{Step: StepMission, URL: p.PersonServer, Detail: "proposing a mission"})
	a, err := psclient.ProposeMission(r.pollCtx(), t.psClient(r.km), p)
	if err = r.finishGov(err); err != nil {
		return nil, err
	}
	if err := t.UseMission(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// UseMission makes the Transport work under the approved mission a, from
// now on; nil makes it work under none. A mission kept from an earlier run
// (a persisted approval) is adopted the same way. The Transport then:
//
//   - names the mission (mission_s256) in its person-token requests, and
//     keeps the tokens of each mission apart;
//   - seeds its person-token cache with the approval's person tokens, for
//     resources the person approved and bound to the current signing key,
//     so that their first request presents one at once;
//   - declares the capabilities the approval adds that it can act on:
//     interaction, when it relays interactions and the person server
//     publishes an interaction_endpoint (payment and clarification are
//     only ever declared by Capabilities);
//   - never presents a token of the mission past its expires_at;
//   - once the mission has ended (its expires_at passed, the person server
//     answered mission_terminated or mission_not_found, its completion was
//     accepted), refuses every request with that *psclient.MissionError,
//     until UseMission is called again.
//
// a must hold a mission blob whose digest is a.S256, for this agent (the
// sub of the agent token, when it has one), not expired, and approved by
// this person server when it names its approver; otherwise the error
// matches psclient.ErrInvalidMission and nothing changes.
func (t *Transport) UseMission(ctx context.Context, a *psclient.MissionApproval) error {
	t.init()
	if a == nil {
		t.gov.mission.Store(nil)
		t.emit(ctx, Event{Step: StepMission, Detail: "working under no mission"})
		return nil
	}
	r, err := t.govRun(ctx)
	if err != nil {
		return err
	}
	if err := r.checkApproval(a); err != nil {
		return err
	}
	st := &missionState{approval: a, s256: a.S256, expires: a.Mission.ExpiresAt, tools: map[string]bool{}}
	for _, tool := range a.Mission.ApprovedTools {
		st.tools[tool.Name] = true
	}
	if slices.Contains(a.Capabilities, wire.CapabilityInteraction) && r.relayEndpoint(ctx) {
		st.caps = []wire.Capability{wire.CapabilityInteraction}
	}
	st.seeded = r.seedPersonTokens(ctx, st)
	t.gov.mission.Store(st)
	t.emit(ctx, Event{Step: StepMission, URL: r.ps, Detail: fmt.Sprintf("working under mission %s; person tokens seeded: %d", a.S256, len(st.seeded))})
	return nil
}

// CurrentMission returns the approval of the mission the Transport works
// under, nil when none. The value must not be modified.
func (t *Transport) CurrentMission() *psclient.MissionApproval {
	if st := t.gov.mission.Load(); st != nil {
		return st.approval
	}
	return nil
}

// UpdateMission records a change in the work of the current mission (see
// psclient.UpdateMission) and returns the update's digest.
func (t *Transport) UpdateMission(ctx context.Context, description string) (string, error) {
	st, r, err := t.activeMission(ctx)
	if err != nil {
		return "", err
	}
	ps, md, cache, p := r.govServer("", nil, nil)
	t.emit(ctx, Event{Step: StepMission, URL: ps, Detail: "recording an update of mission " + st.s256})
	digest, err := psclient.UpdateMission(r.pollCtx(), t.psClient(r.km), psclient.MissionUpdate{
		PersonServer: ps, Metadata: md, Cache: cache, Profile: p,
		MissionS256: st.s256, Description: description, Poll: r.pollOptions(""),
	})
	return digest, t.missionResult(ctx, st, r.finishGov(err))
}

// CompleteMission proposes that the current mission is finished (see
// psclient.CompleteMission), once the audit records queued so far have
// been sent (or have failed), so that the person reviews the summary
// against a complete record. When the person accepts, the mission is
// terminated (completed) and the Transport refuses further requests until
// UseMission is called again; otherwise it stays as it was.
func (t *Transport) CompleteMission(ctx context.Context, summary string) error {
	st, r, err := t.activeMission(ctx)
	if err != nil {
		return err
	}
	if err := t.gov.audit.wait(ctx); err != nil {
		return err
	}
	ps, md, cache, p := r.govServer("", nil, nil)
	t.emit(ctx, Event{Step: StepMission, URL: ps, Detail: "proposing the completion of mission " + st.s256})
	err = psclient.CompleteMission(r.pollCtx(), t.psClient(r.km), psclient.MissionCompletion{
		PersonServer: ps, Metadata: md, Cache: cache, Profile: p,
		MissionS256: st.s256, Summary: summary, Poll: r.pollOptions(""),
	})
	if err = t.missionResult(ctx, st, r.finishGov(err)); err != nil {
		return err
	}
	t.endMission(ctx, st, &psclient.MissionError{MissionS256: st.s256, Reason: psclient.TerminationCompleted, Detail: "the person accepted its completion"})
	return nil
}

// RequestPermission asks the person server whether the agent may take an
// action (see psclient.RequestPermission), within the current mission
// unless r names one. An action among the mission's approved_tools is
// granted without asking: the person approved it with the mission. A nil
// error is the only permission.
func (t *Transport) RequestPermission(ctx context.Context, req psclient.PermissionRequest) error {
	run, err := t.govRun(ctx)
	if err != nil {
		return err
	}
	st := t.gov.mission.Load()
	if st != nil && (req.MissionS256 == "" || req.MissionS256 == st.s256) {
		if err := t.missionErr(st); err != nil {
			return err
		}
		req.MissionS256 = st.s256
		if st.tools[req.Action] {
			t.emit(ctx, Event{Step: StepGovernance, Detail: "permission for " + safetext.Clean(req.Action, 64) + " granted by the mission's approved tools"})
			return nil
		}
	}
	req.PersonServer, req.Metadata, req.Cache, req.Profile = run.govServer(req.PersonServer, req.Metadata, req.Cache)
	req.Poll = run.pollOptions("")
	t.emit(ctx, Event{Step: StepGovernance, URL: req.PersonServer, Detail: "asking permission for " + safetext.Clean(req.Action, 64)})
	err = psclient.RequestPermission(run.pollCtx(), t.psClient(run.km), req)
	return t.missionResult(ctx, st, run.finishGov(err))
}

// Ask puts a question to the person through the person server (see
// psclient.Ask), within the current mission if any, and returns the
// person's answer, as sent: sanitize it before rendering it.
func (t *Transport) Ask(ctx context.Context, question string) (string, error) {
	r, err := t.govRun(ctx)
	if err != nil {
		return "", err
	}
	st := t.gov.mission.Load()
	s256 := ""
	if st != nil {
		if err := t.missionErr(st); err != nil {
			return "", err
		}
		s256 = st.s256
	}
	ps, md, cache, p := r.govServer("", nil, nil)
	t.emit(ctx, Event{Step: StepRelay, URL: ps, Detail: "asking the person a question"})
	answer, err := psclient.Ask(r.pollCtx(), t.psClient(r.km), psclient.QuestionRelay{
		PersonServer: ps, Metadata: md, Cache: cache, Profile: p,
		Question: question, MissionS256: s256, Poll: r.pollOptions(""),
	})
	return answer, t.missionResult(ctx, st, r.finishGov(err))
}

// govRun prepares a run for a governance call: the keys, the person
// server.
func (t *Transport) govRun(ctx context.Context) (*run, error) {
	t.init()
	if t.Keys == nil {
		return nil, errors.New("aauth: Transport.Keys is nil")
	}
	tab, err := profile.Check(t.Profile)
	if err != nil {
		return nil, err
	}
	if t.InsecureEgress {
		ctx = WithInsecureEgress(ctx)
	}
	r := &run{t: t, ctx: ctx, tab: tab}
	r.observePS()
	if err := r.loadKeys(); err != nil {
		return nil, err
	}
	if r.ps == "" && t.PersonServerMetadata == nil {
		return nil, ErrNoPersonServer
	}
	if r.viaParent() {
		return nil, fmt.Errorf("%w: a sub-agent talks to no person server; its parent does", ErrNoPersonServer)
	}
	return r, nil
}

// govServer fills in where a governance call goes.
func (r *run) govServer(ps string, md *psclient.Metadata, cache *psclient.MetadataCache) (string, *psclient.Metadata, *psclient.MetadataCache, wire.Profile) {
	if ps == "" && md == nil {
		ps, md = r.ps, r.t.PersonServerMetadata
	}
	if cache == nil {
		cache = &r.t.metadata
	}
	return ps, md, cache, r.t.Profile
}

// finishGov ends a governance call's relays.
func (r *run) finishGov(err error) error {
	_, err = r.finishRelays(nil, err)
	return err
}

// activeMission returns the current mission, if it can still be acted on.
func (t *Transport) activeMission(ctx context.Context) (*missionState, *run, error) {
	st := t.gov.mission.Load()
	if st == nil {
		return nil, nil, psclient.ErrNoMission
	}
	if err := t.missionErr(st); err != nil {
		return nil, nil, err
	}
	r, err := t.govRun(ctx)
	if err != nil {
		return nil, nil, err
	}
	return st, r, nil
}

// missionErr is the *MissionError of st once it has ended (by the person
// server's word, or by its expires_at), nil while it is active.
func (t *Transport) missionErr(st *missionState) error {
	if st == nil {
		return nil
	}
	if e := st.end.Load(); e != nil {
		return e
	}
	if !st.expires.IsZero() && !t.clock().Now().Before(st.expires) {
		e := &psclient.MissionError{MissionS256: st.s256, Reason: psclient.TerminationExpired, Detail: "its expires_at has passed"}
		st.end.CompareAndSwap(nil, e)
		return st.end.Load()
	}
	return nil
}

// currentMissionErr is missionErr of the current mission.
func (t *Transport) currentMissionErr() error { return t.missionErr(t.gov.mission.Load()) }

// missionResult notes a *MissionError about st in err: the mission has
// ended. It returns err.
func (t *Transport) missionResult(ctx context.Context, st *missionState, err error) error {
	var me *psclient.MissionError
	if st != nil && errors.As(err, &me) && (me.MissionS256 == "" || me.MissionS256 == st.s256) {
		t.endMission(ctx, st, me)
	}
	return err
}

// noteMissionError is missionResult for the current mission.
func (t *Transport) noteMissionError(ctx context.Context, err error) {
	_ = t.missionResult(ctx, t.gov.mission.Load(), err)
}

// endMission records that st has ended and forgets the person tokens
// seeded from its approval. A mission never comes back.
func (t *Transport) endMission(ctx context.Context, st *missionState, e *psclient.MissionError) {
	if !st.end.CompareAndSwap(nil, e) {
		return
	}
	for _, key := range st.seeded {
		t.tokens.DeleteToken(ctx, key)
	}
	t.forgetCredentials()
	t.emit(ctx, Event{Step: StepMission, Detail: "mission " + st.s256 + " ended", Err: e})
}

// missionS256 is the mission the Transport's requests name: the adopted
// mission's, else the Mission field's.
func (t *Transport) missionS256() string {
	if st := t.gov.mission.Load(); st != nil {
		return st.s256
	}
	if t.Mission != nil {
		return t.Mission.S256
	}
	return ""
}

// capabilities are the Transport's own, those the current mission adds,
// and budget last in the current profile (see withBudget).
func (t *Transport) capabilities() []wire.Capability {
	out := t.Capabilities
	if st := t.gov.mission.Load(); st != nil && len(st.caps) > 0 {
		out = slices.Clone(out)
		for _, c := range st.caps {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	if profile.For(t.Profile).BudgetCapability {
		out = t.withBudget(out)
	}
	return out
}

// withBudget returns caps with budget added last, unless caps has it: the
// Transport understands the Budgets draft (the budget claim, AAuth-Budget
// and a challenge's reason), so it says so (Budgets draft §Capability
// Negotiation, SHOULD). The list is made once per caller's list, not per
// request.
func (t *Transport) withBudget(caps []wire.Capability) []wire.Capability {
	if slices.Contains(caps, wire.CapabilityBudget) {
		return caps
	}
	if last := t.withBudgetCaps.Load(); last != nil && slices.Equal(last.own, caps) {
		return last.out
	}
	out := append(slices.Clone(caps), wire.CapabilityBudget)
	t.withBudgetCaps.Store(&budgetCapabilities{own: slices.Clone(caps), out: out})
	return out
}

// budgetCapabilities is the caller's last list of capabilities and the
// list declared for it.
type budgetCapabilities struct {
	own, out []wire.Capability
}

// capToMission returns tok with its expiry no later than the current
// mission's expires_at (a copy when it changes).
func (t *Transport) capToMission(tok *psclient.Token) *psclient.Token {
	st := t.gov.mission.Load()
	if st == nil || st.expires.IsZero() || tok == nil || (!tok.Expiry.IsZero() && !tok.Expiry.After(st.expires)) {
		return tok
	}
	c := *tok
	c.Expiry = st.expires
	return &c
}

// checkApproval refuses an approval the Transport must not work under.
func (r *run) checkApproval(a *psclient.MissionApproval) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{psclient.ErrInvalidMission}, args...)...)
	}
	if a.Mission == nil || a.S256 == "" || psclient.MissionDigest(a.Mission.Raw) != a.S256 {
		return invalid("the approval's mission is not the one its s256 digests")
	}
	if sub := jwtpeek.ClaimString(r.km.Key.Token, "sub"); sub != "" && a.Mission.Agent != sub {
		return invalid("the mission was approved for another agent")
	}
	if a.Mission.Expired(r.t.clock().Now()) {
		return invalid("the mission expired at %s", a.Mission.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if ap := a.Mission.Approver; ap != "" {
		issuer := r.ps
		if md := r.t.PersonServerMetadata; md != nil && md.Issuer != "" {
			issuer = md.Issuer
		}
		if issuer != "" && psBase(ap) != psBase(issuer) {
			return invalid("the mission was approved by %q, not by the person server", safetext.Clean(ap, 128))
		}
	}
	return nil
}

func psBase(u string) string {
	for len(u) > 0 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}

// seedPersonTokens stores the approval's person tokens that the Transport
// may present: for resources the person approved (when the blob lists
// them), bound to the current signing key, outside the refresh margin.
func (r *run) seedPersonTokens(ctx context.Context, st *missionState) []string {
	a := st.approval
	var seeded []string
	now := r.t.clock().Now()
	margin := r.tab.RefreshMargin
	for res, tok := range a.PersonTokens {
		why := ""
		switch {
		case a.Mission.ApprovedResources != nil && !slices.Contains(a.Mission.ApprovedResources, res):
			why = "the person did not approve the resource"
		case tok == nil || !tok.Expiry.After(now.Add(margin)):
			why = "it expires within the refresh margin"
		case !boundTo(tok.Value, r.jkt):
			why = "it is bound to another key"
		}
		if why != "" {
			r.t.emit(ctx, Event{Step: StepMission, URL: res, Detail: "not using the approval's person token for " + safetext.Clean(res, 256) + ": " + why})
			continue
		}
		key := r.t.personKey(res, st.s256, r.jkt)
		c := *tok
		if !st.expires.IsZero() && c.Expiry.After(st.expires) {
			c.Expiry = st.expires
		}
		if err := r.t.tokens.SetToken(ctx, key, &c); err != nil {
			r.t.emit(ctx, Event{Step: StepError, Detail: "caching the approval's person token failed", Err: err})
			continue
		}
		seeded = append(seeded, key)
	}
	r.t.forgetCredentials()
	slices.Sort(seeded)
	return seeded
}

// boundTo reports whether a token's cnf.jwk is the key with thumbprint
// jkt (read, not verified).
func boundTo(tok, jkt string) bool {
	_, claims, err := jwtpeek.Decode(tok)
	if err != nil {
		return false
	}
	cnf, _ := claims["cnf"].(map[string]any)
	jwk, _ := cnf["jwk"].(map[string]any)
	if jwk == nil {
		return false
	}
	b, err := json.Marshal(jwk)
	if err != nil {
		return false
	}
	pub, err := keys.ParsePublicJWK(b, wire.ProfileCurrent)
	if err != nil {
		return false
	}
	got, err := keys.Thumbprint(pub)
	return err == nil && got == jkt
}
