// Package jwtpeek reads the header and claims of a compact JWT without
// verifying it, for the few places where the agent looks inside a token
// whose signature is another party's business (the resource token it is
// about to exchange, the ps claim of its own agent token). It imports
// nothing of this module.
package jwtpeek

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxTokenLen bounds the tokens the agent decodes or keeps.
const MaxTokenLen = 64 << 10

// Decode returns the header and claims of a compact JWS without verifying
// it. The token must be at most MaxTokenLen bytes, three dot-separated
// parts, and its header and payload base64url JSON objects.
func Decode(raw string) (header, claims map[string]any, err error) {
	if len(raw) > MaxTokenLen {
		return nil, nil, fmt.Errorf("token longer than %d bytes", MaxTokenLen)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("not a compact JWT")
	}
	dec := func(s string, v *map[string]any) error {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("not base64url")
		}
		if err := json.Unmarshal(b, v); err != nil || *v == nil {
			return fmt.Errorf("not a JSON object")
		}
		return nil
	}
	if err := dec(parts[0], &header); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := dec(parts[1], &claims); err != nil {
		return nil, nil, fmt.Errorf("claims: %w", err)
	}
	return header, claims, nil
}

// ClaimString returns a string claim of a compact JWT's payload, read
// without verification; "" when the token is not a JWT or has no such
// claim. Padding on the payload is tolerated.
func ClaimString(tok, claim string) string {
	if len(tok) > MaxTokenLen {
		return ""
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[claim], &s) != nil {
		return ""
	}
	return s
}
