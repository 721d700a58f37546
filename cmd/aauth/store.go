package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/filestore"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
)

// The command keeps the tokens it obtains in a file store (package
// filestore), so that a second run against the same resource presents the
// auth token or session token the first obtained: one round trip, and no
// person asked again.

// openStore resolves --store DIR and --no-store and opens the store for
// the agent o describes (its key and profile are set). A store named with
// --store that cannot be opened is a usage error; the default one is a
// warning, and the run goes on with its tokens in memory: a request never
// fails for the agent's cache. A dry run opens nothing.
func (e *env) openStore(dir string, noStore bool, set map[string]bool, o *fetchOptions) (aauth.TokenCache, error) {
	switch {
	case noStore && set["store"]:
		return nil, usagef("--store and --no-store exclude each other")
	case set["store"] && dir == "":
		return nil, usagef("--store needs a directory")
	case noStore || o.dryRun:
		return nil, nil
	case !set["store"]:
		if dir = e.defaultStoreDir(); dir == "" {
			return nil, nil
		}
	}
	store, err := filestore.Open(dir, filestore.Options{OnEvent: e.storeEvent})
	if err != nil {
		if set["store"] {
			return nil, usagef("--store %s: %s", dir, trimPrefix(err))
		}
		e.warn("not keeping tokens: %s", trimPrefix(err))
		return nil, nil
	}
	jkt, err := keys.Thumbprint(o.signer.Public())
	if err != nil {
		return nil, usagef("%s", trimPrefix(err))
	}
	return &agentTokens{s: store, scope: string(o.profile) + " " + jkt}, nil
}

// defaultStoreDir is filestore.DefaultDir read through the command's
// environment: $XDG_STATE_HOME/aauth, else $HOME/.local/state/aauth, or
// "" when neither is set, and nothing is kept.
func (e *env) defaultStoreDir() string {
	if d := e.getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "aauth")
	}
	if home := e.getenv("HOME"); home != "" && filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", "aauth")
	}
	return ""
}

// storeEvent warns about what the store found wrong: a file it skipped, a
// directory it had to make private.
func (e *env) storeEvent(ev aauth.Event) {
	switch ev.Step {
	case filestore.StepSkipped, filestore.StepRepaired:
		e.warn("token store: %s", ev.Detail)
	}
}

// warn writes "aauth: warning: …" on stderr.
func (e *env) warn(format string, args ...any) {
	fmt.Fprintf(e.stderr, "aauth: warning: %s\n", oneLine(fmt.Sprintf(format, args...)))
}

// agentTokens is the store as one agent key and wire generation see it:
// every key is prefixed with them. The Transport's keys for session
// tokens name only the resource, and one user's store serves every key
// the user runs the command with; a session token handed to one key is
// worth nothing presented by another.
type agentTokens struct {
	s     *filestore.Store
	scope string
}

func (a *agentTokens) key(k string) string { return a.scope + " " + k }

func (a *agentTokens) Token(ctx context.Context, key string) (*psclient.Token, error) {
	return a.s.Token(ctx, a.key(key))
}

func (a *agentTokens) SetToken(ctx context.Context, key string, tok *psclient.Token) error {
	return a.s.SetToken(ctx, a.key(key), tok)
}

func (a *agentTokens) DeleteToken(ctx context.Context, key string) error {
	return a.s.DeleteToken(ctx, a.key(key))
}

// LockToken makes agentTokens an aauth.TokenLocker, as the store is: two
// runs that go cold together fetch each token once.
func (a *agentTokens) LockToken(ctx context.Context, key string) (func(), error) {
	return a.s.LockToken(ctx, a.key(key))
}
