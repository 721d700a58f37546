package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/tokenstore"
)

// The steps a Store reports in its events, beside those of a Transport.
const (
	// StepUnavailable: Redis failed; the store works from its in-memory
	// copy, or fails closed where Options say so, and leaves Redis alone
	// for Options.RetryAfter.
	StepUnavailable aauth.Step = "store-unavailable"
	// StepAvailable: Redis answered again after StepUnavailable.
	StepAvailable aauth.Step = "store-available"
	// StepSkipped: a value under one of the store's keys is not an entry
	// of this store (corrupt or foreign) and was left alone.
	StepSkipped aauth.Step = "store-skipped"
	// StepLockWait: another process is fetching the token; waiting for it.
	StepLockWait aauth.Step = "store-lock-wait"
	// StepLockLost: the lease of a lock this process held ran out before
	// its fetch ended (Redis was unreachable for longer than the lease);
	// another process may be fetching the same token.
	StepLockLost aauth.Step = "store-lock-lost"
)

var (
	// ErrUnavailable is matched by the errors of a Store that could not
	// reach Redis, or is leaving it alone after a failure.
	ErrUnavailable = errors.New("aauth: redis store unavailable")
	// ErrForeign is returned by SetToken and DeleteToken when the value
	// under the token's key is not an entry of this store. The value is
	// left as it is.
	ErrForeign = errors.New("aauth: redis store: a value that is not ours is in the way")
	// ErrLockTimeout is returned by LockToken when another process held
	// the lock for longer than Options.LockWait.
	ErrLockTimeout = tokenstore.ErrLockTimeout
)

// Defaults of Options.
const (
	DefaultPrefix     = "aauth:"
	DefaultTTL        = 24 * time.Hour
	DefaultLease      = 10 * time.Second
	DefaultRetryAfter = 5 * time.Second
	DefaultClockSkew  = 5 * time.Second
	// releaseTimeout bounds releasing a lock, which runs after the
	// caller's context may have ended.
	releaseTimeout = 2 * time.Second
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Prefix starts every key the store uses; "" means "aauth:". Stores
	// with different prefixes share nothing.
	Prefix string

	// OnEvent, when set, is told when Redis becomes unavailable and
	// available again, about values skipped, and about waits for another
	// process's fetch. The Transport's OnEvent fits. Events never carry
	// token values.
	OnEvent func(aauth.Event)

	// Logger, when set, logs the same events: unavailability, skipped
	// values and lost locks at warn level, the rest at debug level.
	Logger *slog.Logger

	// Now is the store's clock, for expiry and RetryAfter; nil means
	// time.Now.
	Now func() time.Time

	// DefaultTTL is how long a token without an expiry (a session token)
	// is kept; zero means 24 hours.
	DefaultTTL time.Duration

	// Lease is how long a fetch's lock outlives a holder that stops
	// renewing it (it renews every third of it); zero means 10 seconds.
	Lease time.Duration

	// LockWait bounds how long LockToken waits for another process's
	// fetch; zero means 15 minutes, as long as a Transport polls a person
	// by default. The context bounds it too.
	LockWait time.Duration

	// RetryAfter is how long the store leaves Redis alone after a
	// failure; zero means 5 seconds.
	RetryAfter time.Duration

	// ReplayOutage is what the replay store does while Redis is
	// unavailable; the zero value means FailClosed: state-changing
	// requests are refused (503) rather than let a signature be replayed
	// to another replica. See Outage.
	ReplayOutage Outage

	// SessionOutage is what the session store does while Redis is
	// unavailable; the zero value means LocalOnly: each replica goes on
	// with the sessions it granted or read. See Outage.
	SessionOutage Outage

	// ClockSkew is how far apart the clocks of the replicas sharing the
	// replay store may be: each signature is remembered that much longer
	// than its window, so that a replica whose clock is behind, and
	// which therefore accepts the signature a little longer, still finds
	// it. Zero means 5 seconds.
	ClockSkew time.Duration
}

// Outage says what a part of a Store does while Redis is unavailable. The
// token cache always goes on from this process's memory: a request never
// fails for the agent's cache. The resource side's parts are a security
// check and a grant, and each can be told.
type Outage int

