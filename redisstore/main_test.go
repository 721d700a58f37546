package redisstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/redisstore"
)

// TestMain runs the roles of the child processes the tests start.
func TestMain(m *testing.M) {
	// go-redis logs failed dials; the tests stop Redis on purpose.
	redis.SetLogger(&logging.VoidLogger{})
	storetest.Main(map[string]storetest.Role{
		"agent":  storetest.AgentRole(openChild),
		"holder": holder,
	})
	os.Exit(m.Run())
}

// childStore is how a child reaches the parent's Redis.
type childStore struct {
	Addr  string
	Lease time.Duration
}

func openChild(raw json.RawMessage, onEvent func(aauth.Event)) (aauth.TokenCache, error) {
	var cs childStore
	if err := json.Unmarshal(raw, &cs); err != nil {
		return nil, err
	}
	return redisstore.New(newClient(cs.Addr), redisstore.Options{OnEvent: onEvent, Lease: cs.Lease}).Tokens(), nil
}

// holder takes LockToken(authKey) with a short lease, says "locked" and
// waits to be killed.
func holder(raw json.RawMessage, in *bufio.Reader, out io.Writer) error {
	c, err := openChild(raw, nil)
	if err != nil {
		return err
	}
	if _, err := c.(*redisstore.TokenCache).LockToken(context.Background(), authKey); err != nil {
		return err
	}
	fmt.Fprintln(out, "locked")
	in.ReadString('\n')
	return nil
}

// newClient is a client for a test's redis-server: short timeouts and no
// retries, so that a stopped server is noticed at once.
func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		Protocol:              2,
		DisableIdentity:       true,
	})
}
