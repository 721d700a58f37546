package psclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/safetext"
)

// ErrIssuedToken: an auth token a person server (or a sub-agent's parent)
// returned fails the agent's checks (AAuth -11 "Auth Token Response
// Verification"): it is not for the resource that issued the resource
// token, not from the server the resource token was for, not about the
// person of the presented token, or not bound to the presented token's
// key. It is not used.
var ErrIssuedToken = errors.New("aauth: issued token refused")

// CheckAuthToken inspects, without verifying its signature, an auth token
// returned for resourceToken and presented (AAuth -11 "Auth Token Response
// Verification"): its aud must be the resource token's iss (the resource),
// its iss the resource token's aud (the server it was exchanged at), its
// sub the presented token's sub (the same person), and its cnf.jwk the
// presented token's (the key the agent, or the sub-agent, signs with).
// Errors match ErrIssuedToken and never quote a token.
//
// ExchangeToken calls it in the current profile whenever the resource
// token and the presented token are JWTs; a sub-agent's Transport calls it
// on what its parent hands over.
func CheckAuthToken(auth, resourceToken, presented string) error {
	_, rt, err := jwtpeek.Decode(resourceToken)
	if err != nil {
		return fmt.Errorf("%w: the resource token: %v", ErrIssuedToken, err)
	}
	ah, at, err := jwtpeek.Decode(auth)
	if err != nil {
		return fmt.Errorf("%w: the auth token: %v", ErrIssuedToken, err)
	}
	if typ, _ := ah["typ"].(string); typ != "" && typ != "aa-auth+jwt" {
		return fmt.Errorf("%w: the auth token's typ is %q", ErrIssuedToken, safetext.Clean(typ, 64))
	}
	if res := trimSlash(str(rt, "iss")); res != "" && !audienceIs(at["aud"], res) {
		return fmt.Errorf("%w: the auth token is not for the resource %s", ErrIssuedToken, safetext.Clean(res, 256))
	}
	if want, ok := rt["aud"].(string); ok && want != "" && trimSlash(str(at, "iss")) != trimSlash(want) {
		return fmt.Errorf("%w: the auth token was issued by %q, not by %s", ErrIssuedToken, safetext.Clean(str(at, "iss"), 256), safetext.Clean(want, 256))
	}
	_, pt, err := jwtpeek.Decode(presented)
	if err != nil {
		return fmt.Errorf("%w: the presented token: %v", ErrIssuedToken, err)
	}
	if sub := str(pt, "sub"); sub != "" && str(at, "sub") != sub {
		return fmt.Errorf("%w: the auth token is about another subject than the presented token", ErrIssuedToken)
	}
	if want, ok := jwkOf(pt); ok {
		if got, ok := jwkOf(at); !ok || got != want {
			return fmt.Errorf("%w: the auth token is not bound to the presented token's key", ErrIssuedToken)
		}
	}
	return nil
}

// checkIssuedAuthToken is CheckAuthToken when the request gives it
// something to check against: a resource token and a presented token that
// are JWTs.
func checkIssuedAuthToken(tok *Token, req ExchangeRequest) error {
	if _, _, err := jwtpeek.Decode(req.ResourceToken); err != nil {
		return nil
	}
	if _, _, err := jwtpeek.Decode(req.PresentedToken); err != nil {
		return nil
	}
	return CheckAuthToken(tok.Value, req.ResourceToken, req.PresentedToken)
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func trimSlash(s string) string { return strings.TrimSuffix(s, "/") }

// audienceIs reports whether aud (a string, or an array of strings) names
// want.
func audienceIs(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return trimSlash(a) == want
	case []any:
		for _, v := range a {
			if s, _ := v.(string); trimSlash(s) == want {
				return true
			}
		}
	}
	return false
}

// jwkOf returns the members of a token's cnf.jwk that its RFC 7638
// thumbprint is computed from, as one string: two keys are the same key
// exactly when these are equal.
func jwkOf(claims map[string]any) (string, bool) {
	cnf, _ := claims["cnf"].(map[string]any)
	jwk, _ := cnf["jwk"].(map[string]any)
	if jwk == nil {
		return "", false
	}
	var members []string
	switch str(jwk, "kty") {
	case "OKP":
		members = []string{"crv", "kty", "x"}
	case "EC":
		members = []string{"crv", "kty", "x", "y"}
	case "RSA":
		members = []string{"e", "kty", "n"}
	default:
		return "", false
	}
	var b strings.Builder
	for _, m := range members {
		v := str(jwk, m)
		if v == "" {
			return "", false
		}
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String(), true
}
