package aauthtest

import (
	"crypto"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// revocationClient is the unsigned client the agent provider revokes
// with (Issuer.Revoke signs); its connections are dropped at cleanup.
func revocationClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// The agent provider revokes a sub-agent token at the person server: the
// parent's next request for that sub-agent fails with
// revoked_subagent_token, the person and auth tokens issued for it are
// revoked (cascade), and the parent and its other sub-agent are
// untouched (SA-34, SA-37).
func TestPSRevocationSubagent(t *testing.T) {
	sw := newSubWorld(t, WorldOptions{})
	sub, other := sw.subs[0], sw.subs[1]
	person, auth := sw.subFlow(t, sub)

	if err := sw.Agent.TokenIssuer().Revoke(ctx, revocationClient(t), sw.PS.URL, sub.agent.Token); err != nil {
		t.Fatal(err)
	}
	parent := (&aauth.SigningTransport{Keys: sw.parent.agent, Now: sw.clock.Now}).Client()
	t.Cleanup(closeIdle)
	_, err := psclient.RequestPersonToken(ctx, parent, psclient.PersonTokenRequest{
		PersonServer: sw.PS.URL, Resource: sw.Resource.URL, SubagentToken: sub.agent.Token,
	})
	if !errors.Is(err, psclient.ErrRevokedSubagentToken) {
		t.Fatalf("person token for the revoked sub-agent: %v, want ErrRevokedSubagentToken", err)
	}
	for _, tok := range []string{person, auth} {
		p, _ := parseToken(tok)
		if !sw.PS.revoked.has(p) {
			t.Errorf("the sub-agent's %s token was not revoked (cascade)", p.kind)
		}
	}
	sw.subFlow(t, other)
	sw.parent.personToken(sw.PS, sw.Resource.URL)
}

// The agent provider revokes an agent token at the person server: the
// agent's next request is refused (revoked_jwt), and a person token
// issued to it earlier is refused at exchange (revoked_presented_token)
// even when the agent comes back with a new agent token for the same
// key (SA-37).
func TestPSRevocationAgent(t *testing.T) {
	clock := NewFakeClock(time.Now())
	w := NewWorld(WorldOptions{Now: clock.Now})
	t.Cleanup(w.Close)
	t.Cleanup(closeIdle)
	a, err := w.NewAgent("alice")
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, agent: a, now: clock.Now}
	person := c.personToken(w.PS, w.Resource.URL)
	rt := c.do("GET", w.Resource.URL+"/data", person, nil, nil).expect(t, 401).challenge(t).ResourceToken

	if err := w.Agent.TokenIssuer().Revoke(ctx, revocationClient(t), w.PS.URL, a.Token); err != nil {
		t.Fatal(err)
	}
	ep := claimStr(metadata(t, w.PS), "person_token_endpoint")
	r := c.do("POST", ep, "", map[string]any{"resource": w.Resource.URL}, nil).expect(t, 401)
	if se, _ := wire.ParseSignatureError(r.Header.Get("Signature-Error")); se == nil || se.Code != "revoked_jwt" {
		t.Errorf("revoked agent token: Signature-Error %q, want revoked_jwt", r.Header.Get("Signature-Error"))
	}

	// A new agent token for the same key: the agent is trusted again,
	// but what was issued under the revoked token stays revoked.
	tok, _, err := w.Agent.TokenIssuer().Issue(ctx, agentprovider.TokenRequest{Subject: a.Subject, Key: a.Key.Public(), PersonServer: w.PS.URL})
	if err != nil {
		t.Fatal(err)
	}
	c2 := &client{t: t, agent: &Agent{Subject: a.Subject, Key: a.Key, Token: tok}, now: clock.Now}
	if code := c2.exchange(w.PS, rt, person).expect(t, 400).str(t, "error"); code != "revoked_presented_token" {
		t.Errorf("person token issued under the revoked agent token: %q, want revoked_presented_token", code)
	}
	c2.fullFlow(w)
}