const (
	// DefaultOutage is each part's default: FailClosed for the replay
	// store, LocalOnly for the session store.
	DefaultOutage Outage = iota

	// FailClosed returns errors matching ErrUnavailable, which a
	// resource.Resource answers with 503 temporarily_unavailable.
	FailClosed

	// LocalOnly goes on with this process's memory, as a single replica
	// without Redis would. For the replay store: every signature is
	// recorded in memory too, so a replica still refuses one replayed to
	// itself, but not one replayed to another replica, until Redis is
	// back and for one signature window after (the signatures seen only
	// in memory are not copied to Redis). For the session store:
	// sessions this process granted or read are served from memory, a
	// session granted during the outage is copied to Redis when it is
	// next used after it, and a Delete reaches only this process until
	// Redis is back.
	LocalOnly
)

// Store is one Redis deployment used by AAuth. It is safe for concurrent
// use.
type Store struct {
	client   redis.UniversalClient
	opts     Options
	tokens   *TokenCache
	replay   *ReplayStore
	sessions *SessionStore

	mu        sync.Mutex
	down      bool      // Redis failed and has not answered since
	restUntil time.Time // leave Redis alone until then
	lastErr   error
}

// New returns a Store on client.
func New(client redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.DefaultTTL <= 0 {
		opts.DefaultTTL = DefaultTTL
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.ClockSkew <= 0 {
		opts.ClockSkew = DefaultClockSkew
	}
	if opts.ReplayOutage == DefaultOutage {
		opts.ReplayOutage = FailClosed
	}
	if opts.SessionOutage == DefaultOutage {
		opts.SessionOutage = LocalOnly
	}
	s := &Store{client: client, opts: opts}
	s.tokens = &TokenCache{s: s}
	s.replay = newReplayStore(s)
	s.sessions = newSessionStore(s)
	return s
}

func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// key returns the Redis key of kind ("token", "lock", "replay",
// "session") for key: its hash, so that keys are of one length and hold
// no URL or token.
func (s *Store) key(kind, key string) string {
	return s.opts.Prefix + kind + ":" + tokenstore.Name(key)
}

// unavailableError is what a Store returns when Redis failed. For Token,
// miss is set: the error then also matches aauth.ErrNoToken.
type unavailableError struct {
	cause error
	miss  bool
}

func (e *unavailableError) Error() string {
	msg := "aauth: redis store unavailable"
	if e.miss {
		msg = "aauth: no cached token: redis store unavailable"
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *unavailableError) Is(target error) bool {
	return target == ErrUnavailable || (e.miss && target == aauth.ErrNoToken)
}

func (e *unavailableError) Unwrap() error { return e.cause }

// do runs op against Redis unless the store is leaving Redis alone, and
// keeps track of whether Redis answers. An error of the caller's context
// says nothing about Redis and is returned as it is; an error reply about
// the data (WRONGTYPE) is returned as it is too.
func (s *Store) do(ctx context.Context, op func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	resting := s.down && s.now().Before(s.restUntil)
	last := s.lastErr
	s.mu.Unlock()
	if resting {
		return &unavailableError{cause: last}
	}
	err := op(ctx)
	switch {
	case err == nil || errors.Is(err, redis.Nil) || isDataError(err):
		s.answered(ctx)
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	s.failed(ctx, err)
	return &unavailableError{cause: err}
}

// isDataError reports an error reply about the value at a key rather than
// about Redis.
func isDataError(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

func (s *Store) answered(ctx context.Context) {
	s.mu.Lock()
	was := s.down
	s.down, s.lastErr = false, nil
	s.mu.Unlock()
	if was {
		s.emit(ctx, aauth.Event{Step: StepAvailable, Detail: "redis answers again; the shared store is back"})
	}
}

func (s *Store) failed(ctx context.Context, err error) {
	s.mu.Lock()
	was := s.down
	s.down, s.lastErr = true, err
	s.restUntil = s.now().Add(s.opts.RetryAfter)
	s.mu.Unlock()
	if !was {
		s.emit(ctx, aauth.Event{Step: StepUnavailable, Detail: "redis is unavailable; working without the shared store, retrying in " + s.opts.RetryAfter.String(), Err: err})
	}
}

// emit sends ev to OnEvent and Logger.
func (s *Store) emit(ctx context.Context, ev aauth.Event) {
	if s.opts.OnEvent == nil && s.opts.Logger == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(ev)
	}
	if s.opts.Logger != nil {
		level := slog.LevelDebug
		switch ev.Step {
		case StepUnavailable, StepSkipped, StepLockLost:
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("step", string(ev.Step))}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("error", ev.Err.Error()))
		}
		s.opts.Logger.LogAttrs(ctx, level, "aauth: "+ev.Detail, attrs...)
	}
}
