package resource

import (
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// CloseIdleConnections closes the connection kept to an issuer whose keys
// were fetched; on a Resource that never served it does nothing.
func TestCloseIdleConnections(t *testing.T) {
	(&Resource{}).CloseIdleConnections()

	w := newWorld(t, nil)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ap := &issuer{t: t, dwk: dwkAgent, key: key, kid: "k-close", clock: w.clock}
	var closed atomic.Int32
	ap.srv = httptest.NewUnstartedServer(http.HandlerFunc(ap.serve))
	ap.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	ap.srv.Start()
	t.Cleanup(ap.srv.Close)
	ap.url = ap.srv.URL
	w.ap = ap

	wantStatus(t, w.do("GET", "/x", "", w.agentToken(nil)), http.StatusOK, "")
	if ap.jwksFetches.Load() != 1 {
		t.Fatalf("%d JWK Set fetches, want 1", ap.jwksFetches.Load())
	}
	if n := closed.Load(); n != 0 {
		t.Fatalf("%d connections closed before CloseIdleConnections", n)
	}
	w.rs.CloseIdleConnections()
	for i := 0; i < 200 && closed.Load() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if closed.Load() == 0 {
		t.Error("the connection to the issuer is still open")
	}
}
