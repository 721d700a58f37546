package resource

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/sigverify"
)

// maxLifetime is the longest a person or auth token may live: exp minus
// iat (AAuth -11, Common JWT Verification).
const maxLifetime = time.Hour

// Verify checks the signature of r and the token it presents in
// Signature-Key, and returns the verified caller. It does not decide
// whether the caller may be served (that is the access mode's part, in
// Require). Errors are *Error: a 401 with its Signature-Error code, or a
// 413, 500 or 503.
//
// Verify reads the body when it must check its Content-Digest and puts an
// identical one back on r. With ReplayStore set, a successful Verify
// records the signature: verifying the same request twice refuses it the
// second time.
func (rs *Resource) Verify(r *http.Request) (*Caller, error) {
	c, err := rs.config()
	if err != nil {
		return nil, &Error{Status: http.StatusInternalServerError, Code: "server_error", Detail: "the resource is misconfigured", Err: err}
	}
	caller, e := c.verify(r)
	if e != nil {
		return nil, e
	}
	return caller, nil
}

// header returns the field lines of a canonical header name without the
// canonicalisation Header.Values would do again.
func header(h http.Header, canonical string) []string { return h[canonical] }

// verify runs every check on r, cheapest first: the headers' form, the
// HTTP signature with the key the token claims, replay, then the token
// itself (which may fetch the issuer's keys).
func (c *config) verify(r *http.Request) (*Caller, *Error) {
	h := r.Header
	skLines := header(h, "Signature-Key")
	inLines := header(h, "Signature-Input")
	sgLines := header(h, "Signature")
	switch {
	case len(skLines) == 0 && len(inLines) == 0 && len(sgLines) == 0:
		e := sigErr(codeInvalidSignature, "the request is not signed")
		e.requirement = "agent-token"
		return nil, e
	case len(skLines) == 0:
		return nil, sigErr(codeInvalidSignature, "the Signature-Key header is missing")
	case len(inLines) == 0:
		return nil, sigErr(codeInvalidSignature, "the Signature-Input header is missing")
	case len(sgLines) == 0:
		return nil, sigErr(codeInvalidSignature, "the Signature header is missing")
	case len(skLines) > 1:
		return nil, sigErr(codeInvalidRequest, "more than one Signature-Key field line")
	}
	if r.ContentLength > c.maxBody {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Detail: "the body is larger than the resource accepts"}
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host // a client-side request, as sigverify reads it
	}
	if host == "" || !slices.Contains(c.hosts, normalizeAuthority(host)) {
		return nil, sigErr(codeInvalidSignature, "the request is for %q, not this resource", shorten(host))
	}
	label, scheme, tokenText, params, err := parseSignatureKey(skLines[0])
	if err != nil {
		return nil, &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest, Detail: "malformed Signature-Key", Err: err}
	}
	if !slices.Contains(c.schemes, scheme) {
		return nil, sigErr(codeUnsupportedSch, "Signature-Key scheme %q is not accepted", shorten(scheme))
	}

	// The key the request claims to be signed with: the token's
	// cnf.jwk (not trusted until the token verifies) or the hwk key.
	var t *token
	var jwk sigverify.JWK
	where := "cnf.jwk"
	cached := false
	if scheme == schemeJWT {
		if t = c.tokens.get(tokenText); t != nil && !c.rs.noTokenCache {
			cached = true
		} else if t, err = parseToken(tokenText); err != nil {
			return nil, asError(err)
		}
		cnf, err := t.cnfKey()
		if err != nil {
			return nil, asError(err)
		}
		jwk = sigverify.JWK{Kty: cnf.Kty, Crv: cnf.Crv, X: cnf.X, Y: cnf.Y, Alg: cnf.Alg, Private: cnf.private()}
	} else {
		_, private := params["d"]
		jwk = sigverify.JWK{Kty: params["kty"], Crv: params["crv"], X: params["x"], Y: params["y"], Alg: params["alg"], Private: private}
		where = "hwk"
	}
	pub, err := sigverify.KeyFromJWK(jwk, !c.seed, where)
	if err != nil {
		return nil, fromVerifier(err)
	}
	alg := "Ed25519"
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		alg = "ES256"
	} else if jwk.Alg == "EdDSA" {
		alg = "EdDSA"
	}
	if !slices.Contains(c.algs, alg) {
		return nil, sigErr(codeUnsupportedAlg, "%s keys are not accepted", alg)
	}

	required := c.required
	if len(header(h, "Authorization")) > 0 && !c.seed {
		// A session token (or any credential) in Authorization is bound
		// to the signature only if covered.
		required = append(slices.Clip(required), "authorization")
	}
	if c.digest && r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		// A body of unknown length is read for its digest: cap it, so
		// that one too large is told apart (413) from a bad one.
		r.Body = http.MaxBytesReader(nil, r.Body, c.maxBody)
	}
	res, err := sigverify.VerifyWithKey(r, label, pub, sigverify.Options{
		Now:           c.rs.now,
		MaxSkew:       c.window,
		Required:      required,
		RequireDigest: c.digest,
		MaxBody:       c.maxBody,
	})
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Detail: "the body is larger than the resource accepts"}
		}
		return nil, fromVerifier(err)
	}

	if c.rs.ReplayAllMethods || !safeMethod(r.Method) {
		sum := sha256.New()
		sum.Write([]byte(res.Thumbprint))
		sum.Write(res.Signature)
		key := hex.EncodeToString(sum.Sum(nil))
		seen, err := c.replay.Seen(r.Context(), key, res.Created.Add(c.window))
		if err != nil {
			return nil, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Detail: "the replay store failed", Err: err}
		}
		if seen {
			return nil, sigErr(codeInvalidSignature, "the signature was seen before: a replay")
		}
	}

	caller := &Caller{
		Thumbprint: res.Thumbprint,
		PublicKey:  pub,
		Created:    res.Created,
		Components: res.Components,
		body:       res.Body,
	}
	if len(header(h, "Aauth-Capabilities")) > 0 {
		caller.Capabilities = capabilities(h)
	}
	if t != nil {
		if e := c.verifyToken(r.Context(), t, caller); e != nil {
			return nil, e
		}
		if !cached {
			c.tokens.put(t)
		}
		if caller.Kind == KindPerson && c.rs.PersonTokenJTI {
			c.persons.note(caller, c.rs.now())
		}
	}
	return caller, nil
}

