package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/renameio/v2"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/tokenstore"
	"github.com/aauthgo/aauth/psclient"
)

// The steps a Store reports in its events, beside those of a Transport.
const (
	// StepSkipped: a file is not an entry of this store (corrupt or
	// foreign) and was left alone.
	StepSkipped aauth.Step = "store-skipped"
	// StepRepaired: the tokens directory was open to other users and
	// was made private (0700).
	StepRepaired aauth.Step = "store-repaired"
	// StepPruned: expired entries were removed.
	StepPruned aauth.Step = "store-pruned"
	// StepLockWait: another process is fetching the token; waiting for it.
	StepLockWait aauth.Step = "store-lock-wait"
)

var (
	// ErrForeign is returned by SetToken and DeleteToken when the file an
	// entry belongs in holds something that is not an entry of this
	// store. The file is left as it is.
	ErrForeign = errors.New("aauth: token store: a file that is not ours is in the way")
	// ErrLockTimeout is returned by LockToken when another process held
	// the lock for longer than Options.LockWait.
	ErrLockTimeout = tokenstore.ErrLockTimeout
)

// Defaults of Options.
const (
	DefaultTTL = 24 * time.Hour
	// pruneEvery is how often SetToken prunes.
	pruneEvery = time.Hour
	// staleAfter is how old a temporary file or an unused lock file must
	// be before Prune removes it.
	staleAfter = time.Hour
	// mutationWait bounds waiting for the store lock, which is only ever
	// held for a write, a delete or a prune.
	mutationWait = 10 * time.Second
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// OnEvent, when set, is told about files skipped, entries pruned, the
	// directory repaired and waits for another process's fetch. The
	// Transport's OnEvent fits. Events never carry token values.
	OnEvent func(aauth.Event)

	// Logger, when set, logs the same events: skipped files at warn
	// level, the rest at debug level.
	Logger *slog.Logger

	// Now is the store's clock, for expiry; nil means time.Now.
	Now func() time.Time

	// DefaultTTL is how long a token without an expiry (a session token)
	// is kept; zero means 24 hours.
	DefaultTTL time.Duration

	// LockWait bounds how long LockToken waits for another process's
	// fetch; zero means 15 minutes, as long as a Transport polls a person
	// by default. The context bounds it too.
	LockWait time.Duration
}

// Store is a TokenCache in a directory. It is safe for concurrent use by
// goroutines and by processes. Its methods also implement
// aauth.TokenLocker.
type Store struct {
	dir, tokens string
	opts        Options
	lastPrune   atomic.Int64 // unix nanoseconds of the last prune
	pruneMu     sync.Mutex   // one prune at a time in this process
}

// DefaultDir returns the default directory of a store:
// $XDG_STATE_HOME/aauth when XDG_STATE_HOME is an absolute path, else
// ~/.local/state/aauth.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "aauth"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("aauth: token store: no state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "aauth"), nil
}

// Open opens the store in dir, creating its directories when they do not
// exist; "" means DefaultDir(). It makes the tokens directory private when
// it is not (with an event), refuses one that another user owns, and
// prunes expired entries.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("aauth: token store: %w", err)
	}
	s := &Store{dir: dir, tokens: filepath.Join(dir, "tokens"), opts: opts}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("aauth: token store: %w", err)
	}
	if err := os.Mkdir(s.tokens, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("aauth: token store: %w", err)
	}
	if err := s.checkDir(context.Background()); err != nil {
		return nil, err
	}
	if err := s.Prune(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// checkDir makes sure the tokens directory is a directory of ours that
// only we can enter.
func (s *Store) checkDir(ctx context.Context) error {
	fi, err := os.Lstat(s.tokens)
	if err != nil {
		return fmt.Errorf("aauth: token store: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("aauth: token store: %s is not a directory", s.tokens)
	}
	if err := checkOwner(fi); err != nil {
		return fmt.Errorf("aauth: token store: %s: %w", s.tokens, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(s.tokens, 0o700); err != nil {
			return fmt.Errorf("aauth: token store: %w", err)
		}
		s.emit(ctx, aauth.Event{Step: StepRepaired, Detail: fmt.Sprintf("%s was mode %#o; made it 0700", s.tokens, perm)})
	}
	return nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Store) path(key string) string {
	return filepath.Join(s.tokens, tokenstore.Name(key)+".json")
}

// Token returns the token stored under key, or ErrNoToken when there is
// none, it has expired, or the file is not an entry of this store (with a
// StepSkipped event).
func (s *Store) Token(ctx context.Context, key string) (*psclient.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := s.path(key)
	e, err := s.read(ctx, path, key)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrForeign):
		return nil, aauth.ErrNoToken
	case err != nil:
		return nil, err
	case !e.Until.After(s.now()):
		return nil, aauth.ErrNoToken
	}
	return &psclient.Token{Value: e.Value, ExpiresIn: e.ExpiresIn, Expiry: e.Expiry}, nil
}

// read reads the entry of key at path. A file that is not one gives an
// error matching ErrForeign, after a StepSkipped event; a missing one
// fs.ErrNotExist.
func (s *Store) read(ctx context.Context, path, key string) (tokenstore.Entry, error) {
	data, err := readFile(path)
	if errors.Is(err, errNotRegular) {
		return tokenstore.Entry{}, s.skipped(ctx, path, err)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return tokenstore.Entry{}, err
		}
		return tokenstore.Entry{}, fmt.Errorf("aauth: token store: %w", err)
	}
	e, err := tokenstore.Unmarshal(data, key)
	if err != nil {
		return tokenstore.Entry{}, s.skipped(ctx, path, err)
	}
	return e, nil
}

