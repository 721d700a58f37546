// Command mcp-mcpgo is an MCP client built on github.com/mark3labs/mcp-go
// whose HTTP client is an aauth.Transport: every MCP request (the POSTs and
// the DELETE that ends the session) is signed as the agent, and the tokens
// the server asks for are obtained on the way. It calls one tool on a
// streamable-HTTP MCP server protected by AAuth and prints the result.
//
// No AAuth deployment is needed to run it: the program first starts a local
// stand-in on 127.0.0.1 (an agent provider, a person server and a protected
// resource from aauthtest, the resource serving an MCP server built on the
// official Go SDK), and stops it before exiting. The comments mark which
// half a real program keeps.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/resource"
	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	gosdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mcp-mcpgo: ")
	// A person may take minutes to approve; a real program picks its own
	// bound. The stand-in answers within a second.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err := run(ctx, os.Stdout)
	cancel()
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// ---- Local stand-in (a real program has none of this) ----
	// The agent's key source, its person server and the MCP endpoint are
	// what a real agent is configured with: keys from its agent provider,
	// and URLs it was given.
	world := aauthtest.NewWorld(aauthtest.WorldOptions{
		Resource: aauthtest.ResourceOptions{Handler: standInMCPServer()},
	})
	defer world.Close()
	// The person is asked to approve the agent's first request; the
	// stand-in person approves after one poll.
	world.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction().Times(1)))
	keys := world.AgentKeys("alice")
	personServer := world.PS.URL
	endpoint := world.Resource.URL + "/mcp"

	// ---- The client: a real program keeps this ----
	agent := &aauth.Transport{
		Keys:         keys,
		PersonServer: personServer,
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		OnInteraction: func(ctx context.Context, url, code string) error {
			fmt.Fprintf(out, "person: open %s?code=%s to approve\n", url, code)
			return nil
		},
	}
	// MCP over AAuth: the Transport's client is the transport's HTTP
	// client. Do not add transport.WithHTTPTimeout: it sets a Timeout on
	// this client, which would cut off a person's approval.
	httpTransport, err := transport.NewStreamableHTTP(endpoint, transport.WithHTTPBasicClient(agent.Client()))
	if err != nil {
		return err
	}
	// Pin protocol 2025-11-25. mcp-go v1.2.1 first probes with
	// server/discover for 2026-07-28; a go-sdk v1.8.0 server with sessions
	// answers it listing only older versions, mcp-go stays on 2026-07-28
	// anyway, and the server rejects every later request. The pin also
	// skips that probe, which mcp-go cuts off after 5 seconds: too short
	// for a person to approve the first request.
	client := mcpclient.NewClient(httpTransport, mcpclient.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer client.Close() // sends the (signed) DELETE; runs before world.Close

	if _, err := client.Initialize(ctx, mcp.InitializeRequest{
		Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "aauth-example", Version: "v0.1.0"}},
	}); err != nil {
		return err
	}

	tools, err := client.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	fmt.Fprintln(out, "tools:", strings.Join(names, ", "))

	res, err := client.CallTool(ctx, mcp.CallToolRequest{
		Params: mcp.CallToolParams{Name: "greet", Arguments: map[string]any{"name": "AAuth"}},
	})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) == 0 {
		return fmt.Errorf("greet failed: %+v", res.Content)
	}
	text, ok := mcp.AsTextContent(res.Content[0])
	if !ok {
		return fmt.Errorf("greet answered %T, not text", res.Content[0])
	}
	fmt.Fprintln(out, "result:", text.Text)
	return nil
}

// ---- Local stand-in: the protected MCP server ----

// standInMCPServer is a streamable-HTTP MCP server (official Go SDK) with one tool, greet.
// aauthtest's resource (package resource's Resource) runs it only for
// requests whose signature and token it accepted, with the verified caller
// in the request's context. Stateless, so that each call's tool runs in
// its own request's context.
func standInMCPServer() http.Handler {
	server := gosdk.NewServer(&gosdk.Implementation{Name: "stand-in", Version: "v0.1.0"}, nil)
	type greetIn struct {
		Name string `json:"name" jsonschema:"who to greet"`
	}
	gosdk.AddTool(server, &gosdk.Tool{Name: "greet", Description: "Say hello"},
		func(ctx context.Context, req *gosdk.CallToolRequest, in greetIn) (*gosdk.CallToolResult, any, error) {
			c, _ := resource.FromContext(ctx)
			text := fmt.Sprintf("Hello, %s! (called with a verified %s token, scope %q)", in.Name, c.Kind, c.Scope)
			return &gosdk.CallToolResult{Content: []gosdk.Content{&gosdk.TextContent{Text: text}}}, nil, nil
		})
	return gosdk.NewStreamableHTTPHandler(func(*http.Request) *gosdk.Server { return server }, &gosdk.StreamableHTTPOptions{Stateless: true})
}