// safeMethod reports the methods replay protection leaves alone by
// default: they change nothing, and an agent may legitimately send the
// same one twice within a second (a poll), which signs identically.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == ""
}

// verifyToken checks the token presented in Signature-Key (AAuth -11,
// Common JWT Verification and each token's own section) and fills
// caller. The request signature has verified with its cnf.jwk already,
// which binds the token to the request.
func (c *config) verifyToken(ctx context.Context, t *token, caller *Caller) *Error {
	cl := &t.claims
	now := c.rs.now()

	// Issuer, document and trust, by kind.
	trust := c.rs.PersonServers
	dwk := dwkPerson
	switch t.kind {
	case KindAgent:
		trust, dwk = c.rs.AgentProviders, dwkAgent
	case KindAuth:
		if cl.Dwk == dwkAccess {
			dwk = dwkAccess
			if c.rs.AccessServer == "" || cl.Iss != c.rs.AccessServer {
				return sigErr(codeInvalidJWT, "the auth token is from access server %q, not the resource's", shorten(cl.Iss))
			}
			trust = nil
		}
	}
	switch {
	case cl.Iss == "":
		return sigErr(codeInvalidJWT, "the %s token has no iss", t.kind)
	case !c.keys.known(cl.Iss, dwk) && !validServerID(cl.Iss):
		return sigErr(codeInvalidJWT, "the %s token's iss %q is not a server identifier", t.kind, shorten(cl.Iss))
	case cl.Dwk != dwk && !(c.seed && cl.Dwk == ""):
		return sigErr(codeInvalidJWT, "the %s token's dwk is %q, want %q", t.kind, shorten(cl.Dwk), dwk)
	case trust != nil && !trust(cl.Iss):
		return sigErr(codeInvalidJWT, "tokens from %q are not accepted here", shorten(cl.Iss))
	case !jwsAlgOK(t.header.Alg, c.seed):
		return sigErr(codeInvalidJWT, "the %s token's alg %q is not accepted", t.kind, shorten(t.header.Alg))
	case t.header.Kid == "":
		return sigErr(codeInvalidJWT, "the %s token has no kid", t.kind)
	}

	// Times: exp strictly in the future by our clock, with no leeway
	// (-11); iat and nbf may be ahead of our clock by the signature
	// window at most, the bound -11 suggests for iat (clock_skew).
	if !cl.Exp.set {
		return sigErr(codeInvalidJWT, "the %s token has no exp", t.kind)
	}
	if !now.Before(cl.Exp.t) {
		return sigErr(codeExpiredJWT, "the %s token expired %s ago", t.kind, now.Sub(cl.Exp.t).Round(time.Second))
	}
	if !cl.Iat.set {
		if !c.seed {
			return sigErr(codeInvalidJWT, "the %s token has no iat", t.kind)
		}
	} else if cl.Iat.t.Sub(now) > c.window {
		return sigErr(codeClockSkew, "the %s token's iat is %s ahead of the resource's clock", t.kind, cl.Iat.t.Sub(now).Round(time.Second))
	}
	if cl.Nbf.set && cl.Nbf.t.Sub(now) > c.window {
		return sigErr(codeClockSkew, "the %s token is not valid for another %s", t.kind, cl.Nbf.t.Sub(now).Round(time.Second))
	}
	if t.kind != KindAgent && cl.Iat.set && cl.Exp.t.Sub(cl.Iat.t) > maxLifetime {
		return sigErr(codeInvalidJWT, "the %s token lives %s, more than an hour", t.kind, cl.Exp.t.Sub(cl.Iat.t).Round(time.Second))
	}

	// Claims each kind needs.
	switch t.kind {
	case KindAgent:
		// AAuth -11, Agent Token Verification: ps, when present, is a
		// server identifier; parent_agent, when present, an agent
		// identifier.
		switch {
		case cl.Sub == "":
			return sigErr(codeInvalidJWT, "the agent token has no sub")
		case cl.Ps != "" && !validServerID(cl.Ps):
			return sigErr(codeInvalidJWT, "the agent token's ps %q is not a server identifier", shorten(cl.Ps))
		case cl.ParentAgent != "" && !validAgentID(cl.ParentAgent):
			return sigErr(codeInvalidJWT, "the agent token's parent_agent %q is not an agent identifier", shorten(cl.ParentAgent))
		}
	case KindPerson, KindAuth:
		if !cl.Aud.contains(c.issuer) {
			return sigErr(codeInvalidJWT, "the %s token is for another audience", t.kind)
		}
		if cl.Sub == "" && !(c.seed && t.kind == KindAuth) {
			return sigErr(codeInvalidJWT, "the %s token has no sub", t.kind)
		}
		if t.kind == KindAuth && cl.Ps == "" && !c.seed {
			return sigErr(codeInvalidJWT, "the auth token has no ps")
		}
	}

	// The issuer's key, then the signature.
	if c.rs.IssuerKey != nil {
		if pub, ok := c.rs.IssuerKey(ctx, cl.Iss, t.header.Kid); ok {
			if !t.verifySignature(pub) {
				return sigErr(codeInvalidJWT, "the %s token's signature does not verify", t.kind)
			}
			return c.finishToken(ctx, t, caller, dwk)
		}
	}
	k, err := c.keys.key(ctx, cl.Iss, dwk, t.header.Kid, t.header.Alg, false)
	if err != nil {
		return asError(err)
	}
	if !t.verifySignature(k.pub) {
		// The issuer may have replaced the key under the same kid:
		// look again once (at most once a minute per issuer).
		k2, err := c.keys.key(ctx, cl.Iss, dwk, t.header.Kid, t.header.Alg, true)
		if err != nil || sameKey(k, k2) || !t.verifySignature(k2.pub) {
			return sigErr(codeInvalidJWT, "the %s token's signature does not verify", t.kind)
		}
	}
	return c.finishToken(ctx, t, caller, dwk)
}

