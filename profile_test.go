package aauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// A Profile that is neither current nor seed is refused by every entry
// point before anything is signed or sent, with an error matching
// wire.ErrUnknownProfile.
func TestUnknownProfileRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	src := aauth.StaticKeys(key, aauth.JWT("eyJ.agent.token"))
	const bad = aauth.Profile(9)

	check := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, wire.ErrUnknownProfile) {
			t.Errorf("%s: %v, want an error matching wire.ErrUnknownProfile", name, err)
			return
		}
		if msg := err.Error(); !strings.Contains(msg, "Profile(9)") || strings.Count(msg, "aauth: ") != 1 {
			t.Errorf("%s: message %q", name, msg)
		}
	}

	_, err = (&aauth.Transport{Keys: src, Profile: bad}).Client().Get(srv.URL + "/data")
	check("Transport", err)
	_, err = (&aauth.SigningTransport{Keys: src, Profile: bad}).Client().Get(srv.URL + "/data")
	check("SigningTransport", err)

	s := aauth.Signer{Profile: bad}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/data", nil)
	check("Signer.Sign", s.Sign(req, aauth.KeyMaterial{Signer: key, Key: aauth.HWK()}))
	if req.Header.Get("Signature") != "" || req.Header.Get("Signature-Key") != "" {
		t.Error("Signer.Sign signed under an unknown profile")
	}
	_, err = s.SignatureBase(req, aauth.KeyMaterial{Signer: key, Key: aauth.HWK()})
	check("Signer.SignatureBase", err)

	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}
