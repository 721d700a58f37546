package aauth

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/internal/safetext"
)

// resourceCheck is what the agent expects of a resource token (AAuth -11
// §6.7.3): issued by the resource it called, for its own key and person
// server, about the token it presented, and not expired. The seed
// generation's token ({iss, aud, agent, agent_jkt, exp, …}, see
// @aauth/mcp-server's resource-token.ts) is held to what it carries: iss
// names the resource called (its origin: the seed's resource identifier is
// a URL), exp is in the future, and agent_jkt, when present, is the
// agent's key.
type resourceCheck struct {
	resource     string // origin of the resource called
	personServer string // the agent's person server
	jkt          string // thumbprint of the agent's signing key
	presented    string // the token presented when the resource token was issued
	now          time.Time
	seed         bool // the seed generation's token
}

// checkResourceToken inspects (without verifying its signature, which is
// the person server's job) the resource token a resource sent, so that the
// agent never asks its person server to exchange a token meant for someone
// else.
func checkResourceToken(raw string, want resourceCheck) error {
	hdr, claims, err := jwtpeek.Decode(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrResourceToken, err)
	}
	if typ, _ := hdr["typ"].(string); typ != "" && typ != "aa-resource+jwt" {
		return fmt.Errorf("%w: typ is %q, not aa-resource+jwt", ErrResourceToken, safetext.Clean(typ, 64))
	}
	if iss, _ := claims["iss"].(string); !issuedBy(iss, want.resource, want.seed) {
		return fmt.Errorf("%w: issued by %q, not by the resource called (%s)", ErrResourceToken, safetext.Clean(iss, 256), want.resource)
	}
	if jkt, present := claims["agent_jkt"]; (present || !want.seed) && jkt != want.jkt {
		return fmt.Errorf("%w: agent_jkt does not name this agent's signing key", ErrResourceToken)
	}
	if ps, _ := claims["ps"].(string); !want.seed && want.personServer != "" && strings.TrimSuffix(ps, "/") != strings.TrimSuffix(want.personServer, "/") {
		return fmt.Errorf("%w: ps is %q, not this agent's person server", ErrResourceToken, safetext.Clean(ps, 256))
	}
	exp, ok := claims["exp"].(float64)
	if !ok {
		return fmt.Errorf("%w: no exp", ErrResourceToken)
	}
	if !time.Unix(int64(exp), 0).After(want.now) {
		return fmt.Errorf("%w: expired at %s", ErrResourceToken, time.Unix(int64(exp), 0).UTC().Format(time.RFC3339))
	}
	ph, pc, err := jwtpeek.Decode(want.presented)
	if err != nil {
		return nil
	}
	if pj, _ := claims["presented_jti"].(string); pj != "" {
		if jti, _ := pc["jti"].(string); jti != "" && jti != pj {
			return fmt.Errorf("%w: presented_jti does not name the token presented", ErrResourceToken)
		}
	}
	// The resource token is about the person the presented person or auth
	// token names: its sub is copied from that token (-11 §6.7.1). An
	// agent token's sub is the agent, so there is nothing to compare.
	if typ, _ := ph["typ"].(string); !want.seed && (typ == "aa-person+jwt" || typ == "aa-auth+jwt") {
		psub, _ := pc["sub"].(string)
		if sub, _ := claims["sub"].(string); psub != "" && sub != psub {
			return fmt.Errorf("%w: sub is not the person of the token presented", ErrResourceToken)
		}
	}
	return nil
}

// issuedBy reports whether iss names the resource whose origin is resource:
// the origin itself (one trailing "/" allowed), or, in the seed generation,
// any URL on that origin.
func issuedBy(iss, resource string, seed bool) bool {
	if strings.TrimSuffix(iss, "/") == resource {
		return true
	}
	if !seed || len(iss) > 2048 {
		return false
	}
	u, err := url.Parse(iss)
	if err != nil || u.User != nil {
		return false
	}
	origin, err := originOf(u)
	return err == nil && origin == resource
}
