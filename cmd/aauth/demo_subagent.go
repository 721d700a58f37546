package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
)

// demoSubagent is the demo's last part (current profile): the agent starts
// a worker, a sub-agent with a key and an agent token of its own
// (parent_agent names the agent). The worker never talks to the person
// server: its person token and auth token come through its parent, bound
// to the worker's key, under the consent the person already gave the
// agent.
func (e *env) demoSubagent(ctx context.Context, w *aauthtest.World, agent *aauthtest.Agent) error {
	fmt.Fprintf(e.stderr, "\nA sub-agent: the agent starts a worker with a key of its own; the worker's tokens come through the agent.\n")
	_, workerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	workerToken, err := w.Agent.MintSubagent("demo", "worker1", workerKey.Public())
	if err != nil {
		return err
	}
	tp, _ := keys.Thumbprint(workerKey.Public())
	fmt.Fprintf(e.stderr, "· worker key: Ed25519, thumbprint %s\n", tp)
	local, domain, _ := strings.Cut(agent.Subject, "@")
	fmt.Fprintf(e.stderr, "· sub-agent token for %s+worker1@%s (parent_agent %s) from the agent provider: %s\n", local, domain, agent.Subject, aauth.Redact(workerToken))
	target, err := url.Parse(w.Resource.URL + "/data")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "$ aauth fetch --explain --parent-key agent.jwk --parent-agent-token @agent.jwt --key worker.jwk --agent-token @worker.jwt %s\n", target)
	base, release := e.transport()
	defer release()
	x := newExplainer(e.stderr, target, false)
	defer x.done()
	parent := e.demoAgent(base, w, agent, x)
	defer parent.Close()
	worker := &aauth.Transport{
		Base:    base,
		Keys:    aauth.StaticKeys(workerKey, aauth.JWT(workerToken)),
		Parent:  parent,
		OnEvent: x.event,
		Clock:   e.clock,
	}
	defer worker.Close()
	resp, err := worker.Client().Get(target.String())
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Fprintf(x, "· the worker's auth token is bound to the worker's key; the person was not asked again\n")
	return nil
}
