package filestore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/filestore"
	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/psclient"
)

const (
	authKey    = "auth https://r.example https://ps.example jkt-1"
	sessionKey = "session https://r.example"
	secret     = "eyJhbGciOiJFZDI1NTE5In0.c2VjcmV0LXRva2Vu.c2ln" // must never leak
)

// open opens a store in a new temporary directory with a settable clock.
func open(t *testing.T) (*filestore.Store, *aauthtest.FakeClock, *storetest.Events) {
	t.Helper()
	c := aauthtest.NewFakeClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	ev := storetest.NewEvents(t, secret)
	s, err := filestore.Open(filepath.Join(t.TempDir(), "state"), filestore.Options{OnEvent: ev.Add, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, ev
}

func entryPath(s *filestore.Store, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(tokensDir(s), hex.EncodeToString(sum[:])+".json")
}

func noLeak(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestSetGetDelete(t *testing.T) {
	s, c, _ := open(t)
	ctx := context.Background()
	if _, err := s.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("empty store: %v", err)
	}
	want := &psclient.Token{Value: secret, ExpiresIn: 3600, Expiry: c.Now().Add(time.Hour)}
	if err := s.SetToken(ctx, authKey, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Token(ctx, authKey)
	if err != nil || got.Value != want.Value || got.ExpiresIn != 3600 || !got.Expiry.Equal(want.Expiry) {
		t.Fatalf("Token = %v, %v", got, err)
	}
	// A second store on the same directory (another run) sees it.
	s2, err := filestore.Open(s.Dir(), filestore.Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Token(ctx, authKey); err != nil || got.Value != secret {
		t.Fatalf("reopened: %v, %v", got, err)
	}
	// Replace, then delete (twice: a missing key is not an error).
	if err := s.SetToken(ctx, authKey, &psclient.Token{Value: "newer", Expiry: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s2.Token(ctx, authKey); got == nil || got.Value != "newer" {
		t.Fatalf("after replace: %v", got)
	}
	for range 2 {
		if err := s.DeleteToken(ctx, authKey); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s2.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.SetToken(ctx, authKey, nil); err == nil {
		t.Fatal("stored a nil token")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Token(ctx2, authKey); !errors.Is(err, context.Canceled) {
		t.Fatalf("Token with a canceled context: %v", err)
	}
}

// TestLayout checks the on-disk layout and modes the package doc states,
// under a umask that would otherwise open them up.
func TestLayout(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	s, c, _ := open(t)
	ctx := context.Background()
	if err := s.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	sum := sha256.Sum256([]byte(authKey))
	h := hex.EncodeToString(sum[:])
	want := map[string]fs.FileMode{
		".":                     0o700 | fs.ModeDir,
		"tokens":                0o700 | fs.ModeDir,
		"tokens/.lock":          0o600,
		"tokens/" + h + ".json": 0o600,
		"tokens/" + h + ".lock": 0o600,
	}
	got := map[string]fs.FileMode{}
	filepath.WalkDir(s.Dir(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		rel, _ := filepath.Rel(s.Dir(), p)
		got[rel] = fi.Mode()
		return nil
	})
	if len(got) != len(want) {
		t.Fatalf("files: got %v, want %v", got, want)
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf("%s: mode %v, want %v", name, got[name], mode)
		}
	}
	data, err := os.ReadFile(entryPath(s, authKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"format":"aauth-token/1"`, `"key":"` + authKey + `"`, `"until":"2030-01-01T13:00:00Z"`} {
		if !strings.Contains(string(data), part) {
			t.Errorf("entry %s lacks %s", data, part)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/xdg/state")
	if d, err := filestore.DefaultDir(); err != nil || d != "/xdg/state/aauth" {
		t.Fatalf("with XDG_STATE_HOME: %q, %v", d, err)
	}
	t.Setenv("HOME", "/home/someone")
	for _, xdg := range []string{"", "relative/state"} { // the XDG spec says to ignore a relative path
		t.Setenv("XDG_STATE_HOME", xdg)
		if d, err := filestore.DefaultDir(); err != nil || d != "/home/someone/.local/state/aauth" {
			t.Fatalf("XDG_STATE_HOME=%q: %q, %v", xdg, d, err)
		}
	}
	// Open("") uses it.
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	s, err := filestore.Open("", filestore.Options{})
	if err != nil || s.Dir() != filepath.Join(state, "aauth") {
		t.Fatalf("Open(\"\"): %v, %v", s, err)
	}
}

func TestExpiryAndPrune(t *testing.T) {
	s, c, ev := open(t)
	ctx := context.Background()
	if err := s.SetToken(ctx, authKey, &psclient.Token{Value: secret, ExpiresIn: 3600, Expiry: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// A session token has no expiry: it is kept DefaultTTL (24 h).
	if err := s.SetToken(ctx, sessionKey, &psclient.Token{Value: "session-token"}); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Hour)
	if _, err := s.Token(ctx, authKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("expired token: %v", err)
	}
	if tok, err := s.Token(ctx, sessionKey); err != nil || tok.Value != "session-token" || !tok.Expiry.IsZero() {
		t.Fatalf("session token: %v, %v", tok, err)
	}
	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(entryPath(s, authKey)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("expired entry not pruned: %v", err)
	}
	if ev.Count(filestore.StepPruned) != 1 {
		t.Fatalf("%d pruned events", ev.Count(filestore.StepPruned))
	}
	c.Advance(23 * time.Hour)
	if _, err := s.Token(ctx, sessionKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("session token after DefaultTTL: %v", err)
	}
	// SetToken prunes at most hourly: this write removes the session entry.
	if err := s.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(entryPath(s, sessionKey)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("SetToken did not prune: %v", err)
	}
	// A token that has already expired is not stored, and replaces the entry.
	if err := s.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: c.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(entryPath(s, authKey)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an expired token was stored: %v", err)
	}
	// Options.DefaultTTL.
	s2, err := filestore.Open(s.Dir(), filestore.Options{Now: c.Now, DefaultTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s2.SetToken(ctx, sessionKey, &psclient.Token{Value: "session-token"})
	c.Advance(2 * time.Minute)
	if _, err := s2.Token(ctx, sessionKey); !errors.Is(err, aauth.ErrNoToken) {
		t.Fatalf("DefaultTTL not applied: %v", err)
	}
}

// TestNotOurs puts what the store did not write where an entry belongs:
// each is a miss with an event, and is never overwritten or deleted.
func TestNotOurs(t *testing.T) {
	until := `"until":"2030-06-01T00:00:00Z"`
	cases := map[string]func(path string) error{
		"garbage": func(p string) error { return os.WriteFile(p, []byte("\x00\x01garbage "+secret), 0o600) },
		"empty":   func(p string) error { return os.WriteFile(p, nil, 0o600) },
		"truncated": func(p string) error {
			return os.WriteFile(p, []byte(`{"format":"aauth-token/1","key":"`+authKey+`","value":"`+secret), 0o600)
		},
		"other format": func(p string) error {
			return os.WriteFile(p, []byte(`{"format":"aauth-token/2","key":"`+authKey+`","value":"`+secret+`",`+until+`}`), 0o600)
		},
		"other json": func(p string) error { return os.WriteFile(p, []byte(`{"token":"`+secret+`"}`), 0o600) },
		"other key": func(p string) error {
			return os.WriteFile(p, []byte(`{"format":"aauth-token/1","key":"auth other","value":"`+secret+`",`+until+`}`), 0o600)
		},
		"huge":      func(p string) error { return os.WriteFile(p, make([]byte, 1<<20), 0o600) },
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
		"device":    func(p string) error { return os.Symlink("/dev/zero", p) },
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			s, c, ev := open(t)
			ctx := context.Background()
			path := entryPath(s, authKey)
			if err := plant(path); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, path)
			skips := 0
			step := func(what string, err error, want error) {
				t.Helper()
				noLeak(t, err)
				if !errors.Is(err, want) {
					t.Fatalf("%s: %v, want %v", what, err, want)
				}
				if skips++; ev.Count(filestore.StepSkipped) != skips {
					t.Fatalf("%s: %d skipped events, want %d", what, ev.Count(filestore.StepSkipped), skips)
				}
				if after := snapshot(t, path); after != before {
					t.Fatalf("%s changed the file", what)
				}
			}
			_, err := s.Token(ctx, authKey)
			step("Token", err, aauth.ErrNoToken)
			step("SetToken", s.SetToken(ctx, authKey, &psclient.Token{Value: secret, Expiry: c.Now().Add(time.Hour)}), filestore.ErrForeign)
			step("DeleteToken", s.DeleteToken(ctx, authKey), filestore.ErrForeign)
			c.Advance(24 * 365 * time.Hour)
			step("Prune", s.Prune(ctx), nil)
			// Other keys still work.
			if err := s.SetToken(ctx, sessionKey, &psclient.Token{Value: "s"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// snapshot describes the file at path: its mode and contents.
func snapshot(t *testing.T, path string) string {
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		return fi.Mode().String()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().String() + string(b)
}

// TestStrayFiles: Prune removes what it left behind (temporary files of a
// crash, unused lock files) once stale, and reports what is not its own.
func TestStrayFiles(t *testing.T) {
	s, _, ev := open(t)
	ctx := context.Background()
	dir := tokensDir(s)
	h := strings.TrimSuffix(filepath.Base(entryPath(s, authKey)), ".json")
	old := time.Now().Add(-2 * time.Hour)
	files := map[string]bool{ // name → should survive Prune
		"." + h + ".json123456": false, // a crash's temporary file, stale
		"." + h + ".json777":    true,  // one being written now
		h + ".lock":             false, // a lock file nobody holds, for no entry
		"notes.txt":             true,  // not ours
	}
	for name, keep := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if !keep || name == "notes.txt" {
			os.Chtimes(p, old, old)
		}
	}
	// A held lock file survives, however old.
	held := "auth held"
	unlock, err := s.LockToken(ctx, held)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	heldPath := strings.TrimSuffix(entryPath(s, held), ".json") + ".lock"
	os.Chtimes(heldPath, old, old)
	files[filepath.Base(heldPath)] = true

	if err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	for name, keep := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if exists := err == nil; exists != keep {
			t.Errorf("%s: exists %v, want %v", name, exists, keep)
		}
	}
	if n := ev.Count(filestore.StepSkipped); n != 1 {
		t.Errorf("%d skipped events, want 1 (notes.txt)", n)
	}
	// The lock, its file gone, is taken afresh.
	u2, err := s.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	u2()
}

func TestRepairsPermissions(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "tokens"), 0o755)
	ev := storetest.NewEvents(t, secret)
	if _, err := filestore.Open(dir, filestore.Options{OnEvent: ev.Add}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "tokens"))
	if err != nil || fi.Mode().Perm() != 0o700 || ev.Count(filestore.StepRepaired) != 1 {
		t.Fatalf("mode %v, %d repaired events, %v", fi.Mode(), ev.Count(filestore.StepRepaired), err)
	}
}

func TestRefusesOthersDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokens"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.Open(dir, filestore.Options{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("tokens is a file: %v", err)
	}
	if os.Geteuid() != 0 {
		return // only root can give a directory to someone else
	}
	other := t.TempDir()
	if err := os.Mkdir(filepath.Join(other, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(other, "tokens"), 4242, 4242); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.Open(other, filestore.Options{}); err == nil || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Fatalf("another user's directory: %v", err)
	}
}

func TestRefusesUnstorableTokens(t *testing.T) {
	s, c, _ := open(t)
	for _, v := range []string{"", "a\r\nInjected: 1", strings.Repeat("a", 65<<10)} {
		err := s.SetToken(context.Background(), authKey, &psclient.Token{Value: v, Expiry: c.Now().Add(time.Hour)})
		if err == nil || strings.Contains(err.Error(), "Injected") {
			t.Errorf("SetToken(%.20q): %v", v, err)
		}
	}
}

func TestLockToken(t *testing.T) {
	s, _, ev := open(t)
	ctx := context.Background()
	unlock, err := s.LockToken(ctx, authKey)
	if err != nil {
		t.Fatal(err)
	}
	// Another key is not held up.
	u2, err := s.LockToken(ctx, sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	u2()
	// A second taker waits for the first.
	got := make(chan error, 1)
	go func() {
		u, err := s.LockToken(ctx, authKey)
		if err == nil {
			u()
		}
		got <- err
	}()
	for ev.Count(filestore.StepLockWait) == 0 {
		select {
		case err := <-got:
			t.Fatalf("took a held lock: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	unlock()
	unlock() // twice is harmless
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// The wait ends with the context, and with LockWait.
	unlock, _ = s.LockToken(ctx, authKey)
	defer unlock()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.LockToken(cctx, authKey); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	short, err := filestore.Open(s.Dir(), filestore.Options{LockWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.LockToken(ctx, authKey); !errors.Is(err, filestore.ErrLockTimeout) {
		t.Fatalf("LockWait: %v", err)
	}
}

// TestLockReleasedByDeath: the kernel releases the lock of a process that
// dies holding it.
func TestLockReleasedByDeath(t *testing.T) {
	s, _, _ := open(t)
	p := storetest.Start(t, "holder", counterArgs{Dir: s.Dir(), Key: authKey})
	p.Expect(t, "locked")
	short, err := filestore.Open(s.Dir(), filestore.Options{LockWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.LockToken(context.Background(), authKey); !errors.Is(err, filestore.ErrLockTimeout) {
		t.Fatalf("took the lock another process holds: %v", err)
	}
	p.Kill()
	unlock, err := s.LockToken(storetest.Context(t), authKey)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}
