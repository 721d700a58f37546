package aauthtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

// The kit's governance endpoints (current profile).
const (
	psMissionPath    = "/aauth/mission"
	psPermissionPath = "/aauth/permission"
	psAuditPath      = "/aauth/audit"
)

// The endpoints of the person server's governance layer, for QueueAt and
// in recorded requests. A mission's own URL records as
// EndpointMissionUpdate or EndpointMissionCompletion once its action is
// read; a question relay as EndpointQuestion.
const (
	EndpointMission           Endpoint = "mission"            // POST mission_endpoint: a proposal
	EndpointMissionUpdate     Endpoint = "mission-update"     // POST {mission_endpoint}/{s256}, action update
	EndpointMissionCompletion Endpoint = "mission-completion" // POST {mission_endpoint}/{s256}, action completion
	EndpointPermission        Endpoint = "permission"         // POST permission_endpoint
	EndpointAudit             Endpoint = "audit"              // POST audit_endpoint
	EndpointQuestion          Endpoint = "question"           // POST interaction_endpoint, type question
)

// GovernanceRequest is a request to one of the person server's governance
// endpoints (missions, permission, audit, relay), as decoded, passed to
// the Governance policy and recorded.
type GovernanceRequest struct {
	// Endpoint says which: EndpointMission, EndpointMissionUpdate,
	// EndpointMissionCompletion, EndpointPermission, EndpointAudit,
	// EndpointInteraction (an interaction or payment relay) or
	// EndpointQuestion.
	Endpoint Endpoint

	// Agent is the agent identifier (the agent token's sub) and
	// Thumbprint the thumbprint of its signing key.
	Agent, Thumbprint string

	// MissionS256 is the mission named: mission_s256, or the s256 of the
	// mission's URL.
	MissionS256 string

	// The members of the request, as sent: Description (proposal, update,
	// permission, audit, relay), Tools and Resources (proposal), Summary
	// (completion), Action (permission, audit), Type, URL, Code, MaxWait
	// and Question (relay).
	Description, Summary, Action, Type, URL, Code, Question string
	Tools                                                   []psclient.Tool
	Resources                                               []string
	MaxWait                                                 int

	// Body is the request body as sent.
	Body []byte
}

// MissionRecord is a mission the person server approved, as it keeps it.
type MissionRecord struct {
	// S256 is the mission's identifier, the digest of Blob.
	S256 string
	// Agent is the agent it belongs to.
	Agent string
	// Blob is the mission blob, byte for byte as returned and digested.
	Blob []byte
	// ExpiresAt is its expires_at (zero when none).
	ExpiresAt time.Time
	// Terminated and Reason say whether and why it ended.
	Terminated bool
	Reason     string
	// Updates are the accepted updates, in order: their bytes as kept
	// and their digests.
	Updates []MissionUpdateRecord
	// Summary is the accepted completion's summary.
	Summary string
	// PersonTokens are the person tokens issued with the approval, by
	// resource.
	PersonTokens map[string]string
}

// MissionUpdateRecord is an accepted mission update.
type MissionUpdateRecord struct {
	Body []byte // the update as kept: the request body
	S256 string // its digest, as returned
}

// missionStore holds the approved missions. They are keyed by owner and
// s256 together, so that "no such mission" and "not this agent's" are one
// and the same lookup and answer (the draft requires them identical).
type missionStore struct {
	mu sync.Mutex
	m  map[string]*MissionRecord // owner + "\x00" + s256
	ix []string                  // keys in approval order
}

func missionKey(owner, s256 string) string { return owner + "\x00" + s256 }

func (s *missionStore) reset() {
	s.mu.Lock()
	s.m, s.ix = nil, nil
	s.mu.Unlock()
}

func (s *missionStore) add(m *MissionRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*MissionRecord{}
	}
	k := missionKey(m.Agent, m.S256)
	s.m[k] = m
	s.ix = append(s.ix, k)
}

