// Package redisstore keeps the tokens of a fleet of agent replicas in
// Redis (github.com/redis/go-redis/v9), so that a token one replica
// obtains serves them all, a restarted replica starts warm, and replicas
// that go cold together fetch each token once. It is a module of its own,
// github.com/aauthgo/aauth/redisstore, so that programs that do not import
// it do not depend on go-redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	store := redisstore.New(rdb, redisstore.Options{})
//	client := (&aauth.Transport{Keys: keys, PersonServer: ps, Tokens: store.Tokens()}).Client()
//
// A Store is one Redis deployment; its parts share its key prefix, its
// events and its view of whether Redis is reachable. Store.Tokens is the
// aauth.TokenCache, and an aauth.TokenLocker.
//
// # Keys
//
// Under Options.Prefix ("aauth:" by default), H being the hex SHA-256 of
// the cache key the Transport built:
//
//	aauth:token:H   the token: a JSON envelope with a format marker
//	                ("aauth-token/1"), the cache key and the token; it
//	                expires (PX) with the token, or Options.DefaultTTL
//	                after it was stored when the token has no expiry
//	aauth:lock:H    a fetch in progress: a random holder id, expiring
//	                after Options.Lease unless its holder renews it
//
// A value under a token key that is not an envelope of this key (another
// format version, another program's data) is never overwritten or
// deleted: Token reports a miss, SetToken and DeleteToken return an error
// matching ErrForeign, each with a StepSkipped event. The checks and the
// writes are one Lua script each, so they are atomic.
//
// # One fetch per fleet
//
// A Transport whose cache is an aauth.TokenLocker takes LockToken around
// each fetch and looks in the cache again once it holds the lock. Here the
// lock is SET NX with a lease (Options.Lease, 10 s), renewed while the
// fetch runs (which may be minutes when a person must approve); a holder
// that dies stops renewing, and the lease frees the lock. Releasing and
// renewing compare the holder id in a Lua script, so a holder whose lease
// ran out never releases another's lock. The others wait, polling, for at
// most Options.LockWait and as long as their context allows, then read the
// token the holder stored.
//
// # Outages
//
// A Redis that fails (refused, timed out, LOADING, READONLY…) costs no
// request: the store reports StepUnavailable once, leaves Redis alone for
// Options.RetryAfter, and meanwhile works from a copy, in this process's
// memory, of the tokens it wrote or read. Token then returns that copy or
// an error matching aauth.ErrNoToken (and ErrUnavailable); SetToken and
// DeleteToken update the copy and return an error matching
// ErrUnavailable, which a Transport reports in an event and ignores;
// LockToken returns one too, and the Transport fetches without the lock.
// When Redis answers again the store reports StepAvailable. Configure the
// client with short timeouts (DialTimeout, ReadTimeout, WriteTimeout), few
// DialerRetries and ContextTimeoutEnabled, so that a Redis that is down or
// hangs is noticed quickly.
//
// Token values never appear in errors, events or logs.
package redisstore
