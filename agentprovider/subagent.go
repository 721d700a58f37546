package agentprovider

import (
	"fmt"

	"github.com/aauthgo/aauth/internal/agentid"
)

// checkSubject checks the identifiers of a token request: a top-level
// agent's Subject has no "+"; a sub-agent's is its parent's local part,
// "+" and a discriminator, at the parent's domain, and its parent is
// itself top-level (AAuth -11: one level of sub-agents).
func checkSubject(subject, parent string) error {
	if parent == "" {
		if err := agentid.TopLevel(subject); err != nil {
			return fmt.Errorf("aauth: agentprovider.TokenRequest.Subject: %w", err)
		}
		return nil
	}
	if err := agentid.Subagent(parent, subject); err != nil {
		return fmt.Errorf("aauth: agentprovider.TokenRequest: sub-agent %w", err)
	}
	return nil
}

// Subagent returns the key source of a new sub-agent of k's agent (AAuth
// -11 "Sub-Agents"): its own ephemeral key, renewed as k's is, with agent
// tokens from the same Issuer whose sub is k's local part, "+" and name,
// at k's domain (aauth:planner+w1@agent.example for name w1 under
// aauth:planner@agent.example), whose parent_agent is k.Subject and whose
// ps is k.PersonServer.
//
// A sub-agent never asks a person server for tokens itself: its parent
// does, with the sub-agent's token as subagent_token. Give the returned
// Keys to an aauth.Transport whose Parent is the parent's Transport.
//
// It fails when k is itself a sub-agent's (sub-agents have no sub-agents),
// when k.Subject is not a top-level agent identifier, or when name is not
// a discriminator (letters, digits, "-", "_", "."). Nothing is minted
// until the first KeyMaterial call.
func (k *Keys) Subagent(name string) (*Keys, error) {
	if k == nil || k.Issuer == nil {
		return nil, fmt.Errorf("aauth: agentprovider.Keys has no Issuer")
	}
	if k.ParentAgent != "" {
		return nil, fmt.Errorf("aauth: %s is a sub-agent, and sub-agents have no sub-agents", k.Subject)
	}
	sub, err := agentid.Join(k.Subject, name)
	if err != nil {
		return nil, fmt.Errorf("aauth: agentprovider.Keys.Subagent: %w", err)
	}
	return &Keys{
		Issuer:       k.Issuer,
		Subject:      sub,
		PersonServer: k.PersonServer,
		Lifetime:     k.Lifetime,
		RenewBefore:  k.RenewBefore,
		ParentAgent:  k.Subject,
	}, nil
}
