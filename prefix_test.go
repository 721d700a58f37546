package aauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/wire"
)

// An error built around another one says "aauth:" once, however deep the
// cause: the key source's errors reach the caller wrapped by the Transport
// and by net/http.
func TestErrorPrefixOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	own := errors.New("aauth: my key store is locked")
	for _, c := range []struct {
		name string
		keys aauth.KeySource
		want string // in the message
		is   error
	}{
		{"agent keys without issuer", &agentprovider.Keys{}, "aauth: key material: agentprovider.Keys has no Issuer", nil},
		{"agent keys with an unusable issuer", &agentprovider.Keys{Issuer: &agentprovider.Issuer{Issuer: "https://agent.example", Profile: 9}},
			"aauth: key material: unknown profile: Profile(9)", wire.ErrUnknownProfile},
		{"a key source's own error", aauth.KeySourceFunc(func(context.Context) (aauth.KeyMaterial, error) { return aauth.KeyMaterial{}, own }),
			"aauth: key material: my key store is locked", own},
	} {
		for _, rt := range []http.RoundTripper{&aauth.Transport{Keys: c.keys}, &aauth.SigningTransport{Keys: c.keys}} {
			_, err := (&http.Client{Transport: rt}).Get(srv.URL)
			if err == nil {
				t.Fatalf("%s (%T): no error", c.name, rt)
			}
			if n := strings.Count(err.Error(), "aauth:"); n != 1 {
				t.Errorf("%s (%T): %q says aauth: %d times", c.name, rt, err, n)
			}
			if _, isTransport := rt.(*aauth.Transport); isTransport && !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %q does not say %q", c.name, err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%s (%T): %v does not match %v", c.name, rt, err, c.is)
			}
		}
	}
}
