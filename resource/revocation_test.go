package resource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestMemoryRevocationStore(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := NewMemoryRevocationStore(2)
	s.now = clock.Now
	revoked := func(iss, jti string) bool {
		t.Helper()
		ok, err := s.Revoked(ctx, iss, jti)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if revoked("ps", "a") {
		t.Fatal("revoked in an empty store")
	}
	if err := s.Revoke(ctx, "ps", "a", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !revoked("ps", "a") || revoked("other-ps", "a") || revoked("ps", "b") {
		t.Fatal("revocation keyed by something other than (issuer, jti)")
	}
	// Revoking again keeps the later until.
	_ = s.Revoke(ctx, "ps", "a", t0.Add(10*time.Minute))
	_ = s.Revoke(ctx, "ps", "a", t0.Add(time.Second))
	// A record already over is not kept.
	if err := s.Revoke(ctx, "ps", "old", t0.Add(-time.Second)); err != nil || s.Len() != 1 {
		t.Fatalf("an expired record: %v, %d held", err, s.Len())
	}
	if err := s.Revoke(ctx, "ps", "b", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Full of records in force: refused, nothing evicted.
	err := s.Revoke(ctx, "ps", "c", t0.Add(time.Hour))
	var full *RevocationStoreFullError
	if !errors.As(err, &full) || full.RetryAfter != 5*time.Minute {
		t.Fatalf("full store: %v", err)
	}
	if !revoked("ps", "a") || !revoked("ps", "b") || revoked("ps", "c") {
		t.Fatal("a full store dropped a revocation in force, or kept one it refused")
	}
	// Once b is over, it makes room; a lives on (it was extended).
	clock.Advance(5*time.Minute + time.Second)
	if revoked("ps", "b") {
		t.Fatal("b outlived its until")
	}
	if err := s.Revoke(ctx, "ps", "c", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !revoked("ps", "a") || !revoked("ps", "c") || s.Len() != 2 {
		t.Fatalf("after the sweep: %d held", s.Len())
	}
	clock.Advance(time.Hour)
	if revoked("ps", "a") || revoked("ps", "c") {
		t.Fatal("revocations outlived their until")
	}
}

// TestRevocationMetadata: revocation_endpoint is published (RS-03) in the
// current profile, and not in the seed one, which has no such endpoint.
func TestRevocationMetadata(t *testing.T) {
	w := newWorld(t, nil)
	var md map[string]any
	getJSON(t, w.srv.URL+"/.well-known/aauth-resource.json", &md)
	if md["revocation_endpoint"] != w.rs.Issuer+"/aauth/revoke" {
		t.Fatalf("revocation_endpoint %v", md["revocation_endpoint"])
	}
	seed := newWorld(t, func(rs *Resource) { rs.Profile = profileSeed })
	md = nil
	getJSON(t, seed.srv.URL+"/.well-known/aauth-resource.json", &md)
	if _, ok := md["revocation_endpoint"]; ok {
		t.Fatal("the seed profile publishes a revocation endpoint")
	}
	if _, err := (&Resource{Issuer: "https://r.example", AuthorizationPath: "/aauth/revoke"}).config(); err == nil {
		t.Fatal("AuthorizationPath took the revocation endpoint's path")
	}
}

// revoke revokes jti at w's resource as w's person server, exp from now.
func (w *world) revoke(jti string, exp time.Duration) {
	w.t.Helper()
	r := w.revocationRequest("POST", fmt.Sprintf(`{"jti":%q,"exp":%d}`, jti, w.clock.Now().Add(exp).Unix()))
	signAsServer(w, r, w.ps, dwkPerson)
	wantStatus(w.t, w.send(r), http.StatusOK, "")
}

// TestRevokedPersonTokenNamedByNoResourceToken (RS-61): once a person
// token is revoked, no resource token names it: not the fresh one a
// held call gets on a later poll, and not person_token_jti on a step-up
// from an auth token that stems from it.
func TestRevokedPersonTokenNamedByNoResourceToken(t *testing.T) {
	t.Run("held call", func(t *testing.T) {
		w := newWorld(t, func(rs *Resource) {
			rs.PollInterval = -1
			rs.Policy = func(*http.Request, *Caller) Need { return Need{Mode: AuthToken, Scope: "write", Defer: true} }
		})
		pt := w.personToken(map[string]any{"jti": "pt-held"})
		resp := w.do("GET", "/jobs", "", pt)
		wantStatus(t, resp, http.StatusAccepted, "")
		rt1 := resourceTokenOf(t, resp)
		loc := resp.Header.Get("Location")
		w.revoke("pt-held", time.Hour)
		// Near the first resource token's expiry a poll would get a
		// fresh one naming pt-held: not after the revocation.
		w.clock.Advance(4*time.Minute + 30*time.Second)
		req, _ := http.NewRequest("GET", loc, nil)
		w.agent.sign(t, req, w.personToken(nil), w.clock.Now())
		resp = w.send(req)
		wantStatus(t, resp, http.StatusAccepted, "")
		if rt := resourceTokenOf(t, resp); rt != rt1 {
			t.Fatalf("a new resource token was issued naming the revoked person token: %v", verifyResourceToken(t, w, rt))
		}
		// The revoked token itself is refused, and gets no resource token.
		resp = w.do("GET", "/jobs", "", pt)
		wantStatus(t, resp, http.StatusUnauthorized, "revoked_jwt")
		if resp.Header.Get("AAuth-Requirement") != "" {
			t.Errorf("AAuth-Requirement %q on a revoked person token", resp.Header.Get("AAuth-Requirement"))
		}
	})
	t.Run("step-up naming the person token", func(t *testing.T) {
		w := newWorld(t, func(rs *Resource) {
			rs.Mode, rs.Scope, rs.PersonTokenJTI = AuthToken, "write", true
			rs.AuthorizationPath = "/aauth/authorize"
		})
		pt := w.personToken(map[string]any{"jti": "pt-step"})
		resp := w.do("GET", "/files", "", pt)
		if c := verifyResourceToken(t, w, resourceTokenOf(t, resp)); c["person_token_jti"] != "pt-step" {
			t.Fatalf("person_token_jti %v", c["person_token_jti"])
		}
		w.revoke("pt-step", time.Hour)
		// An auth token (not revoked) without the scope: the step-up's
		// resource token would name pt-step. Start again from a person
		// token instead.
		resp = w.do("GET", "/files", "", w.authToken("read", nil))
		wantStatus(t, resp, http.StatusUnauthorized, "revoked_jwt")
		if resp.Header.Get("AAuth-Requirement") != "requirement=person-token" {
			t.Errorf("AAuth-Requirement %q", resp.Header.Get("AAuth-Requirement"))
		}
		// The authorization endpoint refuses the revoked person token.
		resp = w.do("POST", "/aauth/authorize", `{"scope":"write"}`, pt)
		wantStatus(t, resp, http.StatusUnauthorized, "revoked_jwt")
		// A fresh person token is served as before.
		resp = w.do("GET", "/files", "", w.personToken(nil))
		wantStatus(t, resp, http.StatusUnauthorized, "")
		if c := verifyResourceToken(t, w, resourceTokenOf(t, resp)); c["person_token_jti"] == "pt-step" {
			t.Fatal("a new resource token names the revoked person token")
		}
	})
}

// TestRevocationExpires: a revocation is dropped once its token's exp and
// the signature window are over, when the token is refused as expired
// anyway.
func TestRevocationExpires(t *testing.T) {
	store := NewMemoryRevocationStore(0)
	w := newWorld(t, func(rs *Resource) { store.now = rs.Now; rs.Revocations = store })
	w.revoke("gone", 10*time.Minute)
	if store.Len() != 1 {
		t.Fatalf("%d held", store.Len())
	}
	w.clock.Advance(10*time.Minute + defaultWindow)
	if ok, _ := store.Revoked(context.Background(), w.ps.url, "gone"); !ok {
		t.Fatal("dropped within the window after exp")
	}
	w.clock.Advance(time.Second)
	if ok, _ := store.Revoked(context.Background(), w.ps.url, "gone"); ok {
		t.Fatal("kept after exp and the window")
	}
}
