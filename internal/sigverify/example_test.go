package sigverify_test

import (
	"errors"
	"net/http"

	"github.com/aauthgo/aauth/internal/sigverify"
)

// A resource handler that accepts current-generation AAuth requests and
// answers failures with Signature-Error.
func ExampleVerify() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := sigverify.Verify(r, sigverify.Options{
			RequireAlg:    true,
			RequireDigest: true,
		})
		var e *sigverify.Error
		if errors.As(err, &e) {
			w.Header().Set("Signature-Error", e.SignatureError())
			http.Error(w, e.Detail, http.StatusUnauthorized)
			return
		}
		// res.Token is not verified yet: validate the JWT, then check
		// that its cnf.jwk thumbprint is res.Thumbprint.
		_ = res
		w.WriteHeader(http.StatusNoContent)
	})
	_ = h
}
