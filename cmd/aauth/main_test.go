package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
)

// suite collects, across the whole run, every output the command wrote and
// every token the test servers issued; TestMain fails the run if any
// output holds any of those tokens.
var suite struct {
	mu      sync.Mutex
	outputs []output
	issuers []issuer
}

// issuer is a test server that issues tokens: a PersonServer or a
// Resource.
type issuer interface {
	Issued() []aauthtest.IssuedToken
}

type output struct {
	test, what, text string
}

func recordOutput(t testing.TB, what, text string) {
	suite.mu.Lock()
	suite.outputs = append(suite.outputs, output{t.Name(), what, text})
	suite.mu.Unlock()
}

// recordIssuers has the tokens of servers checked against every output.
func recordIssuers(servers ...issuer) {
	suite.mu.Lock()
	suite.issuers = append(suite.issuers, servers...)
	suite.mu.Unlock()
}

func recordWorld(w *aauthtest.World) { recordIssuers(w.PS, w.Resource) }

func TestMain(m *testing.M) {
	code := m.Run()
	if leaks := tokenLeaks(); len(leaks) > 0 {
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "TOKEN LEAK:", l)
		}
		code = 1
	}
	os.Exit(code)
}

// tokenLeaks greps every output for every token the servers issued: person
// and auth tokens (PS.Issued), resource and session tokens
// (Resource.Issued).
func tokenLeaks() []string {
	suite.mu.Lock()
	defer suite.mu.Unlock()
	var tokens []aauthtest.IssuedToken
	for _, s := range suite.issuers {
		tokens = append(tokens, s.Issued()...)
	}
	var leaks []string
	for _, o := range suite.outputs {
		for _, tok := range tokens {
			if tok.Token != "" && strings.Contains(o.text, tok.Token) {
				leaks = append(leaks, fmt.Sprintf("%s: the %s holds a %s token", o.test, o.what, tok.Kind))
			}
		}
	}
	return leaks
}

// TestTokenLeakCheck makes sure the leak check can fail: an output
// holding an issued token is found.
func TestTokenLeakCheck(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	agent := newAgentFiles(t, w)
	res := agent.run(t, clk, "", "fetch", w.Resource.URL+"/x")
	if res.code != 0 {
		t.Fatalf("fetch: %v", res)
	}
	issued := w.PS.Issued()
	if len(issued) == 0 {
		t.Fatal("no tokens issued")
	}
	suite.mu.Lock()
	n := len(suite.outputs)
	suite.outputs = append(suite.outputs, output{t.Name(), "planted output", "x" + issued[0].Token + "x"})
	suite.mu.Unlock()
	leaks := tokenLeaks()
	suite.mu.Lock()
	suite.outputs = suite.outputs[:n]
	suite.mu.Unlock()
	if len(leaks) != 1 || !strings.Contains(leaks[0], "planted output") {
		t.Fatalf("leak check found %q, want the planted token", leaks)
	}
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// runEnv runs the command line args with e (its streams are replaced) and
// records the output for the leak check.
func runEnv(t testing.TB, e *env, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e.stdin, e.stdout, e.stderr = strings.NewReader(stdin), &stdout, &stderr
	if e.getenv == nil {
		e.getenv = func(string) string { return "" }
	}
	code := e.run(context.Background(), args)
	r := result{code, stdout.String(), stderr.String()}
	recordOutput(t, "stdout of "+strings.Join(args, " "), r.stdout)
	recordOutput(t, "stderr of "+strings.Join(args, " "), r.stderr)
	return r
}

// runCmd runs args through run, as main does, with an empty environment.
func runCmd(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return runEnv(t, &env{}, stdin, args...)
}

// epoch is the virtual time the tests' servers and agents share.
var epoch = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newWorld starts the kit's three servers on a virtual clock, and has
// their tokens checked against every output of the suite.
func newWorld(t *testing.T, p aauth.Profile, opts aauthtest.WorldOptions) (*aauthtest.World, *aauthtest.FakeClock) {
	t.Helper()
	clk := aauthtest.NewFakeClock(epoch)
	opts.Profile, opts.Now = p, clk.Now
	w := aauthtest.NewWorld(opts)
	recordWorld(w)
	t.Cleanup(w.Close)
	return w, clk
}

// agentFiles is an agent's key file and agent token file, as a user of
// the command would have them.
type agentFiles struct {
	dir, key, token string
	tokenValue      string
	signer          ed25519.PrivateKey
}

// newAgentFiles makes a key with "aauth keygen" and has the world's agent
// provider mint an agent token for it.
func newAgentFiles(t *testing.T, w *aauthtest.World) *agentFiles {
	t.Helper()
	dir := t.TempDir()
	a := &agentFiles{dir: dir, key: filepath.Join(dir, "agent.jwk"), token: filepath.Join(dir, "agent.jwt")}
	if r := runCmd(t, "", "keygen", "-o", a.key); r.code != 0 {
		t.Fatalf("keygen: %v", r)
	}
	signer, err := keys.ReadFile(a.key, w.Profile)
	if err != nil {
		t.Fatal(err)
	}
	a.signer = signer.(ed25519.PrivateKey)
	if a.tokenValue, err = w.Agent.Mint("alice", a.signer.Public()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.token, []byte(a.tokenValue+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// run runs "aauth <args…>" as this agent: --key and --agent-token are
// added after the command name, on the world's clock.
func (a *agentFiles) run(t *testing.T, clk *aauthtest.FakeClock, stdin string, cmd string, args ...string) result {
	t.Helper()
	full := append([]string{cmd, "--key", a.key, "--agent-token", "@" + a.token}, args...)
	return runEnv(t, &env{clock: clk}, stdin, full...)
}

// lines splits output into its lines.
func lines(s string) []string {
	return strings.Split(strings.TrimRight(s, "\n"), "\n")
}

// wantOneErrorLine checks that stderr is exactly one "aauth: " line.
func wantOneErrorLine(t *testing.T, r result) string {
	t.Helper()
	ls := lines(r.stderr)
	if r.stderr == "" || len(ls) != 1 || !strings.HasPrefix(ls[0], "aauth: ") {
		t.Fatalf("stderr is not one \"aauth: \" line:\n%s", r)
	}
	return ls[0]
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	ls := lines(s)
	return ls[len(ls)-1]
}
