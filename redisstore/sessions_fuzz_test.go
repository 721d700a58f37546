package redisstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/aauthgo/aauth/resource"
)

// FuzzDecodeSession: whatever Redis holds under a session key, decoding
// it never panics and gives a session or errNotSession; a session it
// gives is stored again as the same session.
func FuzzDecodeSession(f *testing.F) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	good, err := encodeSession(&resource.Session{
		Thumbprint: "k", Agent: "aauth:a@x", AgentProvider: "https://x",
		Scope: "s", Data: map[string]string{"a": "b"}, Created: now, Expiry: now.Add(time.Hour),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format":"aauth-session/1","jkt":"k","expiry":"2099-01-01T00:00:00Z","data":{"a":"b"}}`))
	f.Add([]byte(`{"format":"aauth-session/1","jkt":"k","expiry":"bad"}`))
	f.Add([]byte(`{"format":"aauth-token/1"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSession(data)
		if err != nil {
			if s != nil {
				t.Fatal("a session and an error")
			}
			return
		}
		again, err := encodeSession(s)
		if err != nil {
			if len(data) <= MaxSessionSize/2 {
				t.Fatalf("a decoded session does not encode: %v", err)
			}
			return
		}
		s2, err := decodeSession(again)
		if err != nil {
			t.Fatalf("re-encoded session does not decode: %v", err)
		}
		if !s2.Created.Equal(s.Created) || !s2.Expiry.Equal(s.Expiry) {
			t.Fatal("times changed")
		}
		s.Created, s.Expiry, s2.Created, s2.Expiry = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("%+v became %+v", s, s2)
		}
	})
}
