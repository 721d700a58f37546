package psclient

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/aauthgo/aauth/internal/safetext"
)

// MaxMissionSize bounds a mission blob, decoded. A mission is a Markdown
// description and two short lists; 64 KiB is generous, and a larger blob
// is refused before it is decoded.
const MaxMissionSize = 64 << 10

// missionMaxEncoded is the longest base64url text of a MaxMissionSize blob.
var missionMaxEncoded = base64.RawURLEncoding.EncodedLen(MaxMissionSize)

// ErrInvalidMission is matched (errors.Is) by every error about a mission
// blob the person server returned: its encoding, its digest, its size, or
// its members. Such a mission is never used.
var ErrInvalidMission = errors.New("aauth: invalid mission")

// missionError wraps ErrInvalidMission with what is wrong.
func missionError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidMission}, args...)...)
}

// Tool is a tool an agent proposes to use in a mission, or one the person
// approved for it (approved_tools): a name and what it does.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// MissionBlob is an approved mission: the JSON object the approval's
// mission member decodes to. The person server may add members of its own;
// they are kept in Raw and otherwise ignored.
type MissionBlob struct {
	// Agent is the agent identifier (aauth:local@domain) the mission was
	// approved for.
	Agent string

	// Approver is the server that approved the mission. The published -11
	// text dropped the member (the approver is always the person server);
	// it is read when an earlier person server still sends it.
	Approver string

	// ApprovedAt is when the mission was approved.
	ApprovedAt time.Time

	// ExpiresAt is when the mission ends by itself; zero when it runs
	// until it is completed or revoked. No token of the mission may be
	// used past it.
	ExpiresAt time.Time

	// Description is the approved mission, in Markdown. It may differ
	// from the proposal. It is text from the person server: sanitize it
	// before rendering it.
	Description string

	// ApprovedTools are the tools the agent may use without asking
	// permission, when the person server listed any.
	ApprovedTools []Tool

	// ApprovedResources are the resources the person approved when the
	// mission was proposed. It records the approval and is not a limit.
	ApprovedResources []string

	// Raw is the blob exactly as decoded: the bytes S256 digests.
	Raw []byte
}

// Expired reports whether the mission has an expiry and now is at or past
// it.
func (m *MissionBlob) Expired(now time.Time) bool {
	return m != nil && !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt)
}

// MissionDigest returns the unpadded base64url encoding of the SHA-256 of
// b: a mission's s256 when b is its blob, and an update's s256 when b is
// the update as the person server keeps it.
func MissionDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ValidDigest reports whether s has the form of a digest MissionDigest
// returns: 43 characters of the base64url alphabet, decoding to 32 bytes.
// A mission_s256 that is not one is never sent, nor put in a URL.
func ValidDigest(s string) bool {
	if len(s) != 43 || !missionBase64URL(s) {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// missionBase64URL reports whether s uses only the base64url alphabet. The
// decoder alone would also skip line breaks.
func missionBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// DecodeMissionBlob decodes the mission member of a mission approval and
// checks it against s256, the approval's digest: mission must be unpadded
// base64url of at most MaxMissionSize bytes, s256 must be the unpadded
// base64url SHA-256 of exactly those bytes (a mismatch is an error, never
// a warning), and the bytes must be a UTF-8 JSON object without duplicate
// members holding the members the draft requires: agent, approved_at and
// description (strings), and when present expires_at, approved_tools and
// approved_resources of the right types. Timestamps are RFC 3339. Unknown
// members are ignored. Errors match ErrInvalidMission.
func DecodeMissionBlob(mission, s256 string) (*MissionBlob, error) {
	switch {
	case mission == "":
		return nil, missionError("the approval has no mission")
	case len(mission) > missionMaxEncoded:
		return nil, missionError("the mission blob is larger than %d bytes", MaxMissionSize)
	case !missionBase64URL(mission):
		return nil, missionError("the mission is not unpadded base64url")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(mission)
	if err != nil {
		return nil, missionError("the mission is not unpadded base64url")
	}
	if s256 == "" {
		return nil, missionError("the approval has no s256")
	}
	if got := MissionDigest(raw); got != s256 {
		return nil, missionError("s256 is not the SHA-256 of the mission blob")
	}
	return parseMissionBlob(raw)
}

// parseMissionBlob reads the members of a blob whose digest was checked.
func parseMissionBlob(raw []byte) (*MissionBlob, error) {
	if !utf8.Valid(raw) {
		return nil, missionError("the mission blob is not UTF-8")
	}
	m, _, err := missionObject(raw)
	if err != nil {
		return nil, missionError("the mission blob is not a JSON object: %v", err)
	}
	b := &MissionBlob{Raw: raw}
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"agent", &b.Agent, true},
		{"description", &b.Description, true},
		{"approver", &b.Approver, false},
	} {
		v, ok := m[f.name]
		if !ok {
			if f.required {
				return nil, missionError("the mission blob has no %s", f.name)
			}
			continue
		}
		if json.Unmarshal(v, f.dst) != nil {
			return nil, missionError("the mission blob's %s is not a string", f.name)
		}
	}
	if b.Agent == "" {
		return nil, missionError("the mission blob's agent is empty")
	}
	for _, f := range []struct {
		name     string
		dst      *time.Time
		required bool
	}{
		{"approved_at", &b.ApprovedAt, true},
		{"expires_at", &b.ExpiresAt, false},
	} {
		v, ok := m[f.name]
		if !ok {
			if f.required {
				return nil, missionError("the mission blob has no %s", f.name)
			}
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, missionError("the mission blob's %s is not a string", f.name)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, missionError("the mission blob's %s is not an RFC 3339 time", f.name)
		}
		*f.dst = t
	}
	if v, ok := m["approved_tools"]; ok {
		var tools []struct {
			Name        *string `json:"name"`
			Description *string `json:"description"`
		}
		if json.Unmarshal(v, &tools) != nil {
			return nil, missionError("the mission blob's approved_tools is not an array of tools")
		}
		for _, t := range tools {
			if t.Name == nil || *t.Name == "" {
				return nil, missionError("a tool in the mission blob's approved_tools has no name")
			}
			tool := Tool{Name: *t.Name}
			if t.Description != nil {
				tool.Description = *t.Description
			}
			b.ApprovedTools = append(b.ApprovedTools, tool)
		}
	}
	if v, ok := m["approved_resources"]; ok {
		if json.Unmarshal(v, &b.ApprovedResources) != nil {
			return nil, missionError("the mission blob's approved_resources is not an array of strings")
		}
	}
	return b, nil
}

// missionObject decodes a JSON object into its members, refusing
// duplicate member names: encoding/json would keep the last one silently,
// and two readers of the same blob could then disagree about what the
// person approved.
//
// names lists the member names in document order.
func missionObject(b []byte) (m map[string]json.RawMessage, names []string, err error) {
	d := json.NewDecoder(bytes.NewReader(b))
	tok, err := d.Token()
	if err != nil {
		return nil, nil, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, nil, errors.New("not an object")
	}
	m = make(map[string]json.RawMessage)
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, errors.New("a member name is not a string")
		}
		if _, dup := m[k]; dup {
			return nil, nil, fmt.Errorf("member %q appears twice", missionShort(k))
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, nil, err
		}
		m[k] = v
		names = append(names, k)
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return nil, nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, nil, errors.New("data after the object")
	}
	return m, names, nil
}

// missionShort cuts server text for an error message.
func missionShort(s string) string { return safetext.Clean(s, 64) }
