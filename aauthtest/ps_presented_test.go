package aauthtest

import (
	"testing"
	"time"

	"github.com/aauthgo/aauth/wire"
)

// The exchange refuses a resource token that is not about the token
// presented with it (AAuth -11 resource token verification, step 3): a
// presented token for another resource, or a resource token naming another
// person, mission or tenant, is the resource token's fault.
func TestPSResourceTokenMatchesPresentedToken(t *testing.T) {
	w := NewWorld(WorldOptions{Logf: t.Logf})
	defer w.Close()
	c := newClient(t, w)
	pt := c.personToken(w.PS, w.Resource.URL)
	ptok, _ := parseToken(pt)
	mint := func(edit func(map[string]any)) string {
		t.Helper()
		now := w.PS.now()
		claims := map[string]any{
			"iss": w.Resource.URL, "dwk": dwkResource, "aud": w.PS.URL, "ps": w.PS.URL,
			"jti": randomID(8), "agent_jkt": jktOf(t, c.agent), "presented_jti": ptok.str("jti"),
			"sub": ptok.str("sub"), "scope": "read", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}
		edit(claims)
		rt, err := w.Resource.key.mint(typResource, claims)
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	if r := c.exchange(w.PS, mint(func(map[string]any) {}), pt); r.Status != 200 {
		t.Fatalf("the matching resource token: status %d %s", r.Status, r.Body)
	}
	for name, edit := range map[string]func(map[string]any){
		"other person":  func(c map[string]any) { c["sub"] = "someone-else" },
		"no person":     func(c map[string]any) { delete(c, "sub") },
		"other mission": func(c map[string]any) { c["mission_s256"] = "pQ3cmMT5tX5Hw2GhLt3w1yJ2bu5Hn5v2tRHe0pH1VSk" },
		"other tenant":  func(c map[string]any) { c["tenant"] = "other-org" },
		"other issuer":  func(c map[string]any) { c["iss"] = "https://other-resource.example" },
	} {
		t.Run(name, func(t *testing.T) {
			r := c.exchange(w.PS, mint(edit), pt)
			if got := r.expect(t, 400).str(t, "error"); got != "invalid_resource_token" {
				t.Errorf("error %q, want invalid_resource_token", got)
			}
		})
	}
}

// An updated_request may change what is asked, not who or what it is
// about: a new resource token about another person is refused with
// invalid_resource_token, a new one for the same request is taken.
func TestPSUpdatedRequestSameRequest(t *testing.T) {
	w := NewWorld(WorldOptions{Logf: t.Logf})
	defer w.Close()
	c := newClient(t, w)
	url := w.Resource.URL + "/data"
	pt := c.personToken(w.PS, w.Resource.URL)
	rt := c.do("GET", url, pt, nil, nil).expect(t, 401).challenge(t).ResourceToken
	w.PS.Queue(TokenAuth, Defer(Clarification("Which project?")))
	r := c.exchange(w.PS, rt, pt)
	expect202(t, r, wire.RequirementClarification)
	loc := r.Header.Get("Location")
	update := func(rt string) *response {
		return c.do("POST", loc, "", map[string]any{"action": "updated_request", "resource_token": rt, "presented_token": pt, "justification": "only alpha"}, nil)
	}

	ptok, _ := parseToken(pt)
	now := w.PS.now()
	other, err := w.Resource.key.mint(typResource, map[string]any{
		"iss": w.Resource.URL, "dwk": dwkResource, "aud": w.PS.URL, "ps": w.PS.URL,
		"jti": randomID(8), "agent_jkt": jktOf(t, c.agent), "presented_jti": ptok.str("jti"),
		"sub": "someone-else", "scope": "read", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := update(other).expect(t, 400).str(t, "error"); got != "invalid_resource_token" {
		t.Errorf("an updated request about another person: error %q", got)
	}

	fresh := c.do("GET", url, pt, nil, nil).expect(t, 401).challenge(t).ResourceToken
	update(fresh).expect(t, 202)
	c.poll(r).expect(t, 200)
	if ans := w.PS.ClarificationAnswers(); len(ans) != 1 || ans[0].Action != "updated_request" {
		t.Errorf("answers %+v", ans)
	}
}
