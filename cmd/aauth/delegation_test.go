package main

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
)

// keyAndToken writes a key file (made by keygen) and a token file minted
// for it by mint, and returns their names.
func keyAndToken(t *testing.T, name string, profile aauth.Profile, mint func(pub ed25519.PublicKey) (string, error)) (keyFile, tokenFile string) {
	t.Helper()
	dir := t.TempDir()
	keyFile, tokenFile = filepath.Join(dir, name+".jwk"), filepath.Join(dir, name+".jwt")
	if r := runCmd(t, "", "keygen", "-o", keyFile); r.code != 0 {
		t.Fatalf("keygen: %v", r)
	}
	k, err := keys.ReadFile(keyFile, profile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := mint(k.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, tokenFile
}

// agent-token --parent mints a sub-agent token, and refuses names that
// break the draft's rules with a usage error.
func TestAgentTokenParent(t *testing.T) {
	dir := t.TempDir()
	providerKey, agentKey := filepath.Join(dir, "provider.jwk"), filepath.Join(dir, "agent.jwk")
	for _, f := range []string{providerKey, agentKey} {
		if r := runCmd(t, "", "keygen", "-o", f); r.code != 0 {
			t.Fatal(r)
		}
	}
	base := []string{"agent-token", "--provider-key", providerKey, "--iss", "https://agent.example", "--key", agentKey}
	r := runCmd(t, "", append(base, "--sub", "aauth:planner+w1@agent.example", "--parent", "aauth:planner@agent.example")...)
	if r.code != 0 {
		t.Fatal(r)
	}
	c, _ := jwtPart(strings.TrimSpace(r.stdout), 1)
	if c["parent_agent"] != "aauth:planner@agent.example" || c["sub"] != "aauth:planner+w1@agent.example" {
		t.Errorf("claims %v", c)
	}
	for _, bad := range [][]string{
		{"--sub", "aauth:other+w1@agent.example", "--parent", "aauth:planner@agent.example"},
		{"--sub", "aauth:planner+w1+x@agent.example", "--parent", "aauth:planner+w1@agent.example"},
		{"--sub", "aauth:planner+w1@agent.example"},
		{"--sub", "aauth:planner@agent.example", "--parent", "aauth:planner@agent.example"},
	} {
		r := runCmd(t, "", append(base, bad...)...)
		if r.code != 2 || !strings.Contains(wantOneErrorLine(t, r), "agent identifier") {
			t.Errorf("%q:\n%s", bad, r)
		}
	}
}

// fetch as a sub-agent: the parent runs in the same process and obtains
// the sub-agent's tokens; --explain says who does what.
func TestFetchAsSubagent(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	parentKey, parentToken := keyAndToken(t, "planner", w.Profile, func(pub ed25519.PublicKey) (string, error) { return w.Agent.Mint("planner", pub) })
	subKey, subToken := keyAndToken(t, "w1", w.Profile, func(pub ed25519.PublicKey) (string, error) {
		return w.Agent.MintSubagent("planner", "w1", pub)
	})
	r := runEnv(t, &env{clock: clk}, "", "fetch", "--key", subKey, "--agent-token", "@"+subToken,
		"--parent-key", parentKey, "--parent-agent-token", "@"+parentToken, "--explain", w.Resource.URL+"/data")
	if r.code != 0 {
		t.Fatalf("fetch:\n%s", r)
	}
	if got := echoed(t, r)["presented"]; got != "auth" {
		t.Errorf("the resource saw %v", got)
	}
	for _, want := range []string{"asking the parent agent for a person token", "the parent is requesting a person token", "for the sub-agent aauth:planner+w1@127.0.0.1", "asking the parent agent to exchange"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--explain does not say %q:\n%s", want, r.stderr)
		}
	}
	subKM, _ := keys.ReadFile(subKey, w.Profile)
	jkt, _ := keys.Thumbprint(subKM.Public())
	for _, tr := range w.PS.TokenRequests() {
		if tr.Subagent != "aauth:planner+w1@127.0.0.1" || tr.SubagentThumbprint != jkt || tr.Agent != "aauth:planner@127.0.0.1" {
			t.Errorf("token request by %q for %q", tr.Agent, tr.Subagent)
		}
	}

	// Refusals are usage errors.
	_, topToken := keyAndToken(t, "top", w.Profile, func(pub ed25519.PublicKey) (string, error) { return w.Agent.Mint("top", pub) })
	for name, args := range map[string][]string{
		"parent key alone":     {"--key", subKey, "--agent-token", "@" + subToken, "--parent-key", parentKey},
		"not a sub-agent":      {"--key", parentKey, "--agent-token", "@" + parentToken, "--parent-key", parentKey, "--parent-agent-token", "@" + parentToken},
		"the wrong parent":     {"--key", subKey, "--agent-token", "@" + subToken, "--parent-key", parentKey, "--parent-agent-token", "@" + topToken},
		"a sub-agent chaining": {"--key", subKey, "--agent-token", "@" + subToken, "--parent-key", parentKey, "--parent-agent-token", "@" + parentToken, "--upstream-token", "@" + parentToken},
	} {
		r := runEnv(t, &env{clock: clk}, "", append(append([]string{"fetch"}, args...), w.Resource.URL+"/data")...)
		if r.code != 2 {
			t.Errorf("%s:\n%s", name, r)
		}
	}
}

// fetch --upstream-token acts as an intermediary for the caller who
// presented the token: the intermediary's own agent token (self-issued
// under its resource identifier) signs, the person server is the
// upstream token's.
func TestFetchWithUpstreamToken(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	// The intermediary A: a resource of the kit, its own agent provider.
	a := aauthtest.NewResource(aauthtest.ResourceOptions{Now: clk.Now, PersonServer: w.PS.URL})
	t.Cleanup(a.Close)
	recordIssuers(a)
	w.PS.TrustResource(a.URL)
	w.PS.TrustAgentProvider(a.URL)
	w.Resource.TrustAgentProvider(a.URL)
	providerKey, _ := keys.Generate()
	kid, _ := keys.Thumbprint(providerKey.Public())
	w.PS.TrustKey(a.URL, kid, providerKey.Public())
	w.Resource.TrustKey(a.URL, kid, providerKey.Public())
	issuer := &agentprovider.Issuer{Issuer: a.URL, Key: providerKey, KeyID: kid, Now: clk.Now}
	interKey, interToken := keyAndToken(t, "inter", w.Profile, func(pub ed25519.PublicKey) (string, error) {
		tok, _, err := issuer.Issue(context.Background(), agentprovider.TokenRequest{Subject: "aauth:inter@127.0.0.1", Key: pub})
		return tok, err
	})
	// The caller's auth token at A.
	caller := &aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL, Clock: clk}
	resp, err := caller.Client().Get(a.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var up string
	for _, rr := range a.Requests() {
		if rr.Status == 200 && rr.Presented == aauthtest.TokenAuth {
			up = rr.Token
		}
	}
	upFile := filepath.Join(t.TempDir(), "up.jwt")
	os.WriteFile(upFile, []byte(up), 0o600)

	r := runEnv(t, &env{clock: clk}, "", "fetch", "--key", interKey, "--agent-token", "@"+interToken,
		"--upstream-token", "@"+upFile, "--explain", w.Resource.URL+"/data")
	if r.code != 0 {
		t.Fatalf("fetch:\n%s", r)
	}
	if !strings.Contains(r.stderr, "on behalf of the caller") || !strings.Contains(r.stderr, "acting for the caller of the upstream auth token: its person server is "+w.PS.URL) {
		t.Errorf("--explain:\n%s", r.stderr)
	}
	n := 0
	for _, tr := range w.PS.TokenRequests() {
		if tr.Upstream != nil && tr.Resource == w.Resource.URL && tr.Agent == "aauth:inter@127.0.0.1" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d chained token requests, want 2", n)
	}
}
