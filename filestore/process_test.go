package filestore_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/filestore"
	"github.com/aauthgo/aauth/internal/storetest"
)

// TestProcessesHammer runs four processes that write, read, delete and
// prune the same few entries at once: none sees an error, a part-written
// or corrupt file, or a token no process wrote.
func TestProcessesHammer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	keys := []string{authKey, sessionKey, "person https://r.example  jkt-1"}
	var procs []*storetest.Proc
	for i := range 4 {
		procs = append(procs, storetest.Start(t, "hammer", hammerArgs{Dir: dir, ID: i, Keys: keys, Iterations: 300}))
	}
	for _, p := range procs {
		p.Expect(t, "ready")
	}
	for _, p := range procs {
		p.Expect(t, "done")
		p.Wait(t)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "tokens"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".lock" {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestProcessesLock: three processes add to a counter in a plain file,
// each holding LockToken for its read and write: no update is lost.
func TestProcessesLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	counterFile := filepath.Join(t.TempDir(), "counter")
	const procs, each = 3, 100
	var ps []*storetest.Proc
	for range procs {
		ps = append(ps, storetest.Start(t, "counter", counterArgs{Dir: dir, Key: authKey, Counter: counterFile, N: each}))
	}
	for _, p := range ps {
		p.Expect(t, "ready")
		p.Expect(t, "done")
		p.Wait(t)
	}
	b, err := os.ReadFile(counterFile)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := strconv.Atoi(string(b)); n != procs*each {
		t.Fatalf("counter %d, want %d: the lock let updates through together", n, procs*each)
	}
}

var _ aauth.TokenLocker = (*filestore.Store)(nil)

// TestFleet: three agent processes on one machine going cold at once
// against the kit fetch one person token and make one exchange between
// them; a process started again later is warm: one request to the
// resource, none to the person server.
func TestFleet(t *testing.T) {
	f := storetest.NewFleet(t)
	dir := filepath.Join(t.TempDir(), "state")
	url := f.World.Resource.URL + "/data"
	res := storetest.RunAgents(t, 3, f.Args(dir, true, url))
	if msg := storetest.Failed(res); msg != "" {
		t.Fatal(msg)
	}
	if c := f.Counts(); c.Exchanges != 1 || c.PersonTokens != 1 {
		t.Fatalf("3 cold processes: %+v; want 1 exchange and 1 person-token request", c)
	}
	f.World.Reset()
	res = storetest.RunAgents(t, 1, f.Args(dir, false, url))
	if msg := storetest.Failed(res); msg != "" {
		t.Fatal(msg)
	}
	if c := f.Counts(); c != (storetest.Counts{Resource: 1}) {
		t.Fatalf("restarted process: %+v, want one resource request and nothing else", c)
	}
}
