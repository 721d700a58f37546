package psclient

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/safetext"
)

// ErrMalformedAnswer is matched (errors.Is) by a success answer of a
// governance endpoint that does not say what the draft says it must: a
// permission that is neither granted nor denied, a question relay without
// an answer, an update without a digest. An action whose permission answer
// is malformed must not be taken.
var ErrMalformedAnswer = errors.New("aauth: malformed answer")

// PermissionDeniedError is a permission the person server refused:
// {"permission":"denied","reason":…}. The agent must not take the action.
// errors.Is matches ErrDenied, as a request denied while deferred does.
type PermissionDeniedError struct {
	// Action is the action that was asked for.
	Action string

	// Reason is the person server's explanation in Markdown, as sent
	// (empty when it gave none). Sanitize it before rendering it.
	Reason string
}

// Error says which action was denied and why, shortened and cleaned.
func (e *PermissionDeniedError) Error() string {
	s := fmt.Sprintf("aauth: permission for %q denied", missionShort(e.Action))
	if r := safetext.Clean(e.Reason, 256); r != "" {
		s += ": " + r
	}
	return s
}

// Is matches ErrDenied.
func (e *PermissionDeniedError) Is(target error) bool { return target == ErrDenied }

// parsePermission reads a permission answer (a 200, possibly at the end of
// a deferral): nil when it grants the action, a *PermissionDeniedError when
// it denies it, and an error matching ErrMalformedAnswer for anything else,
// so that only an explicit "granted" lets the action go ahead.
func parsePermission(body []byte, action string) error {
	if len(body) > httpx.MaxBodySize {
		return httpx.ErrBodyTooLarge
	}
	m, _, err := missionObject(body)
	if err != nil {
		return fmt.Errorf("%w: the permission answer is not a JSON object: %v", ErrMalformedAnswer, err)
	}
	var p string
	if json.Unmarshal(m["permission"], &p) != nil {
		return fmt.Errorf("%w: the permission answer has no permission string", ErrMalformedAnswer)
	}
	switch p {
	case "granted":
		return nil
	case "denied":
		d := &PermissionDeniedError{Action: action}
		// A reason of another type is ignored: the denial stands.
		_ = json.Unmarshal(m["reason"], &d.Reason)
		return d
	}
	return fmt.Errorf("%w: permission is %q, neither granted nor denied", ErrMalformedAnswer, missionShort(p))
}
