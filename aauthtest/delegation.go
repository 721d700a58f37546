package aauthtest

import (
	"context"
	"crypto"
	"fmt"
	"net/http"
	"slices"

	"github.com/aauthgo/aauth/internal/agentid"
	"github.com/aauthgo/aauth/internal/sigverify"
)

// defaultMaxChainDepth is PersonServerOptions.MaxChainDepth's default.
const defaultMaxChainDepth = 4

// issueRecord is what the person server remembers of a person or auth
// token it issued: enough to accept it later as an upstream token (who
// got it, for whom, through which chain) and to cascade revocations.
type issueRecord struct {
	kind     TokenKind
	token    string
	person   string
	agent    string   // the signer's sub
	agentKey string   // revocation key of the signer's agent token
	subKey   string   // revocation key of the subagent_token, if any
	upstream string   // revocation key of the upstream token it was issued with, if any
	lineage  []string // resources the chain passed through before it
}

// record remembers a token just issued for g.
func (ps *PersonServer) record(g *grant, t *token) {
	if t == nil || t.str("jti") == "" || (g.kind != TokenPerson && g.kind != TokenAuth) {
		return
	}
	r := &issueRecord{kind: g.kind, token: t.raw, person: g.person, agent: g.agent, lineage: g.lineage}
	if g.signer != nil {
		r.agentKey = revocationKey(g.signer)
	}
	if g.subagent != nil {
		r.subKey = revocationKey(g.subagent)
	}
	if g.upstream != nil {
		r.upstream = revocationKey(g.upstream)
	}
	ps.mu.Lock()
	if ps.records == nil {
		ps.records = map[string]*issueRecord{}
	}
	ps.records[t.str("jti")] = r
	ps.mu.Unlock()
}

func (ps *PersonServer) lookup(jti string) *issueRecord {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.records[jti]
}

// personOf is the person of the token the server issued with jti, or def.
func (ps *PersonServer) personOf(jti, def string) string {
	if r := ps.lookup(jti); r != nil && r.person != "" {
		return r.person
	}
	return def
}

// personFor is the person a request is for: the one its login_hint names
// among the known persons, else the default person.
func (ps *PersonServer) personFor(loginHint string) string {
	if loginHint != "" && slices.Contains(ps.opts.Persons, loginHint) {
		return loginHint
	}
	return ps.opts.Person
}

// cascade revokes, down the chain, every token issued with raw as its
// upstream token (AAuth -11 revocation cascade).
func (ps *PersonServer) cascade(raw string) {
	t, err := parseToken(raw)
	if err != nil || t.str("jti") == "" {
		return
	}
	todo := []string{revocationKey(t)}
	seen := map[string]bool{}
	for len(todo) > 0 {
		key := todo[0]
		todo = todo[1:]
		if seen[key] {
			continue
		}
		seen[key] = true
		ps.mu.Lock()
		var next []string
		for _, r := range ps.records {
			if r.upstream == key {
				next = append(next, r.token)
			}
		}
		ps.mu.Unlock()
		for _, tok := range next {
			ps.revoked.add(tok)
			if d, err := parseToken(tok); err == nil {
				todo = append(todo, revocationKey(d))
			}
		}
	}
}

// checkDelegation applies the rules of AAuth -11 for sub-agents and call
// chaining to a token request, before the usual checks of its kind: a
// sub-agent never asks itself; a subagent_token is verified and must name
// the signer as its parent; an upstream_token is verified with the
// substitutions of "Upstream Token Verification". It answers the request
// and returns false on failure, and fills g (the key the token binds, the
// person, the caps) and tr.
func (ps *PersonServer) checkDelegation(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, tr *TokenRequest, g *grant) bool {
	g.person = ps.personFor(tr.LoginHint)
	tr.Person = g.person
	if g.signer.str("parent_agent") != "" {
		// AAuth -11 "Sub-Agents": a sub-agent MUST NOT request tokens
		// itself, and the person server rejects it. No code is named;
		// invalid_request says the request is not one this agent may make.
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "the signing agent is a sub-agent (its token has parent_agent): its parent requests tokens for it, with subagent_token")
		return false
	}
	if tr.SubagentToken == "" && tr.UpstreamToken == "" {
		return true
	}
	switch {
	case !ps.current():
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "the seed profile has no subagent_token or upstream_token")
		return false
	case tr.SubagentToken != "" && tr.UpstreamToken != "":
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "subagent_token and upstream_token cannot be combined: an intermediary is a top-level agent")
		return false
	case tr.SubagentToken != "":
		return ps.checkSubagent(w, r, rec, tr, g)
	}
	return ps.checkUpstream(w, r, rec, tr, g)
}

