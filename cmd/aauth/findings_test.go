package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// The command's findings of the adversarial review (issue 11).

// --version says the module version, the commit and the Go release from
// the build info.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version"} {
		r := runCmd(t, "", arg)
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "aauth ") || !strings.Contains(r.stdout, "go1.") {
			t.Errorf("aauth %s:\n%s", arg, r)
		}
	}
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/aauthgo/aauth", Version: "v0.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "05fe0d1c0ffee05fe0d1c0ffee05fe0d1c0ffee0"},
			{Key: "vcs.time", Value: "2026-11-26T12:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{bi, "aauth v0.4.0 (commit 05fe0d1c0ffe, 2026-11-26T12:00:00Z, modified)\nbuilt with go1.26.8 for linux/arm64\n"},
		{&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "aauth (devel)\nbuilt with go1.26.8\n"},
		{nil, "aauth (no build information)\n"},
	} {
		e := &env{buildInfo: func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil }}
		if r := runEnv(t, e, "", "--version"); r.code != 0 || r.stdout != tc.want {
			t.Errorf("version:\n%s\nwant stdout:\n%s", r, tc.want)
		}
	}
}

// A malformed --person-server (or AAUTH_PERSON_SERVER) is bad usage,
// refused before any request.
func TestPersonServerMalformed(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	for _, tc := range []struct {
		ps, want string
	}{
		{"ftp://ps.example", `--person-server "ftp://ps.example" must be an https URL`},
		{"http://ps.example", "must use https (http only for a loopback host)"},
		{"ps.example", "is not an absolute URL"},
		{"https://ps.example/?x=1", "must not have a query or fragment"},
		{"https://alice:pw@ps.example", "--person-server must not contain user info"},
		{"https://[::1", "is not an absolute URL"},
	} {
		r := a.run(t, clk, "", "fetch", "--person-server", tc.ps, w.Resource.URL+"/data")
		if r.code != exitUsage || r.stdout != "" {
			t.Errorf("--person-server %s: want exit 2, got\n%s", tc.ps, r)
			continue
		}
		if line := wantOneErrorLine(t, r); !strings.Contains(line, tc.want) || strings.Contains(line, "pw@") {
			t.Errorf("--person-server %s: %q, want it to say %q", tc.ps, line, tc.want)
		}
	}
	e := &env{clock: clk, getenv: func(k string) string {
		return map[string]string{"AAUTH_KEY": a.key, "AAUTH_AGENT_TOKEN": "@" + a.token, "AAUTH_PERSON_SERVER": "gopher://ps"}[k]
	}}
	if r := runEnv(t, e, "", "fetch", w.Resource.URL+"/data"); r.code != exitUsage || !strings.Contains(r.stderr, "AAUTH_PERSON_SERVER") {
		t.Errorf("AAUTH_PERSON_SERVER: want exit 2 naming it, got\n%s", r)
	}
	if n := len(w.Resource.Requests()); n != 0 {
		t.Errorf("%d requests reached the resource", n)
	}
	// A trailing slash is a well-formed person server URL.
	if r := a.run(t, clk, "", "fetch", "--person-server", w.PS.URL+"/", w.Resource.URL+"/data"); r.code != 0 {
		t.Errorf("--person-server with a trailing slash:\n%s", r)
	}
}

