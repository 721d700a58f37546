package psclient

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMissionDigest(t *testing.T) {
	// FIPS 180-2's "abc" vector, in unpadded base64url.
	if got, want := MissionDigest([]byte("abc")), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Errorf("MissionDigest(abc) = %s, want %s", got, want)
	}
	if !ValidDigest(MissionDigest([]byte(testBlob))) {
		t.Error("a digest is not ValidDigest")
	}
	for _, s := range []string{
		"",
		"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=",  // padded
		"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",   // standard alphabet
		"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa1",   // non-zero trailing bits
		"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa",    // short
		"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAF\na0", // a line break
		"../../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaa",
	} {
		if ValidDigest(s) {
			t.Errorf("ValidDigest(%q) = true", s)
		}
	}
}

func TestDecodeMissionBlob(t *testing.T) {
	s256 := MissionDigest([]byte(testBlob))
	m, err := DecodeMissionBlob(b64(testBlob), s256)
	if err != nil {
		t.Fatal(err)
	}
	want := MissionBlob{
		Agent:             "aauth:assistant@agent.example",
		ApprovedAt:        time.Date(2026, 4, 7, 14, 30, 0, 0, time.UTC),
		ExpiresAt:         time.Date(2026, 5, 7, 14, 30, 0, 0, time.UTC),
		Description:       "# Plan Japan Vacation\n\nPlan and book a trip.",
		ApprovedTools:     []Tool{{Name: "WebSearch", Description: "Search the web"}, {Name: "Read"}},
		ApprovedResources: []string{"https://flights.example", "https://hotels.example"},
	}
	switch {
	case m.Agent != want.Agent || m.Description != want.Description || m.Approver != "":
		t.Errorf("agent %q, description %q, approver %q", m.Agent, m.Description, m.Approver)
	case !m.ApprovedAt.Equal(want.ApprovedAt) || !m.ExpiresAt.Equal(want.ExpiresAt):
		t.Errorf("approved_at %v, expires_at %v", m.ApprovedAt, m.ExpiresAt)
	case !slices.Equal(m.ApprovedTools, want.ApprovedTools):
		t.Errorf("approved_tools %v", m.ApprovedTools)
	case !slices.Equal(m.ApprovedResources, want.ApprovedResources):
		t.Errorf("approved_resources %v", m.ApprovedResources)
	case string(m.Raw) != testBlob:
		t.Errorf("Raw is not the decoded bytes")
	}
	if m.Expired(want.ExpiresAt.Add(-time.Second)) || !m.Expired(want.ExpiresAt) {
		t.Error("Expired is wrong around expires_at")
	}
	var none *MissionBlob
	if none.Expired(time.Now()) || (&MissionBlob{}).Expired(time.Now()) {
		t.Error("a mission without expiry expired")
	}

	// Members a person server adds are ignored, and approver is read.
	extra := `{"approver":"https://ps.example","agent":"aauth:a@b.example","approved_at":"2026-04-07T14:30:00.123+02:00","description":"","x-new":{"deep":[1,2,3]}}`
	m, err = DecodeMissionBlob(b64(extra), MissionDigest([]byte(extra)))
	if err != nil {
		t.Fatal(err)
	}
	if m.Approver != "https://ps.example" || !m.ExpiresAt.IsZero() || m.ApprovedTools != nil {
		t.Errorf("extra members: %+v", m)
	}
}

