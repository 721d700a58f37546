// Package mcpclient puts the two Go MCP client SDKs,
// github.com/modelcontextprotocol/go-sdk and github.com/mark3labs/mcp-go,
// behind one small interface, so that the examples' tests and demos run
// the same calls through either over an aauth.Transport. It calls the
// examples' one tool, greet. It is internal to the examples: no public
// package of the module promises an MCP API.
package mcpclient

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	mcpgo "github.com/mark3labs/mcp-go/client"
	mcpgotransport "github.com/mark3labs/mcp-go/client/transport"
	mcpgomcp "github.com/mark3labs/mcp-go/mcp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Session is an initialized MCP client session.
type Session interface {
	// Tools lists the server's tool names.
	Tools(ctx context.Context) ([]string, error)
	// Greet calls the tool greet with {"name": name} and returns its one
	// text.
	Greet(ctx context.Context, name string) (string, error)
	// Close ends the session.
	Close() error
}

// Connect opens a session to the MCP endpoint with hc as the HTTP client.
type Connect func(ctx context.Context, endpoint string, hc *http.Client) (Session, error)

// GoSDK connects with go-sdk: over streamable HTTP (without retries, so
// that a failure shows at once), or over the 2024-11-05 HTTP+SSE transport
// when sse is set.
func GoSDK(sse bool) Connect {
	return func(ctx context.Context, endpoint string, hc *http.Client) (Session, error) {
		var t mcp.Transport = &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1}
		if sse {
			t = &mcp.SSEClientTransport{Endpoint: endpoint, HTTPClient: hc}
		}
		c := mcp.NewClient(&mcp.Implementation{Name: "aauth-example", Version: "v0.1.0"}, nil)
		cs, err := c.Connect(ctx, t, nil)
		if err != nil {
			return nil, err
		}
		return goSDK{cs}, nil
	}
}

type goSDK struct{ cs *mcp.ClientSession }

func (s goSDK) Tools(ctx context.Context) ([]string, error) {
	res, err := s.cs.ListTools(ctx, nil)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	return names, nil
}

func (s goSDK) Greet(ctx context.Context, name string) (string, error) {
	res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: "greet", Arguments: map[string]any{"name": name}})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", fmt.Errorf("greet: %+v", res)
	}
	text, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("greet answered %T", res.Content[0])
	}
	return text.Text, nil
}

func (s goSDK) Close() error { return s.cs.Close() }

// MCPGo connects with mcp-go over streamable HTTP. listen keeps a GET
// event stream open; version pins the protocol version ("" leaves
// mcp-go's own, 2026-07-28, which only stateless go-sdk servers accept).
func MCPGo(listen bool, version string) Connect {
	return func(ctx context.Context, endpoint string, hc *http.Client) (Session, error) {
		opts := []mcpgotransport.StreamableHTTPCOption{
			// Never WithHTTPTimeout: it sets Timeout on hc itself, which
			// would cut off a wait for the person.
			mcpgotransport.WithHTTPBasicClient(hc),
			mcpgotransport.WithHTTPLogger(slog.New(slog.DiscardHandler)),
		}
		if listen {
			// Deprecated for 2026-07-28, which has no standalone GET
			// stream; on 2025-11-25 it makes mcp-go send a GET too.
			//lint:ignore SA1019 the GET stream is what listen asks for
			opts = append(opts, mcpgotransport.WithContinuousListening())
		}
		t, err := mcpgotransport.NewStreamableHTTP(endpoint, opts...)
		if err != nil {
			return nil, err
		}
		var copts []mcpgo.ClientOption
		if version != "" {
			copts = append(copts, mcpgo.WithProtocolVersion(version))
		}
		c := mcpgo.NewClient(t, copts...)
		if err := c.Start(ctx); err != nil {
			return nil, err
		}
		if _, err := c.Initialize(ctx, mcpgomcp.InitializeRequest{
			Params: mcpgomcp.InitializeParams{ClientInfo: mcpgomcp.Implementation{Name: "aauth-example", Version: "v0.1.0"}},
		}); err != nil {
			c.Close()
			return nil, err
		}
		return mcpGo{c}, nil
	}
}

type mcpGo struct{ c *mcpgo.Client }

func (s mcpGo) Tools(ctx context.Context) ([]string, error) {
	res, err := s.c.ListTools(ctx, mcpgomcp.ListToolsRequest{})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	return names, nil
}

func (s mcpGo) Greet(ctx context.Context, name string) (string, error) {
	res, err := s.c.CallTool(ctx, mcpgomcp.CallToolRequest{
		Params: mcpgomcp.CallToolParams{Name: "greet", Arguments: map[string]any{"name": name}},
	})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", fmt.Errorf("greet: %+v", res)
	}
	text, ok := mcpgomcp.AsTextContent(res.Content[0])
	if !ok {
		return "", fmt.Errorf("greet answered %T", res.Content[0])
	}
	return text.Text, nil
}

func (s mcpGo) Close() error { return s.c.Close() }
