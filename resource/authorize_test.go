package resource

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// TestAuthorizationEndpoint: an agent asks for a scope with a person
// token and gets a resource token for its person server (RS-20, RS-30,
// RS-35); an agent token is asked for a person token; an undescribed scope
// and an account the person does not hold are refused (RS-21).
func TestAuthorizationEndpoint(t *testing.T) {
	w := newWorld(t, func(rs *Resource) {
		rs.AuthorizationPath = "/aauth/authorize"
		rs.ScopeDescriptions = map[string]string{"files.read": "Read your files"}
		rs.AccountHolder = func(_ context.Context, c *Caller, account string) bool { return account == "acct-1" }
	})
	var md map[string]any
	getJSON(t, w.srv.URL+"/.well-known/aauth-resource.json", &md)
	if md["authorization_endpoint"] != w.rs.Issuer+"/aauth/authorize" {
		t.Fatalf("authorization_endpoint %v", md["authorization_endpoint"])
	}

	resp := w.do("POST", "/aauth/authorize", `{"scope":"files.read"}`, w.agentToken(nil))
	wantStatus(t, resp, http.StatusUnauthorized, "")
	if resp.Header.Get("AAuth-Requirement") != "requirement=person-token" {
		t.Errorf("AAuth-Requirement %q", resp.Header.Get("AAuth-Requirement"))
	}

	pt := w.personToken(map[string]any{"mission_s256": "m"})
	resp = w.do("POST", "/aauth/authorize", `{"scope":"files.read  openid","account":"acct-1"}`, pt)
	wantStatus(t, resp, http.StatusOK, "")
	var out struct {
		ResourceToken string `json:"resource_token"`
	}
	if err := json.Unmarshal([]byte(bodyOf(resp)), &out); err != nil {
		t.Fatal(err)
	}
	claims := verifyResourceToken(t, w, out.ResourceToken)
	for k, v := range map[string]any{"scope": "files.read openid", "account": "acct-1", "aud": w.ps.url, "mission_s256": "m", "presented_jti": payloadOf(t, pt)["jti"]} {
		if claims[k] != v {
			t.Errorf("resource token %s = %v, want %v", k, claims[k], v)
		}
	}

	for body, code := range map[string]string{
		`{"scope":"files.delete"}`:                  "invalid_scope",
		`{"scope":"files.read","account":"acct-2"}`: "invalid_account",
		`{"account":"acct-1"}`:                      "invalid_request",
		`[]`:                                        "invalid_request",
		`{"scope":5}`:                               "invalid_request",
	} {
		resp := w.do("POST", "/aauth/authorize", body, w.personToken(nil))
		wantStatus(t, resp, http.StatusBadRequest, "")
		var p struct {
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(bodyOf(resp)), &p); p.Error != code {
			t.Errorf("%s: error %q, want %q", body, p.Error, code)
		}
	}
	wantStatus(t, w.do("GET", "/aauth/authorize", "", w.personToken(nil)), http.StatusMethodNotAllowed, "")
}
