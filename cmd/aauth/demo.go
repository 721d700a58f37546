package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

const demoHelp = `Usage: aauth demo [--profile current|seed]

Start an agent provider, a person server and a protected resource in this
process, on loopback, and fetch the resource as an AAuth agent with the
--explain trace: the agent token is refused, the person server is asked
for the tokens the resource wants (a person token, then an auth token; in
the seed profile only an auth token), the person is asked to approve once
(the demo approves for you, as your browser would), and the resource
answers. Then (current profile) the agent proposes a mission naming the
resource; the person approves it with a person token for the resource,
and the agent works under it: it presents that token at once, asks
permission for a tool, records what it did, and proposes completion,
which the person accepts. Then the agent asks a summarizer, a second
resource that answers by fetching the first for the same person (call
chaining): the summarizer is its own agent provider, and its tokens come
from the person server with the agent's auth token as upstream_token.
Last, the agent starts a worker, a sub-agent
with a key of its own, whose tokens come through the agent without
asking the person again. The answer goes to stdout, the trace to stderr.
It needs no network and no configuration, and stops the servers when
done.

  --profile NAME   wire generation: current (default) or seed
`

// wireOf says what each profile speaks, for the demo's first line.
var wireOf = map[aauth.Profile]string{
	aauth.ProfileCurrent: "AAuth draft -11 over HTTP Signature Keys -08/-09",
	aauth.ProfileSeed:    "what @aauth/mcp-agent 0.8.1 speaks (no person tokens, EdDSA)",
}

// demoTimeout bounds the whole demo; it takes milliseconds.
const demoTimeout = 30 * time.Second

// demo runs "aauth demo".
func (e *env) demo(ctx context.Context, args []string) error {
	fs := newFlagSet("demo")
	profileName := fs.String("profile", "current", "")
	if err := e.parseOptions(fs, demoHelp, args); err != nil {
		return err
	}
	profile, err := wire.ParseProfile(*profileName)
	if err != nil {
		return usagef("%s", trimPrefix(err))
	}
	start := time.Now()

	opts := aauthtest.WorldOptions{Profile: profile}
	if e.clock != nil {
		opts.Now = e.clock.Now
	}
	w := aauthtest.NewWorld(opts)
	defer w.Close()
	if e.onDemoWorld != nil {
		e.onDemoWorld(w)
	}
	// The agent provider mints the agent token, as "aauth agent-token"
	// would; the person server holds the first token request for the
	// person's approval.
	agent, err := w.NewAgent("demo")
	if err != nil {
		return err
	}
	first := aauthtest.TokenPerson
	if profile == aauth.ProfileSeed {
		first = aauthtest.TokenAuth // the seed generation has no person tokens
	}
	w.PS.Queue(first, aauthtest.Defer(aauthtest.Interaction()))

	target := w.Resource.URL + "/data"
	u, err := parseTarget(target)
	if err != nil {
		return err
	}
	o := &fetchOptions{
		method:        http.MethodGet,
		target:        u,
		header:        http.Header{},
		signer:        agent.Key,
		sigKey:        aauth.JWT(agent.Token),
		personServer:  w.PS.URL,
		profile:       profile,
		capabilities:  []aauth.Capability{aauth.CapabilityInteraction},
		justification: "Show how AAuth works",
		timeout:       demoTimeout,
		explain:       true,
	}
	tp, _ := keys.Thumbprint(agent.Key.Public())

	fmt.Fprintf(e.stderr, "AAuth demo, %s profile: %s\n", profile, wireOf[profile])
	fmt.Fprintf(e.stderr, "Three servers run in this process, on loopback:\n")
	fmt.Fprintf(e.stderr, "  agent provider  %s  vouches for the agent\n", w.Agent.URL)
	fmt.Fprintf(e.stderr, "  person server   %s  acts for the person, alice\n", w.PS.URL)
	fmt.Fprintf(e.stderr, "  resource        %s  wants an auth token\n", w.Resource.URL)
	fmt.Fprintf(e.stderr, "· agent key: Ed25519, thumbprint %s\n", tp)
	fmt.Fprintf(e.stderr, "· agent token for %s from the agent provider: %s\n\n", agent.Subject, aauth.Redact(agent.Token))
	fmt.Fprintf(e.stderr, "$ aauth fetch --explain %s\n", target)

	// The answer goes to stdout, ending with a new line whatever the
	// server sent, so that the shell prompt does not follow it.
	d := *e
	out := &lastByteWriter{w: e.stdout}
	d.stdout = out
	if err := d.doFetch(ctx, o, e.demoApprove); err != nil {
		return err
	}
	if out.last != '\n' {
		fmt.Fprintln(e.stdout)
	}
	if profile == aauth.ProfileCurrent {
		if err := e.demoMission(ctx, w, agent); err != nil {
			return err
		}
		if err := e.demoChain(ctx, w, agent); err != nil {
			return err
		}
		if err := e.demoSubagent(ctx, w, agent); err != nil {
			return err
		}
	}
	w.Close()
	fmt.Fprintf(e.stderr, "\ndemo: done in %.2fs; the servers are stopped.\n", time.Since(start).Seconds())
	return nil
}

// demoApprove approves an interaction on the person's behalf, as their
// browser would: it opens the interaction URL with the code.
func (e *env) demoApprove(ctx context.Context, u, code string) error {
	page := withCode(u, code)
	fmt.Fprintf(e.stderr, "demo: approving for you, as your browser would: GET %s\n", page)
	base, release := e.transport()
	defer release()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: base}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	said, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	fmt.Fprintf(e.stderr, "demo: the person server says %q\n", clip(string(said), 200))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("approving the interaction: %s", resp.Status)
	}
	return nil
}

// lastByteWriter remembers the last byte written through it.
type lastByteWriter struct {
	w    io.Writer
	last byte
}

func (l *lastByteWriter) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}
