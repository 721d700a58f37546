package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/internal/storetest"
)

// These tests run the command as a user does: the binary, one process
// per run, on the real clock, against the kit's servers in the test
// process. Each run's requests are counted at the resource and the
// person server.

// runProcess runs the binary with env and args, bounded in time, and
// records its output for the leak check.
func runProcess(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("aauth %v: %v", args, err)
	}
	recordOutput(t, "stdout of aauth "+strings.Join(args, " "), r.stdout)
	recordOutput(t, "stderr of aauth "+strings.Join(args, " "), r.stderr)
	return r
}

// storeWorld is a World on the real clock (the processes use theirs), an
// agent's files, and the environment of a user whose state directory is
// the test's.
type storeWorld struct {
	w     *aauthtest.World
	a     *agentFiles
	bin   string
	state string // $XDG_STATE_HOME
	env   []string
}

func newStoreWorld(t *testing.T, opts aauthtest.WorldOptions) *storeWorld {
	t.Helper()
	s := &storeWorld{bin: buildCommand(t), state: t.TempDir()}
	s.w = aauthtest.NewWorld(opts)
	recordWorld(s.w)
	t.Cleanup(s.w.Close)
	s.a = newAgentFiles(t, s.w)
	s.env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + s.state}
	return s
}

// fetch runs "aauth fetch" as the agent in a new process, wants it to
// succeed, and returns what the servers saw of it. (The World is not
// reset: that would forget the resource's sessions.)
func (s *storeWorld) fetch(t *testing.T, args ...string) (result, storetest.Counts) {
	t.Helper()
	f := &storetest.Fleet{World: s.w}
	before := f.Counts()
	full := append([]string{"fetch", "--key", s.a.key, "--agent-token", "@" + s.a.token}, args...)
	r := runProcess(t, s.bin, s.env, full...)
	if r.code != 0 {
		t.Fatalf("aauth %v:\n%s", args, r)
	}
	c := f.Counts()
	return r, storetest.Counts{
		Resource:     c.Resource - before.Resource,
		PersonTokens: c.PersonTokens - before.PersonTokens,
		Exchanges:    c.Exchanges - before.Exchanges,
		PS:           c.PS - before.PS,
	}
}

// TestFetchSecondProcessWarm: a second "aauth fetch" process presents the
// auth token the first obtained and kept in the default store: one
// request to the resource, none to the person server. --no-store starts
// cold; --store keeps tokens elsewhere.
func TestFetchSecondProcessWarm(t *testing.T) {
	s := newStoreWorld(t, aauthtest.WorldOptions{})
	url := s.w.Resource.URL + "/data"
	cold := func(c storetest.Counts) bool { return c.Resource == 3 && c.PersonTokens == 1 && c.Exchanges == 1 }
	warm := storetest.Counts{Resource: 1}

	r, c := s.fetch(t, url)
	t.Logf("first process: %+v", c)
	if !cold(c) || !strings.Contains(r.stdout, `"presented":"auth"`) {
		t.Fatalf("first process: %+v\n%s", c, r)
	}
	r, c = s.fetch(t, url)
	t.Logf("second process: %+v", c)
	if c != warm || !strings.Contains(r.stdout, `"presented":"auth"`) || r.stderr != "" {
		t.Fatalf("second process: %+v, want %+v\n%s", c, warm, r)
	}
	// The trace of a warm run: the auth token presented at once.
	r, _ = s.fetch(t, "--explain", url)
	t.Logf("third process, explained:\n%s", r.stderr)
	if !strings.Contains(r.stderr, "GET "+url+" (auth token)") || strings.Contains(r.stderr, s.w.PS.URL) {
		t.Fatalf("the trace of a warm run:\n%s", r.stderr)
	}
	checkStoreLayout(t, filepath.Join(s.state, "aauth"), s.a.tokenValue)

	if _, c = s.fetch(t, "--no-store", url); !cold(c) {
		t.Fatalf("--no-store: %+v, want a cold run", c)
	}
	other := filepath.Join(t.TempDir(), "elsewhere")
	if _, c = s.fetch(t, "--store", other, url); !cold(c) {
		t.Fatalf("--store, first run: %+v, want a cold run", c)
	}
	if _, c = s.fetch(t, url, "--store", other); c != warm {
		t.Fatalf("--store, second run: %+v, want %+v", c, warm)
	}
	checkStoreLayout(t, other, s.a.tokenValue)
}

