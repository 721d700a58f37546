package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/examples/internal/mcpclient"
	"github.com/aauthgo/aauth/examples/internal/serving"
)

// demo runs the server against a stand-in agent provider and person
// server, has an agent call the tool once, and stops everything.
func demo(ctx context.Context, out io.Writer) error {
	// ---- Stand-in (a real deployment has its own) ----
	// An agent provider that mints agent tokens naming the person server,
	// and a person server that trusts it and approves every request.
	provider := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{})
	defer provider.Close()
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{TrustedAgents: []string{provider.URL}})
	defer ps.Close()
	provider.SetPersonServer(ps.URL)

	// ---- The server ----
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	issuer := "http://" + l.Addr().String()
	ps.TrustResource(issuer)
	ctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serving.Serve(ctx, l, newServer(issuer, ps.URL)) }()
	fmt.Fprintf(out, "server: serving %s/mcp, trusting the person server %s\n", issuer, ps.URL)

	// ---- An agent calls it ----
	agent := &aauth.Transport{Keys: provider.AgentKeys("alice"), PersonServer: ps.URL}
	err = callGreet(ctx, out, issuer+"/mcp", agent)
	agent.CloseIdleConnections()
	stop()
	if serr := <-served; err == nil {
		err = serr
	}
	return err
}

// callGreet connects to the MCP server at endpoint with a go-sdk client
// whose HTTP client is agent, lists the tools and calls greet.
func callGreet(ctx context.Context, out io.Writer, endpoint string, agent *aauth.Transport) error {
	session, err := mcpclient.GoSDK(false)(ctx, endpoint, agent.Client())
	if err != nil {
		return err
	}
	defer session.Close()
	tools, err := session.Tools(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "agent: tools:", strings.Join(tools, ", "))
	text, err := session.Greet(ctx, "alice's agent")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "agent: greet:", text)
	return nil
}
