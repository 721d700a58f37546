package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
)

// keygen → agent-token → fetch: a provider of our own, whose tokens a
// resource accepts after fetching the provider's keys.
func TestAgentToken(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			dir := t.TempDir()
			providerKey, agentKey := filepath.Join(dir, "provider.jwk"), filepath.Join(dir, "agent.jwk")
			for _, f := range []string{providerKey, agentKey} {
				if r := runCmd(t, "", "keygen", "-o", f); r.code != 0 {
					t.Fatalf("keygen:\n%s", r)
				}
			}
			// The provider serves its metadata and JWKS at its URL,
			// which is known once the server runs.
			var handler http.Handler
			provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
			defer provider.Close()
			signer, err := keys.ReadFile(providerKey, p)
			if err != nil {
				t.Fatal(err)
			}
			handler = (&agentprovider.Issuer{Issuer: provider.URL, Key: signer, Profile: p}).Handler()

			clk := aauthtest.NewFakeClock(epoch)
			r := runEnv(t, &env{clock: clk}, "", "agent-token", "--provider-key", providerKey, "--iss", provider.URL,
				"--sub", "aauth:bot@127.0.0.1", "--key", agentKey, "--ps", "https://ps.example", "--ttl", "10m", "--profile", p.String())
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("agent-token:\n%s", r)
			}
			tok := strings.TrimSuffix(r.stdout, "\n")
			if strings.Contains(tok, "\n") || !isJWT(tok) {
				t.Fatalf("stdout is not one JWT:\n%s", r)
			}
			h, _ := jwtPart(tok, 0)
			c, _ := jwtPart(tok, 1)
			agent, _ := keys.ReadFile(agentKey, p)
			tp, _ := keys.Thumbprint(agent.Public())
			ptp, _ := keys.Thumbprint(signer.Public())
			if h["typ"] != "aa-agent+jwt" || h["kid"] != ptp {
				t.Errorf("header %v", h)
			}
			if c["iss"] != provider.URL || c["sub"] != "aauth:bot@127.0.0.1" || c["ps"] != "https://ps.example" ||
				c["iat"] != float64(epoch.Unix()) || c["exp"] != float64(epoch.Add(10*time.Minute).Unix()) || cnfThumbprint(tok) != tp {
				t.Errorf("claims %v", c)
			}

			// A public JWK will do for --key.
			pubFile := filepath.Join(dir, "agent.pub.jwk")
			pub, _ := keys.MarshalPublicJWK(agent.Public())
			os.WriteFile(pubFile, pub, 0o644)
			r2 := runEnv(t, &env{clock: clk}, "", "agent-token", "--provider-key", providerKey, "--iss", provider.URL,
				"--sub", "aauth:bot@127.0.0.1", "--key", pubFile, "--profile", p.String())
			if r2.code != 0 || cnfThumbprint(strings.TrimSpace(r2.stdout)) != tp {
				t.Fatalf("agent-token with a public key:\n%s", r2)
			}

			// A resource that trusts the provider accepts the token.
			rs := aauthtest.NewResource(aauthtest.ResourceOptions{Profile: p, Now: clk.Now, Mode: aauthtest.AccessAgentToken, TrustedAgents: []string{provider.URL}})
			defer rs.Close()
			recordIssuers(rs)
			r = runEnv(t, &env{clock: clk}, "", "fetch", "--profile", p.String(), "--key", agentKey, "--agent-token", tok, rs.URL+"/data")
			if r.code != 0 || !strings.Contains(r.stdout, `"agent":"aauth:bot@127.0.0.1"`) {
				t.Fatalf("fetch with the minted token:\n%s", r)
			}
		})
	}
}
