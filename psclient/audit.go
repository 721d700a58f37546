package psclient

import (
	"context"
	"errors"
	"net/http"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/wire"
)

// AuditRecord records an action the agent took within a mission.
type AuditRecord struct {
	PersonServer string         // as in MissionProposal
	Metadata     *Metadata      // as in MissionProposal
	Cache        *MetadataCache // as in MissionProposal
	Profile      wire.Profile   // as in MissionProposal

	// MissionS256 names the mission. Required: there is no audit outside
	// a mission.
	MissionS256 string

	// Action names what was done. Required.
	Action string

	// Description says what was done and how it went, in Markdown.
	Description string

	// Parameters and Result are the parameters used and the outcome: any
	// values encoding/json writes as JSON objects; nil sends none.
	Parameters any
	Result     any

	// Extra members to add to the body, as in MissionProposal.
	Extra map[string]any
}

// Audit records an action: POST {audit_endpoint} with
// {"mission_s256":…,"action":…,"description":…,"parameters":{…},"result":{…}},
// signed and digest-covered. The person server answers 201 (any 2xx is
// taken). Audit waits for the answer; a Transport's Audit queues the
// record instead, so that the agent does not block on it.
func Audit(ctx context.Context, client *http.Client, r AuditRecord) error {
	s := psTarget{r.PersonServer, r.Metadata, r.Cache, r.Profile}
	t, err := govCheck(client, s, "Audit")
	if err != nil {
		return err
	}
	if err := checkMissionS256(r.MissionS256, true); err != nil {
		return err
	}
	if r.Action == "" {
		return errors.New("aauth: AuditRecord.Action is empty")
	}
	var b govBody
	b.str("mission_s256", r.MissionS256)
	b.str("action", r.Action)
	b.str("description", r.Description)
	b.object("parameters", r.Parameters)
	b.object("result", r.Result)
	body, err := b.bytes(r.Extra)
	if err != nil {
		return err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op: "audit record", field: "audit_endpoint",
		endpoint: func(md *Metadata) string { return md.AuditEndpoint },
		body:     body, mission: r.MissionS256,
	})
	if err != nil {
		return err
	}
	httpx.DrainClose(resp)
	return nil
}
