package aauth_test

import (
	"net/http"
	"testing"

	"github.com/aauthgo/aauth"
)

// closeCounter is a RoundTripper that counts CloseIdleConnections calls.
type closeCounter struct {
	http.RoundTripper
	n int
}

func (c *closeCounter) CloseIdleConnections() { c.n++ }

// TestCloseIdleConnections: the Transport and the SigningTransport pass the
// call on to their Base, and http.Client finds it through them.
func TestCloseIdleConnections(t *testing.T) {
	base := &closeCounter{}
	(&http.Client{Transport: &aauth.Transport{Base: base}}).CloseIdleConnections()
	(&aauth.SigningTransport{Base: base}).Client().CloseIdleConnections()
	if base.n != 2 {
		t.Fatalf("Base.CloseIdleConnections called %d times, want 2", base.n)
	}
	// A Base without the method, and the default, are fine.
	(&aauth.Transport{Base: http.NewFileTransport(http.Dir("."))}).CloseIdleConnections()
	(&aauth.Transport{}).CloseIdleConnections()
}
