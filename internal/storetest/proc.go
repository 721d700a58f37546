// Package storetest runs the tests the token stores share: child
// processes of the test binary (real processes, not goroutines) that use a
// store at the same time, an agent role that runs a Transport against
// an aauthtest World from such a child, and a record of a store's events
// (Events). Only tests import it.
package storetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/procgroup"
)

// The environment of a child: the role to run and its arguments (JSON).
const (
	envRole = "AAUTH_STORETEST_ROLE"
	envArgs = "AAUTH_STORETEST_ARGS"
)

// Bounds on a child: from start to any one line it prints, and from the
// end of the test to its exit.
const (
	lineTimeout = 30 * time.Second
	stopTimeout = 5 * time.Second
)

// Role is what a child process runs: it reads its arguments, may read
// lines from in (sent by the parent with Proc.Send) and writes lines to
// out. An error ends the child with status 1, its text on stderr.
type Role func(args json.RawMessage, in *bufio.Reader, out io.Writer) error

// Main runs the role the environment names and exits, when this process
// is a child started by Start; otherwise it returns at once. Call it first
// in TestMain.
func Main(roles map[string]Role) {
	name := os.Getenv(envRole)
	if name == "" {
		return
	}
	role, ok := roles[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "storetest: unknown role %q\n", name)
		os.Exit(2)
	}
	if err := role(json.RawMessage(os.Getenv(envArgs)), bufio.NewReader(os.Stdin), os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: %s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Proc is a child process running a role.
type Proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *tailBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// Start runs role in a new process of the test binary, with args encoded
// as JSON. The process is killed when the test ends if it has not exited.
func Start(t testing.TB, role string, args any) *Proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"="+role, envArgs+"="+string(a))
	procgroup.Own(cmd)
	p := &Proc{cmd: cmd, lines: make(chan string, 64), stderr: &tailBuffer{n: 16 << 10}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		select {
		case <-p.exited:
			return
		case <-time.After(stopTimeout):
		}
		p.Kill()
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			t.Errorf("child %d did not exit after a kill", cmd.Process.Pid)
		}
	})
	return p
}

// Pid returns the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Line returns the next line the child prints, failing the test when
// there is none within a bound.
func (p *Proc) Line(t testing.TB) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.exited
			t.Fatalf("child %d ended (%v) without the line expected; stderr: %s", p.Pid(), p.err, p.stderr)
		}
		return l
	case <-time.After(lineTimeout):
		t.Fatalf("child %d printed nothing for %s; stderr: %s", p.Pid(), lineTimeout, p.stderr)
	}
	return ""
}

// Expect reads the next line and fails the test unless it starts with
// prefix. It returns the rest of the line.
func (p *Proc) Expect(t testing.TB, prefix string) string {
	t.Helper()
	l := p.Line(t)
	rest, ok := strings.CutPrefix(l, prefix)
	if !ok {
		t.Fatalf("child %d printed %q, want %q…", p.Pid(), l, prefix)
	}
	return strings.TrimSpace(rest)
}

// Send writes a line to the child's standard input.
func (p *Proc) Send(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("writing to child %d: %v", p.Pid(), err)
	}
}

// Wait closes the child's input and waits, bounded, for it to exit; it
// fails the test unless it exits with status 0.
func (p *Proc) Wait(t testing.TB) {
	t.Helper()
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(lineTimeout):
		p.Kill()
		t.Fatalf("child %d did not exit; stderr: %s", p.Pid(), p.stderr)
	}
	if p.err != nil {
		t.Fatalf("child %d: %v; stderr: %s", p.Pid(), p.err, p.stderr)
	}
}

// Kill kills the child (and anything it started) at once, as a crash
// would, and waits for it, bounded.
func (p *Proc) Kill() {
	procgroup.Kill(p.cmd)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
	}
}

// Context returns a context that ends with the test's deadline, or after
// a minute.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// tailBuffer keeps the first n bytes written to it, safely for the
// goroutine that copies a child's stderr and a test that reads it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
	n  int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.n - len(b.b); room > 0 {
		b.b = append(b.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}