// checkSubagent verifies a subagent_token (AAuth -11 "Parent-Mediated
// Authorization", step 4, and the checks of interop Surface 5): an agent
// token of a trusted agent provider, valid, naming the signer as its
// parent and issued by the signer's agent provider. The token to issue is
// then bound to the sub-agent's key and capped by both agent tokens.
func (ps *PersonServer) checkSubagent(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, tr *TokenRequest, g *grant) bool {
	fail := func(code, format string, args ...any) bool {
		ps.problem(w, rec, http.StatusBadRequest, code, fmt.Sprintf(format, args...))
		return false
	}
	st, err := parseToken(tr.SubagentToken)
	if err != nil {
		return fail("invalid_subagent_token", "subagent_token is not a JWT")
	}
	keys := func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
		return ps.agents.key(ctx, iss, dwkAgent, kid)
	}
	if terr := validate(r.Context(), ps.profile, st, TokenAgent, keys, ps.now(), &ps.revoked); terr != nil {
		switch terr.code {
		case sigverify.CodeExpiredJWT:
			return fail("expired_subagent_token", "subagent_token: %s", terr.detail)
		case sigverify.CodeRevokedJWT:
			return fail("revoked_subagent_token", "subagent_token: %s", terr.detail)
		}
		return fail("invalid_subagent_token", "subagent_token: %s", terr.detail)
	}
	sub, parent := st.str("sub"), st.str("parent_agent")
	switch {
	case st.str("dwk") != dwkAgent:
		return fail("invalid_subagent_token", "subagent_token's dwk is not %s", dwkAgent)
	case !validAgentID(sub):
		return fail("invalid_subagent_token", "subagent_token's sub is not an agent identifier")
	case parent == "":
		// The local part may look like a sub-agent's; only parent_agent
		// says it is one.
		return fail("invalid_subagent_token", "subagent_token has no parent_agent: it is not a sub-agent's token")
	case !validAgentID(parent):
		return fail("invalid_subagent_token", "subagent_token's parent_agent is not an agent identifier")
	case parent != g.signer.str("sub"):
		// Surface 5, check 4; compared byte for byte.
		return fail("invalid_subagent_token", "subagent_token's parent_agent %q is not the signing agent %q", shorten(parent), shorten(g.signer.str("sub")))
	case st.str("iss") != g.signer.str("iss"):
		return fail("invalid_subagent_token", "subagent_token was issued by %q, not by the signing agent's provider", shorten(st.str("iss")))
	}
	pub, jkt, err := st.cnfKey()
	if err != nil {
		return fail("invalid_subagent_token", "subagent_token's cnf.jwk: %v", err)
	}
	g.subagent, g.jkt, g.cnf = st, jkt, publicJWK(pub, ps.current())
	if exp, ok := st.time("exp"); ok && (g.capExp.IsZero() || exp.Before(g.capExp)) {
		g.capExp, g.capWhy = exp, "sub-agent token"
	}
	tr.Subagent, tr.SubagentIssuer, tr.SubagentThumbprint = sub, st.str("iss"), jkt
	return true
}

func validAgentID(id string) bool {
	_, _, err := agentid.Parse(id)
	return err == nil
}

