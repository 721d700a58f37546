// Package wire reads and writes the AAuth wire: the two wire generations
// (Profile), every AAuth header value, and problem details.
//
// Parsers are liberal where the deployed generations differ and strict
// where a value could mislead: every header value is bounded, every parser
// goes through RFC 9651 structured fields, and errors never quote a token.
// Formatters write the bytes the reference implementations write.
//
// It imports no other package of this module except internal leaf helpers
// (internal/safetext, internal/httpx, internal/jsonx), which import nothing
// of this module.
package wire
