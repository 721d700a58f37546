// Command mcp-server is an MCP server on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) that requires AAuth: every MCP
// request must be signed by an agent and carry an auth token, issued by a
// person server the server trusts, that grants the scope "greet". Its one
// tool greets the person the agent acts for.
//
// The AAuth part is newServer's resource.Resource and the tool's
// resource.FromContext, and the Stateless option that lets each call see
// its own verified caller: ten lines.
//
// Run with no flags, it is a self-contained demo: it starts a stand-in
// agent provider and person server (from aauthtest) on 127.0.0.1, serves
// itself on a free loopback port, has an agent call the tool through an
// aauth.Transport, prints what happened and exits:
//
//	go run ./examples/mcp-server
//
// Given a person server, it serves until interrupted:
//
//	go run ./examples/mcp-server --addr 127.0.0.1:8080 --person-server https://ps.example
//	go run ./examples/mcp-server --addr :8080 --issuer https://mcp.example --person-server https://ps.example
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/aauthgo/aauth/examples/internal/serving"
	"github.com/aauthgo/aauth/resource"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("mcp-server: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Args[1:])
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// run parses args and runs the demo, or serves until ctx is done.
func run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("mcp-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "`host:port` to listen on")
	issuer := fs.String("issuer", "", "the server's AAuth identifier, the `URL` agents reach it at (default http://ADDR, loopback only)")
	personServer := fs.String("person-server", "", "the person server whose auth tokens are accepted (`URL`); without it, run the demo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *personServer == "" {
		return demo(ctx, out)
	}
	l, iss, err := serving.Listen(*addr, *issuer)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "serving %s/mcp\n", iss)
	return serving.Serve(ctx, l, newServer(iss, *personServer))
}

// newServer is the MCP server, with one tool, protected by AAuth: it
// serves only requests signed by an agent presenting an auth token from
// one of personServers with the scope "greet"; others get the AAuth
// challenges that lead an agent there. issuer is the URL agents reach it
// at.
func newServer(issuer string, personServers ...string) http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "greeter", Version: "v0.1.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Say hello to the person the agent acts for"}, greet)
	// Stateless: each MCP request runs its tool in its own context, which
	// holds the caller AAuth verified for that request. (A stateful go-sdk
	// server runs every call of a session in the context of the session's
	// first request.)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true})

	rs := &resource.Resource{
		Issuer:        issuer,
		Mode:          resource.AuthToken,
		Scope:         "greet",
		PersonServers: resource.TrustIssuers(personServers...),
	}
	return rs.Require(handler)
}

type greetIn struct {
	Name string `json:"name" jsonschema:"who is greeting"`
}

// greet answers with who called: the person (a directed identifier at
// their person server) and the scope they granted.
func greet(ctx context.Context, req *mcp.CallToolRequest, in greetIn) (*mcp.CallToolResult, any, error) {
	caller, _ := resource.FromContext(ctx)
	text := fmt.Sprintf("Hello from %s! You act for %s at %s, with scope %q.", in.Name, caller.Subject, caller.PersonServer, caller.Scope)
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
}
