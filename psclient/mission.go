package psclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// MissionProposal asks the person server to approve a mission: what the
// agent means to do, with which tools, at which resources.
type MissionProposal struct {
	// PersonServer is the agent's person server URL, as in
	// ExchangeRequest. Its mission_endpoint is used.
	PersonServer string

	// Metadata, when set, is used instead of discovery.
	Metadata *Metadata

	// Cache holds discovered metadata; nil means a process-wide cache.
	Cache *MetadataCache

	// Profile must be ProfileCurrent.
	Profile wire.Profile

	// Description is what the agent means to do, in Markdown. Required.
	Description string

	// Tools are the tools the agent wants to use. Each needs a name.
	Tools []Tool

	// Resources are the resources the agent expects to use, as resource
	// identifiers (see ResourceIdentifier). The approval brings a person
	// token for each one the person approves.
	Resources []string

	// Extra members to add to the body, after the others in key order. A
	// name the request already writes is ignored.
	Extra map[string]any

	// Poll configures the polling of a deferred (202) answer: the person
	// reviewing the proposal, perhaps asking questions (OnClarification).
	Poll PollOptions
}

// ProposeMission proposes a mission at the person server's
// mission_endpoint and waits for the person's decision. It POSTs
//
//	{"description":…,"tools":[{"name":…,"description":…}],"resources":[…]}
//
// signed by client with the agent token and covered by Content-Digest, with
// Prefer: wait=45; a 202 is polled as token requests are. The 200 approval
// is read with ParseMissionApproval: the blob must decode and s256 must be
// its SHA-256, or the error matches ErrInvalidMission. Person tokens for
// resources that were not proposed are dropped (and listed in Ignored).
//
// A refusal is a *RequestError (errors.Is: ErrDenied, ErrUserUnreachable,
// …). A person server that publishes no mission_endpoint gives a
// *MetadataError with Code MetadataEndpointMissing. See ExchangeToken for
// what client must be.
func ProposeMission(ctx context.Context, client *http.Client, p MissionProposal) (*MissionApproval, error) {
	s := psTarget{p.PersonServer, p.Metadata, p.Cache, p.Profile}
	t, err := govCheck(client, s, "ProposeMission")
	if err != nil {
		return nil, err
	}
	if p.Description == "" {
		return nil, errors.New("aauth: MissionProposal.Description is empty")
	}
	var b govBody
	b.str("description", p.Description)
	b.names = append(b.names, "tools", "resources")
	if len(p.Tools) > 0 {
		for _, tool := range p.Tools {
			if tool.Name == "" {
				return nil, errors.New("aauth: a tool of the MissionProposal has no name")
			}
		}
		b.o.Raw("tools", govTools(p.Tools))
	}
	for _, r := range p.Resources {
		if !ResourceIdentifier(r) {
			return nil, fmt.Errorf("aauth: MissionProposal resource %q is not a resource identifier", safetext.Clean(r, 256))
		}
	}
	b.o.Strs("resources", p.Resources)
	body, err := b.bytes(p.Extra)
	if err != nil {
		return nil, err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op:       "mission proposal",
		field:    "mission_endpoint",
		endpoint: func(md *Metadata) string { return md.MissionEndpoint },
		body:     body,
		prefer:   true,
		poll:     &p.Poll,
	})
	if err != nil {
		return nil, err
	}
	a, err := govRead(resp, "mission proposal", ParseMissionApproval)
	if err != nil {
		return nil, err
	}
	a.keepProposed(p.Resources)
	return a, nil
}

// govTools writes the tools array: name, then description when set.
func govTools(tools []Tool) []byte {
	var out []byte
	out = append(out, '[')
	for i, tool := range tools {
		if i > 0 {
			out = append(out, ',')
		}
		var o govBody
		o.str("name", tool.Name)
		o.str("description", tool.Description)
		out = append(out, o.o.Bytes()...)
	}
	return append(out, ']')
}

// keepProposed drops the person tokens for resources that were not
// proposed: the person approved the proposal, and a token for anything
// else is not one the agent asked for.
func (a *MissionApproval) keepProposed(resources []string) {
	for res := range a.PersonTokens {
		proposed := false
		for _, r := range resources {
			proposed = proposed || r == res
		}
		if !proposed {
			delete(a.PersonTokens, res)
			a.ignore(res, "the resource was not proposed")
		}
	}
	if len(a.PersonTokens) == 0 {
		a.PersonTokens = nil
	}
}

