package r3

import (
	"encoding/json"
)

// Limits on what this package reads. R3 names none; these are generous
// for real documents (an MCP server with a thousand tools is about 40 KB)
// and small enough that a hostile peer cannot make a reader buffer or
// recurse without bound.
const (
	// MaxDocumentSize bounds an R3 document, an operation set and a
	// per-call proposal, in bytes.
	MaxDocumentSize = 256 << 10
	// MaxOperations bounds the operations of one document or set.
	MaxOperations = 1000
	// MaxIdentifierLen bounds a vocabulary URI and each operation member
	// (tool name, operationId, …), in bytes.
	MaxIdentifierLen = 1024
	// MaxDepth bounds the nesting of objects and arrays, parameters
	// included.
	MaxDepth = 64
	// MaxParameters bounds the members of a proposal's parameters.
	MaxParameters = 1000
)

const maxListLen = 64 // OData methods

// docScan are the strict-scan limits for documents and operation sets.
var docScan = scanLimits{maxDepth: MaxDepth, maxTokens: MaxDocumentSize / 2}

// Document is an R3 document (R3 §R3 Document), or, when Parameters is not
// nil, a per-call proposal (R3 §Per-Call Proposals): the same structure
// carrying one call's concrete parameters.
//
// A Document is the parsed view. Its identity is the exact bytes it was
// served as; see Encoded for those and their r3_s256.
type Document struct {
	// Vocabulary is the vocabulary URI the operations are expressed in
	// (REQUIRED).
	Vocabulary string
	// Operations are the operations the document covers (REQUIRED,
	// non-empty; exactly one in a proposal).
	Operations []Operation
	// Account echoes the authorization request's account (OPTIONAL).
	Account string
	// Display is the human-readable description (RECOMMENDED).
	Display *Display
	// Parameters are a proposal's call parameters, member name to JSON
	// value; an inline value or a digest object (see Digest). Nil for a
	// class document; a proposal of a call without arguments has an empty,
	// non-nil map.
	Parameters map[string]json.RawMessage
	// Extra keeps members R3 -02 does not define (such as the version
	// member -02 removed), as JSON text.
	Extra map[string]json.RawMessage
}

// Display is an R3 document's human-readable part (R3 §Fields, and
// §Proposal Document for Detail). Every value is Markdown or plain text
// written by the resource, and may carry a caller's parameters: sanitize
// before rendering.
type Display struct {
	Summary      string // REQUIRED when Display is present
	Implications string
	DataAccessed string // data_accessed
	Irreversible string
	Detail       string                     // proposals: per-call Markdown
	Extra        map[string]json.RawMessage // members R3 does not define
}

// IsProposal reports whether d is a per-call proposal: R3 -02 marks one
// only by its REQUIRED parameters object.
func (d *Document) IsProposal() bool { return d.Parameters != nil }

// OperationSet returns d's vocabulary and operations.
func (d *Document) OperationSet() OperationSet {
	return OperationSet{Vocabulary: d.Vocabulary, Operations: d.Operations}
}

// Parse reads an R3 document or per-call proposal.
//
// It is strict where a lax reading could be exploited or would hide a
// broken peer: at most MaxDocumentSize bytes, valid UTF-8 JSON with no
// duplicate member names and no trailing data, a top-level object with a
// vocabulary that R3 -02 defines or a third-party URI, a non-empty
// operations array whose entries carry the members their vocabulary
// requires, parameters (when present) an object, and a proposal naming
// exactly one operation. It is liberal where R3 leaves room: members it
// does not define are kept in Extra, display may be absent, and a display
// without a summary is kept (the summary is REQUIRED of the resource, and
// a consent screen can still show the rest).
//
// Parse does not check r3_s256; hash the bytes with S256 and compare
// before trusting them.
func Parse(data []byte) (*Document, error) {
	m, err := decodeObject(data, "")
	if err != nil {
		return nil, err
	}
	set, err := parseSet(m, "")
	if err != nil {
		return nil, err
	}
	d := &Document{Vocabulary: set.Vocabulary, Operations: set.Operations}
	for name, v := range m {
		switch name {
		case "vocabulary", "operations":
		case "account":
			if err := json.Unmarshal(v, &d.Account); err != nil {
				return nil, errAt(CodeInvalid, "account", "not a string")
			}
		case "display":
			if string(v) == "null" {
				continue // liberal: as if absent
			}
			disp, err := parseDisplay(v)
			if err != nil {
				return nil, err
			}
			d.Display = disp
		case "parameters":
			var p map[string]json.RawMessage
			if err := json.Unmarshal(v, &p); err != nil || p == nil {
				return nil, errAt(CodeInvalid, "parameters", "not an object")
			}
			if len(p) > MaxParameters {
				return nil, errAt(CodeTooLarge, "parameters", "")
			}
			d.Parameters = p
		default:
			if d.Extra == nil {
				d.Extra = map[string]json.RawMessage{}
			}
			d.Extra[name] = v
		}
	}
	if d.IsProposal() && len(d.Operations) != 1 {
		return nil, errAt(CodeInvalid, "operations", "a proposal names exactly one operation")
	}
	return d, nil
}

func parseDisplay(raw json.RawMessage) (*Display, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errAt(CodeInvalid, "display", "not an object")
	}
	d := &Display{}
	for name, v := range m {
		f := d.field(name)
		if f == nil {
			if d.Extra == nil {
				d.Extra = map[string]json.RawMessage{}
			}
			d.Extra[name] = v
			continue
		}
		if err := json.Unmarshal(v, f); err != nil {
			return nil, errAt(CodeInvalid, join("display", name), "not a string")
		}
	}
	return d, nil
}

// field returns the string a display member fills, or nil.
func (d *Display) field(name string) *string {
	switch name {
	case "summary":
		return &d.Summary
	case "implications":
		return &d.Implications
	case "data_accessed":
		return &d.DataAccessed
	case "irreversible":
		return &d.Irreversible
	case "detail":
		return &d.Detail
	}
	return nil
}

// displayOrder is the order Encode writes display members in.
var displayOrder = []string{"summary", "implications", "data_accessed", "irreversible", "detail"}

// decodeObject reads untrusted JSON that must be an object: at most
// MaxDocumentSize bytes, strictly scanned (see scanStrict), and split into
// its members with their names exactly as sent (encoding/json would match
// struct fields case-insensitively).
func decodeObject(data []byte, path string) (map[string]json.RawMessage, error) {
	if len(data) > MaxDocumentSize {
		return nil, errAt(CodeTooLarge, path, "")
	}
	if err := scanStrict(data, docScan); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		return nil, errAt(CodeInvalid, path, "not a JSON object")
	}
	return m, nil
}
