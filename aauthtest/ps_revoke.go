package aauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// This file is the person server's side of revocation at a resource
// (AAuth -11 §11.12, as published): it POSTs {"jti", "exp"} of a person or
// auth token it issued to the resource's revocation_endpoint, signed with
// its own published key (Signature-Key jwks_uri, dwk aauth-person.json),
// covering content-type and content-digest. The resource keys the
// revocation by the signer and the jti, and answers 200 at once.

// RevokeAt revokes token, a person or auth token this server issued, here
// (as Revoke does) and at the resource whose identifier is resourceURL:
// it reads revocation_endpoint from the resource's metadata and POSTs the
// token's jti and exp there. It returns an error unless the resource
// answered 200, naming the resource's error code when it gave one.
func (ps *PersonServer) RevokeAt(ctx context.Context, resourceURL, token string) error {
	t, err := parseToken(token)
	if err != nil {
		return fmt.Errorf("aauthtest: RevokeAt: %w", err)
	}
	jti := t.str("jti")
	exp, ok := t.time("exp")
	switch {
	case t.str("iss") != ps.URL:
		return fmt.Errorf("aauthtest: RevokeAt: the token was issued by %q, not this person server", shorten(t.str("iss")))
	case jti == "" || !ok:
		return fmt.Errorf("aauthtest: RevokeAt: the token has no jti or exp")
	}
	endpoint, err := ps.revocationEndpoint(ctx, resourceURL)
	if err != nil {
		return fmt.Errorf("aauthtest: RevokeAt: %w", err)
	}
	ps.Revoke(token)
	body, _ := json.Marshal(map[string]any{"jti": jti, "exp": exp.Unix()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("aauthtest: RevokeAt: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := ps.serverClient().Do(req)
	if err != nil {
		return fmt.Errorf("aauthtest: RevokeAt: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(answer, &p)
		return fmt.Errorf("aauthtest: RevokeAt: the resource answered %d %s", resp.StatusCode, shorten(p.Error))
	}
	return nil
}

// revocationEndpoint reads revocation_endpoint from the metadata of the
// resource resourceURL, whose issuer must be resourceURL. Loopback URLs
// only.
func (ps *PersonServer) revocationEndpoint(ctx context.Context, resourceURL string) (string, error) {
	resourceURL = strings.TrimSuffix(resourceURL, "/")
	if err := loopbackURL(resourceURL); err != nil {
		return "", err
	}
	var md struct {
		Issuer     string `json:"issuer"`
		Revocation string `json:"revocation_endpoint"`
	}
	if err := ps.resources.getJSON(ctx, resourceURL+"/.well-known/aauth-resource.json", &md); err != nil {
		return "", err
	}
	switch {
	case md.Issuer != resourceURL:
		return "", fmt.Errorf("the resource metadata's issuer is %q, not %q", shorten(md.Issuer), shorten(resourceURL))
	case md.Revocation == "":
		return "", fmt.Errorf("the resource %s publishes no revocation_endpoint", shorten(resourceURL))
	}
	if err := loopbackURL(md.Revocation); err != nil {
		return "", fmt.Errorf("revocation_endpoint: %w", err)
	}
	return md.Revocation, nil
}