// MissionUpdate records a change in the work of an active mission.
type MissionUpdate struct {
	PersonServer string         // as in MissionProposal
	Metadata     *Metadata      // as in MissionProposal
	Cache        *MetadataCache // as in MissionProposal
	Profile      wire.Profile   // as in MissionProposal

	// MissionS256 is the mission's s256. Required.
	MissionS256 string

	// Description says what changed, in Markdown. Required.
	Description string

	// Extra members to add to the body, as in MissionProposal.
	Extra map[string]any

	// Poll configures the polling of a deferred answer (the person
	// reviewing the update).
	Poll PollOptions
}

// UpdateMission records a change in the work of an active mission: POST
// {mission_endpoint}/{s256} with {"action":"update","description":…}. It
// returns the update's digest, the s256 of the 200 answer. The mission,
// its s256 and its tokens do not change. A terminated or unknown mission
// is a *MissionError.
func UpdateMission(ctx context.Context, client *http.Client, u MissionUpdate) (string, error) {
	s := psTarget{u.PersonServer, u.Metadata, u.Cache, u.Profile}
	t, err := govCheck(client, s, "UpdateMission")
	if err != nil {
		return "", err
	}
	if err := checkMissionS256(u.MissionS256, true); err != nil {
		return "", err
	}
	if u.Description == "" {
		return "", errors.New("aauth: MissionUpdate.Description is empty")
	}
	var b govBody
	b.str("action", "update")
	b.str("description", u.Description)
	body, err := b.bytes(u.Extra)
	if err != nil {
		return "", err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op: "mission update", field: "mission_endpoint",
		endpoint: func(md *Metadata) string { return md.MissionEndpoint },
		path:     u.MissionS256, body: body, prefer: true, poll: &u.Poll, mission: u.MissionS256,
	})
	if err != nil {
		return "", err
	}
	return govRead(resp, "mission update", parseUpdateAnswer)
}

// MissionCompletion proposes that a mission is finished.
type MissionCompletion struct {
	PersonServer string         // as in MissionProposal
	Metadata     *Metadata      // as in MissionProposal
	Cache        *MetadataCache // as in MissionProposal
	Profile      wire.Profile   // as in MissionProposal

	// MissionS256 is the mission's s256. Required.
	MissionS256 string

	// Summary says what the agent accomplished, in Markdown. Required.
	Summary string

	// Extra members to add to the body, as in MissionProposal.
	Extra map[string]any

	// Poll configures the polling of the deferred answer: the person
	// reviews the summary, and may ask questions (OnClarification).
	Poll PollOptions
}

// CompleteMission proposes that the mission is finished: POST
// {mission_endpoint}/{s256} with {"action":"completion","summary":…},
// polled while the person reviews the summary. It returns nil when the
// person accepted (a 200, after any deferral): the mission is then
// terminated (completed). The agent proposes completion, it does not
// declare it: any other end leaves the mission as it was and is returned as
// an error.
func CompleteMission(ctx context.Context, client *http.Client, c MissionCompletion) error {
	s := psTarget{c.PersonServer, c.Metadata, c.Cache, c.Profile}
	t, err := govCheck(client, s, "CompleteMission")
	if err != nil {
		return err
	}
	if err := checkMissionS256(c.MissionS256, true); err != nil {
		return err
	}
	if c.Summary == "" {
		return errors.New("aauth: MissionCompletion.Summary is empty")
	}
	var b govBody
	b.str("action", "completion")
	b.str("summary", c.Summary)
	body, err := b.bytes(c.Extra)
	if err != nil {
		return err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op: "mission completion", field: "mission_endpoint",
		endpoint: func(md *Metadata) string { return md.MissionEndpoint },
		path:     c.MissionS256, body: body, prefer: true, poll: &c.Poll, mission: c.MissionS256,
	})
	if err != nil {
		return err
	}
	// The draft answers 200; any other success status is taken as well.
	httpx.DrainClose(resp)
	return nil
}
