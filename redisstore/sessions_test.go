package redisstore_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth/redisstore"
	"github.com/aauthgo/aauth/resource"
)

const sessionToken = "c2Vzc2lvbi10b2tlbi1zZWNyZXQtMzItYnl0ZXMtbG9uZw" // must never reach Redis

func newSession(now time.Time, life time.Duration) *resource.Session {
	return &resource.Session{
		Thumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
		Agent:      "aauth:alice@agents.example", AgentProvider: "https://agents.example",
		Subject: "s-1", PersonServer: "https://ps.example",
		Scope: "files:read", Data: map[string]string{"tenant": "t-1", "plan": "pro"},
		Created: now.Truncate(time.Millisecond), Expiry: now.Add(life).Truncate(time.Millisecond),
	}
}

func sameSession(t *testing.T, what string, got, want *resource.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no session", what)
	}
	if !got.Created.Equal(want.Created) || !got.Expiry.Equal(want.Expiry) {
		t.Fatalf("%s: times %v %v, want %v %v", what, got.Created, got.Expiry, want.Created, want.Expiry)
	}
	g, w := *got, *want
	g.Created, g.Expiry, w.Created, w.Expiry = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s: %+v, want %+v", what, g, w)
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t, redisstore.Options{})
	ctx := context.Background()
	ss := f.store.Sessions()
	other := f.open(t, redisstore.Options{}).Sessions() // another replica
	if s, err := ss.Get(ctx, sessionToken); s != nil || err != nil {
		t.Fatalf("empty: %v, %v", s, err)
	}
	want := newSession(f.clock.Now(), time.Hour)
	if err := ss.Put(ctx, sessionToken, want); err != nil {
		t.Fatal(err)
	}
	got, err := other.Get(ctx, sessionToken)
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, "another replica", got, want)

	// Under the token's hash, expiring with the session; the token is in
	// no key and no value.
	if ttl := f.raw.PTTL(ctx, redisKey("session", sessionToken)).Val(); ttl > time.Hour || ttl < 59*time.Minute {
		t.Fatalf("PTTL %v, want about an hour", ttl)
	}
	for _, k := range f.raw.Keys(ctx, "*").Val() {
		if strings.Contains(k, sessionToken) || strings.Contains(f.raw.Get(ctx, k).Val(), sessionToken) {
			t.Fatalf("the session token is in Redis under %s", k)
		}
	}

	if err := other.Delete(ctx, sessionToken); err != nil {
		t.Fatal(err)
	}
	if s, err := ss.Get(ctx, sessionToken); s != nil || err != nil {
		t.Fatalf("after Delete at another replica: %v, %v", s, err)
	}
	if err := ss.Delete(ctx, sessionToken); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}

	// An expired session is not stored, and removes the entry.
	ss.Put(ctx, sessionToken, want)
	if err := ss.Put(ctx, sessionToken, newSession(f.clock.Now(), -time.Second)); err != nil {
		t.Fatal(err)
	}
	if f.raw.Exists(ctx, redisKey("session", sessionToken)).Val() != 0 {
		t.Fatal("an expired session replaced nothing")
	}
	if err := ss.Put(ctx, sessionToken, nil); err == nil {
		t.Fatal("stored a nil session")
	}
	big := newSession(f.clock.Now(), time.Hour)
	big.Data = map[string]string{"x": strings.Repeat("x", redisstore.MaxSessionSize)}
	if err := ss.Put(ctx, sessionToken, big); err == nil || strings.Count(err.Error(), "aauth:") != 1 {
		t.Fatalf("a session larger than MaxSessionSize: %v", err)
	}
}

