package examples

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// TestDeferredCallAnsweredWithBare202 pins, without MCP, what the
// go-sdk/sse/deferred run of TestMCPOverAAuth needs. A
// resource holds a call (202 with a Location) for an interaction, then
// serves it on the agent's poll, and the handler's own answer is a bare
// 202: MCP answers so every POST on the HTTP+SSE transport, and
// notifications on streamable HTTP. The Transport's poller takes that 202,
// which has no Location, must hand back that 202, as it does when the same
// 202 answers the request directly, rather than take it for "still pending"
// and poll the finished pending URL again (which answers 410).
func TestDeferredCallAnsweredWithBare202(t *testing.T) {
	clock := aauthtest.NewFakeClock(time.Now()) // polling waits take no time
	w := aauthtest.NewWorld(aauthtest.WorldOptions{
		Now:  clock.Now,
		Logf: t.Logf,
		Resource: aauthtest.ResourceOptions{
			Mode: aauthtest.AccessAgentToken,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted) // accepted; the answer goes elsewhere
			}),
		},
	})
	defer w.Close()
	w.Resource.Queue(aauthtest.Defer(aauthtest.Interaction()))

	client := (&aauth.Transport{
		Keys:         w.AgentKeys("alice"),
		PersonServer: w.PS.URL,
		Clock:        clock,
		OnInteraction: func(ctx context.Context, url, code string) error {
			return w.Resource.CompleteInteraction(code)
		},
	}).Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.Resource.URL+"/messages", strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("err = %v, want the handler's 202", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") != "" {
		t.Errorf("got %d (Location %q), want the handler's bare 202", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := w.Resource.Served(); n != 1 {
		t.Errorf("the handler ran %d times, want 1", n)
	}
}
