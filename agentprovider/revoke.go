package agentprovider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// This file is the agent provider's side of revocation at a person
// server (AAuth -11 §11.12): a provider that no longer trusts an agent
// POSTs {"jti", "exp"} of the agent token (or sub-agent token) it minted
// to the person server's revocation_endpoint, signed with its own
// published key (Signature-Key jwks_uri, dwk aauth-agent.json) and
// covering content-type and content-digest. The person server keys the
// revocation by the signer and the jti, so a provider can revoke only
// its own tokens.

// ErrNoRevocationEndpoint: the person server's metadata publishes no
// revocation_endpoint, so it cannot be told of a revocation.
var ErrNoRevocationEndpoint = errors.New("aauth: the person server publishes no revocation_endpoint")

// RevocationError is a revocation the person server did not accept: it
// answered something other than 200.
type RevocationError struct {
	// Endpoint is the revocation_endpoint the request was sent to.
	Endpoint string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Problem holds the error body, when it was JSON; nil otherwise.
	Problem *wire.Problem
}

// Error describes the refusal without any token value.
func (e *RevocationError) Error() string {
	msg := fmt.Sprintf("aauth: the revocation endpoint %s answered %d", safetext.Clean(e.Endpoint, 256), e.StatusCode)
	if s := safetext.Unprefixed(e.Problem.String()); s != "" {
		msg += ": " + s
	}
	return msg
}

// maxRevocationAnswer bounds how much of the person server's answer is read.
const maxRevocationAnswer = 64 << 10

// Revoke tells the person server at personServer that token, an agent
// token or sub-agent token this issuer minted, is revoked (AAuth -11
// §11.12): it reads revocation_endpoint from the server's metadata
// (psclient.Discover, with the profile of i) and POSTs
// {"jti": …, "exp": …} there, signed with i.Key under the jwks_uri
// Signature-Key scheme (id i.Issuer, dwk aauth-agent.json, kid the
// issuer's KeyID). The person server then refuses the token, and should
// revoke the person and auth tokens it issued to that agent.
//
// client sends the requests (its Transport, timeout and redirect policy);
// Revoke signs them itself, so client must not sign. Nil means
// http.DefaultClient.
//
// revocation_endpoint must be https (http only on a loopback host) and,
// on another host than the person server's, reach public addresses only
// unless the person server is itself on a private network (the rule of
// psclient's endpoints; see aauth.ErrEgress).
//
// A token not issued by i (its iss is not i.Issuer, or it is not an
// agent token) is refused before anything is sent. A person server
// without revocation_endpoint gives ErrNoRevocationEndpoint; an answer
// other than 200 a *RevocationError.
func (i *Issuer) Revoke(ctx context.Context, client *http.Client, personServer, token string) error {
	if err := i.revoke(ctx, client, personServer, token); err != nil {
		return safetext.Wrap("revoking agent token", err)
	}
	return nil
}

func (i *Issuer) revoke(ctx context.Context, client *http.Client, personServer, token string) error {
	c, err := i.config()
	if err != nil {
		return err
	}
	jti, exp, err := i.ownToken(token)
	if err != nil {
		return err
	}
	if client == nil {
		client = http.DefaultClient
	}
	// The metadata is public: it is fetched unsigned.
	md, err := psclient.Discover(ctx, client, personServer, i.Profile)
	if err != nil {
		return err
	}
	endpoint := md.RevocationEndpoint
	if endpoint == "" {
		return ErrNoRevocationEndpoint
	}
	// The egress rule of psclient's endpoints: https (or loopback http),
	// and, off the person server's host, not into a private network the
	// person server is not on (held again when dialled).
	if err := egress.CheckSecureURL(ctx, endpoint); err != nil {
		return fmt.Errorf("revocation_endpoint %q: %w", safetext.Clean(endpoint, 256), err)
	}
	psURL, err1 := url.Parse(personServer)
	epURL, err2 := url.Parse(endpoint)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("revocation_endpoint %q is not a URL", safetext.Clean(endpoint, 256))
	}
	if ctx, err = egress.Target(egress.Trusted(ctx), psURL, epURL); err != nil {
		return fmt.Errorf("revocation_endpoint: %w", err)
	}
	body := []byte(`{"jti":` + strconv.Quote(jti) + `,"exp":` + strconv.FormatInt(exp, 10) + `}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	signed := *client
	signed.Transport = &aauth.SigningTransport{
		Base:    client.Transport,
		Keys:    aauth.StaticKeys(i.Key, aauth.JWKSURI(i.Issuer, agentTokenDWK, c.kid)),
		Profile: i.Profile,
		Now:     i.Now,
	}
	resp, err := signed.Do(req)
	if err != nil {
		return safetext.ShortURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	resp.Body = io.NopCloser(io.LimitReader(resp.Body, maxRevocationAnswer))
	p, _ := wire.ReadProblem(resp)
	return &RevocationError{Endpoint: endpoint, StatusCode: resp.StatusCode, Problem: p}
}

// ownToken reads the jti and exp of token, which must be an agent token
// whose iss is this issuer. The signature is not checked: a token
// minted under a key since replaced must still be revocable, and a
// forged one revokes nothing but a jti.
func (i *Issuer) ownToken(token string) (jti string, exp int64, err error) {
	header, claims, err := jwtpeek.Decode(token)
	if err != nil {
		return "", 0, fmt.Errorf("the token is not a JWT: %w", err)
	}
	if typ, _ := header["typ"].(string); typ != agentTokenTyp {
		return "", 0, fmt.Errorf("the token's typ is %q, not %s", safetext.Clean(typ, 64), agentTokenTyp)
	}
	if iss, _ := claims["iss"].(string); iss != i.Issuer {
		return "", 0, fmt.Errorf("the token was issued by %q, not by this agent provider", safetext.Clean(iss, 256))
	}
	jti, _ = claims["jti"].(string)
	e, ok := claims["exp"].(float64)
	if jti == "" || !ok || e < 0 || e > 1e11 || e != float64(int64(e)) {
		return "", 0, errors.New("the token has no jti or no integer exp")
	}
	return jti, int64(e), nil
}
