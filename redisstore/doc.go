// Package redisstore keeps the tokens of a fleet of agent replicas in
// Redis (github.com/redis/go-redis/v9), so that a token one replica
// obtains serves them all, a restarted replica starts warm, and replicas
// that go cold together fetch each token once. For a fleet of resource
// replicas it keeps the signatures they accepted, so that one replayed
// to another replica is refused, the session tokens they granted, so
// that a session granted by one is honoured by all, and the tokens
// revoked at any of them, so that all refuse them. It is a module of its own,
// github.com/aauthgo/aauth/redisstore, so that programs that do not import
// it do not depend on go-redis.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	store := redisstore.New(rdb, redisstore.Options{})
//	client := (&aauth.Transport{Keys: keys, PersonServer: ps, Tokens: store.Tokens()}).Client()
//
// A resource's replicas each use a Store on the same Redis:
//
//	store := redisstore.New(rdb, redisstore.Options{})
//	rs := &resource.Resource{Issuer: "https://api.example", Replay: store.Replay(),
//		Sessions: store.Sessions(), Revocations: store.Revocations()}
//
// A Store is one Redis deployment; its parts share its key prefix, its
// events and its view of whether Redis is reachable. Store.Tokens is the
// aauth.TokenCache, and an aauth.TokenLocker; Store.Replay is the
// resource.ReplayStore, Store.Sessions the resource.SessionStore,
// Store.Revocations the resource.RevocationStore and Store.Budgets the
// resource.BudgetLedger (for resource.Budgets.Ledger).
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
//	aauth:replay:S  a signature a resource accepted ("1"); S is the hex
//	                SHA-256 of the resource's replay key; it expires
//	                (PX) at the end of the signature's window plus
//	                Options.ClockSkew
//	aauth:session:S a session token's grant: JSON with a format marker
//	                ("aauth-session/1") and the resource.Session; S is
//	                the hex SHA-256 of the token, which itself is never
//	                stored; it expires (PX) with the session
//	aauth:revoked:S a token revoked at a resource's revocation endpoint
//	                ("1"); S is the hex SHA-256 of its issuer, a NUL byte
//	                and its jti; it expires (PX) at the end the resource
//	                gave (the token's exp, capped at an hour, plus the
//	                signature window) plus Options.ClockSkew, and a later
//	                revocation of the same token only extends it
//	aauth:budget:S  an auth token's budget: a hash of amount, spent and
//	                held; S is the hex SHA-256 of its issuer, a NUL byte
//	                and its jti; it expires (PX) at the token's exp plus
//	                Options.ClockSkew
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
// # Replicas of a resource
//
// A replay key is written with SET NX PX, so that of two replicas that
// see one signature at once, exactly one finds it new; whatever value is
// already under the key counts as seen. A value under a session key that
// is not a session of this store is a miss, with a StepSkipped event, and
// is left alone. Redis must keep what it is given until it expires: run
// it with maxmemory-policy noeviction (an eviction could forget a
// signature within its window, and it would then be accepted again, or a
// revocation, and the revoked token would be served again), and
// know that a failover to a replica that had not yet received the latest
// writes forgets those too.
//
// # Outages
//
// A Redis that fails (refused, timed out, LOADING, READONLY, OOM…)
// costs the agent no request: the store reports StepUnavailable once,
// leaves Redis alone for Options.RetryAfter, and meanwhile works from a
// copy, in this process's memory, of the tokens it wrote or read. Token then returns that copy or
// an error matching aauth.ErrNoToken (and ErrUnavailable); SetToken and
// DeleteToken update the copy and return an error matching
// ErrUnavailable, which a Transport reports in an event and ignores;
// LockToken returns one too, and the Transport fetches without the lock.
// When Redis answers again the store reports StepAvailable.
//
// Revocations always fail closed: while Redis is unavailable the
// resource answers requests presenting a person or auth token 503, since
// a token revoked at another replica must never be served, and its
// revocation endpoint answers 500, so that the person server tries again.
// Budgets fail closed too: while Redis is unavailable a metered request
// is answered 503, since a replica that cannot count must not spend.
//
// For the rest of the resource side the choice is Options.ReplayOutage and
// Options.SessionOutage. Replay protection is a security check, and by
// default it fails closed: while Redis is unavailable, Seen returns an
// error and the resource answers state-changing requests 503
// (temporarily_unavailable); safe methods, which the resource does not
// check for replay, are served as usual. Failing open would let anyone
// who can make Redis unreachable (or who merely waits for an outage)
// replay a captured request to another replica within its signature
// window, silently, on exactly the requests that change things. AAuth
// makes the replay cache optional (the created window is the primary
// defence, -11 "Freshness and Replay"), so an operator may prefer
// availability: LocalOnly then keeps each replica's own protection
// (what one replica without Redis has), and loses only the cross-replica
// part, for the outage and one window after. Sessions are a grant the
// resource made, not a check, so by default (LocalOnly) each replica goes
// on with the sessions it granted or read, and grants new ones in memory,
// copied to Redis once it is back; FailClosed answers 503 instead.
//
// Configure the client with short timeouts (DialTimeout, ReadTimeout,
// WriteTimeout), few DialerRetries and ContextTimeoutEnabled, so that a
// Redis that is down or hangs is noticed quickly.
//
// Token values, agent or session, never appear in errors, events, logs
// or Redis keys.
package redisstore
