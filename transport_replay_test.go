package aauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/resource"
)

// TestTransportIdenticalRequestsInOneSecond: a caller that sends the
// same state-changing request twice within one second gets both served.
// The two are signed byte for byte alike (Ed25519 is deterministic and
// created has whole seconds), so a resource's replay check refuses the
// second (Signature-Error invalid_signature), and -11 defines no nonce;
// the Transport signs it again in the next second, once.
func TestTransportIdenticalRequestsInOneSecond(t *testing.T) {
	clk := aauthtest.NewFakeClock(time.Date(2026, 12, 3, 10, 0, 0, 400e6, time.UTC))
	w := aauthtest.NewWorld(aauthtest.WorldOptions{Now: clk.Now})
	defer w.Close()
	rs := &resource.Resource{Mode: resource.AgentToken, Now: clk.Now}
	var served []string
	srv := httptest.NewServer(rs.Require(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		served = append(served, string(b))
		io.WriteString(rw, "ok")
	})))
	defer srv.Close()
	rs.Issuer = srv.URL

	tr := &aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL, Clock: clk}
	defer tr.Close()
	post := func() (*http.Response, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/counter", strings.NewReader(`{"add":1}`))
		req.Header.Set("Content-Type", "application/json")
		return tr.RoundTrip(req)
	}
	for i := range 2 {
		resp, err := post()
		if err != nil {
			t.Fatalf("POST %d: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %d: %d (Signature-Error %q)", i+1, resp.StatusCode, resp.Header.Get("Signature-Error"))
		}
	}
	if len(served) != 2 {
		t.Errorf("served %d, want 2", len(served))
	}
}
