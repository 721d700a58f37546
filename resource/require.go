package resource

import (
	"net/http"
	"slices"
	"strings"

	"github.com/aauthgo/aauth/r3"
)

// Require returns next protected by rs: every request must carry a valid
// AAuth signature and token, and is served only once it meets its access
// mode; the verified caller is in its context ([FromContext]). Requests
// that fail get 401 with Signature-Error, 401 with an AAuth-Requirement
// challenge, a 202 with a pending URL, or 403.
//
// Require also answers the resource's own paths, whatever next would do
// with them: the metadata (/.well-known/aauth-resource.json), its JWK Set
// (/.well-known/aauth-resource-jwks.json), the revocation endpoint
// (/aauth/revoke), the pending URLs under PendingPath and the
// AuthorizationPath. Put it in front of the whole server, or mount
// [Resource.Handler] at those paths.
func (rs *Resource) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := rs.config()
		if err != nil {
			misconfigured(w, err)
			return
		}
		next := c.metered(next)
		if c.own(w, r, next) {
			return
		}
		c.protect(w, r, next)
	})
}

// Handler serves only the resource's own paths (metadata, JWK Set,
// revocation endpoint and pending URLs), and 404 for everything else: for a server that mounts
// Require on some of its routes only.
func (rs *Resource) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := rs.config()
		if err != nil {
			misconfigured(w, err)
			return
		}
		if !c.own(w, r, nil) {
			http.NotFound(w, r)
		}
	})
}

// own answers r if it is for one of the resource's paths.
func (c *config) own(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	switch p := r.URL.Path; {
	case p == metadataPath:
		serveDocument(w, r, c.metadata)
	case p == jwksPath:
		serveDocument(w, r, c.jwks)
	case p == revocationPath && !c.seed:
		c.serveRevoke(w, r)
	case strings.HasPrefix(p, c.pending):
		c.servePending(w, r, next)
	case p == c.rs.AuthorizationPath && p != "":
		c.serveAuthorize(w, r)
	case c.r3 != nil && strings.HasPrefix(p, c.r3.path):
		c.serveR3(w, r)
	case c.public[p] != nil:
		c.public[p].ServeHTTP(w, r)
	default:
		return false
	}
	return true
}

// protect verifies r and serves it, challenges it or refuses it.
func (c *config) protect(w http.ResponseWriter, r *http.Request, next http.Handler) {
	caller, e := c.verify(r)
	if e != nil {
		c.refuse(w, r, e)
		return
	}
	caller.res = c
	w = c.noteBudgets(w, r, caller)
	var mcp *r3.MCPRequest
	if c.r3 != nil {
		// Every request is read as MCP before anything is decided: a
		// body that cannot be read is never served unclassified.
		if mcp, e = c.mcpRequest(r, caller); e != nil {
			c.refuse(w, r, e)
			return
		}
	} else if c.rs.Policy != nil && r.GetBody == nil {
		// The Policy may read the body: keep it for the handler too.
		// (It is kept already when its digest was checked.)
		if _, err := readHeldBody(r, c.maxBody); err != nil {
			c.refuse(w, r, asError(err))
			return
		}
	}
	need := c.need(r, caller)
	if c.rs.Policy != nil && r.GetBody != nil {
		r.Body, _ = r.GetBody() // the body again, whatever the Policy read
	}
	if mcp != nil && need.Mode != AuthToken && hasToolCall(mcp) {
		need.Mode = AuthToken // a tool is called only under an auth token's grant
	}
	if len(need.Components) > 0 {
		if e := c.checkComponents(r, caller, need.Components); e != nil {
			c.refuse(w, r, e)
			return
		}
	}
	if e := need.Refuse; e != nil {
		status := e.Status
		if status < 400 || status == http.StatusUnauthorized || status > 599 {
			status = http.StatusForbidden
		}
		code := e.Code
		if code == "" {
			code = "access_denied"
		}
		c.problem(w, status, code, e.Detail)
		return
	}
	if need.Deny {
		c.deny(w, "access_denied", "the resource refuses this caller")
		return
	}
	switch need.Mode {
	case SessionToken:
		c.sessionAccess(w, r, caller, next)
		return
	case AuthToken:
		if caller.Kind == KindAuth && authorized(caller, need) {
			if c.r3 != nil {
				c.enforceR3(w, r, caller, need, mcp, next)
				return
			}
			break
		}
		switch {
		case caller.Kind == "":
			c.challenge(w, "agent-token", "", "agent_token_required", "present an AAuth agent token")
		case caller.Kind == KindAgent && !c.seed:
			c.challenge(w, "person-token", "", "person_token_required", "present a person token from your person server")
		default:
			if c.r3 != nil {
				// The person server decides what to grant from
				// every definition (R3 §Resource Enforcement).
				need = c.withDocument(need, caller, c.r3.all)
			}
			c.challengeAuth(w, r, caller, need, next)
		}
		return
	case PersonToken:
		if caller.Kind != KindPerson && caller.Kind != KindAuth {
			if caller.Kind == "" {
				c.challenge(w, "agent-token", "", "agent_token_required", "present an AAuth agent token")
				return
			}
			c.challenge(w, "person-token", "", "person_token_required", "present a person token from your person server")
			return
		}
	case AgentToken:
		if caller.Kind == "" {
			c.challenge(w, "agent-token", "", "agent_token_required", "present an AAuth agent token")
			return
		}
	default:
		// Fail closed: a mode this package does not know serves nobody.
		c.refuse(w, r, &Error{Status: http.StatusInternalServerError, Code: "server_error", Detail: "the resource's Policy asked for an unknown access mode"})
		return
	}
	next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), caller)))
}

