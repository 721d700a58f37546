package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/examples/internal/serving"
	"github.com/aauthgo/aauth/r3"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// demo runs the server against a stand-in agent provider and person
// server, has an agent call every tool, and stops everything.
func demo(ctx context.Context, out io.Writer) error {
	// ---- Stand-in (a real deployment has its own) ----
	// A person server that grants search and fetch outright and
	// send_email per call, approving each call it is asked about.
	provider := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{})
	defer provider.Close()
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{TrustedAgents: []string{provider.URL}})
	defer ps.Close()
	provider.SetPersonServer(ps.URL)
	ps.SetR3Policy(aauthtest.GrantTools([]string{"search", "fetch"}, []string{"send_email"}))

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

	// ---- An agent calls every tool ----
	agent := &aauth.Transport{
		Keys:         provider.AgentKeys("alice"),
		PersonServer: ps.URL,
		// The tools it means to call: asked for before the first call.
		Operations: map[string]r3.OperationSet{issuer: r3.Tools("search", "fetch", "send_email")},
	}
	err = callAll(ctx, out, issuer+"/mcp", agent)
	fmt.Fprintf(out, "person server: %d auth tokens issued\n", len(ps.AuthTokenRequests()))
	agent.CloseIdleConnections()
	stop()
	if serr := <-served; err == nil {
		err = serr
	}
	return err
}

// callAll connects to the MCP server at endpoint with a go-sdk client
// whose HTTP client is agent, reads how each tool wants to be called, and
// calls each.
func callAll(ctx context.Context, out io.Writer, endpoint string, agent *aauth.Transport) error {
	client := mcp.NewClient(&mcp.Implementation{Name: "r3-agent", Version: "v0.1.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: agent.Client(), DisableStandaloneSSE: true}, nil)
	if err != nil {
		return err
	}
	defer session.Close()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return err
	}
	var plan []string
	for _, t := range tools.Tools {
		// The annotation says how a call will be authorized (advisory).
		mode := r3.EffectiveAccess(r3.AccessAuthToken, toolAccess(t))
		plan = append(plan, t.Name+" ("+string(mode)+")")
	}
	fmt.Fprintln(out, "agent: tools:", strings.Join(plan, ", "))

	for _, call := range []struct{ tool, query string }{
		{"search", "invoices"}, {"fetch", "invoice-7"}, {"send_email", "to bob"}, {"send_email", "to carol"}, {"delete_all", ""},
	} {
		res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: call.tool, Arguments: map[string]any{"query": call.query}})
		switch {
		case errors.Is(err, aauth.ErrOperationNotGranted):
			fmt.Fprintf(out, "agent: %s: refused, not granted\n", call.tool)
		case err != nil:
			return err
		case res.IsError || len(res.Content) == 0:
			return fmt.Errorf("%s failed: %+v", call.tool, res.Content)
		default:
			fmt.Fprintf(out, "agent: %s: %s\n", call.tool, res.Content[0].(*mcp.TextContent).Text)
		}
	}
	return nil
}

// toolAccess reads a tool's R3 annotations from its _meta.
func toolAccess(t *mcp.Tool) r3.Access {
	meta, err := json.Marshal(t.Meta)
	if err != nil {
		return r3.Access{}
	}
	return r3.MCPToolAccess(meta)
}
