// Package tokenstore is what the persistent token stores (filestore and
// redisstore) share: the name an entry is stored under, the versioned JSON
// envelope that holds it, and how a process waits for another's lock. The
// envelope carries the cache key, so a store can tell its own entries from
// corrupt or foreign data before it trusts, overwrites or deletes
// anything. It imports nothing of this module.
package tokenstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is the envelope's format marker. A later, incompatible envelope
// gets a new number; a store that reads one it does not know leaves it
// alone.
const Format = "aauth-token/1"

// formatFamily is what every version of the marker starts with.
const formatFamily = "aauth-token/"

// Bounds on what an envelope may hold: the Transport refuses longer tokens
// (64 KiB) from a person server, and its keys are two URLs and a
// thumbprint.
const (
	MaxValueLen = 64 << 10
	MaxKeyLen   = 8 << 10
	// MaxEnvelope bounds an envelope read from disk or Redis: the longest
	// value and key, JSON-escaped, and the rest of the fields.
	MaxEnvelope = 2*(MaxValueLen+MaxKeyLen) + 1024
)

var (
	// ErrCorrupt means data is not an envelope: not JSON, or missing or
	// invalid fields.
	ErrCorrupt = errors.New("not a token entry")
	// ErrForeign means data is an envelope, but not one this code may use:
	// another format version, or the entry of another key.
	ErrForeign = errors.New("an entry this store does not own")
)

// Name returns the name an entry for key is stored under: the hex SHA-256
// of the key. Keys hold URLs, which are neither file names nor safe in a
// Redis SCAN pattern; their hashes are both, and of one length.
func Name(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IsName reports whether s is a name Name can return.
func IsName(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Entry is one stored token.
type Entry struct {
	// Key is the cache key, as the Transport built it.
	Key string
	// Value, ExpiresIn and Expiry are the token's fields.
	Value     string
	ExpiresIn int64
	Expiry    time.Time
	// Until is when the store drops the entry: the token's Expiry, or,
	// for a token without one, the time it was stored plus the store's
	// lifetime for such tokens.
	Until time.Time
}

// envelope is the JSON form of an Entry.
type envelope struct {
	Format    string     `json:"format"`
	Key       string     `json:"key"`
	Value     string     `json:"value"`
	ExpiresIn int64      `json:"expires_in,omitempty"`
	Expiry    *time.Time `json:"expiry,omitempty"`
	Until     time.Time  `json:"until"`
}

// Marshal returns the envelope of e. It refuses an entry Unmarshal would
// refuse, so a store never writes what it cannot read back.
func Marshal(e Entry) ([]byte, error) {
	if err := check(e); err != nil {
		return nil, err
	}
	env := envelope{Format: Format, Key: e.Key, Value: e.Value, ExpiresIn: e.ExpiresIn, Until: e.Until.UTC()}
	if !e.Expiry.IsZero() {
		exp := e.Expiry.UTC()
		env.Expiry = &exp
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(env); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal reads the envelope in data and checks that it holds the entry
// of key. It returns an error matching ErrCorrupt or ErrForeign otherwise;
// the error never quotes data, which may hold a token.
func Unmarshal(data []byte, key string) (Entry, error) {
	e, err := Parse(data)
	if err != nil {
		return Entry{}, err
	}
	if e.Key != key {
		return Entry{}, fmt.Errorf("%w: the entry of another key", ErrForeign)
	}
	return e, nil
}

// Parse reads the envelope in data, whatever its key; see Unmarshal.
func Parse(data []byte) (Entry, error) {
	if len(data) > MaxEnvelope {
		return Entry{}, fmt.Errorf("%w: longer than %d bytes", ErrCorrupt, MaxEnvelope)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return Entry{}, fmt.Errorf("%w: invalid JSON", ErrCorrupt)
	}
	switch {
	case env.Format == "":
		return Entry{}, fmt.Errorf("%w: no format marker", ErrForeign)
	case env.Format != Format && strings.HasPrefix(env.Format, formatFamily):
		return Entry{}, fmt.Errorf("%w: format version %.16q", ErrForeign, strings.TrimPrefix(env.Format, formatFamily))
	case env.Format != Format:
		return Entry{}, fmt.Errorf("%w: unknown format", ErrForeign)
	}
	e := Entry{Key: env.Key, Value: env.Value, ExpiresIn: env.ExpiresIn, Until: env.Until}
	if env.Expiry != nil {
		e.Expiry = *env.Expiry
	}
	if err := check(e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// check applies the bounds a stored entry must meet.
func check(e Entry) error {
	switch {
	case e.Key == "" || len(e.Key) > MaxKeyLen || !utf8.ValidString(e.Key):
		// JSON would replace invalid UTF-8, and the entry would no
		// longer name its key.
		return fmt.Errorf("%w: key empty, not UTF-8 or longer than %d bytes", ErrCorrupt, MaxKeyLen)
	case e.Value == "" || len(e.Value) > MaxValueLen:
		return fmt.Errorf("%w: token empty or longer than %d bytes", ErrCorrupt, MaxValueLen)
	case strings.IndexFunc(e.Value, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0:
		// What a header cannot carry is not a token the Transport sent
		// or may send.
		return fmt.Errorf("%w: token has characters a header cannot carry", ErrCorrupt)
	case e.ExpiresIn < 0:
		return fmt.Errorf("%w: negative expires_in", ErrCorrupt)
	case e.Until.IsZero():
		return fmt.Errorf("%w: no until", ErrCorrupt)
	}
	return nil
}
