package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aauthgo/aauth/resource"
)

const serveHelp = `Usage: aauth serve --person-server URL [options]

Serves a resource that requires AAuth, to point any agent at: its metadata
(/.well-known/aauth-resource.json) and JWK Set, and /data, which answers a
verified request of any method with 200 and compact JSON holding "ok":true
and the verified caller. The first line on stdout is "listening URL" once
it serves; on stderr, a line follows each request refused for its
signature or token (and why) and each one /data served (and whom); the
challenges of the flow are not logged. SIGINT or SIGTERM stops it (exit
status 0).

By default /data wants an auth token with scope "read" from a trusted person
server: an agent presenting its agent token is asked for a person token,
then for an auth token with a resource token, as AAuth -11 runs it.

Options:
  --addr HOST:PORT       where to listen (default 127.0.0.1:8080; port 0 picks
                         a free port)
  --issuer URL           the resource's identifier, the URL agents reach it at
                         (default http://ADDR as bound, for a loopback ADDR;
                         https with no port otherwise, such as behind a proxy)
  --person-server URL    a person server whose person and auth tokens are
                         accepted; repeat for more (needed but in agent-token
                         mode)
  --agent-provider URL   accept agent tokens only from this agent provider;
                         repeat for more (default: any whose keys can be
                         fetched)
  --mode MODE            agent-token, person-token, auth-token (default) or
                         session-token
  --scope SCOPE          the scope auth tokens must hold (default "read")
  --person-token-jti     name a presented person token as person_token_jti too
                         in resource tokens (for person servers of early -11,
                         such as @hellocoop/mockin 2.0.0)
  --insecure-egress      fetch issuers' documents over plain http and from
                         private addresses (development only)
`

// listFlag is a repeatable flag of URLs.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// serve runs "aauth serve".
func (e *env) serve(ctx context.Context, args []string) error {
	fs := newFlagSet("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "")
	issuer := fs.String("issuer", "", "")
	var personServers, agentProviders listFlag
	fs.Var(&personServers, "person-server", "")
	fs.Var(&agentProviders, "agent-provider", "")
	mode := fs.String("mode", string(resource.AuthToken), "")
	scope := fs.String("scope", "read", "")
	personTokenJTI := fs.Bool("person-token-jti", false, "")
	insecure := fs.Bool("insecure-egress", false, "")
	if err := e.parseOptions(fs, serveHelp, args); err != nil {
		return err
	}
	switch m := resource.Mode(*mode); m {
	case resource.AgentToken, resource.PersonToken, resource.AuthToken, resource.SessionToken:
	default:
		return usagef("--mode %q: want agent-token, person-token, auth-token or session-token", oneLine(*mode))
	}
	if len(personServers) == 0 && resource.Mode(*mode) != resource.AgentToken {
		return syntaxf("serve needs --person-server, the person server whose tokens to accept (or --mode agent-token)")
	}

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return usagef("--addr %s: %v", oneLine(*addr), err)
	}
	defer l.Close()
	if *issuer == "" {
		*issuer = "http://" + l.Addr().String()
	}
	// A line on stderr for each request refused for its signature or
	// token (the resource's own log), and for each one /data served.
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	rs := &resource.Resource{
		Issuer:         *issuer,
		Mode:           resource.Mode(*mode),
		Scope:          *scope,
		PersonServers:  resource.TrustIssuers(personServers...),
		PersonTokenJTI: *personTokenJTI,
		InsecureEgress: *insecure,
		Logger:         logger,
	}
	if len(agentProviders) > 0 {
		rs.AgentProviders = resource.TrustIssuers(agentProviders...)
	}
	if err := selfCheck(rs); err != nil {
		return usagef("%v (set --issuer)", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/data", echoCaller(logger))
	srv := &http.Server{
		Handler:           rs.Require(mux),
		ReadHeaderTimeout: 10 * time.Second,
	}

	// SIGINT cancels ctx already (main); SIGTERM, as a service manager
	// sends it, stops the server the same way.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	fmt.Fprintf(e.stdout, "listening %s\n", *issuer)
	select {
	case err := <-done:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	// Requests in flight get a few seconds; then whatever is still open is
	// closed. A client may hold a connection it dialled and never used,
	// which net/http's Shutdown would wait five seconds for: that is no
	// reason to exit with an error.
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if srv.Shutdown(shutdown) != nil {
		srv.Close()
	}
	<-done
	rs.CloseIdleConnections()
	return nil
}

// selfCheck serves the resource's own metadata document once, in memory:
// a Resource that cannot serve (an Issuer it refuses) says why.
func selfCheck(rs *resource.Resource) error {
	rec := httptest.NewRecorder()
	rs.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/aauth-resource.json", nil))
	if rec.Code == http.StatusOK {
		return nil
	}
	var p struct{ Detail string }
	if json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Detail == "" {
		return errors.New("the resource cannot serve its metadata")
	}
	return errors.New(strings.TrimPrefix(p.Detail, "aauth: "))
}

// echoCaller answers /data: the request and who made it, as the resource
// verified them, and logs whom it served.
func echoCaller(log *slog.Logger) http.Handler {
	type caller struct {
		Kind         resource.Kind `json:"kind"`
		Thumbprint   string        `json:"thumbprint"`
		Issuer       string        `json:"iss"`
		Agent        string        `json:"agent,omitempty"`
		PersonServer string        `json:"ps,omitempty"`
		Subject      string        `json:"sub,omitempty"`
		Scope        string        `json:"scope,omitempty"`
		MissionS256  string        `json:"mission_s256,omitempty"`
		Tenant       string        `json:"tenant,omitempty"`
		Session      bool          `json:"session,omitempty"`
	}
	type answer struct {
		OK        bool   `json:"ok"`
		Method    string `json:"method"`
		Path      string `json:"path"`
		BodyBytes int64  `json:"body_bytes,omitempty"`
		Caller    caller `json:"caller"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.FromContext(r.Context()) // Require let only verified callers through
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		out := answer{OK: true, Method: r.Method, Path: r.URL.Path, BodyBytes: n,
			Caller: caller{c.Kind, c.Thumbprint, c.Issuer, c.Agent, c.PersonServer, c.Subject, c.Scope, c.MissionS256, c.Tenant, c.Session != nil}}
		b, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(b, '\n'))
		log.LogAttrs(r.Context(), slog.LevelInfo, "aauth: served", slog.String("method", r.Method), slog.String("path", oneLine(r.URL.Path)),
			slog.String("kind", string(c.Kind)), slog.String("iss", c.Issuer), slog.String("sub", c.Subject), slog.String("agent", c.Agent))
	})
}
