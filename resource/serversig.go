package resource

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// This file verifies requests that a person server or access server signs
// in its own right, naming its published key with the jwks_uri scheme of
// HTTP Signature Keys: sig=jwks_uri;id="<issuer>";dwk="<document>";kid="…".
// The key is found as a token issuer's is (issuerkeys.go): the metadata
// at {id}/.well-known/{dwk}, whose issuer must be id byte for byte, then
// its jwks_uri, then kid.

// schemeJWKSURI is the Signature-Key scheme of a server's own key.
const schemeJWKSURI = string(wire.SchemeJWKSURI)

// serverComponents are what a server's signature must cover: what
// @hellocoop/mockin 2.0.0 covers when it fetches an R3 document.
var serverComponents = []string{"@method", "@authority", "@path", "signature-key"}

// serverRequest is what a server's own request must meet besides its
// signature: the components covered, the body, and how an issuer the
// resource does not trust is refused.
type serverRequest struct {
	components []string // covered components required
	digest     bool     // a body must cover content-digest
	maxBody    int64    // 0 means the resource's MaxBody
	// untrusted refuses a server the resource does not trust; nil
	// answers 401 invalid_key.
	untrusted func(detail string) *Error
}

// r3DocumentFetch is what an R3 document fetch must meet.
var r3DocumentFetch = serverRequest{components: serverComponents}

// verifyServer checks the signature of r, made by a person server
// (dwk aauth-person.json) or an access server (aauth-access.json) with
// its published key, and returns the server's identifier. Errors are 401s
// with a Signature-Error code, or what want.untrusted says.
func (c *config) verifyServer(r *http.Request, want serverRequest) (string, *Error) {
	h := r.Header
	skLines := header(h, "Signature-Key")
	switch {
	case len(skLines) == 0 && len(header(h, "Signature-Input")) == 0 && len(header(h, "Signature")) == 0:
		return "", sigErr(codeInvalidSignature, "the request is not signed")
	case len(skLines) == 0:
		return "", sigErr(codeInvalidSignature, "the Signature-Key header is missing")
	case len(skLines) > 1:
		return "", sigErr(codeInvalidRequest, "more than one Signature-Key field line")
	}
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	if host == "" || !slices.Contains(c.hosts, normalizeAuthority(host)) {
		return "", sigErr(codeInvalidSignature, "the request is for %q, not this resource", shorten(host))
	}
	sk, err := wire.ParseSignatureKey(skLines[0])
	if err != nil {
		return "", &Error{Status: http.StatusUnauthorized, Code: codeInvalidRequest, Detail: "malformed Signature-Key", Err: err}
	}
	if string(sk.Scheme) != schemeJWKSURI {
		return "", sigErr(codeUnsupportedSch, "only a server's own key (jwks_uri) may fetch this document, not %q", shorten(string(sk.Scheme)))
	}
	id, dwk, kid := sk.Params["id"], sk.Params["dwk"], sk.Params["kid"]
	if dwk != dwkPerson && dwk != dwkAccess {
		return "", sigErr(codeInvalidKey, "the key is published in %q, not a person or access server's metadata", shorten(dwk))
	}
	if !c.keys.known(id, dwk) && !validServerID(id) {
		return "", sigErr(codeInvalidKey, "%q is not a server identifier", shorten(id))
	}
	untrusted := want.untrusted
	if untrusted == nil {
		untrusted = func(detail string) *Error { return sigErr(codeInvalidKey, "%s", detail) }
	}
	if dwk == dwkPerson && c.rs.PersonServers != nil && !c.rs.PersonServers(id) {
		return "", untrusted(fmt.Sprintf("person server %q is not trusted here", shorten(id)))
	}
	if dwk == dwkAccess && id != c.rs.AccessServer {
		return "", untrusted(fmt.Sprintf("%q is not this resource's access server", shorten(id)))
	}
	maxBody := want.maxBody
	if maxBody <= 0 {
		maxBody = c.maxBody
	}
	k, err := c.keys.key(r.Context(), id, dwk, kid, "", false)
	if err != nil {
		return "", asError(err)
	}
	verifyWith := func(k issuerKey) error {
		if _, isEC := k.pub.(*ecdsa.PublicKey); !isEC && k.alg == "EdDSA" {
			return errors.New("EdDSA keys are not accepted")
		}
		_, err := sigverify.VerifyWithKey(r, sk.Label, k.pub, sigverify.Options{
			Now:           c.rs.now,
			MaxSkew:       c.window,
			Required:      want.components,
			RequireDigest: want.digest,
			MaxBody:       maxBody,
		})
		return err
	}
	if err = verifyWith(k); err != nil {
		var ve *sigverify.Error
		if errors.As(err, &ve) && ve.Code == codeInvalidSignature {
			// The server may have replaced its key under the same kid.
			if k2, err2 := c.keys.key(r.Context(), id, dwk, kid, "", true); err2 == nil && !sameKey(k, k2) {
				err = verifyWith(k2)
			}
		}
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Detail: "the body is larger than the resource accepts"}
		}
		var ve *sigverify.Error
		if errors.As(err, &ve) {
			return "", fromVerifier(err)
		}
		return "", sigErr(codeUnsupportedAlg, "%v", err)
	}
	return id, nil
}

// refuseServer answers a server's own request that failed verification:
// a 401 says that the jwks_uri scheme is the one wanted here.
func (c *config) refuseServer(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("Accept-Signature-Scheme", schemeJWKSURI)
		e.schemes = schemeJWKSURI
	}
	c.refuse(w, r, e)
}
