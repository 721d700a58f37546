package resource

import (
	"fmt"
	"net/http"

	"github.com/aauthgo/aauth/internal/jsonx"
)

// metadataDocument is the resource's /.well-known/aauth-resource.json
// (AAuth -11, Resource Metadata): issuer, jwks_uri, and what an agent
// needs to plan its first call.
func (c *config) metadataDocument() ([]byte, error) {
	rs := c.rs
	doc := map[string]any{
		"issuer":   c.issuer,
		"jwks_uri": c.issuer + jwksPath,
	}
	d := rs.Display
	for k, v := range map[string]string{
		"name": d.Name, "description": d.Description, "logo_uri": d.LogoURI,
		"logo_dark_uri": d.LogoDarkURI, "documentation_uri": d.DocumentationURI,
		"tos_uri": d.TOSURI, "policy_uri": d.PolicyURI,
	} {
		if v != "" {
			doc[k] = v
		}
	}
	if !c.seed {
		mode := rs.Mode
		if mode == "" {
			mode = AgentToken
		}
		doc["access_mode"] = string(mode)
		doc["accept_signature_algs"] = c.algs
		if c.window != defaultWindow {
			doc["signature_window"] = int64(c.window.Seconds())
		}
		if extra := c.required[4:]; len(extra) > 0 {
			doc["additional_signature_components"] = extra
		}
		// RS-03: RECOMMENDED for a resource that accepts person tokens,
		// which every access mode but agent identity access wants, and
		// which agent identity access serves too.
		doc["revocation_endpoint"] = c.issuer + revocationPath
	}
	if rs.AuthorizationPath != "" {
		doc["authorization_endpoint"] = c.issuer + rs.AuthorizationPath
	}
	if len(rs.ScopeDescriptions) > 0 {
		doc["scope_descriptions"] = rs.ScopeDescriptions
	}
	if c.r3 != nil {
		c.r3.metadataMembers(doc)
	}
	if c.budgets != nil && len(c.budgets.units) > 0 {
		doc["budget_units"] = c.budgets.units
	}
	for k, v := range rs.MetadataMembers {
		if _, taken := doc[k]; taken {
			return nil, fmt.Errorf("aauth: Resource.MetadataMembers cannot set %q, which the resource writes", k)
		}
		doc[k] = v
	}
	return jsonx.Marshal(doc)
}

// serveDocument answers GET (and HEAD) of a public JSON document.
func serveDocument(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(body)
}
