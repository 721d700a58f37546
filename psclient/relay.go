package psclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// RelayType is what an interaction relay asks the person server to bring
// to the person.
type RelayType string

// The relay types that carry a URL. A question is relayed with Ask.
const (
	RelayTypeInteraction RelayType = "interaction" // a page the person must visit
	RelayTypePayment     RelayType = "payment"     // a payment the person must approve
)

// InteractionRelay asks the person server to reach the person for an
// interaction (or a payment) the agent was asked to direct them to.
type InteractionRelay struct {
	PersonServer string         // as in MissionProposal
	Metadata     *Metadata      // as in MissionProposal
	Cache        *MetadataCache // as in MissionProposal
	Profile      wire.Profile   // as in MissionProposal

	// Type is RelayTypeInteraction (the zero value means it) or
	// RelayTypePayment.
	Type RelayType

	// URL and Code are the url and code of requirement=interaction. URL
	// must be https (http on a loopback host) with no query or fragment.
	URL, Code string

	// Description gives the person some context, in Markdown.
	Description string

	// MaxWait asks the person server to resolve its deferred answer
	// within this time (max_wait, whole seconds rounded up); zero sends
	// none.
	MaxWait time.Duration

	// MissionS256 names the mission, if any.
	MissionS256 string

	// Extra members to add to the body, as in MissionProposal.
	Extra map[string]any
}

// RelayInteraction relays an interaction to the person server's
// interaction_endpoint: POST
// {"type":"interaction","description":…,"url":…,"code":…,"max_wait":N,"mission_s256":…},
// signed and digest-covered, without Prefer: wait (the answer says only
// whether the person server takes the relay).
//
// On a 202 the person server is reaching the person: RelayInteraction
// returns the relay's pending URL (absolute), which the caller may poll
// (PollDeferred) to learn when the person engaged. The interaction is
// complete only when the pending URL of whoever asked for it says so: the
// caller keeps polling that one. A 200 returns "". A 424
// interaction_unavailable matches ErrInteractionUnavailable: the agent
// directs the person itself. A 403 user_unreachable matches
// ErrUserUnreachable: nobody can reach the person.
func RelayInteraction(ctx context.Context, client *http.Client, r InteractionRelay) (string, error) {
	s := psTarget{r.PersonServer, r.Metadata, r.Cache, r.Profile}
	t, err := govCheck(client, s, "RelayInteraction")
	if err != nil {
		return "", err
	}
	typ := r.Type
	if typ == "" {
		typ = RelayTypeInteraction
	}
	switch {
	case typ != RelayTypeInteraction && typ != RelayTypePayment:
		return "", fmt.Errorf("aauth: relay type %q is neither interaction nor payment", safetext.Clean(string(typ), 64))
	case r.URL == "" || r.Code == "":
		return "", errors.New("aauth: InteractionRelay needs URL and Code")
	}
	if err := checkRelayURL(r.URL); err != nil {
		return "", err
	}
	if err := checkMissionS256(r.MissionS256, false); err != nil {
		return "", err
	}
	var b govBody
	b.str("type", string(typ))
	b.str("description", r.Description)
	b.str("url", r.URL)
	b.str("code", r.Code)
	b.names = append(b.names, "max_wait")
	if r.MaxWait > 0 {
		b.o.Raw("max_wait", []byte(fmt.Sprint(int64((r.MaxWait+time.Second-1)/time.Second))))
	}
	b.str("mission_s256", r.MissionS256)
	body, err := b.bytes(r.Extra)
	if err != nil {
		return "", err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op: "interaction relay", field: "interaction_endpoint",
		endpoint: func(md *Metadata) string { return md.InteractionEndpoint },
		// No Prefer: wait. The relay's 202 only says the person server
		// took it; the agent should not be held before it directs the
		// person itself.
		body: body, mission: r.MissionS256,
	})
	if err != nil {
		return "", err
	}
	defer httpx.DrainClose(resp)
	if resp.StatusCode != http.StatusAccepted {
		return "", nil
	}
	loc := resp.Header.Get("Location")
	if loc == "" || len(loc) > httpx.LocationMaxLen {
		return "", &RequestError{Op: "interaction relay", StatusCode: resp.StatusCode, Endpoint: resp.Request.URL.String(), Err: fmt.Errorf("%w: the relay's 202 has no usable Location", ErrLocation)}
	}
	u, err := resp.Request.URL.Parse(strings.TrimSpace(loc))
	if err != nil || !sameOrigin(u, resp.Request.URL) {
		return "", &RequestError{Op: "interaction relay", StatusCode: resp.StatusCode, Endpoint: resp.Request.URL.String(), Err: fmt.Errorf("%w: the relay's Location is not on its origin", ErrLocation)}
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// checkRelayURL refuses an interaction URL the person server should not be
// asked to send the person to: not https (http only on a loopback host),
// or with a query or fragment.
func checkRelayURL(v string) error {
	// The person server will show it to the person: the one rule for
	// interaction URLs applies, and no relaxed egress loosens it.
	if err := CheckInteractionURL(v); err != nil {
		return err
	}
	u, _ := url.Parse(v)
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || len(v) > httpx.LocationMaxLen {
		return errors.New("aauth: an interaction URL to relay must have no query or fragment")
	}
	return nil
}

// QuestionRelay puts a question to the person through the person server.
type QuestionRelay struct {
	PersonServer string         // as in MissionProposal
	Metadata     *Metadata      // as in MissionProposal
	Cache        *MetadataCache // as in MissionProposal
	Profile      wire.Profile   // as in MissionProposal

	// Question is the question, in Markdown. Required.
	Question string

	// Description gives the person some context, in Markdown.
	Description string

	// MissionS256 names the mission, if any.
	MissionS256 string

	// Extra members to add to the body, as in MissionProposal.
	Extra map[string]any

	// Poll configures the polling of a deferred answer (the person
	// thinking it over).
	Poll PollOptions
}

// Ask puts a question to the person through the person server's
// interaction_endpoint: POST
// {"type":"question","description":…,"question":…,"mission_s256":…}. It
// returns the person's answer, the answer member of the 200
// {"answer":…} (after polling a 202), as sent: sanitize it before
// rendering it. An answer without one matches ErrMalformedAnswer; 403
// user_unreachable matches ErrUserUnreachable.
func Ask(ctx context.Context, client *http.Client, q QuestionRelay) (string, error) {
	s := psTarget{q.PersonServer, q.Metadata, q.Cache, q.Profile}
	t, err := govCheck(client, s, "Ask")
	if err != nil {
		return "", err
	}
	if q.Question == "" {
		return "", errors.New("aauth: QuestionRelay.Question is empty")
	}
	if err := checkMissionS256(q.MissionS256, false); err != nil {
		return "", err
	}
	var b govBody
	b.str("type", "question")
	b.str("description", q.Description)
	b.str("question", q.Question)
	b.str("mission_s256", q.MissionS256)
	body, err := b.bytes(q.Extra)
	if err != nil {
		return "", err
	}
	resp, err := govDo(ctx, client, s, t, govCall{
		op: "question relay", field: "interaction_endpoint",
		endpoint: func(md *Metadata) string { return md.InteractionEndpoint },
		body:     body, prefer: true, poll: &q.Poll, mission: q.MissionS256,
	})
	if err != nil {
		return "", err
	}
	return govRead(resp, "question relay", parseQuestionAnswer)
}