// A person server without revocation_endpoint (the seed profile has none)
// gives ErrNoRevocationEndpoint, and a token of another provider is
// refused before anything is sent.
func TestPSRevocationClientErrors(t *testing.T) {
	w := NewWorld(WorldOptions{Profile: wire.ProfileSeed})
	t.Cleanup(w.Close)
	a, err := w.NewAgent("alice")
	if err != nil {
		t.Fatal(err)
	}
	err = w.Agent.TokenIssuer().Revoke(ctx, revocationClient(t), w.PS.URL, a.Token)
	if !errors.Is(err, agentprovider.ErrNoRevocationEndpoint) || strings.Count(err.Error(), "aauth: ") != 1 {
		t.Errorf("seed person server: %v, want ErrNoRevocationEndpoint, prefixed once", err)
	}
	other := NewAgentProvider(AgentProviderOptions{})
	t.Cleanup(other.Close)
	before := len(w.PS.Requests())
	if err := other.TokenIssuer().Revoke(ctx, revocationClient(t), w.PS.URL, a.Token); err == nil || !strings.Contains(err.Error(), "not by this agent provider") {
		t.Errorf("another provider's token: %v", err)
	}
	if len(w.PS.Requests()) != before {
		t.Error("a request was sent for a token the provider did not issue")
	}

	// The current profile: a provider the person server does not trust
	// is refused, as a *RevocationError carrying the problem; a
	// revocation_endpoint that is not https (nor loopback http) is not
	// called.
	cw := NewWorld(WorldOptions{})
	t.Cleanup(cw.Close)
	st, err := other.NewAgent("bob")
	if err != nil {
		t.Fatal(err)
	}
	err = other.TokenIssuer().Revoke(ctx, revocationClient(t), cw.PS.URL, st.Token)
	var re *agentprovider.RevocationError
	if !errors.As(err, &re) || re.StatusCode != 401 || re.Problem == nil || re.Problem.Error != "invalid_key" || strings.Count(err.Error(), "aauth: ") != 1 {
		t.Errorf("untrusted provider: %v, want a *RevocationError 401 invalid_key, prefixed once", err)
	}
	cw.PS.EditMetadata(func(doc map[string]any) { doc["revocation_endpoint"] = "http://ps.example/aauth/revoke" })
	ca, err := cw.NewAgent("alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.Agent.TokenIssuer().Revoke(ctx, revocationClient(t), cw.PS.URL, ca.Token); err == nil || !strings.Contains(err.Error(), "revocation_endpoint") {
		t.Errorf("http revocation_endpoint: %v", err)
	}
	cw.PS.EditMetadata(func(doc map[string]any) { delete(doc, "revocation_endpoint") })
	if err := cw.Agent.TokenIssuer().Revoke(ctx, revocationClient(t), cw.PS.URL, ca.Token); !errors.Is(err, agentprovider.ErrNoRevocationEndpoint) {
		t.Errorf("no revocation_endpoint: %v", err)
	}
}

