package psclient

import (
	"context"
	"errors"
	"net/http"

	"github.com/aauthgo/aauth/wire"
)

// PermissionRequest asks the person server whether the agent may take an
// action that no resource governs: a tool call, a file write, a message
// sent on the person's behalf.
type PermissionRequest struct {
	PersonServer string         // as in MissionProposal
	Metadata     *Metadata      // as in MissionProposal
	Cache        *MetadataCache // as in MissionProposal
	Profile      wire.Profile   // as in MissionProposal

	// Action names what the agent wants to do, a tool name for instance.
	// Required.
	Action string

	// Description says what the action will do and why, in Markdown.
	Description string

	// Parameters are what the agent means to pass to the action: any
	// value encoding/json writes as a JSON object (a map, a struct, a
	// json.RawMessage); nil sends none.
	Parameters any

	// MissionS256 names the mission the action belongs to, if any.
	MissionS256 string

	// Extra members to add to the body, as in MissionProposal.
	Extra map[string]any

	// Poll configures the polling of a deferred answer (the person being
	// asked).
	Poll PollOptions
}

// RequestPermission asks the person server whether the agent may take an
// action: POST {permission_endpoint} with
// {"action":…,"description":…,"parameters":{…},"mission_s256":…}, signed
// and digest-covered, with Prefer: wait=45; a 202 is polled.
//
// It returns nil only for an explicit {"permission":"granted"}. A denial
// is a *PermissionDeniedError carrying the reason (errors.Is: ErrDenied);
// an answer that is neither matches ErrMalformedAnswer; a terminated
// mission is a *MissionError. Whatever the error, the action must not be
// taken.
func RequestPermission(ctx context.Context, client *http.Client, r PermissionRequest) error {
	s := psTarget{r.PersonServer, r.Metadata, r.Cache, r.Profile}
	t, err := govCheck(client, s, "RequestPermission")
	if err != nil {
		return err
	}
	if r.Action == "" {
		return errors.New("aauth: PermissionRequest.Action is empty")
	}
	if err := checkMissionS256(r.MissionS256, false); err != nil {
		return err
	}
	var b govBody
	b.str("action", r.Action)
	b.str("description", r.Description)
	b.object("parameters", r.Parameters)
	b.str("mission_s256", r.MissionS256)
	body, err := b.bytes(r.Extra)
	if err != nil {
		return err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op: "permission request", field: "permission_endpoint",
		endpoint: func(md *Metadata) string { return md.PermissionEndpoint },
		body:     body, prefer: true, poll: &r.Poll, mission: r.MissionS256,
	})
	if err != nil {
		return err
	}
	_, err = govRead(resp, "permission request", func(b []byte) (struct{}, error) {
		return struct{}{}, parsePermission(b, r.Action)
	})
	return err
}
