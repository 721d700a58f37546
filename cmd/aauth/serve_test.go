package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// serveWorld is the kit's agent provider and person server on the system
// clock (the served resource judges tokens by it), their tokens checked
// against every output of the suite.
func serveWorld(t *testing.T) *aauthtest.World {
	t.Helper()
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	recordWorld(w)
	t.Cleanup(w.Close)
	return w
}

// dataAnswer is what /data answers.
type dataAnswer struct {
	OK     bool
	Method string
	Path   string
	Caller struct {
		Kind, Thumbprint, Iss, Agent, PS, Sub, Scope string
	}
}

// checkData checks a /data answer: the person the world's person server
// vouched for, with an auth token of scope read.
func checkData(t *testing.T, w *aauthtest.World, issuer string, body []byte) {
	t.Helper()
	var d dataAnswer
	if err := json.Unmarshal(body, &d); err != nil || !d.OK || !bytes.Contains(body, []byte(`"ok":true`)) {
		t.Fatalf("/data answered %q: %v", body, err)
	}
	c := d.Caller
	if d.Path != "/data" || c.Kind != "auth" || c.Iss != w.PS.URL || c.PS != w.PS.URL || c.Sub != w.PS.Subject(issuer) || c.Scope != "read" || c.Thumbprint == "" {
		t.Errorf("/data answered %s", body)
	}
	if n := bytes.Count(bytes.TrimSpace(body), []byte("\n")); n != 0 {
		t.Errorf("/data's JSON is not compact: %s", body)
	}
}

func TestServeUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "serve needs --person-server"},
		{[]string{"serve", "--person-server", "https://ps.example", "--mode", "open"}, `--mode "open"`},
		{[]string{"serve", "--person-server", "https://ps.example", "extra"}, "serve takes no arguments"},
		{[]string{"serve", "--person-server", "https://ps.example", "--addr", "127.0.0.1:0", "--issuer", "http://api.example"}, "must be https"},
		{[]string{"serve", "--person-server", "https://ps.example", "--addr", "no-such-host.invalid:99999"}, "--addr"},
	} {
		r := runCmd(t, "", tc.args...)
		if r.code != exitUsage || !strings.Contains(wantOneErrorLine(t, r), tc.want) || r.stdout != "" {
			t.Errorf("aauth %v:\n%s\nwant exit 2 and %q", tc.args, r, tc.want)
		}
	}
	if r := runCmd(t, "", "serve", "-h"); r.code != 0 || !strings.HasPrefix(r.stdout, "Usage: aauth serve") {
		t.Errorf("serve -h:\n%s", r)
	}
}

// getData gets url (/data) with a Transport for the agent name and
// returns the body of its 200.
func getData(t *testing.T, ctx context.Context, w *aauthtest.World, name, url string) []byte {
	t.Helper()
	client := (&aauth.Transport{Keys: w.AgentKeys(name), PersonServer: w.PS.URL}).Client()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return body
}

// firstLine reads the "listening URL" line and returns the URL.
func firstLine(t *testing.T, r io.Reader) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "listening ")
	if err != nil || !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q (%v), want \"listening http://127.0.0.1:PORT\"", line, err)
	}
	return url
}

// In process: serve prints where it listens, an agent's Transport and
// "aauth fetch" get 200 from /data through the whole flow, and the end of
// the context (SIGINT) stops it with exit status 0.
func TestServe(t *testing.T) {
	w := serveWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serving, stop := context.WithCancel(ctx)
	defer stop()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer // read once serve has returned
	done := make(chan int, 1)
	go func() {
		e := &env{stdout: pw, stderr: &stderr, getenv: func(string) string { return "" }}
		done <- e.run(serving, []string{"serve", "--addr", "127.0.0.1:0", "--person-server", w.PS.URL})
		pw.Close()
	}()
	issuer := firstLine(t, pr)
	go io.Copy(io.Discard, pr)
	w.PS.TrustResource(issuer)

	// A Transport.
	checkData(t, w, issuer, getData(t, ctx, w, "alice", issuer+"/data"))

	// The command's own fetch.
	a := newAgentFiles(t, w)
	r := runEnv(t, &env{}, "", "fetch", "--key", a.key, "--agent-token", "@"+a.token, issuer+"/data")
	if r.code != 0 {
		t.Fatalf("fetch:\n%s", r)
	}
	checkData(t, w, issuer, []byte(r.stdout))

	// Unsigned: refused, and logged.
	if resp, err := http.Get(issuer + "/data"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned GET /data: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// The discovery documents are served, unsigned.
	for _, p := range []string{"/.well-known/aauth-resource.json", "/.well-known/aauth-resource-jwks.json"} {
		resp, err := http.Get(issuer + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}

	stop()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after the context ended", code)
		}
	case <-ctx.Done():
		t.Fatal("serve did not stop")
	}
	log := stderr.String()
	recordOutput(t, "stderr of serve", log)
	if !strings.Contains(log, `msg="aauth: request refused" method=GET path=/data status=401`) ||
		!strings.Contains(log, `msg="aauth: served" method=GET path=/data kind=auth iss=`+w.PS.URL) {
		t.Errorf("stderr:\n%s", log)
	}
}

// The built binary: first line, /data through "aauth fetch" (a second
// process) and a Transport, and exit status 0 on SIGINT and on SIGTERM.
func TestServeBinary(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the binary with")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "aauth")
	if out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	w := serveWorld(t)
	a := newAgentFiles(t, w)

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--person-server", w.PS.URL)
			cmd.Env = []string{"PATH=/usr/bin:/bin"}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer // read once the process has exited
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() {
				select {
				case <-exited:
				default:
					cmd.Process.Kill()
					<-exited
				}
				recordOutput(t, "stderr of aauth serve", stderr.String())
			})
			issuer := firstLine(t, stdout)
			go io.Copy(io.Discard, stdout)
			w.PS.TrustResource(issuer)

			fetch := exec.CommandContext(ctx, bin, "fetch", "--key", a.key, "--agent-token", "@"+a.token, issuer+"/data")
			fetch.Env = []string{"PATH=/usr/bin:/bin"}
			var out, errOut bytes.Buffer
			fetch.Stdout, fetch.Stderr = &out, &errOut
			if err := fetch.Run(); err != nil {
				t.Fatalf("aauth fetch: %v\n%s", err, &errOut)
			}
			recordOutput(t, "stdout of aauth fetch", out.String())
			recordOutput(t, "stderr of aauth fetch", errOut.String())
			checkData(t, w, issuer, out.Bytes())

			checkData(t, w, issuer, getData(t, ctx, w, "bob", issuer+"/data"))

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				var exit *exec.ExitError
				if errors.As(err, &exit) || err != nil {
					t.Errorf("after %v: %v\nstderr:\n%s", sig, err, stderr.String())
				}
				exited <- err // for the cleanup
			case <-ctx.Done():
				t.Fatalf("aauth serve still running after %v", sig)
			}
		})
	}
}
