package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/resource"
)

// goResource is package resource's Resource on a loopback server, as a
// deployment would run it (no test hooks), wanting an auth token with
// scope read from mockin, and counting what was fetched of its discovery
// documents.
type goResource struct {
	URL     string
	fetched atomic.Int32 // GETs of its metadata and JWK Set
}

func startGoResource(t *testing.T, personServer, agentProvider string) *goResource {
	t.Helper()
	g := &goResource{}
	srv := httptest.NewUnstartedServer(nil)
	g.URL = "http://" + srv.Listener.Addr().String()
	rs := &resource.Resource{
		Issuer:         g.URL,
		Mode:           resource.AuthToken,
		Scope:          "read",
		PersonServers:  resource.TrustIssuers(personServer),
		AgentProviders: resource.TrustIssuers(agentProvider),
		// Tolerance: mockin 2.0.0 reads the person token a resource
		// token names from person_token_jti, an early -11 name, and not
		// from presented_jti.
		PersonTokenJTI: true,
	}
	protected := rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.FromContext(r.Context())
		b, _ := json.Marshal(map[string]any{"ok": true, "kind": c.Kind, "ps": c.PersonServer, "sub": c.Subject, "scope": c.Scope, "iss": c.Issuer})
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/") {
			g.fetched.Add(1)
		}
		protected.ServeHTTP(w, r)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return g
}

// servedAnswer is what the Go resource's handler answers.
type servedAnswer struct {
	OK                        bool
	Kind, PS, Sub, Scope, Iss string
}

func checkServed(t *testing.T, body []byte, m *mockin) {
	t.Helper()
	var a servedAnswer
	if err := json.Unmarshal(body, &a); err != nil || !a.OK || a.Kind != "auth" || a.PS != m.URL || a.Iss != m.URL || a.Sub == "" || a.Scope != "read" {
		t.Errorf("the resource served %s (%v)", body, err)
	}
}

// wantMockinFlow is the whole current flow, as it goes over the wire.
var wantMockinFlow = []string{
	"GET rs/data [agent] → 401 requirement=person-token",
	"POST ps/aauth/token/person [agent] → 200",
	"GET rs/data [person] → 401 requirement=auth-token",
	"POST ps/aauth/token/auth [agent] → 200",
	"GET rs/data [auth] → 200",
}

// TestMockinGoResource is issue 12's full flow with @hellocoop/mockin
// 2.0.0 as the person server and package resource as the resource, once
// with the Go Transport as the agent and once with a Node agent on
// @hellocoop/httpsig 2.2.0's fetch (agent.mjs). Nothing is preloaded into
// mockin: it fetches the agent provider's and the resource's metadata and
// keys over loopback, as the resource fetches mockin's.
func TestMockinGoResource(t *testing.T) {
	m := startMockin(t)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: m.URL})
	t.Cleanup(ap.Close)
	rs := startGoResource(t, m.URL, ap.URL)
	names := [][2]string{{m.URL, "ps"}, {rs.URL, "rs"}}

	t.Run("go-transport", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
		defer cancel()
		m.reset(ctx, t)
		before := rs.fetched.Load()
		wl := &wireLog{names: names}
		tr := &aauth.Transport{Base: wl.wrap(m.http.Transport), Keys: ap.AgentKeys("alice"), PersonServer: m.URL}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rs.URL+"/data", nil)
		resp, err := tr.Client().Do(req)
		if err != nil {
			t.Fatalf("GET /data: %v\nwire:\n%s", err, strings.Join(wl.lines(), "\n"))
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /data: %s: %s\nwire:\n%s", resp.Status, body, strings.Join(wl.lines(), "\n"))
		}
		checkServed(t, body, m)
		// The Transport also reads mockin's metadata (signed).
		want := slices.Insert(slices.Clone(wantMockinFlow), 1, "GET ps/.well-known/aauth-person.json [agent] → 200")
		if got := wl.lines(); !slices.Equal(got, want) {
			t.Errorf("wire:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if rs.fetched.Load() == before {
			t.Error("mockin did not fetch the resource's metadata and keys")
		}
	})

	t.Run("node-httpsig", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
		defer cancel()
		m.reset(ctx, t)
		before := rs.fetched.Load()
		key, err := keys.Generate()
		if err != nil {
			t.Fatal(err)
		}
		jwk, err := keys.MarshalPrivateJWK(key)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := ap.Mint("node", key.Public())
		if err != nil {
			t.Fatal(err)
		}
		in, _ := json.Marshal(map[string]any{"resource": rs.URL + "/data", "person_server": m.URL, "key": json.RawMessage(jwk), "agent_token": tok})
		cmd := exec.CommandContext(ctx, nodePath, "agent.mjs")
		cmd.Stdin = bytes.NewReader(in)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.WaitDelay = 2e9
		if err := cmd.Run(); err != nil {
			t.Fatalf("node agent.mjs: %v\n%s", err, truncate(stderr.String(), 2000))
		}
		var out struct {
			OK     bool
			Error  string
			Status int
			Body   string
			Wire   []string
		}
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("agent.mjs printed %q: %v", truncate(stdout.String(), 2000), err)
		}
		for i, l := range out.Wire {
			for _, n := range names {
				l = strings.ReplaceAll(l, n[0], n[1])
			}
			out.Wire[i] = l
		}
		if !out.OK || out.Status != http.StatusOK {
			t.Fatalf("the Node agent ended with %d %s %s\nwire:\n%s", out.Status, out.Error, out.Body, strings.Join(out.Wire, "\n"))
		}
		checkServed(t, []byte(out.Body), m)
		want := slices.Insert(slices.Clone(wantMockinFlow), 1, "GET ps/.well-known/aauth-person.json → 200")
		if !slices.Equal(out.Wire, want) {
			t.Errorf("wire:\n%s\nwant:\n%s", strings.Join(out.Wire, "\n"), strings.Join(want, "\n"))
		}
		if rs.fetched.Load() == before {
			t.Error("mockin did not fetch the resource's metadata and keys")
		}
	})
}
