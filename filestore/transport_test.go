package filestore_test

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/filestore"
	"github.com/aauthgo/aauth/internal/storetest"
)

// TestTransportRestart: an agent that obtained its tokens through a file
// store and is started again (a new Transport on the store reopened)
// presents its auth token at once: one request to the resource, none to
// the person server.
func TestTransportRestart(t *testing.T) {
	f := storetest.NewFleet(t)
	dir := filepath.Join(t.TempDir(), "state")
	get := func() {
		t.Helper()
		store, err := filestore.Open(dir, filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		client := (&aauth.Transport{Keys: f.Agent, PersonServer: f.World.PS.URL, Tokens: store}).Client()
		resp, err := client.Get(f.World.Resource.URL + "/data")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	get()
	if c := f.Counts(); c.Exchanges != 1 || c.PersonTokens != 1 || c.Resource != 3 {
		t.Fatalf("cold run: %+v", c)
	}
	f.World.Reset()
	get()
	if c := f.Counts(); c != (storetest.Counts{Resource: 1}) {
		t.Fatalf("second run: %+v, want one resource request and nothing else", c)
	}
}
