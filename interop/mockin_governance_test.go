package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// TestMockinGovernance runs the governance calls against
// @hellocoop/mockin: permission granted and denied, audit, the question
// relay, interaction and payment relays, and a Transport relaying a
// resource's interaction through mockin. mockin has no mission endpoint:
// missions are proven against the kit (see TestSurface1MissionApproval).
func TestMockinGovernance(t *testing.T) {
	m := startMockin(t)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: m.URL})
	t.Cleanup(ap.Close)
	agent := agentEntity(t, ap)
	ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
	defer cancel()

	setup := func(t *testing.T, cfg map[string]any) (*http.Client, *wireLog) {
		t.Helper()
		m.reset(ctx, t)
		if cfg == nil {
			cfg = map[string]any{}
		}
		cfg["trusted_servers"] = map[string]any{ap.URL: agent}
		m.configure(ctx, t, cfg)
		wl := &wireLog{names: [][2]string{{m.URL, "ps"}}}
		return (&aauth.SigningTransport{Base: wl.wrap(m.http.Transport), Keys: ap.AgentKeys("alice")}).Client(), wl
	}
	ps := func() (string, *psclient.MetadataCache) { return m.URL, &psclient.MetadataCache{} }
	s256 := psclient.MissionDigest([]byte(`{"agent":"aauth:alice@127.0.0.1","approved_at":"2026-09-01T00:00:00Z","description":"interop"}`))

	t.Run("permission granted", func(t *testing.T) {
		c, wl := setup(t, nil)
		url, cache := ps()
		err := psclient.RequestPermission(ctx, c, psclient.PermissionRequest{
			PersonServer: url, Cache: cache, Action: "SendEmail", Description: "Send the itinerary",
			Parameters: map[string]string{"to": "user@example.com"}, MissionS256: s256,
		})
		if err != nil {
			t.Fatalf("%v\nwire:\n%s", err, strings.Join(wl.lines(), "\n"))
		}
		want := `{"action":"SendEmail","description":"Send the itinerary","parameters":{"to":"user@example.com"},"mission_s256":"` + s256 + `"}`
		if got := string(wl.body("POST ps/aauth/permission")); got != want {
			t.Errorf("body\n got %s\nwant %s", got, want)
		}
	})

	t.Run("permission denied", func(t *testing.T) {
		c, _ := setup(t, map[string]any{"permission": "denied", "permission_reason": "Not today."})
		url, cache := ps()
		err := psclient.RequestPermission(ctx, c, psclient.PermissionRequest{PersonServer: url, Cache: cache, Action: "SendEmail"})
		var pd *psclient.PermissionDeniedError
		if !errors.As(err, &pd) || pd.Reason != "Not today." || !errors.Is(err, aauth.ErrDenied) {
			t.Fatalf("error %v", err)
		}
	})

	t.Run("audit", func(t *testing.T) {
		c, wl := setup(t, nil)
		url, cache := ps()
		rec := psclient.AuditRecord{PersonServer: url, Cache: cache, MissionS256: s256, Action: "WebSearch",
			Description: "Searched flights", Result: map[string]any{"found": 12}}
		// mockin 2.0.0 wants the -10 mission object and refuses the -11
		// body without it: the deviation is pinned here.
		err := psclient.Audit(ctx, c, rec)
		var re *psclient.RequestError
		if !errors.As(err, &re) || re.StatusCode != 400 || re.Problem == nil || re.Problem.Detail != "missing mission" {
			t.Fatalf("-11 body: %v", err)
		}
		rec.Extra = map[string]any{"mission": map[string]any{"approver": m.URL, "s256": s256}}
		if err := psclient.Audit(ctx, c, rec); err != nil {
			t.Fatalf("with the mission object: %v", err)
		}
		lines := wl.lines()
		if len(lines) < 2 || lines[len(lines)-1] != "POST ps/aauth/audit [agent] → 201" {
			t.Errorf("wire:\n%s", strings.Join(lines, "\n"))
		}
	})

	t.Run("question", func(t *testing.T) {
		c, _ := setup(t, nil)
		url, cache := ps()
		answer, err := psclient.Ask(ctx, c, psclient.QuestionRelay{PersonServer: url, Cache: cache, Question: "Book the refundable fare?", MissionS256: s256})
		if err != nil || answer != "Mock answer: yes, proceed." {
			t.Fatalf("%q, %v", answer, err)
		}
	})

	for _, typ := range []psclient.RelayType{psclient.RelayTypeInteraction, psclient.RelayTypePayment} {
		t.Run(string(typ)+" relay", func(t *testing.T) {
			c, wl := setup(t, nil)
			url, cache := ps()
			loc, err := psclient.RelayInteraction(ctx, c, psclient.InteractionRelay{PersonServer: url, Cache: cache, Type: typ,
				URL: "https://merchant.example/confirm", Code: "X7K2M9P4"})
			if err != nil || !strings.HasPrefix(loc, m.URL+"/aauth/pending/") {
				t.Fatalf("relay: %q, %v", loc, err)
			}
			resp, err := psclient.PollDeferred(ctx, c, loc, psclient.PollOptions{})
			if err != nil {
				t.Fatalf("polling the relay: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), `"completed"`) {
				t.Errorf("relay result %s", b)
			}
			want := []string{
				"GET ps/.well-known/aauth-person.json [agent] → 200",
				"POST ps/aauth/interaction [agent] → 202 requirement=approval",
				"GET ps/aauth/pending/… [agent] → 200",
			}
			if got := wl.lines(); !slices.Equal(got, want) {
				t.Errorf("wire:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}

	t.Run("no mission endpoint", func(t *testing.T) {
		c, _ := setup(t, nil)
		url, cache := ps()
		_, err := psclient.ProposeMission(ctx, c, psclient.MissionProposal{PersonServer: url, Cache: cache, Description: "d"})
		var me *psclient.MetadataError
		if !errors.As(err, &me) || me.Code != psclient.MetadataEndpointMissing || me.Field != "mission_endpoint" {
			t.Fatalf("error %v", err)
		}
	})

	t.Run("transport relays a resource's interaction", func(t *testing.T) {
		setup(t, nil)
		rs := aauthtest.NewResource(aauthtest.ResourceOptions{PersonServer: m.URL, TrustedAgents: []string{ap.URL}, PersonTokenJTI: true})
		t.Cleanup(rs.Close)
		rs.TrustKey(ap.URL, "", ap.PublicKey())
		rs.Queue(aauthtest.Defer(aauthtest.Interaction()))
		wl := &wireLog{names: [][2]string{{m.URL, "ps"}, {rs.URL, "rs"}}}
		// The person, reached by mockin's channel: when the relay reaches
		// mockin, they complete the interaction at the resource.
		var mu sync.Mutex
		var relayed []string
		person := roundTripper(func(req *http.Request) (*http.Response, error) {
			var code string
			if req.Method == http.MethodPost && req.URL.Path == "/aauth/interaction" && strings.HasPrefix(req.URL.String(), m.URL) {
				b, _ := io.ReadAll(req.Body)
				req.Body = io.NopCloser(bytes.NewReader(b))
				var relay struct{ Type, URL, Code string }
				json.Unmarshal(b, &relay)
				code = relay.Code
				mu.Lock()
				relayed = append(relayed, relay.Type+" "+relay.URL)
				mu.Unlock()
			}
			resp, err := wl.wrap(m.http.Transport).RoundTrip(req)
			if err == nil && code != "" && resp.StatusCode == http.StatusAccepted {
				if err := rs.CompleteInteraction(code); err != nil {
					t.Errorf("completing the interaction: %v", err)
				}
			}
			return resp, err
		})
		tr := &aauth.Transport{
			Base:         person,
			Keys:         ap.AgentKeys("alice"),
			PersonServer: m.URL,
			Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
			OnInteraction: func(context.Context, string, string) error {
				t.Error("OnInteraction was called: the interaction was not relayed")
				return nil
			},
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rs.URL+"/data", nil)
		resp, err := tr.Client().Do(req)
		if err != nil {
			t.Fatalf("GET /data: %v\nwire:\n%s", err, strings.Join(wl.lines(), "\n"))
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /data: %s: %s", resp.Status, b)
		}
		ix := rs.Interactions()
		mu.Lock()
		defer mu.Unlock()
		if len(ix) != 1 || !ix[0].Completed || len(relayed) != 1 || relayed[0] != "interaction "+ix[0].URL {
			t.Errorf("interactions %+v, relayed %v", ix, relayed)
		}
		// The relay went to mockin, and the resource's pending URL, not
		// mockin's answer, said when the interaction was done.
		lines := wl.lines()
		sawRelay, resourcePolls := false, 0
		for _, l := range lines {
			sawRelay = sawRelay || l == "POST ps/aauth/interaction [agent] → 202 requirement=approval"
			if strings.HasPrefix(l, "GET rs/aauth/scripted/") {
				resourcePolls++
			}
		}
		if !sawRelay || resourcePolls == 0 || !strings.HasSuffix(lines[len(lines)-1], "→ 200") {
			t.Errorf("wire:\n%s", strings.Join(lines, "\n"))
		}
	})
}