// checkUpstream verifies an upstream_token (AAuth -11 "Upstream Token
// Verification"): a person or auth token this server issued, valid, whose
// aud is the intermediary signing the request (the iss of its agent
// token), whose cnf is its caller's (not compared with the signer's), and
// whose caller the server knows and has not revoked. The token to issue is
// for the upstream token's person, carries its mission, and may not
// outlive it.
func (ps *PersonServer) checkUpstream(w http.ResponseWriter, r *http.Request, rec *RecordedRequest, tr *TokenRequest, g *grant) bool {
	fail := func(code, format string, args ...any) bool {
		ps.problem(w, rec, http.StatusBadRequest, code, fmt.Sprintf(format, args...))
		return false
	}
	if tr.Kind == TokenPerson && tr.MissionS256 != "" {
		return fail("invalid_request", "mission_s256 is not sent with upstream_token: the upstream token carries the mission")
	}
	ut, err := parseToken(tr.UpstreamToken)
	if err != nil {
		return fail("invalid_upstream_token", "upstream_token is not a JWT")
	}
	if ut.kind != TokenPerson && ut.kind != TokenAuth {
		return fail("invalid_upstream_token", "upstream_token is a %s token, not a person or auth token", ut.kind)
	}
	own := func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError) {
		if iss != ps.URL {
			return nil, tokErr(sigverify.CodeInvalidJWT, "it was not issued by this person server")
		}
		return ps.key.public(), nil
	}
	if terr := validate(r.Context(), ps.profile, ut, ut.kind, own, ps.now(), &ps.revoked); terr != nil {
		switch terr.code {
		case sigverify.CodeExpiredJWT:
			return fail("expired_upstream_token", "upstream_token: %s", terr.detail)
		case sigverify.CodeRevokedJWT:
			return fail("revoked_upstream_token", "upstream_token: %s", terr.detail)
		}
		return fail("invalid_upstream_token", "upstream_token: %s", terr.detail)
	}
	if ut.kind == TokenAuth && ut.str("ps") != ps.URL {
		return fail("invalid_upstream_token", "upstream_token's ps is not this person server")
	}
	aud, isString := ut.claims["aud"].(string)
	if !isString || aud == "" {
		return fail("invalid_upstream_token", "upstream_token's aud is not a single resource")
	}
	if aud != g.signer.str("iss") {
		// Only an intermediary that is its own agent provider can show
		// that the caller's token was for it.
		return fail("invalid_upstream_token", "upstream_token is for %q, not for the signing intermediary %q", shorten(aud), shorten(g.signer.str("iss")))
	}
	if _, _, err := ut.cnfKey(); err != nil {
		return fail("invalid_upstream_token", "upstream_token's cnf.jwk: %v", err)
	}
	ir := ps.lookup(ut.str("jti"))
	if ir == nil {
		return fail("invalid_upstream_token", "this person server has no record of the upstream token, so it cannot tell whose it is")
	}
	if (ir.agentKey != "" && ps.revoked.hasKey(ir.agentKey)) || (ir.subKey != "" && ps.revoked.hasKey(ir.subKey)) {
		return fail("revoked_upstream_token", "the agent token of the caller the upstream token was issued to was revoked")
	}
	g.upstream, g.person, g.caller = ut, ir.person, ir.agent
	g.lineage = append(slices.Clone(ir.lineage), aud)
	g.mission = ut.str("mission_s256")
	if exp, ok := ut.time("exp"); ok && (g.capExp.IsZero() || exp.Before(g.capExp)) {
		g.capExp, g.capWhy = exp, "upstream token"
	}
	tr.Person = g.person
	tr.Upstream = &UpstreamInfo{
		Kind: ut.kind, Issuer: ut.str("iss"), PersonServer: ut.str("ps"), Audience: aud,
		Subject: ut.str("sub"), JTI: ut.str("jti"), MissionS256: ut.str("mission_s256"),
		Caller: ir.agent, Lineage: slices.Clone(ir.lineage),
	}
	tr.Upstream.Expiry, _ = ut.time("exp")
	if tr.Kind == TokenPerson {
		return ps.chainAllowed(w, rec, g, tr.Resource)
	}
	return true
}

// chainAllowed applies the server's bounds on chains to a chained request
// for resource: no loop back to a resource the chain passed through, and
// no more than MaxChainDepth intermediaries. They are policy (no -11 rule
// asks for them), so a refusal is 403 denied.
func (ps *PersonServer) chainAllowed(w http.ResponseWriter, rec *RecordedRequest, g *grant, resource string) bool {
	if g.upstream == nil {
		return true
	}
	if !ps.opts.AllowChainLoops && slices.Contains(g.lineage, resource) {
		ps.problem(w, rec, http.StatusForbidden, "denied", "the call chain loops back to "+shorten(resource))
		return false
	}
	limit := ps.opts.MaxChainDepth
	if limit <= 0 {
		limit = defaultMaxChainDepth
	}
	if len(g.lineage) > limit {
		ps.problem(w, rec, http.StatusForbidden, "denied", fmt.Sprintf("the call chain is deeper than %d intermediaries", limit))
		return false
	}
	return true
}

// checkChainedAuth finishes an auth-token request after the usual checks:
// for a chained one, the chain's bounds, and that the presented token is
// for the upstream token's person (downstream subjects are directed: never
// copied from the upstream token).
func (ps *PersonServer) checkChainedAuth(w http.ResponseWriter, rec *RecordedRequest, tr *TokenRequest, g *grant) bool {
	tr.Person = g.person
	if g.upstream == nil {
		return true
	}
	if !ps.chainAllowed(w, rec, g, tr.Resource) {
		return false
	}
	if ps.current() && g.sub != ps.SubjectOf(g.person, tr.Resource) {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_upstream_token", "the presented token is for another person than the upstream token")
		return false
	}
	return true
}

// upstreamStillValid ends a pending chained request whose upstream token
// expired (408 expired) or was revoked (403 revoked) while it waited
// (AAuth -11 "Call Chaining", polling errors). It answers and returns false
// then.
func (ps *PersonServer) upstreamStillValid(w http.ResponseWriter, rec *RecordedRequest, e *pendingEntry) bool {
	g, _ := e.payload.(*grant)
	if g == nil || g.upstream == nil {
		return true
	}
	if exp, ok := g.upstream.time("exp"); ok && !ps.now().Before(exp) {
		ps.pend.cancel(e)
		ps.problem(w, rec, http.StatusRequestTimeout, "expired", "the upstream token expired while the request was pending")
		return false
	}
	if ps.revoked.has(g.upstream) {
		ps.pend.cancel(e)
		ps.problem(w, rec, http.StatusForbidden, "revoked", "the upstream token was revoked while the request was pending")
		return false
	}
	return true
}
