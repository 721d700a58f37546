package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/examples/internal/mcpclient"
	"github.com/aauthgo/aauth/examples/internal/outputtest"
	"github.com/aauthgo/aauth/wire"
	mcpgomcp "github.com/mark3labs/mcp-go/mcp"
)

// TestRun runs the demo as go run does and checks what it prints.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, &out)
	}
	want := []string{
		"server: serving http://127.0.0.1:",
		"agent: tools: greet",
		"agent: greet: Hello from alice's agent! You act for p_",
	}
	lines := outputtest.Lines(t, out.String(), want...)
	if !strings.HasSuffix(lines[2], `with scope "greet".`) {
		t.Errorf("line 3 = %q", lines[2])
	}
}

// aauthWords are what makes a line of main.go AAuth code.
var aauthWords = regexp.MustCompile(`\b(resource|rs)\.|\bcaller\b|\bStateless\b`)

// TestAAuthLines holds the example to its promise: at most ten lines of
// main.go are there for AAuth. A line counts when it names the resource
// package, the Resource (rs) or the verified caller, or asks go-sdk for
// stateless serving (so that each call sees its own caller); comments and
// imports do not count.
func TestAAuthLines(t *testing.T) {
	f, err := os.Open("main.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var counted []string
	inImport, inLiteral := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "import ("):
			inImport = true
		case inImport:
			inImport = line != ")"
		case strings.HasPrefix(line, "//"):
		case strings.HasPrefix(line, "rs := &resource.Resource{"):
			inLiteral = true
			counted = append(counted, line)
		case inLiteral:
			inLiteral = line != "}"
			counted = append(counted, line)
		case aauthWords.MatchString(line):
			counted = append(counted, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines of AAuth:\n%s", len(counted), strings.Join(counted, "\n"))
	if len(counted) > 10 {
		t.Errorf("%d lines of AAuth code, more than 10", len(counted))
	}
	if len(counted) < 8 {
		t.Errorf("only %d lines counted: the count no longer sees the AAuth code", len(counted))
	}
}

// A world for the MCP clients: a stand-in agent provider and person server
// (aauthtest), and the example server on an httptest server trusting that
// person server.
type world struct {
	provider *aauthtest.AgentProvider
	ps       *aauthtest.PersonServer
	srv      *httptest.Server
	endpoint string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{}
	w.provider = aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{Logf: t.Logf})
	w.ps = aauthtest.NewPersonServer(aauthtest.PersonServerOptions{TrustedAgents: []string{w.provider.URL}, Logf: t.Logf})
	w.provider.SetPersonServer(w.ps.URL)
	w.srv = httptest.NewUnstartedServer(nil)
	issuer := "http://" + w.srv.Listener.Addr().String()
	w.srv.Config.Handler = newServer(issuer, w.ps.URL)
	w.srv.Start()
	w.ps.TrustResource(issuer)
	w.endpoint = issuer + "/mcp"
	t.Cleanup(func() {
		w.srv.Close()
		w.ps.Close()
		w.provider.Close()
	})
	return w
}

// The MCP clients under test.
var mcpClients = []struct {
	name    string
	connect mcpclient.Connect
}{
	{"go-sdk", mcpclient.GoSDK(false)},
	// mcp-go's own protocol, 2026-07-28, which a stateless go-sdk server
	// speaks, and the one the examples' clients pin.
	{"mcp-go", mcpclient.MCPGo(false, "")},
	{"mcp-go/2025-11-25", mcpclient.MCPGo(false, mcpgomcp.ProtocolVersion20251125)},
}

// answers records the status and AAuth headers of every answer the SDK
// got from the aauth.Transport beneath it.
type answers struct {
	next http.RoundTripper

	mu  sync.Mutex
	got []string
}

func (a *answers) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := a.next.RoundTrip(req)
	line := req.Method + " "
	if err != nil {
		line += "error " + err.Error()
	} else {
		line += fmt.Sprint(resp.StatusCode)
		for _, h := range []string{"AAuth-Requirement", "Signature-Error", "Location"} {
			if v := resp.Header.Get(h); v != "" {
				line += " " + h
			}
		}
	}
	a.mu.Lock()
	a.got = append(a.got, line)
	a.mu.Unlock()
	return resp, err
}

