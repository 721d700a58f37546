package jsonx

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Object writes a compact JSON object with members in the order they are
// added, strings escaped as JavaScript's JSON.stringify escapes them, so
// seed-profile bodies match the reference byte for byte. The zero value is
// an empty object.
type Object struct{ b []byte }

func (o *Object) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = AppendJSString(o.b, k)
	o.b = append(o.b, ':')
}

// Str adds a string member unless v is empty (as the seed's truthiness
// checks do).
func (o *Object) Str(k, v string) {
	if v != "" {
		o.StrAlways(k, v)
	}
}

// StrAlways adds a string member, empty or not.
func (o *Object) StrAlways(k, v string) {
	o.key(k)
	o.b = AppendJSString(o.b, v)
}

// Strs adds an array of strings unless it is empty.
func (o *Object) Strs(k string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = AppendJSString(o.b, s)
	}
	o.b = append(o.b, ']')
}

// Raw adds a member whose value is already JSON.
func (o *Object) Raw(k string, v []byte) {
	o.key(k)
	o.b = append(o.b, v...)
}

// Bytes returns the object written so far, closed.
func (o *Object) Bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// AppendJSString appends s as a JSON string the way JSON.stringify writes
// it: only ", \ and control characters are escaped (\b \f \n \r \t short,
// the rest \u00xx in lower case); everything else, U+2028 and U+2029
// included, is literal. Invalid UTF-8 becomes U+FFFD.
func AppendJSString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			// range over a string yields U+FFFD for invalid UTF-8.
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// DecodeAny decodes raw (already known to be valid JSON) keeping numbers
// exact, as json.Number.
func DecodeAny(raw json.RawMessage) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}