// with runs f on the mission owner holds under s256, under the lock; nil
// when there is none.
func (s *missionStore) with(owner, s256 string, f func(*MissionRecord)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.m[missionKey(owner, s256)]
	if m == nil {
		return false
	}
	f(m)
	return true
}

func (s *missionStore) list() []MissionRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]MissionRecord, 0, len(s.ix))
	for _, k := range s.ix {
		m := *s.m[k]
		m.Blob = slices.Clone(m.Blob)
		m.Updates = slices.Clone(m.Updates)
		m.PersonTokens = maps.Clone(m.PersonTokens)
		out = append(out, m)
	}
	return out
}

// AddMission records a mission approved out of band (as if agent had
// proposed it and the person approved it) for agent, an agent identifier,
// and returns its s256. Tests whose agent names a mission without
// proposing one use it: the server refuses requests naming a mission it
// does not know.
func (ps *PersonServer) AddMission(agent, description string) string {
	raw, _ := json.Marshal(map[string]any{
		"agent":       agent,
		"approved_at": ps.now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00"),
		"description": description,
	})
	s256 := psclient.MissionDigest(raw)
	ps.missions.add(&MissionRecord{S256: s256, Agent: agent, Blob: raw, PersonTokens: map[string]string{}})
	return s256
}

// Missions returns the missions the server approved, in order.
func (ps *PersonServer) Missions() []MissionRecord { return ps.missions.list() }

// TerminateMission ends a mission, as the person or an administrator
// would at the mission control plane: every later request naming it gets
// 403 mission_terminated with this termination_reason ("" sends none).
// A terminated mission never becomes active again.
func (ps *PersonServer) TerminateMission(s256, reason string) error {
	ps.missions.mu.Lock()
	defer ps.missions.mu.Unlock()
	for _, m := range ps.missions.m {
		if m.S256 == s256 {
			if !m.Terminated {
				m.Terminated, m.Reason = true, reason
			}
			return nil
		}
	}
	return fmt.Errorf("aauthtest: no mission %q", shorten(s256))
}

// missionState looks up the mission agent names and answers the request
// when it cannot be acted on: 404 mission_not_found (no such mission, or
// another agent's: the same answer), or 403 mission_terminated, with its
// expires_at checked first. It returns the mission's expiry (zero when
// none) and whether the request may go on.
func (ps *PersonServer) missionState(w http.ResponseWriter, rec *RecordedRequest, agent, s256 string) (time.Time, bool) {
	var exp time.Time
	var terminated bool
	var reason string
	now := ps.now()
	found := ps.missions.with(agent, s256, func(m *MissionRecord) {
		if !m.Terminated && !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt) {
			m.Terminated, m.Reason = true, string(psclient.TerminationExpired)
		}
		exp, terminated, reason = m.ExpiresAt, m.Terminated, m.Reason
	})
	switch {
	case !found:
		ps.problem(w, rec, http.StatusNotFound, "mission_not_found", "no such mission")
		return time.Time{}, false
	case terminated:
		ps.missionTerminated(w, rec, reason)
		return time.Time{}, false
	}
	return exp, true
}

// missionTerminated answers 403 mission_terminated.
func (ps *PersonServer) missionTerminated(w http.ResponseWriter, rec *RecordedRequest, reason string) {
	if rec.Problem == "" {
		rec.Problem = "mission_terminated: " + reason
	}
	body := map[string]any{
		"type": "about:blank", "title": http.StatusText(http.StatusForbidden), "status": http.StatusForbidden,
		"error": "mission_terminated", "detail": "the mission has ended", "mission_status": "terminated",
	}
	if reason != "" {
		body["termination_reason"] = reason
	}
	writeJSON(w, http.StatusForbidden, "application/problem+json", body)
}

// govDecision is what a Decision adds for the governance endpoints.
type govDecision struct {
	caps      []string
	capsSet   bool
	expires   time.Time
	blobEdit  func(map[string]any)
	tokensFor []string
	tokensSet bool
	answer    string
}

