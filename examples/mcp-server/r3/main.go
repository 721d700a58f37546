// Command r3 is the R3 variant of the mcp-server example: an MCP server on
// the official Go SDK whose tools are authorized one by one (AAuth R3,
// Rich Resource Requests). The person grants search and fetch outright,
// send_email only call by call, and never delete_all; every tools/call is
// checked against what the agent's auth token grants.
//
// The AAuth part is newServer's resource.Resource with its R3 definitions
// (the tools as the person sees them), the tools' _meta annotations, and
// the tool's resource.FromContext.
//
// Run with no flags, it is a self-contained demo: a stand-in agent
// provider and person server (from aauthtest) on 127.0.0.1, the server on
// a free loopback port, and an agent (a go-sdk client over an
// aauth.Transport) calling every tool:
//
//	go run ./examples/mcp-server/r3
//
// Given a person server, it serves until interrupted:
//
//	go run ./examples/mcp-server/r3 --addr 127.0.0.1:8080 --person-server https://ps.example
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
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("r3: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Args[1:])
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// run parses args and runs the demo, or serves until ctx is done.
func run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("r3", flag.ContinueOnError)
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

// The tools, as the person sees them: one group to read, one to act.
var definitions = []*r3.Document{
	{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "fetch").Operations,
		Display: &r3.Display{Summary: "Read your documents"}},
	{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("send_email", "delete_all").Operations,
		Display: &r3.Display{Summary: "Send email and delete documents as you", Irreversible: "Sent mail cannot be unsent; deleted documents are gone"}},
}

// newServer is the MCP server, its tools authorized one by one: it serves
// a tools/call only under an auth token, from one of personServers, that
// grants the tool, and has each send_email approved on its own. issuer is
// the URL agents reach it at.
func newServer(issuer string, personServers ...string) http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "documents", Version: "v0.1.0"}, nil)
	addTool(server, "search", "Search your documents", r3.Access{})
	addTool(server, "fetch", "Fetch a document", r3.Access{})
	// The annotation tells agents each call is approved on its own.
	addTool(server, "send_email", "Send an email as you", r3.Access{Mode: r3.AccessPerCall})
	addTool(server, "delete_all", "Delete every document", r3.Access{})
	// Stateless: each call runs in the context of its own request, which
	// holds the caller and grant AAuth verified for it.
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true})

	rs := &resource.Resource{
		Issuer:            issuer,
		Mode:              resource.AuthToken,
		PersonServers:     resource.TrustIssuers(personServers...),
		AuthorizationPath: "/aauth/authorize", // agents may ask for tools up front
		R3:                &resource.R3{Endpoint: issuer + "/mcp", Definitions: definitions},
	}
	return rs.Require(handler)
}

type toolIn struct {
	Query string `json:"query,omitempty" jsonschema:"what to search, fetch or send"`
}

// addTool adds a tool that says what it did and on what grant.
func addTool(server *mcp.Server, name, desc string, access r3.Access) {
	mcp.AddTool(server, &mcp.Tool{Name: name, Description: desc, Meta: access.MCPMeta()},
		func(ctx context.Context, req *mcp.CallToolRequest, in toolIn) (*mcp.CallToolResult, any, error) {
			caller, _ := resource.FromContext(ctx)
			how := "granted by the agent's auth token"
			if caller.PerCall {
				how = "approved for this one call"
			}
			text := fmt.Sprintf("%s(%q) done, %s", name, in.Query, how)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
}
