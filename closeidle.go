package aauth

import "net/http"

// CloseIdleConnections closes the idle connections of Base (of
// http.DefaultTransport when Base is nil), as http.Client's
// CloseIdleConnections does for its own transport. A program that is done
// with a server calls it so that no connection it opened but never used
// keeps that server's graceful shutdown waiting.
func (t *Transport) CloseIdleConnections() { closeIdle(t.Base) }

// CloseIdleConnections closes the idle connections of Base (of
// http.DefaultTransport when Base is nil).
func (t *SigningTransport) CloseIdleConnections() { closeIdle(t.Base) }

func closeIdle(rt http.RoundTripper) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