// TestMCPOverAAuth runs each MCP client SDK, its HTTP client an
// aauth.Transport, against the example server: the person approves at the
// person server's consent page, the agent lists the tools and calls greet
// twice, and each call's tool sees the verified caller.
func TestMCPOverAAuth(t *testing.T) {
	for _, c := range mcpClients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w := newWorld(t)
			// The person is asked once, for the person token.
			w.ps.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction()))
			// Its own connections: the subtests run in parallel, and every
			// httptest.Server.Close drops http.DefaultTransport's idle
			// connections, which can break a POST that has just taken one.
			base := http.DefaultTransport.(*http.Transport).Clone()
			defer base.CloseIdleConnections()
			var asked int
			agent := &aauth.Transport{
				Base:         base,
				Keys:         w.provider.AgentKeys("alice"),
				PersonServer: w.ps.URL,
				Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
				OnInteraction: func(ctx context.Context, url, code string) error {
					asked++
					return w.ps.CompleteInteraction(code) // the person approves
				},
			}
			seen := &answers{next: agent}
			s, err := c.connect(ctx, w.endpoint, &http.Client{Transport: seen})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			names, err := s.Tools(ctx)
			if err != nil || !slices.Equal(names, []string{"greet"}) {
				t.Fatalf("tools = %v, %v", names, err)
			}
			sub := w.ps.Subject(strings.TrimSuffix(w.endpoint, "/mcp"))
			for _, name := range []string{"one", "two"} {
				got, err := s.Greet(ctx, name)
				if err != nil {
					t.Fatalf("greet %s: %v", name, err)
				}
				want := fmt.Sprintf("Hello from %s! You act for %s at %s, with scope %q.", name, sub, w.ps.URL, "greet")
				if got != want {
					t.Errorf("greet = %q, want %q", got, want)
				}
			}
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if asked != 1 {
				t.Errorf("the person was asked %d times, want 1", asked)
			}
			// One person token and one auth token served every request.
			if p, a := len(w.ps.PersonTokenRequests()), len(w.ps.AuthTokenRequests()); p != 1 || a != 1 {
				t.Errorf("%d person-token requests and %d exchanges, want 1 and 1", p, a)
			}
			// The SDK never saw AAuth: no challenge, no deferral.
			seen.mu.Lock()
			defer seen.mu.Unlock()
			for _, line := range seen.got {
				if strings.Contains(line, "error") || strings.Contains(line, " 401") || strings.Contains(line, "AAuth-") || strings.Contains(line, "Location") {
					t.Errorf("the SDK got an AAuth answer: %s", line)
				}
			}
		})
	}
}

// Requests that are not AAuth-signed, or that carry a token from a person
// server the server does not trust, never reach the tool.
func TestRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := newWorld(t)
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"greet","arguments":{"name":"x"}}}`

	// Unsigned: told to sign with an agent token.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, strings.NewReader(call))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ch, err := wire.ParseRequirement(resp.Header.Get("AAuth-Requirement"))
	if resp.StatusCode != http.StatusUnauthorized || err != nil || ch.Requirement != wire.RequirementAgentToken {
		t.Errorf("unsigned call: %d %v", resp.StatusCode, resp.Header)
	}

	// An agent whose person server the MCP server does not trust gets a
	// person token the server refuses.
	other := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{TrustedAgents: []string{w.provider.URL}})
	defer other.Close()
	agent := &aauth.Transport{Keys: w.provider.AgentKeys("mallory"), PersonServer: other.URL}
	if s, err := mcpclient.GoSDK(false)(ctx, w.endpoint, agent.Client()); err == nil {
		s.Close()
		t.Error("an agent of an untrusted person server connected")
	}
	if n := len(other.PersonTokenRequests()); n == 0 {
		t.Error("the agent never got a person token from its person server")
	}
	if n := len(other.AuthTokenRequests()); n != 0 {
		t.Errorf("%d exchanges at the untrusted person server: the server issued it a resource token", n)
	}
}

// TestServe runs the server as a deployment would, given a person server:
// it prints where it serves, serves an agent, and returns nil once its
// context ends (as on SIGINT).
func TestServe(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	serving, stop := context.WithCancel(ctx)
	defer stop()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(serving, pw, []string{"--addr", "127.0.0.1:0", "--person-server", w.ps.URL})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	endpoint, ok := strings.CutPrefix(strings.TrimSpace(line), "serving ")
	if err != nil || !ok {
		t.Fatalf("first line %q: %v", line, err)
	}
	w.ps.TrustResource(strings.TrimSuffix(endpoint, "/mcp"))
	var out bytes.Buffer
	if err := callGreet(ctx, &out, endpoint, &aauth.Transport{Keys: w.provider.AgentKeys("bob"), PersonServer: w.ps.URL}); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "agent: greet: Hello from alice's agent! You act for p_") {
		t.Errorf("output %s", &out)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the server did not stop")
	}
}
