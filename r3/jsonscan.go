package r3

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanLimits bound one strict walk over untrusted JSON.
type scanLimits struct {
	maxDepth  int  // nesting of objects and arrays
	maxTokens int  // every delimiter, name and value counts
	foldCheck bool // refuse member names that differ only in case
}

// scanFrame is one open object or array during scanStrict.
type scanFrame struct {
	object bool
	names  map[string]struct{}
	folded map[string]struct{}
	path   string
	index  int  // array: index of the next element
	key    bool // object: the next token is a member name
}

// done records that a complete value was read inside f.
func (f *scanFrame) done() {
	if f.object {
		f.key = true
	} else {
		f.index++
	}
}

// scanStrict walks data once and refuses what two JSON parsers could read
// differently: invalid UTF-8, a duplicate member name (Go keeps the last,
// others the first), trailing data, and, with foldCheck, member names equal
// under Unicode case folding (Go's encoding/json matches struct fields
// case-insensitively, so {"name":"a","Name":"b"} means "b" to a Go handler
// whatever it means to us). It also bounds depth and size, so the decoding
// that follows cannot be made expensive.
func scanStrict(data []byte, lim scanLimits) error {
	if !utf8.Valid(data) {
		return errAt(CodeSyntax, "", "invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*scanFrame
	tokens := 0
	cur := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1].path
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 {
				return errAt(CodeSyntax, cur(), "unexpected end")
			}
			if tokens == 0 {
				return errAt(CodeSyntax, "", "empty input")
			}
			return nil
		}
		if err != nil {
			return &Error{Code: CodeSyntax, Path: cur(), Err: err}
		}
		tokens++
		if tokens > lim.maxTokens {
			return errAt(CodeTooLarge, cur(), "too many JSON values")
		}
		if len(stack) == 0 && tokens > 1 {
			return errAt(CodeSyntax, "", "data after the JSON value")
		}
		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		d, isDelim := tok.(json.Delim)
		if isDelim && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].done()
			}
			continue
		}
		if top != nil && top.object && top.key {
			name, _ := tok.(string) // the decoder only yields strings here
			if _, dup := top.names[name]; dup {
				return errAt(CodeDuplicateMember, join(top.path, memberPath(name)), "")
			}
			top.names[name] = struct{}{}
			if lim.foldCheck {
				f := foldKey(name)
				if _, dup := top.folded[f]; dup {
					return errAt(CodeAmbiguousMember, join(top.path, memberPath(name)), "")
				}
				top.folded[f] = struct{}{}
			}
			top.key = false
			continue
		}
		switch {
		case isDelim:
			if len(stack) >= lim.maxDepth {
				return errAt(CodeTooLarge, cur(), "nested too deeply")
			}
			p := ""
			if top != nil {
				p = top.path
				if !top.object {
					p = join(p, top.index)
				}
			}
			f := &scanFrame{object: d == '{', path: p}
			if f.object {
				f.names = map[string]struct{}{}
				if lim.foldCheck {
					f.folded = map[string]struct{}{}
				}
				f.key = true
			}
			stack = append(stack, f)
		default:
			if top != nil {
				top.done()
			}
		}
	}
}

// foldKey maps s to a key that is equal for two strings exactly when
// strings.EqualFold says they are equal: every rune becomes the smallest
// rune of its simple case-folding orbit (so "K", "k" and the Kelvin sign
// all map to "K").
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < m {
				m = f
			}
		}
		b.WriteRune(m)
	}
	return b.String()
}

// memberPath renders a member name from a peer for an error path: quoted
// when it is not a plain identifier, and cut short when long, so an error
// message stays one bounded line.
func memberPath(name string) string {
	plain := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c == '-' || c == '.' || c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			plain = false
			break
		}
	}
	const max = 48
	if plain && len(name) <= max {
		return name
	}
	if len(name) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return strconv.Quote(name[:cut]) + "…"
	}
	return strconv.Quote(name)
}