// skipped reports a file that is not ours and returns the ErrForeign
// error for it.
func (s *Store) skipped(ctx context.Context, path string, why error) error {
	err := fmt.Errorf("%w: %s: %v", ErrForeign, path, why)
	s.emit(ctx, aauth.Event{Step: StepSkipped, Detail: "left " + path + " alone: " + why.Error() + " (delete it to let the store use it)", Err: err})
	return err
}

var errNotRegular = errors.New("not a regular file")

// readFile reads a file of at most tokenstore.MaxEnvelope bytes (one byte
// more tells the envelope it is too long).
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return io.ReadAll(io.LimitReader(f, tokenstore.MaxEnvelope+1))
}

// SetToken stores tok under key, replacing the entry there. A token that
// has already expired is not stored (and an older entry is removed). A
// file in the way that is not an entry of this store is left alone and
// gives an error matching ErrForeign.
func (s *Store) SetToken(ctx context.Context, key string, tok *psclient.Token) error {
	if tok == nil {
		return errors.New("aauth: token store: nil token")
	}
	now := s.now()
	until := tok.Expiry
	if until.IsZero() {
		ttl := s.opts.DefaultTTL
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		until = now.Add(ttl)
	}
	if !until.After(now) {
		return s.DeleteToken(ctx, key)
	}
	data, err := tokenstore.Marshal(tokenstore.Entry{Key: key, Value: tok.Value, ExpiresIn: tok.ExpiresIn, Expiry: tok.Expiry, Until: until})
	if err != nil {
		return fmt.Errorf("aauth: token store: refusing to store the token: %w", err)
	}
	path := s.path(key)
	err = s.mutate(ctx, func() error {
		if _, err := s.read(ctx, path, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return s.write(path, data)
	})
	if err != nil {
		return err
	}
	if time.Duration(now.UnixNano()-s.lastPrune.Load()) >= pruneEvery {
		s.Prune(ctx) // a failed prune fails no write; the next one retries
	}
	return nil
}

// write replaces path with data, atomically, mode 0600 whatever the umask
// or the old file's mode. The temporary file is in the tokens directory:
// the token is never written outside it.
func (s *Store) write(path string, data []byte) error {
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(s.tokens), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return fmt.Errorf("aauth: token store: %w", err)
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("aauth: token store: %w", err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("aauth: token store: %w", err)
	}
	return nil
}

// DeleteToken removes the entry under key; a missing entry is not an
// error. A file there that is not an entry of this store is left alone
// and gives an error matching ErrForeign.
func (s *Store) DeleteToken(ctx context.Context, key string) error {
	path := s.path(key)
	return s.mutate(ctx, func() error {
		if _, err := s.read(ctx, path, key); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("aauth: token store: %w", err)
		}
		return nil
	})
}

// mutate runs f holding the store lock.
func (s *Store) mutate(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, mutationWait)
	defer cancel()
	l := flock.New(filepath.Join(s.tokens, ".lock"), flock.SetPermissions(0o600))
	ok, err := l.TryLockContext(ctx, 2*time.Millisecond)
	if err != nil || !ok {
		return fmt.Errorf("aauth: token store: locking %s: %w", l.Path(), err)
	}
	defer l.Unlock()
	return f()
}

