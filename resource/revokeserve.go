package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file is the resource's revocation endpoint as published AAuth -11
// has it (§11.12; upgrade guide RS-60, RS-61): a person server revokes
// the person and auth tokens it issued for the resource, an access
// server the auth tokens it issued, each POSTing {"jti", "exp"} signed
// with its own published key (Signature-Key scheme jwks_uri). The issuer
// of the revoked token is the signer: no server can revoke another's.

// revocationPath is where the endpoint is served, under Issuer.
const revocationPath = "/aauth/revoke"

// maxRevocationBody caps a revocation request's body: {"jti", "exp"}
// takes well under 1 KiB.
const maxRevocationBody = 4 << 10

// maxJTILen bounds the jti of a revocation request.
const maxJTILen = 512

// revocationRequest is what a revocation request must meet besides its
// signature (AAuth -11 §11.12.1): its body bound by content-digest and
// content-type, and an issuer the resource trusts, or 403 unsupported_iss.
var revocationRequest = serverRequest{
	components: []string{"@method", "@authority", "@path", "signature-key", "content-type", "content-digest"},
	digest:     true,
	maxBody:    maxRevocationBody,
	untrusted: func(detail string) *Error {
		return &Error{Status: http.StatusForbidden, Code: "unsupported_iss", Detail: detail}
	},
}

// serveRevoke answers a revocation request: 200 with an empty body once
// the revocation is recorded, at once (a resource has nothing downstream
// to wait for, so never 202); a token already expired is acknowledged and
// not recorded. There is no 404: a jti the resource never saw is recorded
// all the same. The signature is not put through the replay store: a
// revocation replayed within its window records the same thing again.
func (c *config) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		c.refuse(w, r, &Error{Status: http.StatusMethodNotAllowed, Code: "invalid_request", Detail: "use POST"})
		return
	}
	if r.ContentLength > maxRevocationBody {
		c.refuse(w, r, &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Detail: "the body is larger than a revocation request"})
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(nil, r.Body, maxRevocationBody)
	}
	iss, e := c.verifyServer(r, revocationRequest)
	if e != nil {
		c.refuseServer(w, r, e)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		c.refuse(w, r, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "the body must be application/json"})
		return
	}
	body, err := readHeldBody(r, maxRevocationBody)
	if err != nil {
		c.refuse(w, r, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "the body cannot be read", Err: err})
		return
	}
	jti, exp, err := parseRevocation(body)
	if err != nil {
		c.refuse(w, r, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: err.Error()})
		return
	}
	now := c.rs.now()
	until, keep := c.revocationUntil(now, exp)
	if keep {
		if err := c.revocations.Revoke(r.Context(), iss, jti, until); err != nil {
			var full *RevocationStoreFullError
			if errors.As(err, &full) {
				w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(full.RetryAfter), 10))
				c.refuse(w, r, &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Detail: "too many revocations in force; try again later", Err: err})
				return
			}
			c.refuse(w, r, &Error{Status: http.StatusInternalServerError, Code: "server_error", Detail: "the revocation could not be recorded", Err: err})
			return
		}
	}
	if l := c.rs.Logger; l != nil {
		l.LogAttrs(r.Context(), slog.LevelInfo, "aauth: token revoked",
			slog.String("issuer", shorten(iss)), slog.String("jti", shorten(jti)),
			slog.Bool("recorded", keep), slog.Time("until", until))
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// revocationUntil is how long a revocation of a token expiring at exp is
// kept: until exp and the signature window after (a replica whose clock
// is behind still refuses the token), but never longer than the longest
// a person or auth token lives from now, whatever exp says, so that a
// far-future exp cannot pin memory (a token the resource accepts expires
// within maxLifetime plus the window of now, since its iat may be at most
// the window ahead). keep is false for a token already expired: the
// resource refuses it for that.
func (c *config) revocationUntil(now time.Time, exp int64) (until time.Time, keep bool) {
	e := time.Unix(exp, 0)
	if !now.Before(e) {
		return time.Time{}, false
	}
	if limit := now.Add(maxLifetime); e.After(limit) {
		e = limit
	}
	return e.Add(c.window), true
}

// retryAfterSeconds is d in whole seconds, at least one, at most an hour.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	return min(max(s, 1), int64(maxLifetime/time.Second))
}

// errRevocationBody describes a body that is not {"jti", "exp"}.
var errRevocationBody = errors.New(`the body must be a JSON object with a "jti" string and an integer "exp"`)

// parseRevocation reads a revocation request's body, {"jti": string,
// "exp": integer seconds}. Members are matched by their exact names
// (encoding/json alone would take "JTI" too); others are ignored.
func parseRevocation(body []byte) (jti string, exp int64, err error) {
	if len(body) > maxRevocationBody || !utf8.Valid(body) || !isObject(body) {
		return "", 0, errRevocationBody
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return "", 0, errRevocationBody
	}
	rawJTI, rawExp := members["jti"], members["exp"]
	if len(rawJTI) == 0 || rawJTI[0] != '"' || json.Unmarshal(rawJTI, &jti) != nil {
		return "", 0, fmt.Errorf(`%w: "jti" is missing or not a string`, errRevocationBody)
	}
	switch {
	case jti == "":
		return "", 0, fmt.Errorf(`%w: "jti" is empty`, errRevocationBody)
	case len(jti) > maxJTILen:
		return "", 0, fmt.Errorf(`%w: "jti" is longer than %d bytes`, errRevocationBody, maxJTILen)
	}
	// An integer: digits only, no fraction or exponent, and no later
	// than the year 5138 (as a token's NumericDate).
	if len(rawExp) == 0 || len(rawExp) > 12 || bytes.ContainsFunc(rawExp, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", 0, fmt.Errorf(`%w: "exp" is missing or not a non-negative integer`, errRevocationBody)
	}
	if exp, err = strconv.ParseInt(string(rawExp), 10, 64); err != nil || exp > 1e11 {
		return "", 0, fmt.Errorf(`%w: "exp" is out of range`, errRevocationBody)
	}
	return jti, exp, nil
}

// revoked reports whether the token (iss, jti) of a kind was revoked, by
// Resource.Revoked or the revocation store, as a refusal: 401 revoked_jwt
// (with requirement=person-token for an auth token: -11 Presenting a
// Revoked Token, start again from a person token), or 503 when the store
// cannot tell, since a revoked token must never be served.
func (c *config) revoked(ctx context.Context, kind Kind, iss, jti string) *Error {
	revoked := c.rs.Revoked != nil && c.rs.Revoked(ctx, iss, jti)
	if !revoked {
		var err error
		if revoked, err = c.revocations.Revoked(ctx, iss, jti); err != nil {
			return &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Detail: "the revocation store failed", Err: err}
		}
	}
	if !revoked {
		return nil
	}
	e := sigErr(codeRevokedJWT, "the %s token was revoked", kind)
	if kind == KindAuth && !c.seed {
		e.requirement = "person-token"
	}
	return e
}
