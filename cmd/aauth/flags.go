package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// newFlagSet returns a FlagSet for a subcommand that prints nothing by
// itself: its errors are reported on one line by report, and -h prints the
// command's own help text.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("aauth "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args with fs and returns the positional arguments. Options
// may follow them ("aauth fetch URL -i"), as curl allows; everything after
// "--" is positional. On -h it prints help to stdout and returns
// errHelpShown.
func (e *env) parse(fs *flag.FlagSet, help string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(e.stdout, help)
				return nil, errHelpShown
			}
			// The flag package's messages are one clear line, such as
			// "flag provided but not defined: -x". Values that may be
			// secret are never validated in Set, so they never appear.
			return nil, syntaxf("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// parseOptions parses args for a command that takes options only: a
// positional argument is a syntax error naming the command.
func (e *env) parseOptions(fs *flag.FlagSet, help string, args []string) error {
	pos, err := e.parse(fs, help, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return syntaxf("%s takes no arguments, got %q", strings.TrimPrefix(fs.Name(), "aauth "), oneLine(pos[0]))
	}
	return nil
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// headerList is the repeatable -H flag. Set accepts anything: a header
// value may be a secret (Authorization: …), and the flag package would
// quote a refused value in its error, so the lines are checked later by
// parseHeaders, whose errors name the header but never show its value.
type headerList []string

func (h *headerList) String() string { return "" }

func (h *headerList) Set(v string) error {
	*h = append(*h, v)
	return nil
}

// parseHeader splits a -H argument "Name: value".
func parseHeader(line string) (name, value string, err error) {
	name, value, ok := strings.Cut(line, ":")
	name = strings.TrimSpace(name)
	switch {
	case !ok:
		return "", "", usagef("-H wants 'Name: value'; an argument has no colon")
	case !isToken(name):
		return "", "", usagef("-H %q: not a valid header name", oneLine(name))
	case strings.ContainsAny(value, "\r\n\x00"):
		return "", "", usagef("-H %s: the value contains a line break or NUL", name)
	}
	return name, strings.TrimSpace(value), nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header
// name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