// An agent token that has expired, or expires before the request may end,
// is warned about on stderr; the request is still made.
func TestAgentTokenExpiryWarning(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	a := newAgentFiles(t, w) // an hour's token, from the world's clock
	if r := a.run(t, clk, "", "fetch", w.Resource.URL+"/data"); r.code != 0 || r.stderr != "" {
		t.Fatalf("a fresh token:\n%s", r)
	}
	clk.Advance(50 * time.Minute) // 10 minutes left, polling may take 15
	r := a.run(t, clk, "", "fetch", w.Resource.URL+"/data")
	if !strings.HasPrefix(r.stderr, "aauth: warning: the agent token expires in 10m0s (at 2026-11-26T13:00:00Z), before this request may end\n") {
		t.Errorf("a token expiring within the run:\n%s", r)
	}
	if r := a.run(t, clk, "", "fetch", "--timeout", "5m", w.Resource.URL+"/data"); r.stderr != "" {
		t.Errorf("a token that outlives --timeout:\n%s", r)
	}
	clk.Advance(15 * time.Minute)
	r = a.run(t, clk, "", "fetch", w.Resource.URL+"/data")
	if !strings.HasPrefix(r.stderr, "aauth: warning: the agent token expired 5m0s ago (at 2026-11-26T13:00:00Z)") {
		t.Errorf("an expired token:\n%s", r)
	}
	if n := len(w.Resource.Requests()); n < 4 {
		t.Errorf("%d requests for 4 fetches: a warning does not stop the request", n)
	}
}

// Errors about files name the flag they came from, and never a temporary
// file.
func TestFileErrorsNameTheFlag(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.jwt")
	u := w.Resource.URL + "/data"
	for _, tc := range []struct {
		name string
		e    *env
		args []string
		want string
	}{
		{"--agent-token @file", &env{clock: clk}, []string{"fetch", "--key", a.key, "--agent-token", "@" + missing, u},
			"--agent-token @" + missing + ": no such file or directory"},
		{"AAUTH_AGENT_TOKEN @file", &env{clock: clk, getenv: func(k string) string {
			return map[string]string{"AAUTH_AGENT_TOKEN": "@" + missing}[k]
		}}, []string{"fetch", "--key", a.key, u}, "AAUTH_AGENT_TOKEN @" + missing + ": no such file or directory"},
		{"--key file", &env{clock: clk}, []string{"fetch", "--key", missing, "--agent-token", "@" + a.token, u},
			"--key " + missing + ": no such file or directory"},
		{"-d @file", &env{clock: clk}, []string{"fetch", "--key", a.key, "--agent-token", "@" + a.token, "-d", "@" + missing, u},
			"-d @" + missing + ": no such file or directory"},
		{"agent-token --key", &env{}, []string{"agent-token", "--provider-key", a.key, "--key", missing, "--sub", "aauth:x@y", "--iss", "https://agent.example"},
			"--key " + missing + ": no such file or directory"},
		{"agent-token --provider-key", &env{}, []string{"agent-token", "--provider-key", missing, "--key", a.key, "--sub", "aauth:x@y", "--iss", "https://agent.example"},
			"--provider-key " + missing + ": no such file or directory"},
		{"keygen -o into a missing directory", &env{}, []string{"keygen", "-o", filepath.Join(dir, "no", "k.jwk")},
			"-o " + filepath.Join(dir, "no", "k.jwk") + ": the directory " + filepath.Join(dir, "no") + " does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runEnv(t, tc.e, "", tc.args...)
			if r.code != exitUsage {
				t.Errorf("want exit 2, got\n%s", r)
			}
			if line := wantOneErrorLine(t, r); !strings.Contains(line, tc.want) || strings.Contains(line, ".tmp-") || strings.Contains(line, "open ") {
				t.Errorf("error line %q, want it to say %q", line, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// Interrupted (the context main cancels on SIGINT), a command exits 130
// with one line saying so.
func TestInterruptedExit130(t *testing.T) {
	var arrived atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	key := filepath.Join(dir, "agent.jwk")
	if r := runCmd(t, "", "keygen", "-o", key); r.code != 0 {
		t.Fatal(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for arrived.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	var stdout, stderr strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"AAUTH_KEY": key}[k]
	}}
	code := e.run(ctx, []string{"fetch", "--hwk", srv.URL + "/slow"})
	recordOutput(t, "stderr", stderr.String())
	if code != exitInterrupted || !strings.HasSuffix(stderr.String(), ": interrupted\n") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 130 and one line ending \": interrupted\"", code, stderr.String())
	}
}
