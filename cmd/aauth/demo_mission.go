package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// demoMission is the demo's second part (current profile): the agent
// proposes a mission naming the resource, the person approves it with a
// person token for the resource, and the agent works under it: its first
// request presents that person token at once, it asks permission for a
// tool and records what it did, then proposes completion, which the person
// accepts.
func (e *env) demoMission(ctx context.Context, w *aauthtest.World, agent *aauthtest.Agent) error {
	fmt.Fprintf(e.stderr, "\nA mission: the person approves once what the agent will do, where.\n")
	fmt.Fprintf(e.stderr, "$ aauth mission propose --explain --description \"Read the data\" --tool Summarize --resource %s\n", w.Resource.URL)
	target, err := url.Parse(w.Resource.URL + "/data")
	if err != nil {
		return err
	}
	base, release := e.transport()
	defer release()
	// The demo's own lines go through the explainer too, after any
	// answer line it holds.
	x := newExplainer(e.stderr, target, false)
	defer x.done()
	tr := e.demoAgent(base, w, agent, x)
	defer tr.Close()
	a, err := tr.ProposeMission(ctx, psclient.MissionProposal{
		Description: "Read the data",
		Tools:       []psclient.Tool{{Name: "Summarize", Description: "Summarize the data"}},
		Resources:   []string{w.Resource.URL},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(x, "mission %s approved: %s (s256 checked), with a person token for the resource\n", a.S256, a.Mission.Raw)

	fmt.Fprintf(x, "\n$ aauth fetch --explain %s   (under the mission)\n", target)
	resp, err := tr.Client().Get(target.String())
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	fmt.Fprintf(x, "\n$ aauth permission --action Summarize   (an approved tool: no need to ask)\n")
	if err := tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "Summarize"}); err != nil {
		return err
	}
	fmt.Fprintf(x, "$ aauth permission --action SendEmail\n")
	if err := tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "SendEmail", Description: "Mail the summary"}); err != nil {
		return err
	}
	fmt.Fprintf(x, "$ aauth audit --action SendEmail\n")
	if err := tr.Audit(psclient.AuditRecord{Action: "SendEmail", Result: map[string]string{"status": "sent"}}); err != nil {
		return err
	}
	fmt.Fprintf(x, "$ aauth mission complete --summary \"Read and summarized the data\"\n")
	if err := tr.CompleteMission(ctx, "Read and summarized the data"); err != nil {
		return err
	}
	if _, err := tr.Client().Get(target.String()); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		fmt.Fprintf(x, "· after completion the agent may not act on the mission: %s\n", trimPrefix(err))
	}
	return tr.Close()
}

// demoAgent is the demo agent's Transport for a scene: its key and agent
// token, the world's person server, events to the scene's explainer.
func (e *env) demoAgent(base http.RoundTripper, w *aauthtest.World, agent *aauthtest.Agent, x *explainer) *aauth.Transport {
	return &aauth.Transport{
		Base:         base,
		Keys:         aauth.StaticKeys(agent.Key, aauth.JWT(agent.Token)),
		PersonServer: w.PS.URL,
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		OnEvent:      x.event,
		Clock:        e.clock,
	}
}