// TestSessionsNotOurs puts under a session key what the store did not
// write: Get finds no session, with an event, and leaves it alone.
func TestSessionsNotOurs(t *testing.T) {
	exp := `"expiry":"2099-06-01T00:00:00Z"`
	set := func(v string) planter {
		return func(ctx context.Context, r *redis.Client, k string) error { return r.Set(ctx, k, v, 0).Err() }
	}
	cases := map[string]planter{
		"garbage":               set("\x00garbage " + secret),
		"other format":          set(`{"format":"aauth-session/2","jkt":"k",` + exp + `}`),
		"secret as format":      set(`{"format":"` + secret + `","jkt":"k",` + exp + `}`),
		"other json":            set(`{"session":"` + secret + `"}`),
		"no key":                set(`{"format":"aauth-session/1",` + exp + `}`),
		"no expiry":             set(`{"format":"aauth-session/1","jkt":"k"}`),
		"secret as a time":      set(`{"format":"aauth-session/1","jkt":"k","expiry":"` + secret + `"}`),
		"data of another shape": set(`{"format":"aauth-session/1","jkt":"k",` + exp + `,"data":["` + secret + `"]}`),
		"a token envelope":      set(`{"format":"aauth-token/1","key":"k","value":"` + secret + `",` + exp + `}`),
		"huge":                  set(`{"format":"aauth-session/1","jkt":"k",` + exp + `,"scope":"` + strings.Repeat("x", redisstore.MaxSessionSize) + `"}`),
		"a list":                func(ctx context.Context, r *redis.Client, k string) error { return r.RPush(ctx, k, secret).Err() },
		"a hash":                func(ctx context.Context, r *redis.Client, k string) error { return r.HSet(ctx, k, "f", secret).Err() },
	}
	f := newFixture(t, redisstore.Options{})
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			k := redisKey("session", sessionToken)
			before := f.plantAt(t, k, plant)
			skips := f.ev.Count(redisstore.StepSkipped)
			s, err := f.store.Sessions().Get(ctx, sessionToken)
			if s != nil || err != nil {
				t.Fatalf("Get: %+v, %v; want no session", s, err)
			}
			if f.ev.Count(redisstore.StepSkipped) != skips+1 {
				t.Fatal("no skipped event")
			}
			if dump(t, f.raw, k) != before {
				t.Fatal("the value changed")
			}
		})
	}
}

// TestSessionsOutageLocalOnly: by default, with Redis down, each replica
// serves the sessions it granted or read, grants new ones in memory, and
// copies those to Redis once it is back.
func TestSessionsOutageLocalOnly(t *testing.T) {
	f := newFixture(t, redisstore.Options{RetryAfter: time.Minute})
	ctx := context.Background()
	ss, other := f.store.Sessions(), f.open(t, redisstore.Options{}).Sessions()
	a, b := newSession(f.clock.Now(), time.Hour), newSession(f.clock.Now(), 2*time.Hour)
	b.Scope = "b"
	if err := ss.Put(ctx, "token-a", a); err != nil {
		t.Fatal(err)
	}
	other.Get(ctx, "token-a") // the other replica has read it

	f.srv.Stop()
	got, err := other.Get(ctx, "token-a")
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, "a session read before the outage", got, a)
	if s, err := other.Get(ctx, "unknown"); s != nil || err != nil {
		t.Fatalf("an unknown session: %v, %v", s, err)
	}
	if err := ss.Put(ctx, "token-b", b); err != nil {
		t.Fatalf("Put during the outage: %v", err)
	}
	got, _ = ss.Get(ctx, "token-b")
	sameSession(t, "a session granted during the outage", got, b)
	if s, _ := other.Get(ctx, "token-b"); s != nil {
		t.Fatal("another replica knows a session granted during the outage")
	}
	if err := ss.Delete(ctx, "token-a"); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Delete during the outage: %v", err)
	}
	if s, _ := ss.Get(ctx, "token-a"); s != nil {
		t.Fatal("a deleted session is still served here")
	}
	if s, _ := other.Get(ctx, "token-a"); s == nil {
		t.Fatal("the other replica's copy went too: the doc says it stays until Redis is back")
	}

	f.srv.Restart() // empty
	f.clock.Advance(2 * time.Minute)
	got, err = ss.Get(ctx, "token-b")
	if err != nil {
		t.Fatal(err)
	}
	sameSession(t, "the session granted during the outage, Redis back", got, b)
	got, _ = other.Get(ctx, "token-b")
	sameSession(t, "copied to Redis for the other replicas", got, b)
	if s, _ := other.Get(ctx, "token-a"); s != nil {
		t.Fatal("a copy that Redis does not have outlived the outage")
	}
	// An expired copy is never served.
	f.srv.Stop()
	f.clock.Advance(3 * time.Hour)
	if s, _ := ss.Get(ctx, "token-b"); s != nil {
		t.Fatal("an expired copy was served")
	}
}

// TestSessionsOutageFailClosed: with FailClosed, every call fails while
// Redis is down.
func TestSessionsOutageFailClosed(t *testing.T) {
	f := newFixture(t, redisstore.Options{SessionOutage: redisstore.FailClosed})
	ctx := context.Background()
	ss := f.store.Sessions()
	s := newSession(f.clock.Now(), time.Hour)
	ss.Put(ctx, "token-a", s)
	f.srv.Stop()
	if _, err := ss.Get(ctx, "token-a"); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Get: %v", err)
	}
	if err := ss.Put(ctx, "token-b", s); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Put: %v", err)
	}
	if err := ss.Delete(ctx, "token-a"); !errors.Is(err, redisstore.ErrUnavailable) {
		t.Fatalf("Delete: %v", err)
	}
}
