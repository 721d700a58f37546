package r3

import (
	"errors"
	"strconv"
	"strings"
)

// Code names what is wrong with R3 input. It is the stable part of an
// *Error: match it with errors.Is against the Err… values below, or read
// it after errors.As.
type Code string

// The codes an *Error carries.
const (
	CodeTooLarge          Code = "too_large"          // over a size, count or depth limit
	CodeSyntax            Code = "syntax"             // not JSON, not UTF-8, or trailing data
	CodeDuplicateMember   Code = "duplicate_member"   // an object names a member twice
	CodeAmbiguousMember   Code = "ambiguous_member"   // two member names differ only in case
	CodeInvalid           Code = "invalid"            // a member is missing, empty or of the wrong type
	CodeUnknownVocabulary Code = "unknown_vocabulary" // a urn:aauth:vocabulary: URI R3 -02 does not define
	CodeVocabulary        Code = "vocabulary"         // vocabularies that should agree do not
	CodeNotCovered        Code = "not_covered"        // an operation outside the set it must come from
	CodeMismatch          Code = "mismatch"           // a call's parameters differ from its proposal
	CodeHashMismatch      Code = "hash_mismatch"      // document bytes do not hash to r3_s256
)

// Error reports R3 input that cannot be used: an R3 document, an operation
// set from a token, a JSON-RPC body or a parameter comparison. Its message
// names where the problem is (Path, a JSON path such as
// "operations[2].tool") but never quotes values, which come from peers.
type Error struct {
	Code   Code
	Path   string // where in the input, when known
	Detail string // a few words, no peer-supplied values
	Err    error  // an underlying error, such as a JSON syntax error
}

// Sentinel errors, one per Code. errors.Is(err, ErrUnknownVocabulary) is
// true for every *Error with that Code.
var (
	ErrTooLarge          = &Error{Code: CodeTooLarge}
	ErrSyntax            = &Error{Code: CodeSyntax}
	ErrDuplicateMember   = &Error{Code: CodeDuplicateMember}
	ErrAmbiguousMember   = &Error{Code: CodeAmbiguousMember}
	ErrInvalid           = &Error{Code: CodeInvalid}
	ErrUnknownVocabulary = &Error{Code: CodeUnknownVocabulary}
	ErrVocabulary        = &Error{Code: CodeVocabulary}
	ErrNotCovered        = &Error{Code: CodeNotCovered}
	ErrMismatch          = &Error{Code: CodeMismatch}
	ErrHashMismatch      = &Error{Code: CodeHashMismatch}
)

var codeText = map[Code]string{
	CodeTooLarge:          "too large",
	CodeSyntax:            "not valid JSON",
	CodeDuplicateMember:   "duplicate member name",
	CodeAmbiguousMember:   "member names differ only in case",
	CodeInvalid:           "invalid",
	CodeUnknownVocabulary: "unknown vocabulary",
	CodeVocabulary:        "vocabulary mismatch",
	CodeNotCovered:        "operation not covered",
	CodeMismatch:          "parameters do not match the proposal",
	CodeHashMismatch:      "document does not match r3_s256",
}

// Error returns "aauth: r3: <path>: <what>".
func (e *Error) Error() string {
	s := "aauth: r3: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	if t, ok := codeText[e.Code]; ok {
		s += t
	} else {
		s += string(e.Code)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code and no Path or
// Detail of its own (one of the Err… sentinels).
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) || t == nil {
		return false
	}
	return t.Path == "" && t.Detail == "" && t.Err == nil && t.Code == e.Code
}

func errAt(code Code, path, detail string) *Error {
	return &Error{Code: code, Path: path, Detail: detail}
}

// join builds a JSON path: join("operations", 2, "tool") is
// "operations[2].tool".
func join(base string, parts ...any) string {
	s := base
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			s += "[" + strconv.Itoa(v) + "]"
		case string:
			switch {
			case strings.HasPrefix(v, `"`):
				s += "[" + v + "]" // a quoted name from a peer
			case s == "":
				s = v
			default:
				s += "." + v
			}
		}
	}
	return s
}
