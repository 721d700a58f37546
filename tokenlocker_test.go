package aauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// lockingCache is a MemoryCache that is a TokenLocker, recording what the
// Transport does with it. hidden keys read as missing until locked, as a
// token another process stores while this one waits for the lock.
type lockingCache struct {
	aauth.MemoryCache
	mu      sync.Mutex
	log     []string
	keys    []string // every key stored
	hidden  map[string]bool
	lockErr error
	onLock  func()
}

func (c *lockingCache) record(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

func kind(key string) string { k, _, _ := strings.Cut(key, " "); return k }

func (c *lockingCache) Token(ctx context.Context, key string) (*aauth.Token, error) {
	c.mu.Lock()
	hide := c.hidden[key]
	c.mu.Unlock()
	if hide {
		return nil, aauth.ErrNoToken
	}
	return c.MemoryCache.Token(ctx, key)
}

func (c *lockingCache) SetToken(ctx context.Context, key string, tok *aauth.Token) error {
	c.record("set " + kind(key))
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.mu.Unlock()
	return c.MemoryCache.SetToken(ctx, key, tok)
}

func (c *lockingCache) LockToken(ctx context.Context, key string) (func(), error) {
	if c.onLock != nil {
		c.onLock()
	}
	if c.lockErr != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, c.lockErr
	}
	c.record("lock " + kind(key))
	c.mu.Lock()
	delete(c.hidden, key)
	c.mu.Unlock()
	return func() { c.record("unlock " + kind(key)) }, nil
}

// TestTokenLockerOrder: each fetch is lock, fetch, store, unlock.
func TestTokenLockerOrder(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	c := &lockingCache{}
	w.tr.Tokens = c
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := "lock person,set person,unlock person,lock auth,set auth,unlock auth"
	if got := strings.Join(c.log, ","); got != want {
		t.Fatalf("cache calls %s, want %s", got, want)
	}
}

// TestTokenLockerRecheck: a token another process stored while this one
// waited for the lock is used, not fetched again.
func TestTokenLockerRecheck(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	c := &lockingCache{}
	w.tr.Tokens = c
	get(t, w.tr.Client(), w.Resource.URL+"/data") // the other process's run
	w.Reset()
	// This process starts cold: it sees nothing until it holds a lock.
	c.hidden = map[string]bool{}
	for _, key := range c.keys {
		c.hidden[key] = true
	}
	c.log = nil
	tr := &aauth.Transport{Keys: w.tr.Keys, PersonServer: w.PS.URL, Clock: w.tr.Clock, Capabilities: w.tr.Capabilities, Tokens: c}
	if resp, _ := get(t, tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := len(agentRequests(w.PS.Requests())); n != 0 {
		t.Fatalf("%d person-server requests, want 0: the token found after the lock was fetched again", n)
	}
	if got := strings.Join(c.log, ","); got != "lock person,unlock person,lock auth,unlock auth" {
		t.Fatalf("cache calls %s", got)
	}
}

// TestTokenLockerFails: a lock that cannot be taken costs no request: the
// Transport fetches without it and says so. The end of the request's
// context while waiting for the lock ends the request.
func TestTokenLockerFails(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	c := &lockingCache{lockErr: errors.New("lock service down")}
	w.tr.Tokens = c
	var events []aauth.Event
	onEvent := w.tr.OnEvent
	w.tr.OnEvent = func(ev aauth.Event) {
		events = append(events, ev)
		if onEvent != nil {
			onEvent(ev)
		}
	}
	if resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	n := 0
	for _, ev := range events {
		if ev.Step == aauth.StepError && strings.Contains(ev.Detail, "without the lock") && errors.Is(ev.Err, c.lockErr) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d lock-failure events, want 2 (person and auth token)", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c2 := &lockingCache{lockErr: errors.New("unused"), onLock: cancel}
	tr := &aauth.Transport{Keys: w.tr.Keys, PersonServer: w.PS.URL, Clock: w.tr.Clock, Tokens: c2}
	req, _ := http.NewRequestWithContext(ctx, "GET", w.Resource.URL+"/data", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled while locking: %v", err)
	}
}
