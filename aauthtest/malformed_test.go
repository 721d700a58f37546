package aauthtest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/wire"
)

func TestPSMalformedAnswers(t *testing.T) {
	w := NewWorld(WorldOptions{})
	defer w.Close()
	c := newClient(t, w)
	thumb := func() string { tp, _ := thumbprintOf(c.agent); return tp }()

	realToken := func(t *testing.T, r *response) *token {
		t.Helper()
		s := string(r.Body)
		i := strings.Index(s, `"person_token":"`)
		if i < 0 {
			t.Fatalf("no token in %.200s", s)
		}
		s = s[i+len(`"person_token":"`):]
		tok, err := parseToken(s[:strings.IndexByte(s, '"')])
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := []struct {
		f     Fault
		check func(t *testing.T, r *response)
	}{
		{FaultBodyNotJSON, func(t *testing.T, r *response) {
			r.expect(t, 200)
			if _, err := decodeObject(r.Body); err == nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("body %q", r.Body)
			}
		}},
		{FaultEmptyBody, func(t *testing.T, r *response) {
			if r.expect(t, 200); len(r.Body) != 0 {
				t.Errorf("body %q", r.Body)
			}
		}},
		{FaultNoToken, func(t *testing.T, r *response) {
			if m := r.expect(t, 200).json(t); m["person_token"] != nil || m["expires_in"] == nil {
				t.Errorf("body %s", r.Body)
			}
		}},
		{FaultTokenNotString, func(t *testing.T, r *response) {
			if string(r.expect(t, 200).Body) != `{"person_token":12345,"expires_in":3600}` {
				t.Errorf("body %s", r.Body)
			}
		}},
		{FaultNegativeExpiresIn, func(t *testing.T, r *response) {
			realToken(t, r.expect(t, 200))
			if !strings.HasSuffix(string(r.Body), `"expires_in":-60}`) {
				t.Errorf("body %s", r.Body)
			}
		}},
		{FaultAbsurdExpiresIn, func(t *testing.T, r *response) {
			if !strings.HasSuffix(string(r.expect(t, 200).Body), `"expires_in":99999999999999999999}`) {
				t.Errorf("body %s", r.Body)
			}
		}},
		{FaultExpiresInString, func(t *testing.T, r *response) {
			if !strings.HasSuffix(string(r.expect(t, 200).Body), `"expires_in":"3600"}`) {
				t.Errorf("body %s", r.Body)
			}
		}},
		{FaultHugeBody, func(t *testing.T, r *response) {
			if r.expect(t, 200); len(r.Body) < 8<<20 {
				t.Errorf("body is only %d bytes", len(r.Body))
			}
			realToken(t, r)
		}},
		{FaultTokenOtherKey, func(t *testing.T, r *response) {
			tok := realToken(t, r.expect(t, 200))
			verifyJWT(t, tok.raw, w.PS.URL+"/aauth/jwks", time.Now())
			if _, tp, _ := tok.cnfKey(); tp == thumb {
				t.Error("cnf.jwk is the agent's key")
			}
		}},
		{FaultTokenWrongAud, func(t *testing.T, r *response) {
			if tok := realToken(t, r.expect(t, 200)); tok.audience(w.Resource.URL) {
				t.Error("aud is the resource")
			}
		}},
		{FaultTokenWrongIssuer, func(t *testing.T, r *response) {
			tok := realToken(t, r.expect(t, 200))
			if tok.str("iss") == w.PS.URL || tok.verifySignature(w.PS.PublicKey()) != nil {
				t.Errorf("iss %q, or not signed by the person server", tok.str("iss"))
			}
		}},
		{FaultTokenBadSignature, func(t *testing.T, r *response) {
			if realToken(t, r.expect(t, 200)).verifySignature(w.PS.PublicKey()) == nil {
				t.Error("the signature verifies")
			}
		}},
		{FaultTokenExpired, func(t *testing.T, r *response) {
			tok := realToken(t, r.expect(t, 200))
			if exp, _ := tok.time("exp"); exp.After(time.Now()) {
				t.Errorf("exp %v", exp)
			}
		}},
		{FaultNoLocation, func(t *testing.T, r *response) {
			if r.expect(t, 202).Header.Get("Location") != "" {
				t.Error("Location present")
			}
		}},
		{FaultCrossOriginLocation, func(t *testing.T, r *response) {
			loc := r.expect(t, 202).Header.Get("Location")
			if !strings.HasPrefix(loc, "http://localhost:") {
				t.Fatalf("Location %q", loc)
			}
			c.do("GET", loc, "", nil, nil).expect(t, 200) // it works, for an agent that (wrongly) follows it
		}},
		{FaultRequirementGarbage, func(t *testing.T, r *response) {
			if _, err := wire.ParseRequirement(r.expect(t, 202).Header.Get("AAuth-Requirement")); err == nil {
				t.Errorf("%q parses", r.Header.Get("AAuth-Requirement"))
			}
		}},
		{FaultRequirementUnknown, func(t *testing.T, r *response) {
			if _, err := wire.ParseRequirement(r.expect(t, 202).Header.Get("AAuth-Requirement")); !errors.Is(err, wire.ErrUnknownRequirement) {
				t.Errorf("%q: %v", r.Header.Get("AAuth-Requirement"), err)
			}
		}},
		{FaultAuthTokenNoResource, func(t *testing.T, r *response) {
			if r.expect(t, 202).Header.Get("AAuth-Requirement") != "requirement=auth-token" {
				t.Errorf("%q", r.Header.Get("AAuth-Requirement"))
			}
		}},
		{FaultResourceTokenGarbage, func(t *testing.T, r *response) {
			if ch := r.expect(t, 202).challenge(t); ch.ResourceToken != "not-a-jwt" {
				t.Errorf("%v", ch)
			}
		}},
		{FaultInteractionNoURL, func(t *testing.T, r *response) {
			if _, err := wire.ParseRequirement(r.expect(t, 202).Header.Get("AAuth-Requirement")); err == nil {
				t.Errorf("%q parses", r.Header.Get("AAuth-Requirement"))
			}
		}},
		{FaultSignatureErrorGarbage, func(t *testing.T, r *response) {
			if _, err := wire.ParseSignatureError(r.expect(t, 401).Header.Get("Signature-Error")); err == nil {
				t.Errorf("%q parses", r.Header.Get("Signature-Error"))
			}
		}},
		{FaultSignatureErrorUnknown, func(t *testing.T, r *response) {
			if se, err := wire.ParseSignatureError(r.expect(t, 401).Header.Get("Signature-Error")); err != nil || se.Code != "something_new" {
				t.Errorf("%v %v", se, err)
			}
		}},
		{FaultAccessTokenWhitespace, func(t *testing.T, r *response) {
			if !strings.Contains(r.expect(t, 500).str(t, "detail"), "does not apply") {
				t.Errorf("body %s", r.Body)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.f), func(t *testing.T) {
			w.PS.Queue(TokenPerson, Malformed(tc.f))
			tc.check(t, c.startToken(w))
		})
	}
	t.Run("after a deferral", func(t *testing.T) {
		w.PS.Queue(TokenPerson, Defer(Approval()).Then(Malformed(FaultNoToken)))
		r := c.startToken(w).expect(t, 202)
		if got := string(c.poll(r).expect(t, 200).Body); got != `{"expires_in":3600}` {
			t.Errorf("body %s", got)
		}
	})
}

func thumbprintOf(a *Agent) (string, error) {
	tok, err := parseToken(a.Token)
	if err != nil {
		return "", err
	}
	_, tp, err := tok.cnfKey()
	return tp, err
}
