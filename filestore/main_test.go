package filestore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/filestore"
	"github.com/aauthgo/aauth/internal/storetest"
	"github.com/aauthgo/aauth/psclient"
)

// TestMain runs the roles of the child processes the tests start.
func TestMain(m *testing.M) {
	storetest.Main(map[string]storetest.Role{
		"agent":   storetest.AgentRole(openChild),
		"hammer":  hammer,
		"counter": counter,
		"holder":  holder,
	})
	os.Exit(m.Run())
}

func openChild(raw json.RawMessage, onEvent func(aauth.Event)) (aauth.TokenCache, error) {
	var dir string
	if err := json.Unmarshal(raw, &dir); err != nil {
		return nil, err
	}
	return filestore.Open(dir, filestore.Options{OnEvent: onEvent})
}

// hammerArgs are the arguments of the hammer role.
type hammerArgs struct {
	Dir        string
	ID         int
	Keys       []string
	Iterations int
}

// hammer writes, reads, deletes and prunes a few shared keys as fast as it
// can, and fails on anything a correct store never shows: an error, a
// skipped (corrupt) file, or a token that is not one some process wrote.
func hammer(raw json.RawMessage, _ *bufio.Reader, out io.Writer) error {
	var a hammerArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	var skipped int
	s, err := filestore.Open(a.Dir, filestore.Options{OnEvent: func(ev aauth.Event) {
		if ev.Step == filestore.StepSkipped {
			skipped++
		}
	}})
	if err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Fprintln(out, "ready")
	for i := range a.Iterations {
		key := a.Keys[i%len(a.Keys)]
		exp := time.Now().Add(time.Hour)
		if i%7 == 0 {
			exp = time.Now().Add(time.Millisecond) // soon pruned
		}
		if err := s.SetToken(ctx, key, &psclient.Token{Value: fmt.Sprintf("tok-%d-%d", a.ID, i), Expiry: exp}); err != nil {
			return fmt.Errorf("SetToken: %w", err)
		}
		tok, err := s.Token(ctx, a.Keys[(i+1)%len(a.Keys)])
		switch {
		case errors.Is(err, aauth.ErrNoToken):
		case err != nil:
			return fmt.Errorf("Token: %w", err)
		case !strings.HasPrefix(tok.Value, "tok-"):
			return fmt.Errorf("read a token no process wrote (%d bytes)", len(tok.Value))
		}
		switch i % 10 {
		case 3:
			if err := s.DeleteToken(ctx, a.Keys[(i+2)%len(a.Keys)]); err != nil {
				return fmt.Errorf("DeleteToken: %w", err)
			}
		case 5:
			if err := s.Prune(ctx); err != nil {
				return fmt.Errorf("Prune: %w", err)
			}
		}
	}
	if skipped > 0 {
		return fmt.Errorf("%d files skipped as not ours", skipped)
	}
	fmt.Fprintln(out, "done")
	return nil
}

// counterArgs are the arguments of the counter role.
type counterArgs struct {
	Dir, Key, Counter string
	N                 int
}

// counter adds 1 to a number in a plain file N times, each time holding
// LockToken(Key): with the lock exclusive across processes, no update is
// lost.
func counter(raw json.RawMessage, _ *bufio.Reader, out io.Writer) error {
	var a counterArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	s, err := filestore.Open(a.Dir, filestore.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "ready")
	for range a.N {
		unlock, err := s.LockToken(context.Background(), a.Key)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(a.Counter)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		n, _ := strconv.Atoi(string(b))
		if err := os.WriteFile(a.Counter, []byte(strconv.Itoa(n+1)), 0o600); err != nil {
			return err
		}
		unlock()
	}
	fmt.Fprintln(out, "done")
	return nil
}

// holder takes LockToken(key), says "locked" and waits to be killed.
func holder(raw json.RawMessage, in *bufio.Reader, out io.Writer) error {
	var a counterArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return err
	}
	s, err := filestore.Open(a.Dir, filestore.Options{})
	if err != nil {
		return err
	}
	if _, err := s.LockToken(context.Background(), a.Key); err != nil {
		return err
	}
	fmt.Fprintln(out, "locked")
	in.ReadString('\n') // until killed, or the test closes stdin
	return nil
}

func tokensDir(s *filestore.Store) string { return filepath.Join(s.Dir(), "tokens") }
