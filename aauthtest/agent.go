package aauthtest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/internal/agentid"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// AgentProviderOptions configures an AgentProvider.
type AgentProviderOptions struct {
	// Profile selects the wire generation: current tokens are signed
	// with alg Ed25519 and carry alg in cnf.jwk; seed tokens use EdDSA.
	Profile wire.Profile

	// Now is the provider's clock; nil means time.Now.
	Now func() time.Time

	// PersonServer is the ps claim of the agent tokens it issues (the
	// agent's person server); "" leaves it out.
	PersonServer string

	// Lifetime is the lifetime of agent tokens; zero means one hour.
	Lifetime time.Duration

	// Logf, when set, receives a line per request.
	Logf func(format string, args ...any)
}

// AgentProvider is an in-process agent provider on an httptest server: it
// publishes /.well-known/aauth-agent.json and its JWKS, and mints agent
// tokens that bind an agent's key (cnf.jwk) to an agent identifier (sub).
// It is an [agentprovider.Issuer] with a generated Ed25519 key, served.
type AgentProvider struct {
	// URL is the provider's base URL, the iss of its agent tokens.
	URL string

	base
	srv    *httptest.Server
	issuer *agentprovider.Issuer
	h      http.Handler

	mu sync.Mutex
	ps string
}

// NewAgentProvider starts an agent provider. Close it when done.
func NewAgentProvider(opts AgentProviderOptions) *AgentProvider {
	key, err := keys.Generate()
	if err != nil {
		panic(err) // only crypto/rand failing gets here
	}
	ap := &AgentProvider{
		base: base{name: "agent provider", profile: opts.Profile, clock: opts.Now, logf: opts.Logf},
		ps:   opts.PersonServer,
	}
	ap.srv, ap.URL = startServer(http.HandlerFunc(ap.route))
	ap.base.url = ap.URL
	ap.issuer = &agentprovider.Issuer{
		Issuer:   ap.URL,
		Key:      key,
		Lifetime: opts.Lifetime,
		Profile:  opts.Profile,
		Now:      opts.Now,
		Display:  agentprovider.Display{Name: "aauthtest agent provider"},
	}
	ap.h = ap.issuer.Handler()
	ap.srv.Start()
	return ap
}

func (ap *AgentProvider) route(w http.ResponseWriter, r *http.Request) {
	e := EndpointUnknown
	switch {
	case strings.HasSuffix(r.URL.Path, "/aauth-agent.json"):
		e = EndpointMetadata
	case strings.HasPrefix(r.URL.Path, "/.well-known/"):
		e = EndpointJWKS
	}
	ap.serve(w, r, e, func(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
		ap.h.ServeHTTP(w, r)
	})
}

// Close shuts the provider down.
func (ap *AgentProvider) Close() { ap.srv.Close() }

// Issuer returns the provider's issuer identifier, URL.
func (ap *AgentProvider) Issuer() string { return ap.URL }

// TokenIssuer returns the provider's agent-token issuer, for tests that
// want to mint tokens their own way. Do not change its fields.
func (ap *AgentProvider) TokenIssuer() *agentprovider.Issuer { return ap.issuer }

// PublicKey returns the key the provider signs agent tokens with.
func (ap *AgentProvider) PublicKey() crypto.PublicKey { return ap.issuer.Key.Public() }

// SetPersonServer changes the ps claim of the tokens minted from now on.
func (ap *AgentProvider) SetPersonServer(ps string) {
	ap.mu.Lock()
	ap.ps = ps
	ap.mu.Unlock()
}

// PersonServer returns the ps claim the provider puts in agent tokens.
func (ap *AgentProvider) PersonServer() string {
	ap.mu.Lock()
	defer ap.mu.Unlock()
	return ap.ps
}

// Subject turns a short agent name into an agent identifier under the
// provider, aauth:name@host. A name that already starts with "aauth:" is
// returned as it is.
func (ap *AgentProvider) Subject(name string) string {
	if strings.HasPrefix(name, "aauth:") {
		return name
	}
	host := "localhost"
	if u, err := url.Parse(ap.URL); err == nil {
		host = u.Hostname()
	}
	return "aauth:" + name + "@" + host
}

// Mint issues an agent token for the agent subject (a name or a full
// identifier, see Subject) whose signing key is pub, an ed25519.PublicKey
// or a P-256 *ecdsa.PublicKey.
func (ap *AgentProvider) Mint(subject string, pub crypto.PublicKey) (string, error) {
	tok, _, err := ap.issuer.Issue(context.Background(), agentprovider.TokenRequest{
		Subject:      ap.Subject(subject),
		Key:          pub,
		PersonServer: ap.PersonServer(),
	})
	if err != nil {
		return "", fmt.Errorf("aauthtest: minting agent token: %w", err)
	}
	return tok, nil
}

