package main

import (
	"context"

	"github.com/aauthgo/aauth"
)

// delegation reads the sub-agent and intermediary flags of fetch.
func (o *fetchOptions) delegation(set map[string]bool, parentKey, parentToken, upstream string) error {
	switch {
	case set["upstream-token"] && (set["parent-key"] || set["parent-agent-token"]):
		return usagef("--upstream-token and --parent-key exclude each other: a sub-agent does not chain")
	case set["parent-key"] != set["parent-agent-token"]:
		return usagef("--parent-key and --parent-agent-token go together")
	case o.sigKey.Scheme != "jwt" && (set["parent-key"] || set["upstream-token"]):
		return usagef("a sub-agent or an intermediary signs with its agent token, not --hwk")
	}
	if set["parent-key"] {
		if claimString(o.sigKey.Token, "parent_agent") == "" {
			return usagef("the agent token is not a sub-agent's (it has no parent_agent): mint one with aauth agent-token --parent")
		}
		var err error
		if o.parentSigner, err = loadSigningKey(parentKey, false, o.profile); err != nil {
			return usagef("--parent-key: %s", trimPrefix(err))
		}
		tok, err := loadToken("--parent-agent-token", parentToken)
		if err != nil {
			return err
		}
		if err := checkTokenKey(tok, o.parentSigner); err != nil {
			return err
		}
		if claimString(tok, "sub") != claimString(o.sigKey.Token, "parent_agent") {
			return usagef("the sub-agent's parent_agent is not the parent agent token's sub")
		}
		o.parentKey = aauth.JWT(tok)
		if !set["person-server"] && o.personServer == claimString(o.sigKey.Token, "ps") {
			if ps := claimString(tok, "ps"); ps != "" {
				o.personServer = ps
			}
		}
	}
	if set["upstream-token"] {
		tok, err := loadToken("--upstream-token", upstream)
		if err != nil {
			return err
		}
		o.upstream = tok
	}
	return nil
}

// delegate makes tr a sub-agent's, with its parent in process, or an
// intermediary's acting for the caller of o.upstream, and returns the
// context to send with. x, when set, explains the parent's steps too.
func (o *fetchOptions) delegate(ctx context.Context, tr *aauth.Transport, x *explainer) context.Context {
	switch {
	case o.parentSigner != nil:
		parent := &aauth.Transport{
			Base:            tr.Base,
			Keys:            aauth.StaticKeys(o.parentSigner, o.parentKey),
			PersonServer:    o.personServer,
			Capabilities:    tr.Capabilities,
			Mission:         tr.Mission,
			OnInteraction:   tr.OnInteraction,
			OnClarification: tr.OnClarification,
			Justification:   tr.Justification,
			LoginHint:       tr.LoginHint,
			Tenant:          tr.Tenant,
			DomainHint:      tr.DomainHint,
			Profile:         tr.Profile,
			Clock:           tr.Clock,
		}
		if x != nil {
			parent.OnEvent = x.parentEvent
		}
		tr.Parent = parent
		tr.PersonServer, tr.Mission = "", nil
	case o.upstream != "":
		tr.Chain = true
		tr.PersonServer, tr.Mission = "", nil
		if x != nil {
			kind := "person token"
			if h, _ := jwtPart(o.upstream, 0); h["typ"] == "aa-auth+jwt" {
				kind = "auth token"
			}
			x.mu.Lock()
			x.line(false, "· acting for the caller of the upstream %s: its person server is %s", kind, upstreamPS(o.upstream))
			x.mu.Unlock()
		}
		return aauth.WithUpstream(ctx, o.upstream)
	}
	return ctx
}

// upstreamPS is the person server an upstream token names: a person
// token's iss, an auth token's ps.
func upstreamPS(tok string) string {
	if ps := claimString(tok, "ps"); ps != "" {
		return ps
	}
	return claimString(tok, "iss")
}
