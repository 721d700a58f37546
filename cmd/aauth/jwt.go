package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/keys"
)

// jwtPart decodes part i (0 the header, 1 the claims) of a compact JWT,
// verifying nothing. The command only reads its own agent token (its
// cnf.jwk, ps and exp); the servers do the verifying.
func jwtPart(tok string, i int) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

// isJWT reports whether tok looks like a compact JWT: three parts, the
// first two JSON objects.
func isJWT(tok string) bool {
	_, h := jwtPart(tok, 0)
	_, c := jwtPart(tok, 1)
	return h && c
}

// claimString returns a string claim of a JWT, or "".
func claimString(tok, name string) string {
	c, _ := jwtPart(tok, 1)
	s, _ := c[name].(string)
	return s
}

// expiryOf returns the exp claim of a JWT, if it has one.
func expiryOf(tok string) (time.Time, bool) {
	c, _ := jwtPart(tok, 1)
	exp, ok := c["exp"].(float64)
	if !ok || exp < 0 || exp > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(exp), 0).UTC(), true
}

// cnfThumbprint returns the thumbprint of a token's cnf.jwk, or "" when it
// has none that parses.
func cnfThumbprint(tok string) string {
	c, _ := jwtPart(tok, 1)
	cnf, _ := c["cnf"].(map[string]any)
	jwk, ok := cnf["jwk"]
	if !ok {
		return ""
	}
	raw, err := json.Marshal(jwk)
	if err != nil {
		return ""
	}
	// The seed generation leaves alg out of cnf.jwk; read it leniently.
	pub, err := keys.ParsePublicJWK(raw, aauth.ProfileSeed)
	if err != nil {
		return ""
	}
	tp, _ := keys.Thumbprint(pub)
	return tp
}
