package psclient

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jwtpeek"
	"github.com/aauthgo/aauth/wire"
)

// Limits on what an approval may carry.
const (
	missionMaxPersonTokens = 256 // person_tokens entries read
	missionMaxCapabilities = 16
)

// MissionApproval is a person server's approval of a mission proposal: the
// 200 answer of its mission_endpoint.
type MissionApproval struct {
	// S256 is the mission's identifier: the unpadded base64url SHA-256 of
	// Mission.Raw, checked. The agent names the mission with it
	// (mission_s256) when it asks for person tokens, permission, audit or
	// a relay.
	S256 string

	// Mission is the approved mission, decoded from the approval's
	// base64url mission member.
	Mission *MissionBlob

	// Capabilities are what the person server can do for the person at
	// the moment (interaction, payment, …), to be united with the agent's
	// own. Values AAuth does not define are left out. They are not part
	// of the mission and not covered by S256.
	Capabilities []wire.Capability

	// PersonTokens maps a resource identifier to the person token the
	// person server issued for it with the approval. Only well-formed
	// entries are kept: an identifier of the server-identifier form, and a
	// person token (typ aa-person+jwt) whose aud is that resource, whose
	// mission_s256 is S256 and that has an exp. A Token's Expiry is its
	// exp (read, not verified), never later than Mission.ExpiresAt;
	// ExpiresIn is zero, as the approval announces no lifetime.
	PersonTokens map[string]*Token

	// Ignored lists the person_tokens entries that were not kept, and why.
	Ignored []IgnoredPersonToken
}

// IgnoredPersonToken is a person_tokens entry of an approval that was left
// out: Resource is its name (shortened), Reason why.
type IgnoredPersonToken struct {
	Resource string
	Reason   string
}

// ParseMissionApproval reads a mission approval, the JSON body of a 200
// from the mission endpoint:
//
//	{"s256":"…","mission":"<base64url>","capabilities":[…],"person_tokens":{"https://r.example":"eyJ…"}}
//
// It decodes and checks the blob with DecodeMissionBlob (s256 must be the
// digest of the decoded bytes), keeps the capabilities AAuth defines, and
// keeps the well-formed person tokens (see MissionApproval.PersonTokens).
// It does not know which resources were proposed: ProposeMission drops the
// person tokens for any other. Errors match ErrInvalidMission.
func ParseMissionApproval(body []byte) (*MissionApproval, error) {
	if len(body) > httpx.MaxBodySize {
		return nil, httpx.ErrBodyTooLarge
	}
	m, _, err := missionObject(body)
	if err != nil {
		return nil, missionError("the approval is not a JSON object: %v", err)
	}
	var s256, blob string
	if json.Unmarshal(m["s256"], &s256) != nil {
		return nil, missionError("the approval has no s256 string")
	}
	if json.Unmarshal(m["mission"], &blob) != nil {
		return nil, missionError("the approval has no mission string")
	}
	mb, err := DecodeMissionBlob(blob, s256)
	if err != nil {
		return nil, err
	}
	a := &MissionApproval{S256: s256, Mission: mb, Capabilities: missionCapabilities(m["capabilities"])}
	if raw, ok := m["person_tokens"]; ok {
		a.readPersonTokens(raw)
	}
	return a, nil
}

// missionCapabilities keeps, in order and once each, the capability values
// AAuth defines from a JSON array. Anything else is ignored, as unknown
// capability values must be.
func missionCapabilities(raw json.RawMessage) []wire.Capability {
	var vals []json.RawMessage
	if json.Unmarshal(raw, &vals) != nil {
		return nil
	}
	var caps []wire.Capability
	for _, v := range vals {
		var s string
		if json.Unmarshal(v, &s) != nil {
			continue
		}
		c := wire.Capability(s)
		switch c {
		case wire.CapabilityInteraction, wire.CapabilityClarification, wire.CapabilityPayment:
		default:
			continue
		}
		dup := false
		for _, have := range caps {
			dup = dup || have == c
		}
		if !dup && len(caps) < missionMaxCapabilities {
			caps = append(caps, c)
		}
	}
	return caps
}

// readPersonTokens keeps the well-formed entries of person_tokens.
func (a *MissionApproval) readPersonTokens(raw json.RawMessage) {
	m, names, err := missionObject(raw)
	if err != nil {
		a.ignore("", "person_tokens is not a JSON object")
		return
	}
	for _, res := range names {
		v := m[res]
		if len(a.PersonTokens)+len(a.Ignored) >= missionMaxPersonTokens {
			a.ignore(res, "too many person tokens")
			continue
		}
		var tok string
		if json.Unmarshal(v, &tok) != nil {
			a.ignore(res, "the person token is not a string")
			continue
		}
		if !ResourceIdentifier(res) {
			a.ignore(res, "not a resource identifier")
			continue
		}
		exp, why := a.checkPersonToken(res, tok)
		if why != "" {
			a.ignore(res, why)
			continue
		}
		if a.PersonTokens == nil {
			a.PersonTokens = make(map[string]*Token)
		}
		a.PersonTokens[res] = &Token{Value: tok, Expiry: exp}
	}
}

func (a *MissionApproval) ignore(res, why string) {
	a.Ignored = append(a.Ignored, IgnoredPersonToken{Resource: missionShort(res), Reason: why})
}

// checkPersonToken reads, without verifying it (the agent does not verify
// the tokens its person server hands it), what binds a person token to
// this approval, and returns its expiry capped at the mission's, or why it
// is not kept.
func (a *MissionApproval) checkPersonToken(res, tok string) (time.Time, string) {
	if len(tok) > jwtpeek.MaxTokenLen {
		return time.Time{}, "the person token is too long"
	}
	// A compact JWT is three base64url segments: nothing else can be
	// sent back in Signature-Key as it came (and the decoder alone would
	// skip line breaks).
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || !missionBase64URL(parts[0]) || !missionBase64URL(parts[1]) || !missionBase64URL(parts[2]) {
		return time.Time{}, "the person token is not a compact JWT"
	}
	hdr, claims, err := jwtpeek.Decode(tok)
	if err != nil {
		return time.Time{}, "the person token is not a compact JWT"
	}
	if typ, _ := hdr["typ"].(string); typ != "aa-person+jwt" {
		return time.Time{}, "the token is not a person token"
	}
	if aud, _ := claims["aud"].(string); aud != res {
		return time.Time{}, "the person token is for another resource"
	}
	if m, _ := claims["mission_s256"].(string); m != a.S256 {
		return time.Time{}, "the person token is for another mission"
	}
	e, ok := claims["exp"].(float64)
	if !ok || e <= 0 || e > 1<<40 {
		return time.Time{}, "the person token has no valid exp"
	}
	exp := time.Unix(int64(e), 0)
	if x := a.Mission.ExpiresAt; !x.IsZero() && x.Before(exp) {
		exp = x
	}
	return exp, ""
}

// ResourceIdentifier reports whether s is a resource identifier as AAuth
// writes them, compared byte for byte: https://host, lower case, with no
// port, path, query, fragment or trailing slash. For development, a
// loopback host (localhost, 127.0.0.0/8, [::1]) may also be named with
// http and a port, as the Transport names test servers.
func ResourceIdentifier(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	if u.Scheme+"://"+u.Host != s || strings.ToLower(s) != s {
		return false
	}
	host, port := u.Hostname(), u.Port()
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	switch {
	case loopback:
		return u.Scheme == "https" || u.Scheme == "http"
	case u.Scheme != "https" || port != "" || strings.HasSuffix(u.Host, ":"):
		return false
	}
	// An internationalized name is written in its ACE form.
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
