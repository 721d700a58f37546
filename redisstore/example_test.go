package redisstore_test

import (
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/redisstore"
	"github.com/aauthgo/aauth/resource"
)

// Replicas of one agent share their tokens through Redis: a token one of
// them obtains serves all, and replicas that go cold together make one
// exchange. The client's short timeouts make an outage quick to notice;
// the store then goes on with each replica's own copy.
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	})
	store := redisstore.New(rdb, redisstore.Options{
		Logger: slog.Default(), // outages and skipped values at warn level
	})
	_, key, _ := ed25519.GenerateKey(nil) // the replicas' shared key, and its agent token below
	client := (&aauth.Transport{
		Keys:         aauth.StaticKeys(key, aauth.JWT("eyJ…")),
		PersonServer: "https://ps.example",
		Tokens:       store.Tokens(),
	}).Client()
	_ = client
}

// The replicas of a resource share the signatures they accepted and the
// sessions they granted: a signed request replayed to another replica is
// refused, and a session granted by one is honoured by all. While Redis
// is unavailable, state-changing requests are refused (503) by default;
// ReplayOutage: LocalOnly serves them, with each replica's own replay
// protection only.
func ExampleStore_Replay() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "redis.internal:6379",
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	})
	store := redisstore.New(rdb, redisstore.Options{Logger: slog.Default()})
	rs := &resource.Resource{
		Issuer:   "https://api.example",
		Mode:     resource.SessionToken,
		Replay:   store.Replay(),
		Sessions: store.Sessions(),
	}
	http.Handle("/", rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, agent")
	})))
}

// The replicas of a resource that accepts person tokens share the tokens
// revoked at any of them: a person server revokes a token at the
// resource's revocation endpoint (/aauth/revoke, which one replica
// answers), and every replica refuses it from then on.
func ExampleStore_Revocations() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379", ContextTimeoutEnabled: true})
	store := redisstore.New(rdb, redisstore.Options{})
	rs := &resource.Resource{
		Issuer:      "https://api.example",
		Mode:        resource.PersonToken,
		Replay:      store.Replay(),
		Revocations: store.Revocations(),
	}
	http.Handle("/", rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello, person")
	})))
}
