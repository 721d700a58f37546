package resource

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// resourceTokenLifetime is a resource token's life: the draft's five
// minutes (AAuth -11, Resource Token Structure).
const resourceTokenLifetime = 5 * time.Minute

// ResourceToken mints a resource token (aa-resource+jwt, signed with
// the first of SigningKeys) asking c's person server (or AccessServer) for
// an auth token with need.Scope and need.ResourceTokenClaims, for a
// challenge the caller builds itself (such as a per-call one). c must be a
// verified person or auth token (seed profile: any verified token) that
// has not been revoked since (an *Error revoked_jwt otherwise). It
// returns the token and its expiry (five minutes).
func (rs *Resource) ResourceToken(c *Caller, need Need) (string, time.Time, error) {
	cfg, err := rs.config()
	if err != nil {
		return "", time.Time{}, err
	}
	return cfg.resourceToken(context.Background(), c, need)
}

// tokenIssueError is the refusal when no resource token can be issued:
// the *Error resourceToken gave (a revoked token, a failing revocation
// store), or a 500.
func tokenIssueError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: "server_error", Detail: "cannot issue a resource token", Err: err}
}

// resourceToken mints the resource token (aa-resource+jwt) that asks the
// caller's person server (or the resource's access server) for an auth
// token with need.Scope.
//
// Current profile (AAuth -11, Resource Token): only a verified person or
// auth token can be the basis (RS-30); aud is the access server, or the
// person server that issued the presented token; ps and sub are copied
// from it and presented_jti is its jti, so that on a step-up the auth
// token presented is the one named (RS-34); mission_s256 and tenant are
// copied unchanged; and it is never issued naming a revoked token (RS-61),
// whether the token was revoked since it was verified (a call held for
// an auth token and challenged again later) or person_token_jti names
// one. Seed profile: aud is the agent token's ps (or the access server)
// and agent names the agent, as the April draft had it.
func (c *config) resourceToken(ctx context.Context, caller *Caller, need Need) (string, time.Time, error) {
	now := c.rs.now()
	exp := now.Add(resourceTokenLifetime)
	cl := map[string]any{
		"iss":       c.issuer,
		"dwk":       dwkResource,
		"jti":       randomID(16),
		"agent_jkt": caller.Thumbprint,
		"iat":       now.Unix(),
		"exp":       exp.Unix(),
	}
	if need.Scope != "" {
		cl["scope"] = need.Scope
	}
	if c.seed {
		aud := caller.PersonServer
		if caller.Kind != KindAgent || aud == "" {
			aud = c.rs.AccessServer
		}
		if aud == "" {
			return "", time.Time{}, fmt.Errorf("aauth: the agent token names no person server and Resource.AccessServer is not set: no audience for a resource token")
		}
		cl["aud"] = aud
		if caller.Agent != "" {
			cl["agent"] = caller.Agent
		}
	} else {
		if caller.Kind != KindPerson && caller.Kind != KindAuth {
			return "", time.Time{}, fmt.Errorf("aauth: a resource token needs a verified person or auth token")
		}
		aud := caller.PersonServer
		if c.rs.AccessServer != "" {
			aud = c.rs.AccessServer
		}
		cl["aud"] = aud
		cl["ps"] = caller.PersonServer
		cl["sub"] = caller.Subject
		cl["presented_jti"] = caller.JTI
		if e := c.revoked(ctx, caller.Kind, caller.Issuer, caller.JTI); e != nil {
			return "", time.Time{}, e
		}
		if c.rs.PersonTokenJTI {
			// The person token itself, or the one the auth token
			// presented stems from (a step-up, a per-call challenge).
			if caller.Kind == KindPerson {
				cl["person_token_jti"] = caller.JTI
			} else if jti := c.persons.jti(caller, now); jti != "" {
				if e := c.revoked(ctx, KindPerson, caller.PersonServer, jti); e != nil {
					e.requirement = "person-token"
					return "", time.Time{}, e
				}
				cl["person_token_jti"] = jti
			}
		}
		if caller.MissionS256 != "" {
			cl["mission_s256"] = caller.MissionS256
		}
		if caller.Tenant != "" {
			cl["tenant"] = caller.Tenant
		}
	}
	for k, v := range need.ResourceTokenClaims {
		if _, taken := cl[k]; taken || k == "scope" || k == "person_token_jti" {
			return "", time.Time{}, fmt.Errorf("aauth: Need.ResourceTokenClaims cannot set %q, which the resource sets", k)
		}
		cl[k] = v
	}
	if _, set := cl["budget"]; !set && c.budgets != nil && c.budgets.offer != nil {
		cl["budget"] = c.budgets.offer
	}
	tok, err := c.signing.sign(typResource, cl)
	return tok, exp, err
}

// randomID returns n random bytes as base64url.
func randomID(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read does not fail on the platforms Go supports (1.24+).
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
