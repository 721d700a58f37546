package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildCommand builds the aauth binary into a directory of the test's.
func buildCommand(t *testing.T) string {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "aauth")
	if out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The real binary: what main passes to run, and the exit statuses the
// shell sees.
func TestBinaryExitCodes(t *testing.T) {
	bin := buildCommand(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/data"
	ln.Close()
	key := filepath.Join(dir, "agent.jwk")

	for _, tc := range []struct {
		args []string
		env  []string
		code int
		want string // on stdout for 0, on stderr otherwise
	}{
		{[]string{"keygen", "-o", key}, nil, 0, `"kty":"OKP"`},
		{[]string{"fetch", "-h"}, nil, 0, "Usage: aauth fetch"},
		{nil, nil, 2, "aauth: no command given"},
		{[]string{"fetch"}, nil, 2, "aauth: fetch needs a URL"},
		{[]string{"fetch", "--nope", closed}, nil, 2, "flag provided but not defined"},
		{[]string{"fetch", "--hwk", closed}, []string{"AAUTH_KEY=" + key}, 1, "refused"},
		{[]string{"demo"}, nil, 0, `"presented":"auth"`},
		{[]string{"--version"}, nil, 0, "built with go1."},
		{[]string{"fetch", "--person-server", "ftp://ps.example", "--hwk", closed}, []string{"AAUTH_KEY=" + key}, 2, `--person-server "ftp://ps.example" must be an https URL`},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tc.env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("aauth %v: %v", tc.args, err)
		}
		recordOutput(t, "stdout of the binary", stdout.String())
		recordOutput(t, "stderr of the binary", stderr.String())
		where := stderr.String()
		if tc.code == 0 {
			where = stdout.String()
		}
		if code != tc.code || !strings.Contains(where, tc.want) {
			t.Errorf("aauth %v: exit %d, want %d and %q\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, tc.want, &stdout, &stderr)
		}
		if tc.code != 0 && strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("aauth %v: stderr is not one line:\n%s", tc.args, &stderr)
		}
		if len(tc.args) > 0 && tc.args[0] == "demo" && time.Since(start) > 10*time.Second {
			t.Errorf("the demo took %v", time.Since(start))
		}
	}

	// Ctrl-C while a request waits: exit 130, one line.
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	cmd := exec.Command(bin, "fetch", "--hwk", srv.URL+"/slow")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "AAUTH_KEY=" + key}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the request never arrived")
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("aauth did not stop on SIGINT")
	}
	recordOutput(t, "stderr of the interrupted binary", stderr.String())
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted || !strings.HasSuffix(stderr.String(), ": interrupted\n") || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("after SIGINT: %v, stderr %q; want exit 130 and one line ending \": interrupted\"", err, stderr.String())
	}
}
