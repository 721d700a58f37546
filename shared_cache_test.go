package aauth_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
)

// sharedCache is a TokenCache that is not a MemoryCache, as a store shared
// between processes is: the Transport reads it on every request.
type sharedCache struct {
	mu      sync.Mutex
	m       map[string]*aauth.Token
	lookups int
}

func (c *sharedCache) Token(_ context.Context, key string) (*aauth.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	if tok, ok := c.m[key]; ok {
		return tok, nil
	}
	return nil, aauth.ErrNoToken
}

func (c *sharedCache) SetToken(_ context.Context, key string, tok *aauth.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*aauth.Token{}
	}
	c.m[key] = tok
	return nil
}

func (c *sharedCache) DeleteToken(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// values lists the tokens the cache holds.
func (c *sharedCache) values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, t := range c.m {
		out = append(out, t.Value)
	}
	return out
}

// A token another process deletes from a shared cache is not presented by
// the next request, and one it stores is: the shared cache is read on
// every request.
func TestSharedCacheReadEveryRequest(t *testing.T) {
	c := &sharedCache{}
	var presented []string
	f := newOriginFarm(func(r *http.Request) (int, http.Header) {
		presented = append(presented, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") == "" {
			return 200, http.Header{"Aauth-Access": {sessionFor(r.URL.Host)}}
		}
		return 200, nil
	})
	tr := farmAgent(t, f)
	tr.Tokens = c
	url := f.origin(1) + "/data"
	for i := 0; i < 3; i++ {
		farmGet(t, tr.Client(), url)
	}
	if c.lookups < 3 {
		t.Fatalf("3 requests made %d lookups in the shared cache", c.lookups)
	}
	// The session token is kept under the origin and the agent's key.
	var key string
	c.mu.Lock()
	for k := range c.m {
		if strings.HasPrefix(k, "session "+f.origin(1)+" ") {
			key = k
		}
	}
	c.mu.Unlock()
	if key == "" {
		t.Fatal("no session token kept")
	}
	c.DeleteToken(context.Background(), key) // another process forgot it
	farmGet(t, tr.Client(), url)
	c.SetToken(context.Background(), key, &aauth.Token{Value: "sess.stored-by-another-process"})
	farmGet(t, tr.Client(), url)
	want := []string{"", "AAuth " + sessionFor("o1.localhost"), "AAuth " + sessionFor("o1.localhost"), "", "AAuth sess.stored-by-another-process"}
	if len(presented) != len(want) {
		t.Fatalf("presented %q", presented)
	}
	for i := range want {
		if presented[i] != want[i] {
			t.Errorf("request %d presented %q, want %q", i, presented[i], want[i])
		}
	}
}
