package aauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
)

// Over a MemoryCache the Transport keeps the credential it presents per
// origin: the auth token that Authorize gets, replacing the one held, is
// the one the next call presents.
func TestTransportR3AuthorizeReplacesKeptCredential(t *testing.T) {
	w := newR3World(t, nil)
	w.tr.Tokens = &watchedMemoryCache{MemoryCache: &aauth.MemoryCache{}, l: w.lw}
	w.tr.Operations = map[string]r3.OperationSet{w.srv.URL: r3.Tools("search")}
	w.ps.SetR3Policy(aauthtest.GrantTools([]string{"search"}, nil))
	for i := 0; i < 2; i++ { // the second call is warm
		if _, err := w.call("search", `{}`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.call("fetch", `{}`); !errors.Is(err, aauth.ErrOperationNotGranted) {
		t.Fatalf("fetch: %v", err)
	}
	w.ps.SetR3Policy(aauthtest.GrantAll())
	if err := w.tr.Authorize(context.Background(), w.srv.URL, r3.Tools("search", "fetch")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.call("fetch", `{}`); err != nil {
		t.Fatalf("fetch after Authorize: %v", err)
	}
}
