// Command aauth is an AAuth agent on the command line.
//
//	aauth demo                      the whole flow against in-process servers, explained
//	aauth fetch [options] URL       a curl-like request as an AAuth agent
//	aauth keygen [-o FILE]          a new Ed25519 signing key (private JWK)
//	aauth agent-token [options]     mint an agent token, as an agent provider
//	aauth mission propose|update|complete [options]
//	                                a mission at the agent's person server
//	aauth permission [options]      ask the person server for permission
//	aauth audit [options]           record an action within a mission
//	aauth serve [options]           a resource that requires AAuth, to point agents at
//
// Every command takes -h; aauth --version says which build this is. The
// exit status is 0 on success, 1 when a request or the protocol fails, 2 on
// bad usage and 130 when interrupted (Ctrl-C); errors are one line on
// stderr, and never show a token or a key.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1   // a protocol or HTTP failure
	exitUsage       = 2   // bad usage
	exitInterrupted = 130 // stopped by SIGINT (Ctrl-C), as a shell reports 128+2
)

func main() {
	// Ctrl-C cancels the request in flight (and any wait for the person)
	// instead of killing the process mid-write; a second Ctrl-C, once the
	// first has been taken, kills it as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return e.run(ctx, args)
}

// env is what a command runs with. Tests replace the parts they need to
// control: the environment, the clock, the HTTP transport.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// clock is the agent's time source (signatures, polling); nil means
	// the system clock.
	clock aauth.Clock

	// base sends the requests; nil means a fresh http.Transport per
	// command, closed when the command ends.
	base http.RoundTripper

	// onDemoWorld, when set, is given the demo's servers before the flow
	// runs, so a test can see what they issued.
	onDemoWorld func(*aauthtest.World)

	// buildInfo reads the binary's build information; nil means
	// runtime/debug.ReadBuildInfo.
	buildInfo func() (*debug.BuildInfo, bool)
}

// now reads the command's clock.
func (e *env) now() time.Time {
	if e.clock != nil {
		return e.clock.Now()
	}
	return time.Now()
}

// command is a subcommand: its name, a one-line summary for the top-level
// usage, and its body.
type command struct {
	name    string
	summary string
	run     func(e *env, ctx context.Context, args []string) error
}

// commands are the subcommands, in the order the help lists them.
var commands = []command{
	{"demo", "run the whole AAuth flow against in-process servers, explained", (*env).demo},
	{"fetch", "make a request as an AAuth agent, like curl", (*env).fetch},
	{"keygen", "generate an Ed25519 signing key (a private JWK)", (*env).keygen},
	{"agent-token", "mint an agent token for an agent's key, as an agent provider", (*env).agentToken},
	{"mission", "propose, update or complete a mission at the person server", (*env).mission},
	{"permission", "ask the person server whether the agent may take an action", (*env).permission},
	{"audit", "record an action the agent took within a mission", (*env).audit},
	{"serve", "serve a resource that requires AAuth, to point agents at", (*env).serve},
}

// usage writes the top-level help.
func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: aauth <command> [options]\n\n")
	fmt.Fprint(w, "aauth is an AAuth agent on the command line. Start with \"aauth demo\".\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  help         show the help of a command

Run "aauth <command> -h" for the options of a command; options take one
dash or two (-key, --key).

  --version    show the version of aauth

Exit status: 0 on success, 1 when a request or the protocol fails, 2 on
bad usage, 130 when interrupted (Ctrl-C).
`)
}

// version writes the version of the binary, from its build information:
// the module version (a tag, a pseudo-version, or "(devel)"), the commit
// it was built from, and the Go release and platform.
func (e *env) version() {
	read := e.buildInfo
	if read == nil {
		read = debug.ReadBuildInfo
	}
	bi, ok := read()
	if !ok || bi == nil {
		fmt.Fprintln(e.stdout, "aauth (no build information)")
		return
	}
	setting := func(key string) string {
		for _, s := range bi.Settings {
			if s.Key == key {
				return s.Value
			}
		}
		return ""
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := "aauth " + v
	if rev := setting("vcs.revision"); rev != "" {
		var about []string
		about = append(about, "commit "+rev[:min(len(rev), 12)])
		if t := setting("vcs.time"); t != "" {
			about = append(about, t)
		}
		if setting("vcs.modified") == "true" {
			about = append(about, "modified")
		}
		line += " (" + strings.Join(about, ", ") + ")"
	}
	fmt.Fprintln(e.stdout, line)
	built := "built with " + bi.GoVersion
	if goos, goarch := setting("GOOS"), setting("GOARCH"); goos != "" && goarch != "" {
		built += " for " + goos + "/" + goarch
	}
	fmt.Fprintln(e.stdout, built)
}

// run runs the command line args and returns the exit status.
func (e *env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return e.report("", usagef("no command given; try \"aauth demo\", or \"aauth -h\" for the commands"))
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-version", "--version":
		e.version()
		return exitOK
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			// "aauth help fetch" is "aauth fetch -h".
			name, rest = rest[0], []string{"-h"}
			break
		}
		usage(e.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(e, ctx, rest)
			if err != nil && errors.Is(ctx.Err(), context.Canceled) {
				// main cancels ctx on SIGINT: whatever the command was
				// doing, it was interrupted.
				e.report(name, err)
				return exitInterrupted
			}
			return e.report(name, err)
		}
	}
	return e.report("", usagef("unknown command %q (run \"aauth -h\" for the list)", oneLine(name)))
}

// report prints err, if any, as one line on stderr and returns the exit
// status it calls for.
func (e *env) report(cmd string, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelpShown):
		return exitOK
	case errors.Is(err, errReported):
		return exitFailure
	}
	var u *usageError
	if errors.As(err, &u) {
		msg := u.msg
		if u.hint && cmd != "" {
			msg += fmt.Sprintf(" (see \"aauth %s -h\")", cmd)
		}
		e.errorLine(msg)
		return exitUsage
	}
	e.errorLine(err.Error())
	return exitFailure
}

// errorLine writes "aauth: msg" on stderr, on one line whatever msg holds.
func (e *env) errorLine(msg string) {
	fmt.Fprintf(e.stderr, "aauth: %s\n", oneLine(strings.TrimPrefix(msg, "aauth: ")))
}

// usageError is a mistake on the command line: exit status 2. hint adds
// a pointer to the command's help, for mistakes in the syntax.
type usageError struct {
	msg  string
	hint bool
}

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// syntaxf is usagef for a command line that does not parse: the message
// points to the command's help.
func syntaxf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...), hint: true}
}

// errHelpShown ends a command whose help was asked for and printed.
var errHelpShown = errors.New("help shown")

// oneLine turns control characters (new lines included) into spaces and
// trims, so that a server's text cannot break the one-line error rule or
// forge output lines.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