// Hostile revocation requests at the kit's endpoint: each is refused, or
// (another provider naming itself) accepted without revoking this
// provider's token. After each, the agent's token still works.
func TestPSRevocationHostile(t *testing.T) {
	clock := NewFakeClock(time.Now())
	w := NewWorld(WorldOptions{Now: clock.Now})
	t.Cleanup(w.Close)
	t.Cleanup(closeIdle)
	ap := w.Agent.TokenIssuer()
	kid, err := keys.Thumbprint(ap.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	trusted := NewAgentProvider(AgentProviderOptions{Now: clock.Now})
	t.Cleanup(trusted.Close)
	w.PS.TrustAgentProvider(trusted.URL)
	stranger := NewAgentProvider(AgentProviderOptions{Now: clock.Now})
	t.Cleanup(stranger.Close)
	kidOf := func(ap *AgentProvider) string {
		k, err := keys.Thumbprint(ap.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	endpoint := claimStr(metadata(t, w.PS), "revocation_endpoint")
	if endpoint == "" {
		t.Fatal("no revocation_endpoint in the person server's metadata")
	}

	own := func(signer crypto.Signer, id, dwk, kid string) aauth.KeyMaterial {
		return aauth.KeyMaterial{Signer: signer, Key: aauth.JWKSURI(id, dwk, kid)}
	}
	provider := own(ap.Key, ap.Issuer, dwkAgent, kid)
	all := revocationComponents
	noDigest := []string{"@method", "@authority", "@path", "signature-key", "content-type"}
	noType := []string{"@method", "@authority", "@path", "signature-key", "content-digest"}

	type send struct {
		method string
		km     *aauth.KeyMaterial // nil: unsigned
		comps  []string
		ct     string
		body   string // %J is the agent token's jti, %E its exp
	}
	valid := `{"jti":"%J","exp":%E}`
	cases := []struct {
		name    string
		send    func(a *Agent) send
		status  int
		code    string
		revokes bool // the agent token is revoked
	}{
		{"valid", func(*Agent) send { return send{km: &provider, comps: all, body: valid} }, 200, "", true},
		{"unsigned", func(*Agent) send { return send{body: valid} }, 401, "invalid_request", false},
		{"agent jwt scheme", func(a *Agent) send {
			km := aauth.KeyMaterial{Signer: a.Key, Key: aauth.JWT(a.Token)}
			return send{km: &km, comps: all, body: valid}
		}, 401, "unsupported_scheme", false},
		{"other provider's key under this provider's id", func(*Agent) send {
			km := own(trusted.TokenIssuer().Key, ap.Issuer, dwkAgent, kid)
			return send{km: &km, comps: all, body: valid}
		}, 401, "invalid_signature", false},
		{"other provider's kid under this provider's id", func(*Agent) send {
			km := own(trusted.TokenIssuer().Key, ap.Issuer, dwkAgent, kidOf(trusted))
			return send{km: &km, comps: all, body: valid}
		}, 401, "invalid_key", false},
		{"untrusted provider", func(*Agent) send {
			km := own(stranger.TokenIssuer().Key, stranger.URL, dwkAgent, kidOf(stranger))
			return send{km: &km, comps: all, body: valid}
		}, 401, "invalid_key", false},
		{"person server dwk", func(*Agent) send {
			km := own(ap.Key, ap.Issuer, dwkPerson, kid)
			return send{km: &km, comps: all, body: valid}
		}, 401, "invalid_key", false},
		{"digest not covered", func(*Agent) send { return send{km: &provider, comps: noDigest, body: valid} }, 401, "", false},
		{"content-type not covered", func(*Agent) send { return send{km: &provider, comps: noType, body: valid} }, 401, "", false},
		{"GET", func(*Agent) send {
			return send{method: "GET", km: &provider, comps: []string{"@method", "@authority", "@path", "signature-key"}}
		}, 405, "invalid_request", false},
		{"content-type text", func(*Agent) send { return send{km: &provider, comps: all, ct: "text/plain", body: valid} }, 400, "invalid_request", false},
		{"body not JSON", func(*Agent) send { return send{km: &provider, comps: all, body: `jti=%J&exp=%E`} }, 400, "invalid_request", false},
		{"body an array", func(*Agent) send { return send{km: &provider, comps: all, body: `["%J",%E]`} }, 400, "invalid_request", false},
		{"jti not a string", func(*Agent) send { return send{km: &provider, comps: all, body: `{"jti":["%J"],"exp":%E}`} }, 400, "invalid_request", false},
		{"jti empty", func(*Agent) send { return send{km: &provider, comps: all, body: `{"jti":"","exp":%E}`} }, 400, "invalid_request", false},
		{"JTI upper case", func(*Agent) send { return send{km: &provider, comps: all, body: `{"JTI":"%J","exp":%E}`} }, 400, "invalid_request", false},
		{"exp missing", func(*Agent) send { return send{km: &provider, comps: all, body: `{"jti":"%J"}`} }, 400, "invalid_request", false},
		{"exp fractional", func(*Agent) send { return send{km: &provider, comps: all, body: `{"jti":"%J","exp":%E.5}`} }, 400, "invalid_request", false},
		{"exp a string", func(*Agent) send { return send{km: &provider, comps: all, body: `{"jti":"%J","exp":"%E"}`} }, 400, "invalid_request", false},
		{"extra member", func(*Agent) send { return send{km: &provider, comps: all, body: `{"jti":"%J","exp":%E,"sub":"x"}`} }, 400, "invalid_request", false},
		{"other provider revoking this provider's token", func(*Agent) send {
			km := own(trusted.TokenIssuer().Key, trusted.URL, dwkAgent, kidOf(trusted))
			return send{km: &km, comps: all, body: valid}
		}, 200, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := w.NewAgent("alice")
			if err != nil {
				t.Fatal(err)
			}
			p, _ := parseToken(a.Token)
			exp, _ := p.time("exp")
			s := tc.send(a)
			body := strings.NewReplacer("%J", p.str("jti"), "%E", strconv.FormatInt(exp.Unix(), 10)).Replace(s.body)
			method := s.method
			if method == "" {
				method = http.MethodPost
			}
			var req *http.Request
			if method == http.MethodGet {
				req, err = http.NewRequest(method, endpoint, nil)
			} else {
				req, err = http.NewRequest(method, endpoint, strings.NewReader(body))
				ct := s.ct
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.km != nil {
				sg := aauth.Signer{Components: s.comps, ContentDigest: aauth.DigestNever, Now: clock.Now}
				if err := sg.Sign(req, *s.km); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			r := readResponse(t, resp).expect(t, tc.status)
			if tc.status != 200 && tc.code != "" {
				if got := r.str(t, "error"); got != tc.code {
					t.Errorf("error %q, want %q", got, tc.code)
				}
			}
			if tc.status == 200 && len(r.Body) != 0 {
				t.Errorf("200 with a body %q", r.Body)
			}
			c := &client{t: t, agent: a, now: clock.Now}
			ep := claimStr(metadata(t, w.PS), "person_token_endpoint")
			want := 200
			if tc.revokes {
				want = 401
			}
			c.do("POST", ep, "", map[string]any{"resource": w.Resource.URL}, nil).expect(t, want)
		})
	}
}
