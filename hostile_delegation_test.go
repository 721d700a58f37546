package aauth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
)

// The hostile table's rows for auth-token responses (every flow) and for
// sub-agents: what a person server, a resource or a misconfigured
// sub-agent may do, and what the agent must end with.

// psAuthFault makes the person server answer the first exchange with a
// malformed answer.
func psAuthFault(f aauthtest.Fault) func(e *hostileEnv) {
	return func(e *hostileEnv) { e.w.PS.Queue(aauthtest.TokenAuth, aauthtest.Malformed(f)) }
}

// asSubagent makes the case's Transport a sub-agent ("planner+w1") of a
// parent Transport ("planner") on the kit, with the harness's clock and
// base; keys, when not nil, replaces the sub-agent's key source.
func asSubagent(e *hostileEnv, keys aauth.KeySource) (parent *aauth.Transport) {
	orch := &agentprovider.Keys{Issuer: e.w.Agent.TokenIssuer(), Subject: e.w.Agent.Subject("planner"), PersonServer: e.w.PS.URL}
	parent = &aauth.Transport{Base: e.base, Keys: orch, PersonServer: e.w.PS.URL, Clock: e.clock}
	if keys == nil {
		k, err := orch.Subagent("w1")
		if err != nil {
			e.t.Fatal(err)
		}
		keys = k
	}
	sub := &aauth.Transport{Base: e.base, Keys: keys, Parent: parent, Clock: e.clock}
	e.leaks.attach(sub)
	e.leaks.attach(parent)
	e.tr = sub
	return parent
}

// noTokenRequests expects no token request at the kit person server.
func noTokenRequests() hostileWant {
	return also("no token requests", func(e *hostileEnv) error {
		if n := len(e.w.PS.PersonTokenRequests()) + len(e.w.PS.AuthTokenRequests()); n != 0 {
			return fmt.Errorf("%d token requests", n)
		}
		return nil
	})
}

func delegationHostileCases() []hostileCase {
	return []hostileCase{
		// Auth tokens the agent must not present (AAuth -11 auth token
		// response verification, for every flow).
		{name: "auth-token-other-key", script: psAuthFault(aauthtest.FaultTokenOtherKey),
			want: and(wantIs(psclient.ErrIssuedToken), exchangeStatus(200), sends(2))},
		{name: "auth-token-other-audience", script: psAuthFault(aauthtest.FaultTokenWrongAud),
			want: and(wantIs(psclient.ErrIssuedToken), sends(2))},
		{name: "auth-token-other-issuer", script: psAuthFault(aauthtest.FaultTokenWrongIssuer),
			want: and(wantIs(psclient.ErrIssuedToken), sends(2))},

		// Sub-agents.
		{name: "subagent-flow", script: func(e *hostileEnv) { asSubagent(e, nil) }, want: wantStatus(200)},
		{name: "subagent-parent-names-someone-else", script: func(e *hostileEnv) {
			a, err := e.w.Agent.NewSubagent("someone", "w1")
			if err != nil {
				e.t.Fatal(err)
			}
			asSubagent(e, a)
		}, want: and(wantIs(psclient.ErrInvalidSubagentToken), noTokenRequests())},
		{name: "subagent-calls-ps-directly", script: func(e *hostileEnv) {
			asSubagent(e, nil)
			e.tr.Parent = nil
			e.tr.PersonServer = e.w.PS.URL
		}, want: and(wantIs(aauth.ErrNoPersonServer), noTokenRequests())},
		{name: "subagent-resource-token-third-key", script: func(e *hostileEnv) {
			asSubagent(e, nil)
			e.afterPersonToken(func() { e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultResourceTokenOtherKey)) })
		}, want: and(wantIs(aauth.ErrResourceToken), noExchange())},
		{name: "subagent-auth-token-bound-to-parent", script: func(e *hostileEnv) {
			parent := asSubagent(e, nil)
			m, err := parent.Keys.KeyMaterial(context.Background())
			if err != nil {
				e.t.Fatal(err)
			}
			jwk := publicJWKOf(e.t, m.Signer.Public())
			e.w.PS.Queue(aauthtest.TokenAuth, aauthtest.Approve().Claims(map[string]any{"cnf": map[string]any{"jwk": jwk}}))
		}, want: and(wantIs(psclient.ErrIssuedToken), sends(2))},
		{name: "subagent-revoked", script: func(e *hostileEnv) {
			a, err := e.w.Agent.NewSubagent("planner", "w1")
			if err != nil {
				e.t.Fatal(err)
			}
			e.w.PS.Revoke(a.Token)
			asSubagent(e, a)
		}, want: and(wantIs(psclient.ErrRevokedSubagentToken), exchangeStatus(400), sends(1))},
		{name: "subagent-parent-denied", script: func(e *hostileEnv) {
			asSubagent(e, nil)
			e.w.PS.Queue(aauthtest.TokenPerson, aauthtest.Deny())
		}, want: and(wantIs(aauth.ErrDenied), sends(1))},
	}
}

// publicJWKOf is pub as a JWK object, as a token's cnf.jwk holds it.
func publicJWKOf(t *testing.T, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b, err := keys.MarshalPublicJWK(pub)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "kid")
	return m
}
