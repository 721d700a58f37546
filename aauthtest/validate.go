package aauthtest

import (
	"context"
	"crypto"
	"sync"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// keyFunc finds the key that issuer iss signs with under kid.
type keyFunc func(ctx context.Context, iss, kid string) (crypto.PublicKey, *tokenError)

// validate checks what every AAuth JWT needs: a kind, an algorithm the
// profile allows, a known issuer key, a good signature, exp and iat, and
// that it is not revoked.
func validate(ctx context.Context, p wire.Profile, t *token, want TokenKind, keys keyFunc, now time.Time, rev *revocations) *tokenError {
	if t.kind != want {
		return tokErr(sigverify.CodeInvalidJWT, "typ %q is not the %s token typ", shorten(t.typ), want)
	}
	if !algAllowed(p, t.alg) {
		return tokErr(sigverify.CodeInvalidJWT, "alg %q is not accepted in the %s profile", shorten(t.alg), p)
	}
	iss := t.str("iss")
	if iss == "" {
		return tokErr(sigverify.CodeInvalidJWT, "no iss")
	}
	pub, terr := keys(ctx, iss, t.kid)
	if terr != nil {
		return terr
	}
	if err := t.verifySignature(pub); err != nil {
		return tokErr(sigverify.CodeInvalidJWT, "the %s token's %v", want, err)
	}
	if terr := t.checkTimes(now); terr != nil {
		return terr
	}
	if rev.has(t) {
		return tokErr(sigverify.CodeRevokedJWT, "the %s token was revoked", want)
	}
	return nil
}

// bound checks that the token's cnf.jwk is the key that signed the
// request.
func bound(t *token, thumbprint string) *tokenError {
	_, tp, err := t.cnfKey()
	if err != nil {
		return tokErr(sigverify.CodeInvalidJWT, "the %s token's cnf.jwk: %v", t.kind, err)
	}
	if tp != thumbprint {
		return tokErr(sigverify.CodeInvalidJWT, "the %s token's cnf.jwk is not the signing key", t.kind)
	}
	return nil
}

// revocations is a set of revoked token IDs (iss and jti) and opaque
// tokens.
type revocations struct {
	mu  sync.Mutex
	set map[string]bool
}

func revocationKey(t *token) string { return t.str("iss") + "\x00" + t.str("jti") }

// add revokes raw: a JWT by (iss, jti), anything else by value.
func (r *revocations) add(raw string) {
	key := "opaque\x00" + raw
	if t, err := parseToken(raw); err == nil && t.str("jti") != "" {
		key = revocationKey(t)
	}
	r.addKey(key)
}

func (r *revocations) has(t *token) bool {
	if t.str("jti") == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[revocationKey(t)]
}

// hasKey reports whether the token with revocation key key (see
// revocationKey) is revoked.
func (r *revocations) hasKey(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set[key]
}

func (r *revocations) hasOpaque(raw string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set["opaque\x00"+raw]
}

func (r *revocations) reset() {
	r.mu.Lock()
	r.set = nil
	r.mu.Unlock()
}
