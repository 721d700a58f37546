package aauthtest

import (
	"slices"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/wire"
)

// WorldOptions configures a World. The zero value is the current profile,
// the system clock, and a resource running the whole auth-token flow.
type WorldOptions struct {
	// Profile selects the wire generation of all three servers.
	Profile wire.Profile

	// Now is the clock all three servers share; nil means time.Now. Give
	// the agent the same clock (a FakeClock's Now) when you move it.
	Now func() time.Time

	// Logf, when set, receives a line per request from every server.
	// Token values are redacted. t.Logf fits.
	Logf func(format string, args ...any)

	// Agent, PersonServer and Resource are the servers' own options. The
	// World overrides their Profile and Now with its own, sets Logf when
	// they have none, and wires the trust: the agent tokens' ps is the
	// person server, the person server trusts the agent provider and the
	// resource, and the resource trusts the agent provider and the person
	// server.
	Agent        AgentProviderOptions
	PersonServer PersonServerOptions
	Resource     ResourceOptions
}

// World is an agent provider, a person server and a resource, wired to
// trust each other: the agent provider's tokens name the person server
// (ps), the person server trusts the agent provider and the resource, and
// the resource trusts both. Most tests need nothing else:
//
//	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
//	defer w.Close()
//	client := (&aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL}).Client()
//	resp, err := client.Get(w.Resource.URL + "/data")
type World struct {
	// Profile is the wire generation the servers speak.
	Profile wire.Profile

	// Agent is the agent provider; its tokens name PS in their ps claim.
	Agent *AgentProvider
	// PS is the person server, trusting Agent and Resource.
	PS *PersonServer
	// Resource is the protected resource, trusting Agent and PS.
	Resource *Resource

	closeOnce sync.Once
}

// NewWorld starts the three servers. Close it when done.
func NewWorld(opts WorldOptions) *World {
	ao, po, ro := opts.Agent, opts.PersonServer, opts.Resource
	ao.Profile, po.Profile, ro.Profile = opts.Profile, opts.Profile, opts.Profile
	ao.Now, po.Now, ro.Now = opts.Now, opts.Now, opts.Now
	for _, lf := range []*func(string, ...any){&ao.Logf, &po.Logf, &ro.Logf} {
		if *lf == nil {
			*lf = opts.Logf
		}
	}
	ap := NewAgentProvider(ao)
	po.TrustedAgents = append(slices.Clone(po.TrustedAgents), ap.URL)
	ps := NewPersonServer(po)
	ap.SetPersonServer(ps.URL)
	ro.PersonServer = ps.URL
	ro.TrustedAgents = append(slices.Clone(ro.TrustedAgents), ap.URL)
	rs := NewResource(ro)
	ps.TrustResource(rs.URL)
	return &World{Profile: opts.Profile, Agent: ap, PS: ps, Resource: rs}
}

// AgentKeys returns a renewing KeySource for the agent subject (a short
// name such as "alice" or a full aauth:… identifier): an ephemeral Ed25519
// key and an agent token from w.Agent naming w.PS.
func (w *World) AgentKeys(subject string) aauth.KeySource { return w.Agent.AgentKeys(subject) }

// NewAgent returns fixed key material for the agent subject: see
// AgentProvider.NewAgent.
func (w *World) NewAgent(subject string) (*Agent, error) { return w.Agent.NewAgent(subject) }

// Reset forgets what the person server and the resource recorded and were
// scripted to do.
func (w *World) Reset() {
	w.PS.Reset()
	w.Resource.Reset()
}

// Close shuts the three servers down. It is safe to call more than once.
func (w *World) Close() {
	w.closeOnce.Do(func() {
		w.Resource.Close()
		w.PS.Close()
		w.Agent.Close()
	})
}
