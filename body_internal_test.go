package aauth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// readAllHashing returns the whole body and its hash whatever the length
// the request claims: right, too short, too long, unknown, absurd.
func TestReadAllHashing(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 513, hashChunk - 1, hashChunk, hashChunk + 1, 3*hashChunk + 7} {
		body := bytes.Repeat([]byte{'x', 'y', 'z'}, size)[:size]
		want := sha256.Sum256(body)
		for _, claim := range []int64{int64(size), int64(size) - 1, int64(size) + 1, 0, -1, 1 << 62} {
			// Readers that write themselves out in one piece, and ones
			// that do not.
			for _, r := range []io.Reader{bytes.NewReader(body), iotest.OneByteReader(bytes.NewReader(body)), iotest.DataErrReader(bytes.NewReader(body)), io.MultiReader(bytes.NewReader(body))} {
				h := sha256.New()
				got, err := readAllHashing(r, claim, h)
				if err != nil || got != string(body) || !bytes.Equal(h.Sum(nil), want[:]) {
					t.Fatalf("size %d, claim %d: %d bytes, %v, hash ok %v", size, claim, len(got), err, bytes.Equal(h.Sum(nil), want[:]))
				}
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readAllHashing(iotest.ErrReader(boom), 10, sha256.New()); !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
}
