package aauth_test

import (
	"crypto"
	"net/http"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/sigverify"
)

// The person-server tests (package aauth) check every request their test
// servers receive with the independent verifier, which they cannot import
// themselves.
func init() {
	aauth.PSTestVerify = func(r *http.Request, pub crypto.PublicKey, now time.Time) error {
		_, err := sigverify.VerifyWithKey(r, "sig", pub, sigverify.Options{
			Now:      func() time.Time { return now },
			Required: []string{"@method", "@authority", "@path", "signature-key"},
		})
		return err
	}
}
