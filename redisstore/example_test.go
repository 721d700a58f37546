package redisstore_test

import (
	"crypto/ed25519"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/redisstore"
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
