package psclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/aauthgo/aauth/wire"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aauthgo/aauth/internal/httpx"
)

// FuzzDecodeMissionBlob checks that no mission member and digest make the
// blob decoder panic, and that whatever it accepts is exactly what s256
// digests, decodes from mission, and holds the required members.
func FuzzDecodeMissionBlob(f *testing.F) {
	f.Add(b64(testBlob), MissionDigest([]byte(testBlob)))
	f.Add(b64(testBlob), "")
	f.Add(b64(`{"agent":"a","approved_at":"2026-04-07T14:30:00Z","description":"d","x":{}}`), MissionDigest([]byte(`{"agent":"a","approved_at":"2026-04-07T14:30:00Z","description":"d","x":{}}`)))
	f.Add("e30", MissionDigest([]byte("{}")))
	f.Add("!!!", "x")
	f.Fuzz(func(t *testing.T, mission, s256 string) {
		m, err := DecodeMissionBlob(mission, s256)
		if err != nil {
			if m != nil || !errors.Is(err, ErrInvalidMission) {
				t.Fatalf("error %v with mission %v", err, m)
			}
			if !utf8.ValidString(err.Error()) || strings.ContainsAny(err.Error(), "\n\r\x1b") {
				t.Fatalf("unclean message %q", err)
			}
			return
		}
		raw, derr := base64.RawURLEncoding.DecodeString(mission)
		switch {
		case derr != nil || !bytes.Equal(raw, m.Raw):
			t.Fatalf("Raw is not what mission decodes to")
		case MissionDigest(m.Raw) != s256:
			t.Fatalf("accepted a blob whose digest is not s256")
		case len(m.Raw) > MaxMissionSize:
			t.Fatalf("accepted %d bytes", len(m.Raw))
		case m.Agent == "" || m.ApprovedAt.IsZero():
			t.Fatalf("accepted a blob without agent or approved_at: %+v", m)
		}
		for _, tool := range m.ApprovedTools {
			if tool.Name == "" {
				t.Fatalf("accepted a nameless tool")
			}
		}
	})
}

// FuzzParseMissionApproval checks that no approval document makes the
// parser panic, and that every person token it keeps is bound to the
// approval: a resource identifier, a person token for it, under the same
// mission, expiring no later than the mission.
func FuzzParseMissionApproval(f *testing.F) {
	s256 := MissionDigest([]byte(testBlob))
	tok := personToken(f, "https://flights.example", s256, 1775606400)
	for _, doc := range []map[string]any{
		{"s256": s256, "mission": b64(testBlob)},
		{"s256": s256, "mission": b64(testBlob), "capabilities": []any{"interaction", "payment", "x", 1}, "person_tokens": map[string]any{"https://flights.example": tok, "http://127.0.0.1:1": tok, "https://x.example/": 1}},
		{"s256": s256, "mission": b64(testBlob), "person_tokens": []any{}},
	} {
		f.Add(approvalJSON(f, doc))
	}
	f.Add([]byte(`{"s256":"a","s256":"b"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := ParseMissionApproval(body)
		if err != nil {
			if a != nil || !errors.Is(err, ErrInvalidMission) {
				t.Fatalf("error %v with approval %v", err, a)
			}
			return
		}
		if MissionDigest(a.Mission.Raw) != a.S256 {
			t.Fatalf("S256 is not the digest of the blob")
		}
		seen := map[wire.Capability]bool{}
		for _, c := range a.Capabilities {
			if seen[c] || c != wire.CapabilityInteraction && c != wire.CapabilityClarification && c != wire.CapabilityPayment {
				t.Fatalf("capabilities %v", a.Capabilities)
			}
			seen[c] = true
		}
		for res, tok := range a.PersonTokens {
			if !ResourceIdentifier(res) || tok == nil || tok.Value == "" || tok.Expiry.IsZero() {
				t.Fatalf("kept %q: %+v", res, tok)
			}
			if x := a.Mission.ExpiresAt; !x.IsZero() && tok.Expiry.After(x) {
				t.Fatalf("a person token outlives the mission")
			}
			var claims struct {
				Aud         string `json:"aud"`
				MissionS256 string `json:"mission_s256"`
			}
			parts := strings.Split(tok.Value, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			if json.Unmarshal(payload, &claims) != nil || claims.Aud != res || claims.MissionS256 != a.S256 {
				t.Fatalf("kept a token for %q, %q under %q", claims.Aud, claims.MissionS256, res)
			}
		}
		if len(a.PersonTokens) > missionMaxPersonTokens {
			t.Fatalf("too many person tokens kept")
		}
	})
}

// FuzzPermissionAnswer checks that no permission answer makes the parser
// panic, and that only an explicit, unique "permission":"granted" grants.
func FuzzPermissionAnswer(f *testing.F) {
	for _, s := range []string{
		`{"permission":"granted"}`,
		`{"permission":"denied","reason":"no"}`,
		`{"permission":"maybe"}`,
		`{"permission":"denied","permission":"granted"}`,
		`{}`, `null`, `[]`, `"granted"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := parsePermission(body, "Act")
		var m map[string]json.RawMessage
		var p string
		granted := json.Unmarshal(body, &m) == nil && json.Unmarshal(m["permission"], &p) == nil && p == "granted"
		if err == nil && !granted {
			t.Fatalf("granted by %q", body)
		}
		var pd *PermissionDeniedError
		if errors.As(err, &pd) && p != "denied" {
			t.Fatalf("denied by %q", body)
		}
		if err != nil && !errors.Is(err, ErrDenied) && !errors.Is(err, ErrMalformedAnswer) && !errors.Is(err, httpx.ErrBodyTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
		if err != nil && (strings.ContainsAny(err.Error(), "\n\r\x1b") || !utf8.ValidString(err.Error())) {
			t.Fatalf("unclean message %q", err)
		}
	})
}

// FuzzGovernanceAnswers covers the other small answers: a question relay's
// answer, a mission update's digest, and a mission error body.
func FuzzGovernanceAnswers(f *testing.F) {
	f.Add([]byte(`{"answer":"yes"}`))
	f.Add([]byte(`{"s256":"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"}`))
	f.Add([]byte(`{"error":"mission_terminated","termination_reason":"revoked","detail":"x"}`))
	f.Add([]byte(`{"error":"mission_not_found"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := parseQuestionAnswer(body); err != nil && !errors.Is(err, ErrMalformedAnswer) {
			t.Fatalf("answer: %v", err)
		}
		if s, err := parseUpdateAnswer(body); err == nil && !ValidDigest(s) {
			t.Fatalf("update digest %q", s)
		}
		if e := missionErrorFrom(body, ""); e != nil {
			msg := e.Error()
			if strings.ContainsAny(msg, "\n\r\x1b") || !utf8.ValidString(msg) || len(msg) > 512 {
				t.Fatalf("mission error message %q", msg)
			}
			if errors.Is(e, ErrMissionNotFound) == errors.Is(e, ErrMissionTerminated) {
				t.Fatalf("mission error matches both or neither sentinel")
			}
		}
	})
}
