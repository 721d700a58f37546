package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// envInterop set to "required" turns every skip into a failure (.ci/run).
const envInterop = "AAUTH_INTEROP"

// The pinned reference versions, as package.json names them.
var pinned = map[string]string{"seed": "1.7.1", "current": "2.2.0"}

const (
	installTimeout = 5 * time.Minute
	harnessTimeout = 2 * time.Minute
	lockName       = ".npm-install.lock"
	staleLock      = installTimeout + time.Minute
)

var (
	setupOnce sync.Once
	nodePath  string
	setupErr  error
	setupSkip bool // setupErr is a reason to skip, not a failure
)

// needNode makes sure node runs the pinned packages. Without node or npm it
// skips t, or fails it when AAUTH_INTEROP=required.
func needNode(t testing.TB) {
	t.Helper()
	setupOnce.Do(func() { setupSkip, setupErr = setup() })
	if setupErr == nil {
		return
	}
	if setupSkip && os.Getenv(envInterop) != "required" {
		t.Skip(setupErr.Error())
	}
	t.Fatal(setupErr)
}

func setup() (skippable bool, err error) {
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		return true, errors.New("interop: node and npm not found on PATH")
	}
	nodePath = node
	if err := install(npm); err != nil {
		return true, fmt.Errorf("interop: installing the pinned npm packages: %v", err)
	}
	ans, err := runHarness([]any{versionsMsg{Op: "versions"}})
	if err != nil {
		return false, fmt.Errorf("interop: %v", err)
	}
	if !ans[0].OK {
		return false, fmt.Errorf("interop: harness: %s", ans[0].Error)
	}
	for gen, want := range pinned {
		if got := ans[0].Versions[gen]; got != want {
			return false, fmt.Errorf("interop: node_modules has httpsig %s for the %s generation, want %s (remove interop/node_modules)", got, gen, want)
		}
	}
	return false, nil
}

// installed reports whether node_modules is at least as new as the lock
// file. npm writes node_modules/.package-lock.json at the end of an install.
func installed() bool {
	lock, err := os.Stat("package-lock.json")
	if err != nil {
		return false
	}
	done, err := os.Stat(filepath.Join("node_modules", ".package-lock.json"))
	if err != nil || done.ModTime().Before(lock.ModTime()) {
		return false
	}
	for _, pkg := range []string{"hs1", "hs2", "@hellocoop/mockin"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			return false
		}
	}
	return true
}

// install runs npm ci when node_modules is missing or stale. A lock file
// keeps test binaries running at the same time from installing over each
// other.
func install(npm string) error {
	if installed() {
		return nil
	}
	unlock, err := lockInstall()
	if err != nil {
		return err
	}
	defer unlock()
	if installed() { // another process installed while we waited
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci: %v: %s", err, lastLine(out))
	}
	if !installed() {
		return errors.New("npm ci succeeded but node_modules is incomplete")
	}
	return nil
}

func lockInstall() (unlock func(), err error) {
	deadline := time.Now().Add(staleLock)
	for {
		f, err := os.OpenFile(lockName, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(lockName) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, err := os.Stat(lockName); err == nil && time.Since(fi.ModTime()) > staleLock {
			os.Remove(lockName) // left behind by a killed process
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out waiting for %s", lockName)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// The requests to harness.mjs; see the protocol at its top. A batch numbers
// its requests 0, 1, 2, … in order.

type versionsMsg struct {
	ID int    `json:"id"`
	Op string `json:"op"` // "versions"
}

type signMsg struct {
	ID           int            `json:"id"`
	Op           string         `json:"op"` // "sign"
	Gen          string         `json:"gen"`
	NowMS        int64          `json:"now_ms"`
	URL          string         `json:"url"`
	Method       *string        `json:"method"` // nil: the library's default
	Headers      [][2]string    `json:"headers"`
	Body         *jsBody        `json:"body"`
	Key          map[string]any `json:"key"`
	SignatureKey map[string]any `json:"signature_key"`
	Components   []string       `json:"components"` // nil: the library's default
	Label        string         `json:"label,omitempty"`
}

type jsBody struct {
	Bytes []byte `json:"b64"`
	Text  bool   `json:"text"` // passed to fetch as a string, else as a Uint8Array
}

type verifyMsg struct {
	ID                   int         `json:"id"`
	Op                   string      `json:"op"` // "verify"
	Gen                  string      `json:"gen"`
	NowMS                int64       `json:"now_ms"`
	Method               string      `json:"method"`
	Authority            string      `json:"authority"`
	Path                 string      `json:"path"`
	Query                *string     `json:"query"`
	Headers              [][2]string `json:"headers"`
	Body                 []byte      `json:"body_b64"` // nil: no body
	RequireContentDigest bool        `json:"require_content_digest"`
}

// jsAnswer is one answer from harness.mjs.
type jsAnswer struct {
	ID       int               `json:"id"`
	OK       bool              `json:"ok"`
	Error    string            `json:"error"`
	Versions map[string]string `json:"versions"`

	// sign
	Headers    [][2]string `json:"headers"`
	Base       []byte      `json:"base"`
	WireMethod string      `json:"wire_method"`
	Href       string      `json:"href"`
	Host       string      `json:"host"`
	Pathname   string      `json:"pathname"`
	Search     string      `json:"search"`
}

// js runs msgs, numbered from 0, through one node process and returns the
// answers in order.
func js(t testing.TB, msgs []any) []jsAnswer {
	t.Helper()
	ans, err := runHarness(msgs)
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func runHarness(msgs []any) ([]jsAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), harnessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath, "harness.mjs")
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node: %v", err)
	}
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(stdin)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		var err error
		for _, m := range msgs {
			if err = enc.Encode(m); err != nil {
				break
			}
		}
		if err == nil {
			err = w.Flush()
		}
		stdin.Close()
		writeErr <- err
	}()

	answers := make([]jsAnswer, 0, len(msgs))
	r := bufio.NewReaderSize(stdout, 1<<20)
	var readErr error
	for len(answers) < len(msgs) {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var a jsAnswer
			if err := json.Unmarshal(line, &a); err != nil {
				readErr = fmt.Errorf("harness answer %q: %v", truncate(string(line), 200), err)
				break
			}
			answers = append(answers, a)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	if readErr != nil || len(answers) < len(msgs) {
		cancel()
	}
	io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	if err := <-writeErr; err != nil && readErr == nil && len(answers) < len(msgs) {
		readErr = fmt.Errorf("writing to the harness: %v", err)
	}
	switch {
	case readErr != nil:
		return nil, fmt.Errorf("harness: %v; stderr: %s", readErr, truncate(stderr.String(), 2000))
	case len(answers) < len(msgs):
		return nil, fmt.Errorf("harness answered %d of %d requests (%v); stderr: %s", len(answers), len(msgs), waitErr, truncate(stderr.String(), 2000))
	case waitErr != nil:
		return nil, fmt.Errorf("harness: %v; stderr: %s", waitErr, truncate(stderr.String(), 2000))
	}
	for i, a := range answers {
		if a.ID != i {
			return nil, fmt.Errorf("harness answer %d has id %d", i, a.ID)
		}
	}
	return answers, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
