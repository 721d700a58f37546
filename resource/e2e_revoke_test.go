package resource_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/resource"
)

// issuedOf returns the tokens of kind e's person server issued, in order.
func (e *e2e) issuedOf(kind aauthtest.TokenKind) []aauthtest.IssuedToken {
	var out []aauthtest.IssuedToken
	for _, it := range e.ps.Issued() {
		if it.Kind == kind {
			out = append(out, it)
		}
	}
	return out
}

// lastCaller is the caller e's handler saw last.
func (e *e2e) lastCaller() *resource.Caller {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.callers[len(e.callers)-1]
}

// TestTransportRecoversFromRevokedAuthToken: the person server revokes
// the agent's auth token at the resource (RS-60); the next call presents
// it, is refused revoked_jwt with requirement=person-token (RS-43), and
// the Transport starts again from its person token, gets a second auth
// token and is served.
func TestTransportRecoversFromRevokedAuthToken(t *testing.T) {
	var log syncBuffer
	e := newE2E(t, func(rs *resource.Resource) {
		rs.Mode, rs.Scope = resource.AuthToken, "read"
		rs.Logger = slog.New(slog.NewTextHandler(&log, nil))
	}, nil)
	e.get(t, "/data")
	first := e.lastCaller()
	if first.Kind != resource.KindAuth || len(e.issuedOf(aauthtest.TokenAuth)) != 1 {
		t.Fatalf("first call as %s, %d auth tokens", first.Kind, len(e.issuedOf(aauthtest.TokenAuth)))
	}
	if err := e.ps.RevokeAt(context.Background(), e.rs.Issuer, first.Token); err != nil {
		t.Fatal(err)
	}
	e.get(t, "/data")
	second := e.lastCaller()
	auths := e.issuedOf(aauthtest.TokenAuth)
	switch {
	case second.Kind != resource.KindAuth || second.Token == first.Token || second.JTI == first.JTI:
		t.Fatalf("served as %s with the same token: %v", second.Kind, second.Token == first.Token)
	case len(auths) != 2 || auths[1].Token != second.Token:
		t.Fatalf("%d auth tokens issued; the second served: %v", len(auths), len(auths) == 2 && auths[1].Token == second.Token)
	case len(e.issuedOf(aauthtest.TokenPerson)) != 1:
		t.Errorf("%d person tokens: the person token was not revoked and serves again", len(e.issuedOf(aauthtest.TokenPerson)))
	}
	e.get(t, "/data")
	if e.lastCaller().Token != second.Token {
		t.Error("the warm call did not present the new auth token")
	}
	// The way there: the revocation recorded, the revoked token refused
	// once; and no token in the log.
	text := log.String()
	if !strings.Contains(text, `msg="aauth: token revoked"`) || strings.Count(text, "code=revoked_jwt") != 1 {
		t.Errorf("log:\n%s", text)
	}
	if strings.Contains(text, first.Token[:40]) || strings.Contains(text, second.Token[:40]) {
		t.Error("a token in the log")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTransportRecoversFromRevokedPersonToken: a revoked person token is
// refused, never named by a new resource token (RS-61), and the Transport
// gets a new one.
func TestTransportRecoversFromRevokedPersonToken(t *testing.T) {
	e := newE2E(t, func(rs *resource.Resource) { rs.Mode = resource.PersonToken }, nil)
	e.get(t, "/data")
	first := e.lastCaller()
	if first.Kind != resource.KindPerson {
		t.Fatalf("served as %s", first.Kind)
	}
	if err := e.ps.RevokeAt(context.Background(), e.rs.Issuer, first.Token); err != nil {
		t.Fatal(err)
	}
	e.get(t, "/data")
	second := e.lastCaller()
	if second.Kind != resource.KindPerson || second.JTI == first.JTI || len(e.issuedOf(aauthtest.TokenPerson)) != 2 {
		t.Fatalf("served as %s, same jti %v, %d person tokens", second.Kind, second.JTI == first.JTI, len(e.issuedOf(aauthtest.TokenPerson)))
	}
	// Nothing the resource issued names the revoked person token.
	for _, it := range e.ps.Issued() {
		if it.Kind == aauthtest.TokenAuth && it.Claims["presented_jti"] == first.JTI {
			t.Error("an auth token stems from the revoked person token")
		}
	}
}

// TestRevokeAtErrors: RevokeAt refuses a token of another issuer, and
// says so when the resource answers otherwise than 200.
func TestRevokeAtErrors(t *testing.T) {
	strict := newE2E(t, func(rs *resource.Resource) {
		rs.PersonServers = resource.TrustIssuers("https://ps.example")
	}, nil)
	e := newE2E(t, func(rs *resource.Resource) { rs.Mode = resource.PersonToken }, nil)
	e.get(t, "/data")
	tok := e.lastCaller().Token
	if err := strict.ps.RevokeAt(context.Background(), e.rs.Issuer, tok); err == nil || !strings.Contains(err.Error(), "not this person server") {
		t.Fatalf("revoking another's token: %v", err)
	}
	if err := e.ps.RevokeAt(context.Background(), strict.rs.Issuer, tok); err == nil || !strings.Contains(err.Error(), "403 unsupported_iss") {
		t.Fatalf("an untrusted person server: %v", err)
	}
}
