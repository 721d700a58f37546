package aauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
)

// leakWatch collects everything the library says about its work (every
// error returned, every Event and every slog line) and the secrets it must
// never say (the tokens the servers issued, the agent tokens, the private
// keys, the signatures sent), and fails a test when one appears in the
// other. It also bounds the size of what is said: server-controlled text is
// cut before it reaches an error, an event or a log line.
type leakWatch struct {
	mu      sync.Mutex
	texts   []string          // errors and events
	errs    []string          // error messages: returned, and in events
	secrets map[string]string // value → what it is
	log     lockedBuffer      // the slog output
}

// Bounds on what the library writes. Generous: a message names a few URLs
// (each cut at 256 bytes) and a problem summary (320 bytes).
const (
	maxErrorText = 2048
	maxEventText = 4096
	maxLogLine   = 4096
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLeakWatch() *leakWatch { return &leakWatch{secrets: map[string]string{}} }

// attach makes tr report to l: its events (after any OnEvent already set)
// and a debug-level text logger. Its Keys and Tokens are wrapped so that
// every agent token, private key and token it stores is a secret.
func (l *leakWatch) attach(tr *aauth.Transport) {
	prev := tr.OnEvent
	tr.OnEvent = func(ev aauth.Event) {
		if prev != nil {
			prev(ev)
		}
		s := fmt.Sprintf("%+v", ev)
		if ev.Err != nil {
			s += " " + ev.Err.Error()
		}
		l.mu.Lock()
		l.texts = append(l.texts, s, ev.String())
		if ev.Err != nil {
			l.errs = append(l.errs, ev.Err.Error())
		}
		l.mu.Unlock()
	}
	tr.Logger = slog.New(slog.NewTextHandler(&l.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if tr.Keys != nil {
		tr.Keys = &watchedKeys{src: tr.Keys, l: l}
	}
	switch tokens := tr.Tokens.(type) {
	case nil:
		tr.Tokens = &watchedMemoryCache{MemoryCache: &aauth.MemoryCache{}, l: l}
	case *aauth.MemoryCache:
		tr.Tokens = &watchedMemoryCache{MemoryCache: tokens, l: l}
	default:
		tr.Tokens = &watchedCache{TokenCache: tokens, l: l}
	}
}

// err records an error the caller received.
func (l *leakWatch) err(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	l.texts = append(l.texts, "error: "+err.Error())
	l.errs = append(l.errs, err.Error())
	l.mu.Unlock()
}

// secret adds a value that must never be said.
func (l *leakWatch) secret(what, v string) {
	if len(v) < 16 {
		return // too short to be a credential, and to grep for
	}
	l.mu.Lock()
	l.secrets[v] = what
	l.mu.Unlock()
}

// signature adds the value of a Signature header.
func (l *leakWatch) signature(h string) {
	for _, part := range strings.Split(h, ",") {
		if i := strings.IndexByte(part, ':'); i >= 0 {
			if j := strings.LastIndexByte(part, ':'); j > i {
				l.secret("a signature", part[i+1:j])
			}
		}
	}
}

// privateKey adds the encodings of a private key that could end up in text.
func (l *leakWatch) privateKey(s crypto.Signer) {
	var raws [][]byte
	switch k := s.(type) {
	case ed25519.PrivateKey:
		raws = append(raws, k.Seed(), []byte(k))
	case *ecdsa.PrivateKey:
		if b, err := k.Bytes(); err == nil {
			raws = append(raws, b)
		}
	}
	for _, raw := range raws {
		l.secret("a private key", base64.RawURLEncoding.EncodeToString(raw))
		l.secret("a private key", base64.StdEncoding.EncodeToString(raw))
		l.secret("a private key", hex.EncodeToString(raw))
		l.secret("a private key", fmt.Sprint(raw))
	}
}

// world adds what the kit's servers issued and saw: person, auth, resource
// and session tokens, presented agent tokens, signatures.
func (l *leakWatch) world(w *aauthtest.World) {
	for _, it := range append(w.PS.Issued(), w.Resource.Issued()...) {
		l.secret("the "+string(it.Kind)+" token issued", it.Token)
	}
	reqs := append(append(w.PS.Requests(), w.Resource.Requests()...), w.Agent.Requests()...)
	for _, r := range reqs {
		l.secret("the "+string(r.Presented)+" token presented", r.Token)
		l.secret("the session token presented", r.Session)
		l.signature(r.Header.Get("Signature"))
	}
}

// check fails t if any secret was said, anything said is too long, or an
// error message says "aauth: " more than once (wrapping keeps one prefix).
func (l *leakWatch) check(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	texts := append([]string(nil), l.texts...)
	for _, line := range strings.Split(l.log.String(), "\n") {
		if len(line) > maxLogLine {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
		texts = append(texts, line)
	}
	for _, s := range l.texts {
		limit := maxEventText
		if strings.HasPrefix(s, "error: ") {
			limit = maxErrorText
		}
		if len(s) > limit {
			t.Errorf("%d bytes said: %.200s…", len(s), s)
		}
	}
	for _, s := range l.errs {
		// The prefix is "aauth: ", with its space: agent identifiers
		// (aauth:name@host) may be named in a message, the prefix not twice.
		if n := strings.Count(s, "aauth: "); n > 1 {
			t.Errorf("an error says \"aauth:\" %d times: %.300q", n, s)
		}
	}
	for _, s := range texts {
		for v, what := range l.secrets {
			if strings.Contains(s, v) {
				t.Errorf("%s appears in %.300q", what, s)
			}
		}
	}
}

// watchedKeys makes every agent token and private key a secret.
type watchedKeys struct {
	src aauth.KeySource
	l   *leakWatch
}

func (k *watchedKeys) KeyMaterial(ctx context.Context) (aauth.KeyMaterial, error) {
	km, err := k.src.KeyMaterial(ctx)
	if err == nil {
		k.l.secret("the agent token", km.Key.Token)
		if km.Signer != nil {
			k.l.privateKey(km.Signer)
		}
	}
	return km, err
}

// watchedCache makes every token the Transport stores a secret.
type watchedCache struct {
	aauth.TokenCache
	l *leakWatch
}

func (c *watchedCache) SetToken(ctx context.Context, key string, tok *aauth.Token) error {
	c.l.stored(key, tok)
	return c.TokenCache.SetToken(ctx, key, tok)
}

// watchedMemoryCache is a watchedCache around a MemoryCache, which it
// embeds so that the Transport uses it as one (see Transport.Tokens).
type watchedMemoryCache struct {
	*aauth.MemoryCache
	l    *leakWatch
	keys sync.Map // every key stored under
}

func (c *watchedMemoryCache) SetToken(ctx context.Context, key string, tok *aauth.Token) error {
	c.l.stored(key, tok)
	c.keys.Store(key, true)
	return c.MemoryCache.SetToken(ctx, key, tok)
}

// heldUnder returns the keys stored under that begin with prefix and hold
// a token now.
func (c *watchedMemoryCache) heldUnder(prefix string) []string {
	var held []string
	c.keys.Range(func(k, _ any) bool {
		key := k.(string)
		if strings.HasPrefix(key, prefix) {
			if tok, err := c.MemoryCache.Token(context.Background(), key); err == nil && tok != nil {
				held = append(held, key)
			}
		}
		return true
	})
	return held
}

// stored makes a token stored under key a secret.
func (l *leakWatch) stored(key string, tok *aauth.Token) {
	if tok != nil {
		l.secret("a "+strings.Fields(key)[0]+" token stored", tok.Value)
	}
}

// failRecorder is a testing.TB that records failures instead of failing.
type failRecorder struct {
	testing.TB
	failures []string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Errorf(format string, args ...any) {
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

// The watch itself catches a token in an event, a key in a log line and an
// overlong error.
func TestLeakWatchCatches(t *testing.T) {
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	const tok = "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
	l := newLeakWatch()
	tr := &aauth.Transport{Keys: aauth.StaticKeys(key, aauth.JWT(tok))}
	l.attach(tr)
	if _, err := tr.Keys.KeyMaterial(context.Background()); err != nil {
		t.Fatal(err)
	}
	var clean failRecorder
	l.check(&clean)
	if len(clean.failures) != 0 {
		t.Fatalf("failures before any leak: %v", clean.failures)
	}
	tr.OnEvent(aauth.Event{Step: aauth.StepError, Detail: "presented " + tok})
	seed := base64.RawURLEncoding.EncodeToString(key.Seed())
	tr.Logger.Info("key " + seed)
	l.err(fmt.Errorf("aauth: %s", strings.Repeat("x", maxErrorText)))
	l.err(fmt.Errorf("aauth: key material: %w", errors.New("aauth: no key")))
	var f failRecorder
	l.check(&f)
	all := strings.Join(f.failures, "\n")
	for _, want := range []string{"the agent token appears", "a private key appears", "bytes said", `says "aauth:" 2 times`} {
		if !strings.Contains(all, want) {
			t.Errorf("no failure %q in:\n%s", want, all)
		}
	}
}
