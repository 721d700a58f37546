package r3

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"
)

// Encoded is an R3 document serialised once: the bytes a resource serves
// verbatim at its r3_uri for as long as the URI lives, and their r3_s256.
// R3 has no canonicalisation step (§Content Addressing): these bytes are
// the document. Do not modify Bytes or Document.
type Encoded struct {
	Document *Document
	Bytes    []byte
	S256     string // base64url (no padding) SHA-256 of Bytes
}

// S256 returns the R3 hash of data: the unpadded base64url encoding of its
// SHA-256 (R3 §Terminology, r3_s256).
func S256(data []byte) string {
	sum := sha256.Sum256(data)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Verify checks that data hashes to s256 and parses it: what an access
// server or person server does with a fetched R3 document (R3 §AS
// Processing steps 2–3). A mismatch gives ErrHashMismatch and nothing is
// parsed.
func Verify(data []byte, s256 string) (*Document, error) {
	got := S256(data)
	if subtle.ConstantTimeCompare([]byte(got), []byte(s256)) != 1 {
		return nil, &Error{Code: CodeHashMismatch}
	}
	return Parse(data)
}

// Encode checks d and serialises it deterministically: compact JSON, R3's
// members in the order vocabulary, operations, parameters, account,
// display, then members from Extra by name; operation and display members
// in R3's order, then their Extra by name; parameters by name. Equal
// documents therefore encode to equal bytes and the same r3_s256, which is
// what lets a resource reuse a composed document (R3 §Operations Spanning
// Multiple Definitions).
//
// The checks are Parse's, plus: a display has a summary (R3 §Fields), and
// the result fits MaxDocumentSize.
func Encode(d *Document) (*Encoded, error) {
	if err := d.validate(); err != nil {
		return nil, err
	}
	var b []byte
	b = append(b, `{"vocabulary":`...)
	b = appendString(b, d.Vocabulary)
	b = append(b, `,"operations":`...)
	b = appendOperations(b, d.Operations, d.Vocabulary)
	if d.Parameters != nil {
		b = append(b, `,"parameters":{`...)
		for i, k := range sortedKeys(d.Parameters) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendCompact(b, d.Parameters[k])
		}
		b = append(b, '}')
	}
	if d.Account != "" {
		b = append(b, `,"account":`...)
		b = appendString(b, d.Account)
	}
	if d.Display != nil {
		b = append(b, `,"display":{`...)
		first := true
		for _, name := range displayOrder {
			v := *d.Display.field(name)
			if v == "" {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, name)
			b = append(b, ':')
			b = appendString(b, v)
		}
		for _, name := range sortedKeys(d.Display.Extra) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendString(b, name)
			b = append(b, ':')
			b = appendCompact(b, d.Display.Extra[name])
		}
		b = append(b, '}')
	}
	for _, name := range sortedKeys(d.Extra) {
		b = append(b, ',')
		b = appendString(b, name)
		b = append(b, ':')
		b = appendCompact(b, d.Extra[name])
	}
	b = append(b, '}')
	if len(b) > MaxDocumentSize {
		return nil, errAt(CodeTooLarge, "", "encoded document")
	}
	// What Parse would refuse (depth, duplicate members inside a raw
	// value) must not be published.
	if err := scanStrict(b, docScan); err != nil {
		return nil, err
	}
	cp := *d
	return &Encoded{Document: &cp, Bytes: b, S256: S256(b)}, nil
}

// validate checks d before Encode writes it.
func (d *Document) validate() error {
	if err := d.OperationSet().Validate(); err != nil {
		return err
	}
	if d.Parameters != nil {
		if len(d.Operations) != 1 {
			return errAt(CodeInvalid, "operations", "a proposal names exactly one operation")
		}
		if len(d.Parameters) > MaxParameters {
			return errAt(CodeTooLarge, "parameters", "")
		}
		for k, v := range d.Parameters {
			if !json.Valid(v) {
				return errAt(CodeInvalid, join("parameters", memberPath(k)), "not JSON")
			}
		}
	}
	if d.Display != nil {
		if d.Display.Summary == "" {
			return errAt(CodeInvalid, "display.summary", "missing")
		}
		for k, v := range d.Display.Extra {
			if d.Display.field(k) != nil {
				return errAt(CodeInvalid, join("display", k), "set in Extra too")
			}
			if !json.Valid(v) {
				return errAt(CodeInvalid, join("display", memberPath(k)), "not JSON")
			}
		}
	}
	for k, v := range d.Extra {
		switch k {
		case "vocabulary", "operations", "parameters", "account", "display":
			return errAt(CodeInvalid, k, "set in Extra too")
		}
		if !json.Valid(v) {
			return errAt(CodeInvalid, memberPath(k), "not JSON")
		}
	}
	return nil
}

// appendString appends s as a JSON string. Like encoding/json it escapes
// control characters, U+2028 and U+2029, and writes U+FFFD for invalid
// UTF-8; unlike it, it leaves <, > and & alone, as JavaScript's
// JSON.stringify does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