// finishToken checks revocation of a token whose signature verified and
// fills caller.
func (c *config) finishToken(ctx context.Context, t *token, caller *Caller, dwk string) *Error {
	cl := &t.claims
	if e := c.revoked(ctx, t.kind, cl.Iss, cl.Jti); e != nil {
		return e
	}

	caller.Kind = t.kind
	caller.Issuer = cl.Iss
	caller.Audience = slices.Clone(cl.Aud) // the token may be cached: share nothing a handler can change
	caller.JTI = cl.Jti
	caller.Scope = cl.Scope
	caller.MissionS256 = cl.MissionS256
	caller.Tenant = cl.Tenant
	caller.Account = cl.Account
	caller.Expiry = cl.Exp.t
	caller.IssuedAt = cl.Iat.t
	caller.Token = t.raw
	caller.payload = t.payload
	caller.budget = &t.budget
	switch t.kind {
	case KindAgent:
		caller.Agent, caller.PersonServer, caller.ParentAgent = cl.Sub, cl.Ps, cl.ParentAgent
	case KindPerson:
		caller.Subject, caller.PersonServer = cl.Sub, cl.Iss
	case KindAuth:
		caller.Subject, caller.PersonServer, caller.Agent = cl.Sub, cl.Ps, cl.Agent
		if caller.PersonServer == "" && dwk == dwkPerson {
			caller.PersonServer = cl.Iss // seed auth tokens from a person server carry no ps
		}
	}
	return nil
}

func sameKey(a, b issuerKey) bool {
	type equaler interface{ Equal(x any) bool }
	if e, ok := a.pub.(equaler); ok {
		return e.Equal(b.pub)
	}
	return false
}

// validAgentID reports whether s is an agent identifier, aauth:local@domain
// (AAuth -11, Agent Identifiers): local is 1 to 255 of A-Z a-z 0-9 - _ + .,
// compared exactly (upper case allowed, RS-52); domain is a host name.
func validAgentID(s string) bool {
	rest, ok := strings.CutPrefix(s, "aauth:")
	if !ok {
		return false
	}
	local, domain, ok := strings.Cut(rest, "@")
	if !ok || len(local) == 0 || len(local) > 255 || !validHostName(domain) {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !(isLCAlpha(c) || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '+' || c == '.') {
			return false
		}
	}
	return true
}

// validHostName reports whether s is a lower-case DNS name (A-labels) or
// localhost, of at most 253 characters.
func validHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(isLCAlpha(c) || ('0' <= c && c <= '9') || c == '-') {
				return false
			}
		}
	}
	return true
}
