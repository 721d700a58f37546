package r3

import (
	"errors"
	"strconv"
	"strings"
)

// The problem codes (the error member of an RFC 9457 body, with status
// 403) of a resource refusing a call under R3. R3 -02 says a resource
// rejects a call matching neither grant claim (§Resource Enforcement)
// without naming a status or code; these are this module's, shared by its
// resource and its agent.
const (
	// ProblemOperationNotGranted: the call is in neither r3_granted nor
	// r3_per_call, or a per-call token was presented for another call.
	ProblemOperationNotGranted = "operation_not_granted"
	// ProblemPerCallBatch: a batch holds a call that needs a per-call
	// approval; one approval binds one call, so it must be sent alone.
	ProblemPerCallBatch = "per_call_batch"
	// ProblemParametersMismatch: a per-call token was presented with
	// other arguments than those approved.
	ProblemParametersMismatch = "parameters_mismatch"
	// ProblemPerCallConsumed: the approved call ran already, under
	// another per-call token (or was held and must be polled).
	ProblemPerCallConsumed = "per_call_consumed"
	// ProblemInvalidGrant: the auth token's R3 claims are malformed, or
	// name operations outside the document they were drawn from: the
	// issuer's fault, which a new challenge would not mend.
	ProblemInvalidGrant = "invalid_grant"
)

// CodePerCallDenied is OperationError.Code when the person server did not
// approve a per-call invocation.
const CodePerCallDenied = "per_call_denied"

// Sentinels for OperationError, matched with errors.Is by Code.
var (
	ErrOperationNotGranted = errors.New("aauth: r3: operation not granted")
	ErrPerCallBatch        = errors.New("aauth: r3: a per-call operation in a batch")
	ErrParametersMismatch  = errors.New("aauth: r3: parameters differ from the approved call")
	ErrPerCallConsumed     = errors.New("aauth: r3: the approved call ran already")
	ErrInvalidGrant        = errors.New("aauth: r3: invalid grant")
	ErrPerCallDenied       = errors.New("aauth: r3: per-call approval not given")
)

var problemSentinel = map[string]error{
	ProblemOperationNotGranted: ErrOperationNotGranted,
	ProblemPerCallBatch:        ErrPerCallBatch,
	ProblemParametersMismatch:  ErrParametersMismatch,
	ProblemPerCallConsumed:     ErrPerCallConsumed,
	ProblemInvalidGrant:        ErrInvalidGrant,
	CodePerCallDenied:          ErrPerCallDenied,
}

// IsRefusal reports whether code is one of the Problem… codes.
func IsRefusal(code string) bool {
	_, ok := problemSentinel[code]
	return ok && code != CodePerCallDenied
}

// OperationError is an operation an agent could not invoke under R3: the
// resource refused it (StatusCode 403 and one of the Problem… codes), or
// the person server did not approve the per-call invocation (Code
// CodePerCallDenied, Err the person server's answer). errors.Is matches
// the sentinel of its Code (ErrOperationNotGranted, …) and whatever Err
// matches.
type OperationError struct {
	// Vocabulary and Operations name the operations the request invoked,
	// when the agent could tell (an MCP tools/call); empty otherwise.
	Vocabulary string
	Operations []Operation

	// StatusCode is the resource's status; 0 when the person server
	// refused.
	StatusCode int

	// Code is the resource's problem code, or CodePerCallDenied.
	Code string

	// Err is the underlying failure, such as the person server's refusal.
	Err error
}

// Error returns "aauth: r3: <what> (<operations>)[: <cause>]". The
// operations are the agent's own request's; nothing the resource said is
// repeated.
func (e *OperationError) Error() string {
	var b strings.Builder
	b.WriteString("aauth: r3: ")
	switch s := problemSentinel[e.Code]; {
	case s != nil:
		b.WriteString(strings.TrimPrefix(s.Error(), "aauth: r3: "))
	case e.StatusCode != 0:
		b.WriteString("refused with status " + strconv.Itoa(e.StatusCode))
	default:
		b.WriteString("operation refused")
	}
	if len(e.Operations) > 0 {
		b.WriteString(" (")
		for i, op := range e.Operations {
			if i > 0 {
				b.WriteString(", ")
			}
			if i == 4 {
				b.WriteString("…")
				break
			}
			name := op.String()
			if len(name) > 64 {
				name = name[:64]
			}
			b.WriteString(strconv.Quote(name))
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "aauth: "))
	}
	return b.String()
}

// Unwrap returns Err.
func (e *OperationError) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's Code.
func (e *OperationError) Is(target error) bool {
	s, ok := problemSentinel[e.Code]
	return ok && target == s
}