// TestFetchSecondProcessSession: a session token a resource handed out
// (AAuth-Access) in one run is presented by the next.
func TestFetchSecondProcessSession(t *testing.T) {
	s := newStoreWorld(t, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken}})
	url := s.w.Resource.URL + "/files"
	if _, c := s.fetch(t, url); c != (storetest.Counts{Resource: 1}) {
		t.Fatalf("first process: %+v", c)
	}
	issued := s.w.Resource.Issued()
	if len(issued) != 1 || issued[0].Kind != aauthtest.TokenSession {
		t.Fatalf("the resource issued %+v, want one session token", issued)
	}
	r, c := s.fetch(t, url)
	reqs := s.w.Resource.Requests()
	last := reqs[len(reqs)-1]
	if c != (storetest.Counts{Resource: 1}) || last.Session != issued[0].Token || !strings.Contains(r.stdout, `"presented":"session"`) {
		t.Fatalf("second process: %+v, presenting the session token: %v\n%s", c, last.Session == issued[0].Token, r)
	}
	if n := len(s.w.Resource.Issued()); n != 1 {
		t.Fatalf("%d session tokens issued, want 1: the second run was not served on the first's", n)
	}
}

// checkStoreLayout checks the store's directory: a private tokens
// directory of private JSON files named by hashes, holding no agent
// token.
func checkStoreLayout(t *testing.T, dir, agentToken string) {
	t.Helper()
	tokens := filepath.Join(dir, "tokens")
	fi, err := os.Stat(tokens)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v, %v; want a 0700 directory", tokens, fi, err)
	}
	entries := 0
	filepath.WalkDir(tokens, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, _ := d.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %#o, want 0600", path, info.Mode().Perm())
		}
		name := d.Name()
		if strings.HasSuffix(name, ".json") {
			entries++
			if len(strings.TrimSuffix(name, ".json")) != 64 {
				t.Errorf("entry %s is not named by a hash", name)
			}
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(agentToken)) {
				t.Errorf("%s holds the agent token", path)
			}
		}
		return nil
	})
	if entries == 0 {
		t.Fatalf("no entries in %s", tokens)
	}
}

// TestFetchSeveralURLs: one run fetches its URLs in order with one
// Transport (the second URL of the resource is warm), writes each answer
// with its head as curl -i does, and goes on after a failure.
func TestFetchSeveralURLs(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	gone := newWorld404(t)
	r := a.run(t, clk, "", "fetch", "-i", w.Resource.URL+"/a", gone+"/missing", w.Resource.URL+"/b")
	if r.code != exitFailure {
		t.Fatalf("want exit 1 for the 404:\n%s", r)
	}
	if line := wantOneErrorLine(t, r); !strings.Contains(line, "GET "+gone+"/missing: 404 Not Found") {
		t.Fatalf("error line %q", line)
	}
	heads := strings.Count(r.stdout, "HTTP/1.1 ")
	a1, miss, b := strings.Index(r.stdout, `"path":"/a"`), strings.Index(r.stdout, "no such page"), strings.Index(r.stdout, `"path":"/b"`)
	if heads != 3 || a1 < 0 || miss < a1 || b < miss {
		t.Fatalf("want three answers with heads, in order:\n%s", r.stdout)
	}
	c := (&storetest.Fleet{World: w}).Counts()
	if c.Resource != 4 || c.Exchanges != 1 {
		t.Fatalf("%+v: want 3 resource requests for /a and 1 for /b, one exchange", c)
	}

	// A failing last URL is the error; the earlier ones are served. The
	// trace takes each URL's origin for the resource's: the second URL's
	// request is not indented as a person server's would be.
	r = a.run(t, clk, "", "fetch", "--explain", w.Resource.URL+"/a", gone+"/missing")
	if r.code != exitFailure || !strings.Contains(r.stdout, `"path":"/a"`) {
		t.Fatalf("want exit 1 and /a served:\n%s", r)
	}
	if !strings.Contains(r.stderr, "\n→ GET "+gone+"/missing") || !strings.Contains(r.stderr, "\n  → POST "+w.PS.URL) {
		t.Fatalf("the trace of two URLs:\n%s", r.stderr)
	}
	if last := lastLine(r.stderr); !strings.HasPrefix(last, "aauth: GET "+gone+"/missing: 404") {
		t.Fatalf("the last line is not the error: %q", last)
	}
}

// newWorld404 starts a server that answers every request 404, and
// returns its URL.
func newWorld404(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such page", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFetchDefaultStoreUnusable: a default store that cannot be opened
// costs the run nothing but a warning; tokens stay in memory.
func TestFetchDefaultStoreUnusable(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	a := newAgentFiles(t, w)
	file := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{clock: clk, getenv: func(k string) string {
		if k == "XDG_STATE_HOME" {
			return file // a file, not a directory
		}
		return ""
	}}
	r := runEnv(t, e, "", "fetch", "--key", a.key, "--agent-token", "@"+a.token, w.Resource.URL+"/data")
	if r.code != 0 || !strings.Contains(r.stdout, `"presented":"agent"`) {
		t.Fatalf("want the fetch served:\n%s", r)
	}
	if ls := lines(r.stderr); len(ls) != 1 || !strings.HasPrefix(ls[0], "aauth: warning: not keeping tokens: ") {
		t.Fatalf("want one warning line:\n%s", r)
	}
}
