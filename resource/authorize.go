package resource

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aauthgo/aauth/internal/jsonx"
)

// This file is the resource's authorization endpoint (AAuth -11,
// Authorization Endpoint): an agent asks up front for a scope, presenting
// a person token, and gets a resource token for its person server.

// maxAuthorizeBody caps the authorization request's body.
const maxAuthorizeBody = 16 << 10

// identityScopes are the OpenID Connect and enterprise scopes a resource
// token may ask for without the resource describing them: the person
// server, not the resource, defines them (AAuth -11, Scopes).
var identityScopes = []string{"openid", "profile", "email", "address", "phone", "tenant", "groups", "roles"}

// serveAuthorize answers POST {"scope", "account"?, "budget"?} signed with a person
// token (or an auth token) with {"resource_token"}. With R3, the body may
// name the tools the agent means to call, {"r3_operations": {"vocabulary",
// "operations"}}, in place of a scope or beside one (R3 §Authorization
// Endpoint Extensions), and the resource token references a document
// covering exactly those.
func (c *config) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		c.problem(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	caller, e := c.verify(r)
	if e != nil {
		c.refuse(w, r, e)
		return
	}
	if caller.Kind != KindPerson && caller.Kind != KindAuth {
		// RS-20: the authorization endpoint wants the person.
		c.challenge(w, "person-token", "", "person_token_required", "present a person token from your person server")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAuthorizeBody+1))
	if err != nil || len(body) > maxAuthorizeBody {
		c.problem(w, http.StatusBadRequest, "invalid_request", "the body is unreadable or larger than 16 KiB")
		return
	}
	var req struct {
		Scope   *string `json:"scope"`
		Account *string `json:"account"`
	}
	err = json.Unmarshal(body, &req)
	var r3ops json.RawMessage
	if c.r3 != nil && err == nil {
		// Read by its exact name: encoding/json would also take
		// "R3_Operations".
		var members map[string]json.RawMessage
		_ = json.Unmarshal(body, &members)
		r3ops = members["r3_operations"]
	}
	hasScope := req.Scope != nil && strings.TrimSpace(*req.Scope) != ""
	if err != nil || !isObject(body) || (!hasScope && r3ops == nil) || (req.Scope != nil && !hasScope) {
		c.problem(w, http.StatusBadRequest, "invalid_request", `the body must be a JSON object with a non-empty "scope" string (or "r3_operations")`)
		return
	}
	scope := ""
	if hasScope {
		scope = strings.Join(strings.Fields(*req.Scope), " ")
	}
	if d := c.rs.ScopeDescriptions; len(d) > 0 {
		for _, s := range strings.Fields(scope) {
			if _, ok := d[s]; !ok && !slices.Contains(identityScopes, s) {
				c.problem(w, http.StatusBadRequest, "invalid_scope", "the resource does not define scope "+shorten(s))
				return
			}
		}
	}
	need := Need{Mode: AuthToken, Scope: scope}
	account := ""
	if req.Account != nil {
		if c.rs.AccountHolder != nil && !c.rs.AccountHolder(r.Context(), caller, *req.Account) {
			c.problem(w, http.StatusBadRequest, "invalid_account", "the person does not hold this account")
			return
		}
		account = *req.Account
		need.ResourceTokenClaims = map[string]any{"account": account}
	}
	if c.budgets != nil {
		offer, e := c.budgets.requested(body)
		if e != nil {
			c.problem(w, e.Status, e.Code, e.Detail)
			return
		}
		if offer != nil {
			if need.ResourceTokenClaims == nil {
				need.ResourceTokenClaims = map[string]any{}
			}
			need.ResourceTokenClaims["budget"] = offer
		}
	}
	if c.r3 != nil {
		d, e := c.r3.documentFor(r3ops, account)
		if e != nil {
			c.problem(w, e.Status, e.Code, e.Detail)
			return
		}
		need = c.withDocument(need, caller, d)
	}
	rt, _, err := c.resourceToken(r.Context(), caller, need)
	if err != nil {
		c.refuse(w, r, tokenIssueError(err))
		return
	}
	out, _ := jsonx.Marshal(map[string]string{"resource_token": rt})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}
