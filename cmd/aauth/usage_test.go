package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "Usage: aauth <command>"},
		{[]string{"--help"}, "Usage: aauth <command>"},
		{[]string{"help"}, "Usage: aauth <command>"},
		{[]string{"help", "fetch"}, "Usage: aauth fetch"},
		{[]string{"demo", "-h"}, "Usage: aauth demo"},
		{[]string{"fetch", "-h"}, "Usage: aauth fetch"},
		{[]string{"fetch", "--help"}, "Usage: aauth fetch"},
		{[]string{"keygen", "-h"}, "Usage: aauth keygen"},
		{[]string{"agent-token", "-h"}, "Usage: aauth agent-token"},
	} {
		r := runCmd(t, "", tc.args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, tc.want) || r.stderr != "" {
			t.Errorf("aauth %s: want exit 0 and %q on stdout, got\n%s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
	// The top-level help lists every command.
	r := runCmd(t, "", "-h")
	for _, c := range commands {
		if !strings.Contains(r.stdout, "  "+c.name+" ") {
			t.Errorf("top-level help does not list %s", c.name)
		}
	}
}

// Bad usage: exit 2, nothing on stdout, one "aauth: " line on stderr that
// says what is wrong and never echoes a secret.
func TestBadUsage(t *testing.T) {
	w, _ := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	other := newAgentFiles(t, w) // a second key, for a token/key mismatch
	otherTok, _ := w.Agent.Mint("bob", other.signer.Public())
	dir := t.TempDir()
	notKey := filepath.Join(dir, "notkey.json")
	os.WriteFile(notKey, []byte(`{"kty":"RSA"}`), 0o600)
	key, tok := []string{"--key", a.key, "--agent-token", "@" + a.token}, "@"+a.token
	u := w.Resource.URL + "/data"
	const secret = "SECRETVALUE123"

	for _, tc := range []struct {
		name string
		args []string
		want string // in the error line
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", append([]string{"fetch", "--bogus"}, key...), "flag provided but not defined: -bogus"},
		{"flag needs a value", []string{"fetch", u, "-X"}, "flag needs an argument: -X"},
		{"no URL", append([]string{"fetch"}, key...), "needs a URL"},
		{"a second URL not http", append([]string{"fetch", u, "ftp://x/y"}, key...), "not an http or https URL"},
		{"store and no store", append([]string{"fetch", "--store", dir, "--no-store", u}, key...), "exclude each other"},
		{"empty store", append([]string{"fetch", "--store", "", u}, key...), "--store needs a directory"},
		{"store not a directory", append([]string{"fetch", "--store", notKey, u}, key...), "--store " + notKey},
		{"not http", append([]string{"fetch", "ftp://x/y"}, key...), "not an http or https URL"},
		{"no key", []string{"fetch", "--agent-token", tok, u}, "no signing key"},
		{"missing key file", []string{"fetch", "--key", filepath.Join(dir, "nope"), "--agent-token", tok, u}, "no such file"},
		{"not a usable key", []string{"fetch", "--key", notKey, "--agent-token", tok, u}, "RSA keys are not supported"},
		{"no agent token", []string{"fetch", "--key", a.key, u}, "no agent token"},
		{"token not a JWT", []string{"fetch", "--key", a.key, "--agent-token", secret, u}, "--agent-token is not a JWT"},
		{"token for another key", []string{"fetch", "--key", a.key, "--agent-token", otherTok, u}, "another key"},
		{"hwk and token", append([]string{"fetch", "--hwk", u}, key...), "exclude each other"},
		{"header without colon", append([]string{"fetch", "-H", "Authorization Bearer " + secret, u}, key...), "no colon"},
		{"bad header name", append([]string{"fetch", "-H", "Bad Name: x", u}, key...), "not a valid header name"},
		{"bad method", append([]string{"fetch", "-X", "GE T", u}, key...), "not a method"},
		{"bad capability", append([]string{"fetch", "--capabilities", "interaction,telepathy", u}, key...), `unknown capability "telepathy"`},
		{"bad profile", append([]string{"fetch", "--profile", "vintage", u}, key...), `unknown profile "vintage"`},
		{"bad timeout", append([]string{"fetch", "--timeout", "soon", u}, key...), "invalid value"},
		{"approver in current", append([]string{"fetch", "--mission-s256", "abc", "--mission-approver", "https://ps.example", u}, key...), "only sent in the seed profile"},
		{"approver without s256", append([]string{"fetch", "--profile", "seed", "--mission-approver", "https://ps.example", u}, key...), "needs --mission-s256"},
		{"missing -d file", append([]string{"fetch", "-d", "@" + filepath.Join(dir, "nope"), u}, key...), "no such file"},
		{"keygen argument", []string{"keygen", "extra"}, "takes no arguments"},
		{"keygen existing file", []string{"keygen", "-o", a.key}, "exists; use -f"},
		{"agent-token missing flags", []string{"agent-token", "--key", a.key}, "missing --provider-key, --iss, --sub"},
		{"agent-token http iss", []string{"agent-token", "--provider-key", a.key, "--key", a.key, "--sub", "aauth:x@y", "--iss", "http://agent.example"}, "must use https"},
		{"agent-token trailing slash", []string{"agent-token", "--provider-key", a.key, "--key", a.key, "--sub", "aauth:x@y", "--iss", "https://agent.example/"}, "must not end with a slash"},
		{"agent-token ttl", []string{"agent-token", "--provider-key", a.key, "--key", a.key, "--sub", "aauth:x@y", "--iss", "https://agent.example", "--ttl", "48h"}, "out of range"},
		{"demo argument", []string{"demo", "now"}, "takes no arguments"},
		{"demo profile", []string{"demo", "--profile", "vintage"}, `unknown profile "vintage"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, "", tc.args...)
			if r.code != exitUsage || r.stdout != "" {
				t.Fatalf("want exit 2 and no output, got\n%s", r)
			}
			line := wantOneErrorLine(t, r)
			t.Log(line)
			if !strings.Contains(line, tc.want) {
				t.Errorf("error line %q does not say %q", line, tc.want)
			}
			if strings.Contains(line, secret) || strings.Contains(line, a.tokenValue) || strings.Contains(line, otherTok) {
				t.Errorf("error line %q shows a secret", line)
			}
		})
	}
}

// Options may follow the URL, as with curl; "--" ends them.
func TestFetchOptionsAfterURL(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	a := newAgentFiles(t, w)
	r := a.run(t, clk, "", "fetch", w.Resource.URL+"/data", "-i")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "HTTP/1.1 200 OK\n") {
		t.Fatalf("-i after the URL was not applied:\n%s", r)
	}
	r = a.run(t, clk, "", "fetch", "--", w.Resource.URL+"/data", "-i")
	if r.code != exitUsage || !strings.Contains(r.stderr, `"-i" is not an http or https URL`) {
		t.Fatalf("after --, -i should be a second URL:\n%s", r)
	}
}

// An unreachable server is a failure (exit 1) reported on one line.
func TestFetchUnreachable(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r := a.run(t, clk, "", "fetch", "http://"+addr+"/data?key=secret")
	if r.code != exitFailure || r.stdout != "" {
		t.Fatalf("want exit 1 and no output, got\n%s", r)
	}
	line := wantOneErrorLine(t, r)
	if !strings.Contains(line, "GET http://"+addr+"/data?…") || !strings.Contains(line, "refused") {
		t.Errorf("error line %q", line)
	}
	if strings.Contains(line, "secret") {
		t.Errorf("error line %q shows the query", line)
	}
}