// LockToken takes the lock on key's fetch, waiting while another process
// or goroutine holds it, at most Options.LockWait (then ErrLockTimeout)
// and as long as ctx allows. The returned func releases it; it may be
// called more than once. The lock is an flock on <dir>/tokens/H.lock, so
// the kernel releases it if the process dies.
func (s *Store) LockToken(ctx context.Context, key string) (unlock func(), err error) {
	path := filepath.Join(s.tokens, tokenstore.Name(key)+".lock")
	var held *flock.Flock
	err = tokenstore.Acquire(ctx, s.opts.LockWait, func() (bool, error) {
		l := flock.New(path, flock.SetPermissions(0o600))
		ok, err := l.TryLock()
		if err != nil {
			return false, fmt.Errorf("aauth: token store: locking %s: %w", path, err)
		}
		if !ok {
			return false, nil
		}
		// Prune may have removed the file between our open and our
		// lock: a lock on a file no longer at path locks nothing.
		if !samePath(l, path) {
			l.Unlock()
			return false, nil
		}
		held = l
		return true, nil
	}, func() {
		s.emit(ctx, aauth.Event{Step: StepLockWait, Detail: "another process is fetching this token; waiting for it"})
	})
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { held.Unlock() }) }, nil
}

func samePath(l *flock.Flock, path string) bool {
	a, err := l.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Prune removes expired entries, temporary files left by a crash, and the
// lock files of entries that no longer exist and that nobody holds. It
// leaves files that are not ours alone, with a StepSkipped event each.
func (s *Store) Prune(ctx context.Context) error {
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	now := s.now()
	s.lastPrune.Store(now.UnixNano())
	var removed int
	err := s.mutate(ctx, func() error {
		ents, err := os.ReadDir(s.tokens)
		if err != nil {
			return fmt.Errorf("aauth: token store: %w", err)
		}
		for _, de := range ents {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if s.pruneOne(ctx, de, now) {
				removed++
			}
		}
		return nil
	})
	if removed > 0 {
		s.emit(ctx, aauth.Event{Step: StepPruned, Detail: fmt.Sprintf("removed %d expired or stale files from %s", removed, s.tokens)})
	}
	return err
}

// pruneOne removes de when it is an expired entry of ours or a stale file
// of ours, and reports whether it did.
func (s *Store) pruneOne(ctx context.Context, de fs.DirEntry, now time.Time) bool {
	name := de.Name()
	path := filepath.Join(s.tokens, name)
	stem, ext, _ := strings.Cut(name, ".")
	switch {
	case name == ".lock":
		return false
	case ext == "json" && tokenstore.IsName(stem):
		data, err := readFile(path)
		if err != nil {
			if errors.Is(err, errNotRegular) {
				s.skipped(ctx, path, err)
			}
			return false
		}
		e, err := tokenstore.Parse(data)
		if err == nil && tokenstore.Name(e.Key) != stem {
			err = fmt.Errorf("%w: the entry of another key", tokenstore.ErrForeign)
		}
		if err != nil {
			s.skipped(ctx, path, err)
			return false
		}
		return !e.Until.After(now) && os.Remove(path) == nil
	case ext == "lock" && tokenstore.IsName(stem):
		if _, err := os.Lstat(filepath.Join(s.tokens, stem+".json")); err == nil || !stale(de) {
			return false
		}
		l := flock.New(path, flock.SetPermissions(0o600))
		if ok, err := l.TryLock(); err != nil || !ok {
			return false
		}
		defer l.Unlock()
		return os.Remove(path) == nil
	case stem == "" && isTemp(ext):
		// renameio's temporary file, ".H.json<digits>", left by a crash
		// between its creation and its rename.
		return stale(de) && os.Remove(path) == nil
	}
	s.skipped(ctx, path, errors.New("not a file this store writes"))
	return false
}

// isTemp reports whether ext (what follows the leading dot) is the rest of
// a temporary file name renameio makes for an entry: H.json<digits>.
func isTemp(ext string) bool {
	stem, digits, ok := strings.Cut(ext, ".json")
	if !ok || !tokenstore.IsName(stem) || digits == "" {
		return false
	}
	return strings.Trim(digits, "0123456789") == ""
}

// stale reports whether de was last modified more than staleAfter ago, by
// the file system's clock rather than Options.Now.
func stale(de fs.DirEntry) bool {
	fi, err := de.Info()
	return err == nil && time.Since(fi.ModTime()) > staleAfter
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
		if ev.Step == StepSkipped {
			level = slog.LevelWarn
		}
		s.opts.Logger.LogAttrs(ctx, level, "aauth: "+ev.Detail, slog.String("step", string(ev.Step)))
	}
}
