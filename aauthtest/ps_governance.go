package aauthtest

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

// govPending is the payload of a deferred governance request.
type govPending struct {
	req   *GovernanceRequest
	grant *grant // the agent's key and token expiry, for a proposal's person tokens

	// until is when a relay's max_wait runs out (zero: the relay asked
	// for no bound): a poll from then on gets the relay's end at once.
	until time.Time
}

// relayOverdue is the end of a relay held as long as its max_wait
// allowed (AAuth -11 interaction endpoint: the PS resolves its deferred
// answer when the window elapses): 408 expired, the draft's timeout, so
// the agent directs the person itself and keeps polling the resource.
func relayOverdue(maxWait int) outcome {
	o := Expire().end
	o.detail = "the relay's max_wait of " + strconv.Itoa(maxWait) + " s elapsed before the person engaged"
	return o
}

// QueueAt adds decisions for the next requests to a governance endpoint
// (EndpointMission, EndpointMissionUpdate, EndpointMissionCompletion,
// EndpointPermission, EndpointAudit, EndpointInteraction,
// EndpointQuestion), one each, in order. Queued decisions come before the
// Governance policy.
//
// Approve means, by endpoint: approve the mission (with a person token
// for each proposed resource), accept the update, accept the completion
// (the mission ends, completed), grant the permission, record the audit
// record (201), relay the interaction (200 once its steps are played),
// answer the question ("yes", or the Answer decision's text). Defer with
// steps makes any of them a 202 polled at the pending URL.
func (ps *PersonServer) QueueAt(ep Endpoint, decisions ...Decision) {
	ps.mu.Lock()
	if ps.govQueues == nil {
		ps.govQueues = map[Endpoint][]Decision{}
	}
	ps.govQueues[ep] = append(ps.govQueues[ep], decisions...)
	ps.mu.Unlock()
}

// SetGovernance replaces the Governance policy (see
// PersonServerOptions.Governance); nil restores the defaults.
func (ps *PersonServer) SetGovernance(policy func(*GovernanceRequest) Decision) {
	ps.mu.Lock()
	ps.governance = policy
	ps.mu.Unlock()
}

// GovernanceRequests returns the governance requests the server decoded,
// in order.
func (ps *PersonServer) GovernanceRequests() []GovernanceRequest {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.govReqs)
}

// govDecide picks the decision for gr: the queue, then the policy, then
// the endpoint's default.
func (ps *PersonServer) govDecide(gr *GovernanceRequest) Decision {
	ps.mu.Lock()
	ps.govReqs = append(ps.govReqs, *gr)
	if q := ps.govQueues[gr.Endpoint]; len(q) > 0 {
		d := q[0]
		ps.govQueues[gr.Endpoint] = q[1:]
		ps.mu.Unlock()
		return d
	}
	policy := ps.governance
	ps.mu.Unlock()
	if policy != nil {
		// Called without the lock: a policy may call back into the server.
		return policy(gr)
	}
	if gr.Endpoint == EndpointInteraction {
		if ps.opts.RelayInteractions || ps.opts.RelayVisits {
			return Defer(Interacting())
		}
		return Unavailable()
	}
	return Approve()
}

// maxRelayWait bounds the max_wait a relay may ask for: a day, beyond
// anything a person is kept waiting, and far from overflowing a
// time.Duration.
const maxRelayWait = 86400

// govBody is the JSON body of a governance request.
type govBody struct {
	Action      string          `json:"action"`
	Description string          `json:"description"`
	Summary     string          `json:"summary"`
	Tools       []psclient.Tool `json:"tools"`
	Resources   []string        `json:"resources"`
	MissionS256 string          `json:"mission_s256"`
	Type        string          `json:"type"`
	URL         string          `json:"url"`
	Code        string          `json:"code"`
	MaxWait     int             `json:"max_wait"`
	Question    string          `json:"question"`
}

// handleGovernance serves the mission, permission, audit and interaction
// endpoints.
func (ps *PersonServer) handleGovernance(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	var body govBody
	res, agent := ps.agentPost(w, r, rec, &body)
	if res == nil {
		return
	}
	gr := &GovernanceRequest{
		Endpoint: rec.Endpoint, Agent: agent.str("sub"), Thumbprint: res.Thumbprint,
		MissionS256: body.MissionS256, Description: body.Description, Summary: body.Summary,
		Action: body.Action, Type: body.Type, URL: body.URL, Code: body.Code, MaxWait: body.MaxWait,
		Question: body.Question, Tools: body.Tools, Resources: body.Resources, Body: rec.Body,
	}
	if gr.Endpoint == EndpointMission {
		done, limited := ps.limitMissionFailures(w, rec, gr.Agent)
		if limited {
			return
		}
		defer done()
	}
	g := &grant{cnf: publicJWK(res.PublicKey, true), agent: gr.Agent}
	if exp, ok := agent.time("exp"); ok {
		g.capExp, g.capWhy = exp, "agent token"
	}
	if !ps.govValidate(w, r, rec, gr) {
		return
	}
	if gr.MissionS256 != "" {
		if _, ok := ps.missionState(w, rec, gr.Agent, gr.MissionS256); !ok {
			return
		}
	}
	d := ps.govDecide(gr)
	if gr.Endpoint == EndpointInteraction && ps.opts.RelayVisits && d.end.kind == endApprove {
		ps.visit(r.Context(), gr.URL, gr.Code)
	}
	if len(d.steps) == 0 {
		ps.govEnd(w, rec, &d.end, &govPending{req: gr, grant: g}, d)
		return
	}
	gp := &govPending{req: gr, grant: g}
	if gr.Endpoint == EndpointInteraction && gr.MaxWait > 0 {
		gp.until = ps.now().Add(time.Duration(gr.MaxWait) * time.Second)
	}
	e := ps.pend.create(res.Thumbprint, d, gp)
	ps.writeAnswer(w, r, rec, e, ps.pend.first(e, ps.URL+consentPath))
}