// gov returns a copy of d's governance part, to modify.
func (d Decision) govCopy() *govDecision {
	if d.gov == nil {
		return &govDecision{}
	}
	g := *d.gov
	return &g
}

// MissionCapabilities returns d with the capabilities its mission
// approval lists; by default the approval lists interaction when the
// server relays interactions (RelayInteractions or RelayVisits), nothing
// otherwise. Values are sent as given, unknown ones included.
func (d Decision) MissionCapabilities(caps ...string) Decision {
	g := d.govCopy()
	g.caps, g.capsSet = slices.Clone(caps), true
	d.gov = g
	return d
}

// MissionExpires returns d with the expires_at of the mission it
// approves. Tokens issued under the mission never outlive it, and the
// mission is terminated (expired) once it passes.
func (d Decision) MissionExpires(t time.Time) Decision {
	g := d.govCopy()
	g.expires = t
	d.gov = g
	return d
}

// MissionBlob returns d with edit applied to the mission blob before it
// is serialized and digested: change the description, drop approved_tools,
// add members of your own.
func (d Decision) MissionBlob(edit func(blob map[string]any)) Decision {
	g := d.govCopy()
	g.blobEdit = edit
	d.gov = g
	return d
}

// PersonTokensFor returns d approving the mission with person tokens (and
// approved_resources) for these resources only; by default every resource
// the proposal named gets one.
func (d Decision) PersonTokensFor(resources ...string) Decision {
	g := d.govCopy()
	g.tokensFor, g.tokensSet = slices.Clone(resources), true
	d.gov = g
	return d
}

// Answer approves a question relay with this answer: 200 {"answer":text}.
func Answer(text string) Decision {
	return Decision{gov: &govDecision{answer: text}}
}

// DenyPermission ends a permission request with the person's refusal:
// 200 {"permission":"denied","reason":reason} ("" sends no reason).
func DenyPermission(reason string) Decision {
	body := map[string]any{"permission": "denied"}
	if reason != "" {
		body["reason"] = reason
	}
	b, _ := json.Marshal(body)
	return Respond(http.StatusOK, http.Header{"Content-Type": {"application/json"}}, string(b))
}

// Unavailable ends a relay with 424 interaction_unavailable: the person
// server has no channel to the person, the agent must direct them itself.
func Unavailable() Decision {
	return Fail(http.StatusFailedDependency, "interaction_unavailable", "the person server cannot reach the person; direct them yourself")
}

// UserUnreachable ends a request with 403 user_unreachable: nobody can
// reach the person.
func UserUnreachable() Decision {
	return Fail(http.StatusForbidden, "user_unreachable", "the person cannot be reached")
}

// Faults of the governance answers, for Malformed.
const (
	FaultMissionDigestMismatch        Fault = "mission-digest-mismatch"         // an approval whose s256 is not the digest of its blob
	FaultMissionNotBase64URL          Fault = "mission-not-base64url"           // mission with base64 padding
	FaultMissionNotJSON               Fault = "mission-not-json"                // a blob (digest right) that is not JSON
	FaultMissionDuplicateMember       Fault = "mission-duplicate-member"        // a blob with agent twice
	FaultMissionHuge                  Fault = "mission-huge"                    // a 100 KiB blob
	FaultMissionOtherAgent            Fault = "mission-other-agent"             // a blob for another agent
	FaultMissionExpired               Fault = "mission-expired"                 // a blob whose expires_at has passed
	FaultMissionPersonTokenUnproposed Fault = "mission-person-token-unproposed" // a person token for a resource not proposed, besides the others
	FaultMissionPersonTokenOtherKey   Fault = "mission-person-token-other-key"  // the person tokens are bound to another key
	FaultPermissionNeither            Fault = "permission-neither"              // {"permission":"maybe"}
)