// need is what r needs: the Policy's decision, or Mode and Scope.
func (c *config) need(r *http.Request, caller *Caller) Need {
	var n Need
	if c.rs.Policy != nil {
		n = c.rs.Policy(r, caller)
	} else {
		n = Need{Mode: c.rs.Mode, Scope: c.rs.Scope}
	}
	if n.Mode == "" {
		n.Mode = AgentToken
	}
	if c.seed && n.Mode == PersonToken {
		n.Mode = AuthToken // no person tokens in the seed generation
	}
	return n
}

// authorized reports whether an auth token meets need.
func authorized(caller *Caller, need Need) bool {
	return hasScope(caller.Scope, need.Scope) && (need.Authorized == nil || need.Authorized(caller))
}

// challengeAuth answers requirement=auth-token with a fresh resource
// token: a 401, or with need.Defer a 202 holding the call.
func (c *config) challengeAuth(w http.ResponseWriter, r *http.Request, caller *Caller, need Need, next http.Handler) {
	rt, exp, err := c.resourceToken(r.Context(), caller, need)
	if err != nil {
		c.refuse(w, r, tokenIssueError(err))
		return
	}
	if !need.Defer {
		c.challenge(w, "auth-token", rt, "auth_token_required", "exchange the resource token at your person server, then present the auth token")
		return
	}
	e, err := c.hold(r, caller, pendingAuth, next)
	if err != nil {
		c.refuse(w, r, asError(err))
		return
	}
	c.pend.update(e, func(e *pendingEntry) { e.need, e.resourceToken, e.rtExpiry = need, rt, exp })
	c.writePending(w, e, "auth-token", rt, "", "")
}

// checkComponents refuses a request that does not cover the components a
// Need adds.
func (c *config) checkComponents(r *http.Request, caller *Caller, extra []string) *Error {
	var missing bool
	for _, comp := range extra {
		if !slices.Contains(caller.Components, strings.ToLower(comp)) {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	required := slices.Clone(c.required)
	if len(header(r.Header, "Authorization")) > 0 && !c.seed {
		required = append(required, "authorization")
	}
	for _, comp := range extra {
		if comp = strings.ToLower(comp); !slices.Contains(required, comp) {
			required = append(required, comp)
		}
	}
	e := sigErr(codeInvalidInput, "the request must cover %s", strings.Join(extra, ", "))
	e.RequiredInput = required
	return e
}