// Agent is an agent's key material: an Ed25519 key and an agent token for
// it. It is an aauth.KeySource that always returns the same key and
// token; use AgentProvider.AgentKeys for one that renews itself.
type Agent struct {
	// Subject is the agent identifier, the token's sub.
	Subject string
	// Key is the agent's signing key.
	Key ed25519.PrivateKey
	// Token is the agent token, and Expiry its exp.
	Token  string
	Expiry time.Time
}

// KeyMaterial returns the key and the agent token (Signature-Key jwt).
func (a *Agent) KeyMaterial(ctx context.Context) (aauth.KeyMaterial, error) {
	if a == nil || a.Key == nil {
		return aauth.KeyMaterial{}, errors.New("aauthtest: Agent has no key")
	}
	return aauth.KeyMaterial{Signer: a.Key, Key: aauth.JWT(a.Token)}, nil
}

// NewAgent generates an Ed25519 key and mints an agent token for it.
func (ap *AgentProvider) NewAgent(subject string) (*Agent, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("aauthtest: generating key: %w", err)
	}
	tok, exp, err := ap.issuer.Issue(context.Background(), agentprovider.TokenRequest{
		Subject:      ap.Subject(subject),
		Key:          key.Public(),
		PersonServer: ap.PersonServer(),
	})
	if err != nil {
		return nil, fmt.Errorf("aauthtest: minting agent token: %w", err)
	}
	return &Agent{Subject: ap.Subject(subject), Key: key, Token: tok, Expiry: exp}, nil
}

// AgentKeys returns a KeySource for the agent subject: an ephemeral Ed25519
// key with an agent token from this provider, both replaced before the
// token expires (an [agentprovider.Keys]). Its ps claim is the provider's
// person server at the time of the call.
func (ap *AgentProvider) AgentKeys(subject string) aauth.KeySource {
	return &agentprovider.Keys{
		Issuer:       ap.issuer,
		Subject:      ap.Subject(subject),
		PersonServer: ap.PersonServer(),
	}
}

// Requests returns the requests the provider received.
func (ap *AgentProvider) Requests() []RecordedRequest { return ap.rec.all() }

// MintSubagent issues a sub-agent token (AAuth -11 "Sub-Agents") for the
// sub-agent name of parent (a name or a full identifier, see Subject),
// whose signing key is pub: sub is parent's local part, "+" and name;
// parent_agent is parent.
func (ap *AgentProvider) MintSubagent(parent, name string, pub crypto.PublicKey) (string, error) {
	tok, _, err := ap.mintSubagent(parent, name, pub)
	return tok, err
}

func (ap *AgentProvider) mintSubagent(parent, name string, pub crypto.PublicKey) (string, time.Time, error) {
	parent = ap.Subject(parent)
	sub, err := subagentID(parent, name)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, exp, err := ap.issuer.Issue(context.Background(), agentprovider.TokenRequest{
		Subject:      sub,
		Key:          pub,
		PersonServer: ap.PersonServer(),
		ParentAgent:  parent,
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("aauthtest: minting sub-agent token: %w", err)
	}
	return tok, exp, nil
}

// NewSubagent generates an Ed25519 key for the sub-agent name of parent
// and mints a sub-agent token for it (see MintSubagent).
func (ap *AgentProvider) NewSubagent(parent, name string) (*Agent, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("aauthtest: generating key: %w", err)
	}
	tok, exp, err := ap.mintSubagent(parent, name, key.Public())
	if err != nil {
		return nil, err
	}
	sub, _ := subagentID(ap.Subject(parent), name)
	return &Agent{Subject: sub, Key: key, Token: tok, Expiry: exp}, nil
}

// SubagentKeys returns a renewing key source for the sub-agent name of
// parent: an [agentprovider.Keys] made by Keys.Subagent on the parent's.
// Give it to an aauth.Transport whose Parent is the parent's Transport.
func (ap *AgentProvider) SubagentKeys(parent, name string) (*agentprovider.Keys, error) {
	k := &agentprovider.Keys{Issuer: ap.issuer, Subject: ap.Subject(parent), PersonServer: ap.PersonServer()}
	return k.Subagent(name)
}

// subagentID is the identifier of parent's sub-agent name.
func subagentID(parent, name string) (string, error) {
	sub, err := agentid.Join(parent, name)
	if err != nil {
		return "", fmt.Errorf("aauthtest: sub-agent %q of %q: %w", name, parent, err)
	}
	return sub, nil
}