// approveMission approves a proposal: it builds and keeps the blob, issues
// the person tokens and answers the approval. f is a Fault to break the
// answer with, or "".
func (ps *PersonServer) approveMission(w http.ResponseWriter, rec *RecordedRequest, gr *GovernanceRequest, g *grant, d Decision, f Fault) {
	gd := d.govCopy()
	now := ps.now()
	blob := map[string]any{
		"agent":       gr.Agent,
		"approved_at": now.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"description": gr.Description,
	}
	if len(gr.Tools) > 0 {
		blob["approved_tools"] = gr.Tools
	}
	resources := gr.Resources
	if gd.tokensSet {
		resources = gd.tokensFor
	}
	if len(resources) > 0 {
		blob["approved_resources"] = resources
	}
	if !gd.expires.IsZero() {
		blob["expires_at"] = gd.expires.UTC().Format(time.RFC3339)
	}
	switch f {
	case FaultMissionOtherAgent:
		blob["agent"] = "aauth:someone-else@agent.example"
	case FaultMissionExpired:
		blob["expires_at"] = now.Add(-time.Hour).UTC().Format(time.RFC3339)
	case FaultMissionHuge:
		blob["padding"] = strings.Repeat("x", 100<<10)
	}
	if gd.blobEdit != nil {
		gd.blobEdit(blob)
	}
	raw, err := json.Marshal(blob)
	if err != nil {
		ps.problem(w, rec, http.StatusInternalServerError, "server_error", "aauthtest: the mission blob does not encode: "+err.Error())
		return
	}
	switch f {
	case FaultMissionNotJSON:
		raw = []byte("this is not JSON")
	case FaultMissionDuplicateMember:
		raw = append([]byte(`{"agent":"aauth:someone-else@agent.example",`), raw[1:]...)
	}
	s256 := psclient.MissionDigest(raw)
	m := &MissionRecord{S256: s256, Agent: gr.Agent, Blob: raw, ExpiresAt: gd.expires, PersonTokens: map[string]string{}}
	if f == FaultMissionExpired {
		m.ExpiresAt = now.Add(-time.Hour)
	}

	// A person token for each approved resource, bound to the mission
	// and never outliving it.
	pg := *g
	pg.kind, pg.mission = TokenPerson, s256
	if f == FaultMissionPersonTokenOtherKey {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		pg.cnf = publicJWK(pub, true)
	}
	if !m.ExpiresAt.IsZero() && (pg.capExp.IsZero() || m.ExpiresAt.Before(pg.capExp)) {
		pg.capExp, pg.capWhy = m.ExpiresAt, "mission"
	}
	tokenFor := resources
	if f == FaultMissionPersonTokenUnproposed {
		tokenFor = append(slices.Clone(tokenFor), "https://unproposed.example")
	}
	for _, res := range tokenFor {
		pg.aud, pg.sub = res, ps.Subject(res)
		tok, _, err := ps.issue(&pg, Decision{}, nil)
		if err != nil {
			continue // the mission expired already: no token
		}
		m.PersonTokens[res] = tok
	}
	ps.missions.add(m)

	approval := map[string]any{"s256": s256, "mission": base64.RawURLEncoding.EncodeToString(raw)}
	caps := []string{}
	if ps.opts.RelayInteractions || ps.opts.RelayVisits {
		caps = []string{"interaction"}
	}
	if gd.capsSet {
		caps = gd.caps
	}
	if len(caps) > 0 {
		approval["capabilities"] = caps
	}
	if len(m.PersonTokens) > 0 {
		approval["person_tokens"] = m.PersonTokens
	}
	switch f {
	case FaultMissionDigestMismatch:
		approval["s256"] = psclient.MissionDigest(append(raw, ' '))
	case FaultMissionNotBase64URL:
		approval["mission"] = base64.RawURLEncoding.EncodeToString(raw) + "=="
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, "application/json", approval)
}
