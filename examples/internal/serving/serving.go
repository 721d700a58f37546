// Package serving is the HTTP plumbing the MCP server examples share and
// that has nothing to do with AAuth: where to listen, the URL the server
// is reached at, and a server that shuts down gracefully. It is internal
// to the examples.
package serving

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listen listens on addr and returns the server's issuer URL: issuer when
// given, else http://ADDR, which only a loopback address may take (agents
// elsewhere reach a server over https, at a URL only the operator knows).
func Listen(addr, issuer string) (net.Listener, string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	if issuer == "" {
		if ip, ok := l.Addr().(*net.TCPAddr); !ok || !ip.IP.IsLoopback() {
			l.Close()
			return nil, "", fmt.Errorf("--addr %s is not a loopback address: set --issuer to the https URL agents reach the server at", addr)
		}
		issuer = "http://" + l.Addr().String()
	}
	return l, issuer, nil
}

// Serve serves h on l until ctx is done, then shuts down, giving requests
// in flight a few seconds before it closes what is still open. (A client
// may hold a connection it dialled and never used; net/http's Shutdown
// waits five seconds for such a connection before it counts as idle.)
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if srv.Shutdown(shutdown) != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
