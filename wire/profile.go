package wire

import (
	"errors"
	"fmt"
)

// Profile selects the AAuth wire generation. The zero value is
// ProfileCurrent.
type Profile uint8

const (
	// ProfileCurrent speaks AAuth draft -11 (published 2026-09-25) over
	// HTTP Signature Keys -08/-09, as @hellocoop/httpsig 2.x does.
	ProfileCurrent Profile = iota
	// ProfileSeed reproduces @aauth/mcp-agent 0.8.1 (April 2026: AAuth
	// -01 over Signature Keys -05, @hellocoop/httpsig 1.x) byte for byte.
	ProfileSeed
)

// String returns "current" or "seed".
func (p Profile) String() string {
	switch p {
	case ProfileCurrent:
		return "current"
	case ProfileSeed:
		return "seed"
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// ParseProfile turns "current" or "seed" into a Profile.
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "current", "":
		return ProfileCurrent, nil
	case "seed":
		return ProfileSeed, nil
	}
	return 0, fmt.Errorf("aauth: unknown profile %q (want current or seed)", s)
}

// ErrUnknownProfile is returned when a Profile value is neither
// ProfileCurrent nor ProfileSeed.
var ErrUnknownProfile = errors.New("aauth: unknown profile")