// govValidate checks a governance request's members for its endpoint,
// and names the endpoint precisely (update, completion, question).
func (ps *PersonServer) govValidate(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, gr *GovernanceRequest) bool {
	bad := func(detail string) bool {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", detail)
		return false
	}
	switch gr.Endpoint {
	case EndpointMission:
		if rest := strings.TrimPrefix(r.URL.Path, psMissionPath); rest != "" {
			s256 := strings.TrimPrefix(rest, "/")
			if !psclient.ValidDigest(s256) {
				return bad("the mission path segment is not a mission s256")
			}
			gr.MissionS256 = s256
			switch gr.Action {
			case "update":
				rec.Endpoint, gr.Endpoint = EndpointMissionUpdate, EndpointMissionUpdate
				if gr.Description == "" {
					return bad("an update needs a description")
				}
			case "completion":
				rec.Endpoint, gr.Endpoint = EndpointMissionCompletion, EndpointMissionCompletion
				if gr.Summary == "" {
					return bad("a completion needs a summary")
				}
			case "":
				return bad("action is required")
			default:
				return bad("unknown action " + shorten(gr.Action))
			}
			return true
		}
		if gr.Description == "" {
			return bad("a proposal needs a description")
		}
		for _, res := range gr.Resources {
			if !psclient.ResourceIdentifier(res) {
				return bad("resource " + shorten(res) + " is not a resource identifier")
			}
		}
		for _, t := range gr.Tools {
			if t.Name == "" {
				return bad("a tool has no name")
			}
		}
	case EndpointPermission:
		if gr.Action == "" {
			return bad("action is required")
		}
	case EndpointAudit:
		if gr.Action == "" {
			return bad("action is required")
		}
		if gr.MissionS256 == "" {
			return bad("mission_s256 is required: there is no audit outside a mission")
		}
	case EndpointInteraction:
		switch gr.Type {
		case "interaction", "payment":
			if gr.URL == "" || gr.Code == "" {
				return bad("a relay needs url and code")
			}
			if gr.MaxWait < 0 || gr.MaxWait > maxRelayWait {
				return bad("max_wait must be a number of seconds from 0 to " + strconv.Itoa(maxRelayWait))
			}
		case "question":
			rec.Endpoint, gr.Endpoint = EndpointQuestion, EndpointQuestion
			if gr.Question == "" {
				return bad("a question relay needs a question")
			}
		default:
			return bad("type must be interaction, payment or question")
		}
	}
	return true
}

// govEnd answers a governance request's end.
func (ps *PersonServer) govEnd(w http.ResponseWriter, rec *RecordedRequest, o *outcome, gp *govPending, d Decision) {
	gr := gp.req
	switch o.kind {
	case endFail:
		ps.writeFail(w, rec, o)
		return
	case endRespond:
		writeRespond(w, o)
		return
	}
	f := Fault("")
	if o.kind == endMalformed {
		f = o.fault
	}
	// A mission named by the request may have ended while it was
	// deferred: every decision path checks.
	if gr.MissionS256 != "" && gr.Endpoint != EndpointMission {
		if _, ok := ps.missionState(w, rec, gr.Agent, gr.MissionS256); !ok {
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	switch gr.Endpoint {
	case EndpointMission:
		ps.approveMission(w, rec, gr, gp.grant, d, f)
	case EndpointMissionUpdate:
		digest := psclient.MissionDigest(gr.Body)
		ps.missions.with(gr.Agent, gr.MissionS256, func(m *MissionRecord) {
			m.Updates = append(m.Updates, MissionUpdateRecord{Body: slices.Clone(gr.Body), S256: digest})
		})
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"s256": digest})
	case EndpointMissionCompletion:
		ps.missions.with(gr.Agent, gr.MissionS256, func(m *MissionRecord) {
			m.Terminated, m.Reason, m.Summary = true, string(psclient.TerminationCompleted), gr.Summary
		})
		writeJSON(w, http.StatusOK, "application/json", map[string]any{})
	case EndpointPermission:
		if f == FaultPermissionNeither {
			writeJSON(w, http.StatusOK, "application/json", map[string]any{"permission": "maybe"})
			return
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"permission": "granted"})
	case EndpointAudit:
		w.WriteHeader(http.StatusCreated)
	case EndpointQuestion:
		answer := "yes"
		if d.gov != nil && d.gov.answer != "" {
			answer = d.gov.answer
		}
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"answer": answer})
	case EndpointInteraction:
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "completed"})
	}
}

// visit opens url?code=code as the person would, reached through the
// person server's own channel (a tap on a notification). Loopback URLs
// only: the kit never sends requests off the machine.
func (ps *PersonServer) visit(ctx context.Context, raw, code string) {
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return
	}
	q := u.Query()
	q.Set("code", code)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
}
