package psclient

import (
	"errors"
	"strings"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// Errors about the state of a mission. A *MissionError matches one of them
// with errors.Is.
var (
	// ErrMissionTerminated: the mission has ended (403 mission_terminated,
	// or its expires_at has passed, or its completion was accepted). The
	// agent must stop acting on it; MissionError.Reason says why.
	ErrMissionTerminated = errors.New("aauth: mission terminated")

	// ErrMissionNotFound: the person server knows no such mission of
	// this agent (404 mission_not_found).
	ErrMissionNotFound = errors.New("aauth: mission not found")
)

// TerminationReason says why a mission ended. The set is open: a reason
// not listed here is kept as it came, as an opaque value, and the mission
// is terminated all the same.
type TerminationReason string

// The termination reasons AAuth defines.
const (
	TerminationCompleted      TerminationReason = "completed"      // the person accepted the agent's completion
	TerminationRevoked        TerminationReason = "revoked"        // withdrawn; do not propose it again
	TerminationExpired        TerminationReason = "expired"        // its expires_at passed; a new proposal is welcome
	TerminationSuperseded     TerminationReason = "superseded"     // replaced by another approved mission
	TerminationAdministrative TerminationReason = "administrative" // ended by an administrator
)

// Mission error codes, as the person server writes them in "error".
const (
	codeMissionTerminated = "mission_terminated"
	codeMissionNotFound   = "mission_not_found"
)

// MissionError is a mission that can no longer be acted on: the person
// server answered mission_terminated or mission_not_found to a request
// that named it (any endpoint taking mission_s256, or the mission's own
// URL), or the agent found it ended by itself (its expires_at passed, its
// completion was accepted). errors.Is matches ErrMissionTerminated or
// ErrMissionNotFound.
type MissionError struct {
	// MissionS256 is the mission concerned, when known.
	MissionS256 string

	// NotFound is set for mission_not_found; otherwise the mission is
	// terminated.
	NotFound bool

	// Reason is the termination_reason, when one was given. An unknown
	// value is kept as it came (shortened, without control characters).
	Reason TerminationReason

	// Detail is the server's explanation, shortened and cleaned.
	Detail string

	// Err is the failure that carried the answer (an *ExchangeError, a
	// *RequestError or a *PollError), or nil when the agent found the
	// mission ended by itself.
	Err error
}

// Error describes the mission's state without any token value.
func (e *MissionError) Error() string {
	var b strings.Builder
	b.WriteString("aauth: mission")
	if e.MissionS256 != "" {
		b.WriteString(" ")
		b.WriteString(missionShort(e.MissionS256))
	}
	if e.NotFound {
		b.WriteString(" not found")
	} else {
		b.WriteString(" terminated")
		if e.Reason != "" {
			b.WriteString(" (")
			b.WriteString(string(e.Reason))
			b.WriteString(")")
		}
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Is matches ErrMissionNotFound or ErrMissionTerminated.
func (e *MissionError) Is(target error) bool {
	if e.NotFound {
		return target == ErrMissionNotFound
	}
	return target == ErrMissionTerminated
}

// Unwrap returns Err.
func (e *MissionError) Unwrap() error { return e.Err }

// missionErrorOf reads an error body for the mission error codes: nil
// unless its "error" member is mission_terminated or mission_not_found.
// The code decides, whatever the status: AAuth receivers act on the error
// member. s256 names the mission, when the request named one.
func missionErrorOf(p *wire.Problem, s256 string) *MissionError {
	if p == nil {
		return nil
	}
	e := &MissionError{MissionS256: s256, Detail: safetext.Clean(p.Description(), 256)}
	switch p.Error {
	case codeMissionTerminated:
		if r, ok := p.Extensions["termination_reason"].(string); ok {
			e.Reason = TerminationReason(safetext.Clean(r, 64))
		}
	case codeMissionNotFound:
		e.NotFound = true
	default:
		return nil
	}
	return e
}
