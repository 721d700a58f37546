// Command mcp-gosdk is an MCP client built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) whose HTTP client is an
// aauth.Transport: every MCP request (the POSTs, the GET event stream, the
// DELETE that ends the session) is signed as the agent, and the tokens the
// server asks for are obtained on the way. It calls one tool on a
// streamable-HTTP MCP server protected by AAuth and prints the result.
//
// No AAuth deployment is needed to run it: the program first starts a local
// stand-in on 127.0.0.1 (an agent provider, a person server and a protected
// resource from aauthtest, the resource serving an MCP server), and stops it
// before exiting. The comments mark which half a real program keeps.
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
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mcp-gosdk: ")
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
	client := mcp.NewClient(&mcp.Implementation{Name: "aauth-example", Version: "v0.1.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: agent.Client(), // MCP over AAuth: nothing else changes
	}, nil)
	if err != nil {
		return err
	}
	defer session.Close() // sends the (signed) DELETE; runs before world.Close

	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	fmt.Fprintln(out, "tools:", strings.Join(names, ", "))

	res, err := session.CallTool(ctx, &mcp.CallToolParams{
		Name:      "greet",
		Arguments: map[string]any{"name": "AAuth"},
	})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) == 0 {
		return fmt.Errorf("greet failed: %+v", res.Content)
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return fmt.Errorf("greet answered %T, not text", res.Content[0])
	}
	fmt.Fprintln(out, "result:", text.Text)
	return nil
}

// ---- Local stand-in: the protected MCP server ----

// standInMCPServer is a streamable-HTTP MCP server with one tool, greet.
// aauthtest's resource (package resource's Resource) runs it only for
// requests whose signature and token it accepted, with the verified caller
// in the request's context. Stateless, so that each call's tool runs in
// its own request's context.
func standInMCPServer() http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "stand-in", Version: "v0.1.0"}, nil)
	type greetIn struct {
		Name string `json:"name" jsonschema:"who to greet"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Say hello"},
		func(ctx context.Context, req *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, any, error) {
			c, _ := resource.FromContext(ctx)
			text := fmt.Sprintf("Hello, %s! (called with a verified %s token, scope %q)", in.Name, c.Kind, c.Scope)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true})
}
