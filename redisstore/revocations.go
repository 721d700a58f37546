package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth/resource"
)

// RevocationStore is the resource.RevocationStore of a Store: the tokens
// revoked at any replica of a resource's fleet, so that a token a person
// server revoked at one replica is refused by them all. Get it from
// Store.Revocations.
//
// A revocation is a key ("1") under the hash of its issuer and jti,
// expiring (PX) at its end plus Options.ClockSkew; Redis never holds more
// revocations than are in force. It fails closed, whatever the Options
// say: while Redis is unavailable, Revoked returns an error matching
// ErrUnavailable and the resource refuses person and auth tokens with
// 503, since a replica that cannot tell whether a token was revoked at
// another must not serve it; and Revoke returns one too, which the
// revocation endpoint answers with 500 server_error, so that the person
// server sends the revocation again.
type RevocationStore struct {
	s *Store
}

var _ resource.RevocationStore = (*RevocationStore)(nil)

// Revocations returns the store's revocation store, for
// resource.Resource.Revocations. It holds no state of its own: every
// RevocationStore of a Store is the same.
func (s *Store) Revocations() *RevocationStore { return &RevocationStore{s: s} }

// revokeScript sets KEYS[1] to "1" for ARGV[1] milliseconds unless it
// already lives longer (a later revocation of the same token is kept);
// a key without expiry, which is not ours, is left alone and counts as
// revoked.
var revokeScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 or (ttl >= 0 and ttl < tonumber(ARGV[1])) then
	redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
`)

// revocationKey is the store's key of the token (issuer, jti): both are
// chosen by a server, and a NUL byte cannot occur in an issuer URL.
func (r *RevocationStore) revocationKey(issuer, jti string) string {
	return r.s.key("revoked", issuer+"\x00"+jti)
}

// Revoke records the revocation of (issuer, jti) until until, plus
// Options.ClockSkew: one script, atomic across the fleet. PX rather than
// PXAT: Redis's clock plays no part, only the replicas'.
func (r *RevocationStore) Revoke(ctx context.Context, issuer, jti string, until time.Time) error {
	ttl := until.Sub(r.s.now()) + r.s.opts.ClockSkew
	if ttl <= 0 {
		return nil
	}
	ms := max(ttl.Milliseconds(), 1)
	return r.s.do(ctx, func(ctx context.Context) error {
		return revokeScript.Run(ctx, r.s.client, []string{r.revocationKey(issuer, jti)}, ms).Err()
	})
}

// Revoked reports whether (issuer, jti) was revoked at any replica: any
// value under its key counts.
func (r *RevocationStore) Revoked(ctx context.Context, issuer, jti string) (bool, error) {
	var n int64
	err := r.s.do(ctx, func(ctx context.Context) error {
		var err error
		n, err = r.s.client.Exists(ctx, r.revocationKey(issuer, jti)).Result()
		return err
	})
	if err != nil {
		return false, err
	}
	return n > 0, nil
}
