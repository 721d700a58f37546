package aauth

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/internal/whatwg"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

type profileTable = profile.Table

// credKind is the kind of token a request presents.
type credKind uint8

const (
	credAgent   credKind = iota // the agent token from Keys
	credPerson                  // a person token in Signature-Key
	credAuth                    // an auth token in Signature-Key
	credSession                 // the agent token plus Authorization: AAuth <session token>
)

func (k credKind) String() string {
	switch k {
	case credPerson:
		return "person"
	case credAuth:
		return "auth"
	case credSession:
		return "session"
	}
	return "agent"
}

// credential is what one send presents: a kind, the token value for the
// person, auth and session kinds, and the cache key it came from.
type credential struct {
	kind  credKind
	token string
	key   string
}

// Cache keys. The key's thumbprint is part of the auth and person keys:
// those tokens are bound to the signing key (cnf.jwk) and worthless once it
// rotates.
//
// An auth token obtained under a mission is kept apart from the others:
// mission, when given and not empty, is its s256.
func authKey(origin, ps, jkt string, mission ...string) string {
	k := "auth " + origin + " " + ps + " " + jkt
	if len(mission) > 0 && mission[0] != "" {
		k += " " + mission[0]
	}
	return k
}

func (t *Transport) personKey(resource, mission, jkt string) string {
	return "person " + resource + " " + mission + " " + jkt
}

func sessionKey(origin string) string { return "session " + origin }

// pickCredential returns the best credential held for origin, whose
// person server is ps.
func (t *Transport) pickCredential(ctx context.Context, origin, ps, jkt string, agent credential) credential {
	if key := authKey(origin, ps, jkt, t.missionS256()); ps != "" || t.PersonServerMetadata != nil {
		if tok := t.cached(ctx, key); tok != nil {
			return credential{kind: credAuth, token: tok.Value, key: key}
		}
	}
	if key := sessionKey(origin); key != "" {
		if tok, err := t.tokens.Token(ctx, key); err == nil && tok != nil && tok.Value != "" {
			return credential{kind: credSession, token: tok.Value, key: key}
		}
	}
	if profile.For(t.Profile).PersonTokens {
		key := t.personKey(origin, t.missionS256(), jkt)
		if tok := t.cached(ctx, key); tok != nil {
			return credential{kind: credPerson, token: tok.Value, key: key}
		}
	}
	return agent
}

// cached returns the token under key if it may still be presented: outside
// the profile's refresh margin of its expiry.
func (t *Transport) cached(ctx context.Context, key string) *psclient.Token {
	tok, err := t.tokens.Token(ctx, key)
	if err != nil || tok == nil || tok.Value == "" {
		return nil
	}
	if !tok.Expiry.IsZero() && !tok.Expiry.After(t.clock().Now().Add(profile.For(t.Profile).RefreshMargin)) {
		return nil
	}
	return tok
}

func (t *Transport) store(ctx context.Context, key string, tok *psclient.Token, kind string) {
	if kind != "session" {
		// No token of a mission outlives the mission.
		tok = t.capToMission(tok)
	}
	if err := t.tokens.SetToken(ctx, key, tok); err != nil {
		t.emit(ctx, Event{Step: StepError, Detail: "caching the " + kind + " token failed", Err: err})
		return
	}
	t.emit(ctx, Event{Step: StepTokenCached, Credential: kind, Token: Redact(tok.Value), Detail: kind + " token cached"})
}

// forget drops a credential the server refused, unless another request has
// already replaced it.
func (t *Transport) forget(ctx context.Context, c credential) {
	if c.key != "" {
		t.forgetKey(ctx, c.key, c.token)
	}
}

func (t *Transport) forgetKey(ctx context.Context, key, value string) {
	if tok, err := t.tokens.Token(ctx, key); err == nil && tok != nil && tok.Value == value {
		t.tokens.DeleteToken(ctx, key)
	}
}

// keepSessionToken stores the AAuth-Access session token a resource sent,
// replacing an older one: the resource rolls it forward this way.
func (t *Transport) keepSessionToken(ctx context.Context, resp *http.Response, origin string) {
	tok, ok, err := wire.ParseAccess(resp.Header)
	if !ok {
		return
	}
	if err != nil {
		t.emit(ctx, Event{Step: StepError, URL: origin, Status: resp.StatusCode, Detail: "ignored a malformed AAuth-Access header", Err: err})
		return
	}
	t.store(ctx, sessionKey(origin), &psclient.Token{Value: tok}, "session")
}

func normalizeAuthority(scheme, hostport string) (string, error) {
	a, err := whatwg.Authority(scheme, hostport)
	if err != nil {
		return "", fmt.Errorf("aauth: invalid host %q", safetext.Clean(hostport, 256))
	}
	return a, nil
}