// TestDecodeMissionBlobRefuses is the table of blobs that are never used.
func TestDecodeMissionBlobRefuses(t *testing.T) {
	valid := b64(testBlob)
	s256 := MissionDigest([]byte(testBlob))
	withBlob := func(blob string) (string, string) { return b64(blob), MissionDigest([]byte(blob)) }
	impossible := valid
	for len(impossible)%4 != 1 {
		impossible += "A"
	}
	huge := `{"agent":"a","approved_at":"2026-04-07T14:30:00Z","description":"` + strings.Repeat("x", MaxMissionSize) + `"}`
	cases := []struct {
		name          string
		mission, s256 string
		want          string
	}{
		{"s256 of other bytes", valid, MissionDigest([]byte(testBlob + " ")), "s256 is not the SHA-256"},
		{"s256 empty", valid, "", "no s256"},
		{"s256 padded", valid, s256 + "=", "s256 is not the SHA-256"},
		{"s256 of the base64 text", valid, MissionDigest([]byte(valid)), "s256 is not the SHA-256"},
		{"mission empty", "", s256, "has no mission"},
		{"mission padded", b64(testBlob) + "==", s256, "not unpadded base64url"},
		{"mission standard base64", strings.ReplaceAll(strings.ReplaceAll(valid, "-", "+"), "_", "/") + "+", s256, "not unpadded base64url"},
		{"mission with a line break", valid[:10] + "\n" + valid[10:], s256, "not unpadded base64url"},
		{"mission with a space", valid[:10] + " " + valid[10:], s256, "not unpadded base64url"},
		{"mission of impossible length", impossible, s256, "not unpadded base64url"},
		{"mission huge", b64(huge), MissionDigest([]byte(huge)), "larger than"},
	}
	add := func(name, blob, want string) {
		m, s := withBlob(blob)
		cases = append(cases, struct {
			name          string
			mission, s256 string
			want          string
		}{name, m, s, want})
	}
	add("not JSON", "not json", "not a JSON object")
	add("JSON array", `[1,2]`, "not a JSON object")
	add("JSON string", `"agent"`, "not a JSON object")
	add("two objects", `{"agent":"a"}{"agent":"b"}`, "data after the object")
	add("trailing garbage", testBlob+"x", "data after the object")
	add("truncated", testBlob[:len(testBlob)-1], "not a JSON object")
	add("duplicate agent", `{"agent":"a","agent":"b","approved_at":"2026-04-07T14:30:00Z","description":"d"}`, `"agent" appears twice`)
	add("not UTF-8", "{\"agent\":\"\xff\",\"approved_at\":\"2026-04-07T14:30:00Z\",\"description\":\"d\"}", "not UTF-8")
	add("no agent", `{"approved_at":"2026-04-07T14:30:00Z","description":"d"}`, "has no agent")
	add("empty agent", `{"agent":"","approved_at":"2026-04-07T14:30:00Z","description":"d"}`, "agent is empty")
	add("agent a number", `{"agent":1,"approved_at":"2026-04-07T14:30:00Z","description":"d"}`, "agent is not a string")
	add("no description", `{"agent":"a","approved_at":"2026-04-07T14:30:00Z"}`, "has no description")
	add("no approved_at", `{"agent":"a","description":"d"}`, "has no approved_at")
	add("approved_at not RFC 3339", `{"agent":"a","approved_at":"April 7th","description":"d"}`, "approved_at is not an RFC 3339 time")
	add("expires_at a number", `{"agent":"a","approved_at":"2026-04-07T14:30:00Z","expires_at":1778000000,"description":"d"}`, "expires_at is not a string")
	add("expires_at garbled", `{"agent":"a","approved_at":"2026-04-07T14:30:00Z","expires_at":"soon","description":"d"}`, "expires_at is not an RFC 3339 time")
	add("approved_tools an object", `{"agent":"a","approved_at":"2026-04-07T14:30:00Z","description":"d","approved_tools":{"name":"x"}}`, "approved_tools is not an array")
	add("a tool without a name", `{"agent":"a","approved_at":"2026-04-07T14:30:00Z","description":"d","approved_tools":[{"description":"x"}]}`, "has no name")
	add("approved_resources of numbers", `{"agent":"a","approved_at":"2026-04-07T14:30:00Z","description":"d","approved_resources":[1]}`, "approved_resources is not an array of strings")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeMissionBlob(tc.mission, tc.s256)
			if m != nil {
				t.Errorf("got a mission: %+v", m)
			}
			if !errors.Is(err, ErrInvalidMission) {
				t.Errorf("error %v does not match ErrInvalidMission", err)
			}
			mustContain(t, err, tc.want)
		})
	}
}
