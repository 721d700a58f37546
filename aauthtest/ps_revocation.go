package aauthtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// This file is the person server's revocation endpoint (AAuth -11
// §11.12, current profile): an agent provider that no longer trusts an
// agent POSTs {"jti", "exp"} of the agent (or sub-agent) token it minted,
// signed with its own published key (Signature-Key jwks_uri, dwk
// aauth-agent.json), covering content-type and content-digest. The
// revocation is keyed by the signer and the jti, so a provider revokes
// only its own tokens; the server then refuses the token, and revokes the
// person and auth tokens it issued to that agent, and down their chains
// (§11.12.4, the cascade).

// psRevocationPath is the revocation endpoint of the person server.
const psRevocationPath = "/aauth/revoke"

// EndpointRevocation is a POST to the person server's revocation_endpoint.
const EndpointRevocation Endpoint = "revocation"

// revocationComponents are what an agent provider's revocation must cover.
var revocationComponents = []string{"@method", "@authority", "@path", "signature-key", "content-type", "content-digest"}

// maxRevocationJTI bounds the jti of a revocation.
const maxRevocationJTI = 512

// handleRevocation serves the revocation endpoint: 200 with an empty body
// once the revocation is recorded. A jti the server never saw is
// recorded all the same.
func (ps *PersonServer) handleRevocation(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		ps.problem(w, rec, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	iss, ok := ps.verifyProvider(w, r, rec)
	if !ok {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", "the body must be application/json")
		return
	}
	jti, err := parseRevocationBody(rec.Body)
	if err != nil {
		ps.problem(w, rec, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	ps.revokeAgent(iss + "\x00" + jti)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// verifyProvider checks that r is signed by an agent provider the server
// trusts, with the key its aauth-agent.json publishes (Signature-Key
// jwks_uri), covering revocationComponents and a Content-Digest that
// matches the body. It returns the provider's issuer, or answers 401 and
// returns false.
func (ps *PersonServer) verifyProvider(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) (string, bool) {
	fail := func(code, detail string) (string, bool) {
		rec.SignatureError = code
		w.Header().Set("Signature-Error", wire.FormatSignatureError(&wire.SignatureError{Code: code}))
		w.Header().Set("Accept-Signature-Scheme", string(wire.SchemeJWKSURI))
		ps.problem(w, rec, http.StatusUnauthorized, code, detail)
		return "", false
	}
	rec.notePresented(r.Header)
	if unsigned(r) {
		return fail(sigverify.CodeInvalidRequest, "the request is not signed")
	}
	skLines := r.Header.Values("Signature-Key")
	if len(skLines) != 1 {
		return fail(sigverify.CodeInvalidRequest, "want one Signature-Key field line")
	}
	sk, err := wire.ParseSignatureKey(skLines[0])
	if err != nil {
		return fail(sigverify.CodeInvalidRequest, "malformed Signature-Key")
	}
	if sk.Scheme != wire.SchemeJWKSURI {
		return fail(sigverify.CodeUnsupportedScheme, fmt.Sprintf("a revocation is signed with the agent provider's own key (jwks_uri), not %q", shorten(string(sk.Scheme))))
	}
	id, dwk, kid := sk.Params["id"], sk.Params["dwk"], sk.Params["kid"]
	if dwk != dwkAgent {
		return fail(sigverify.CodeInvalidKey, fmt.Sprintf("the key is published in %q, not an agent provider's %s", shorten(dwk), dwkAgent))
	}
	pub, terr := ps.agents.key(r.Context(), id, dwkAgent, kid)
	if terr != nil {
		return fail(sigverify.CodeInvalidKey, terr.detail)
	}
	res, err := sigverify.VerifyWithKey(r, sk.Label, pub, sigverify.Options{
		Now:           ps.now,
		MaxSkew:       ps.opts.MaxSkew,
		Required:      revocationComponents,
		RequireDigest: true,
		MaxBody:       maxBody,
	})
	if err != nil {
		var ve *sigverify.Error
		if !errors.As(err, &ve) {
			return fail(sigverify.CodeInvalidRequest, err.Error())
		}
		return fail(ve.Code, ve.Detail)
	}
	rec.Signed, rec.Thumbprint, rec.Components, rec.Created = true, res.Thumbprint, res.Components, res.Created
	return id, true
}

// parseRevocationBody reads {"jti": string, "exp": integer}, those two
// members and no others, matched by their exact names.
func parseRevocationBody(body []byte) (jti string, err error) {
	bad := errors.New(`the body must be a JSON object of a "jti" string and an integer "exp", and nothing else`)
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil || members == nil || len(members) != 2 {
		return "", bad
	}
	rawJTI, rawExp := members["jti"], members["exp"]
	if len(rawJTI) == 0 || rawJTI[0] != '"' || json.Unmarshal(rawJTI, &jti) != nil || jti == "" || len(jti) > maxRevocationJTI {
		return "", bad
	}
	if len(rawExp) == 0 || len(rawExp) > 12 || bytes.ContainsFunc(rawExp, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", bad
	}
	if _, err := strconv.ParseInt(string(rawExp), 10, 64); err != nil {
		return "", bad
	}
	return jti, nil
}

// revokeAgent revokes the agent token whose revocation key (issuer and
// jti) is key, and cascades (AAuth -11 §11.12.4): the person and auth
// tokens issued to that agent, as the signer or as the sub-agent a
// parent asked for, are revoked, and the tokens issued with them as
// upstream tokens, down the chain.
func (ps *PersonServer) revokeAgent(key string) {
	ps.revoked.addKey(key)
	ps.mu.Lock()
	var issued []string
	for _, r := range ps.records {
		if r.agentKey == key || r.subKey == key {
			issued = append(issued, r.token)
		}
	}
	ps.mu.Unlock()
	for _, tok := range issued {
		ps.Revoke(tok)
	}
}

// addKey revokes the token whose revocation key is key.
func (r *revocations) addKey(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.set == nil {
		r.set = map[string]bool{}
	}
	r.set[key] = true
}
