package r3

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanLimits bound one strict walk over untrusted JSON.
type scanLimits struct {
	maxDepth  int  // nesting of objects and arrays
	maxTokens int  // every name and value counts
	foldCheck bool // refuse member names that differ only in case
}

// scanStrict checks data once, without building anything, and refuses
// what two JSON parsers could read differently: invalid UTF-8, a duplicate
// member name (Go keeps the last, others the first), trailing data, and,
// with foldCheck, member names equal under Unicode case folding (Go's
// encoding/json matches struct fields case-insensitively, so
// {"name":"a","Name":"b"} means "b" to a Go handler whatever it means to
// us). It validates the JSON grammar itself and bounds depth and size, so
// the decoding that follows cannot be made expensive.
func scanStrict(data []byte, lim scanLimits) error {
	if !utf8.Valid(data) {
		return errAt(CodeSyntax, "", "invalid UTF-8")
	}
	s := scanner{data: data, lim: lim}
	s.ws()
	if s.pos == len(data) {
		return errAt(CodeSyntax, "", "empty input")
	}
	if err := s.value(); err != nil {
		return err
	}
	s.ws()
	if s.pos != len(data) {
		return errAt(CodeSyntax, "", "data after the JSON value")
	}
	return nil
}

// scanner is one scanStrict walk. path holds, per open object or array,
// the member name or index being read, and is rendered only for errors.
type scanner struct {
	data   []byte
	pos    int
	lim    scanLimits
	tokens int
	path   []pathElem
}

type pathElem struct {
	name  []byte
	index int
	isKey bool
}

func (s *scanner) where() string {
	p := ""
	for _, e := range s.path {
		if e.isKey {
			p = join(p, memberPath(string(e.name)))
		} else {
			p = join(p, e.index)
		}
	}
	return p
}

func (s *scanner) fail(code Code, detail string) error {
	return errAt(code, s.where(), detail)
}

func (s *scanner) syntax() error {
	if s.pos >= len(s.data) {
		return s.fail(CodeSyntax, "unexpected end")
	}
	return s.fail(CodeSyntax, "unexpected character at offset "+strconv.Itoa(s.pos))
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value() error {
	s.tokens++
	if s.tokens > s.lim.maxTokens {
		return s.fail(CodeTooLarge, "too many JSON values")
	}
	if s.pos >= len(s.data) {
		return s.syntax()
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object()
	case c == '[':
		return s.array()
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return s.syntax()
}

func (s *scanner) literal(lit string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return s.syntax()
	}
	s.pos += len(lit)
	return nil
}

// number checks the JSON number grammar.
func (s *scanner) number() error {
	d := s.data
	if d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && d[s.pos] >= '1' && d[s.pos] <= '9':
		s.digits()
	default:
		return s.syntax()
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.syntax()
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.syntax()
		}
	}
	return nil
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// str reads a string at s.pos and returns its raw content (between the
// quotes) and whether it has escapes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	d := s.data
	start := s.pos + 1
	for i := start; i < len(d); i++ {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return d[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				s.pos = i + 1
				return nil, false, s.syntax()
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(d) || !isHex4(d[i+2:i+6]) {
					s.pos = i
					return nil, false, s.syntax()
				}
				i += 5
			default:
				s.pos = i
				return nil, false, s.syntax()
			}
		case c < 0x20:
			s.pos = i
			return nil, false, s.syntax()
		}
	}
	s.pos = len(d)
	return nil, false, s.syntax()
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (s *scanner) open() error {
	if len(s.path) >= s.lim.maxDepth {
		return s.fail(CodeTooLarge, "nested too deeply")
	}
	return nil
}

func (s *scanner) array() error {
	if err := s.open(); err != nil {
		return err
	}
	s.pos++ // [
	s.path = append(s.path, pathElem{})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		s.path[len(s.path)-1].index = i
		s.ws()
		if err := s.value(); err != nil {
			return err
		}
		if done, err := s.separator(']'); done || err != nil {
			return err
		}
	}
}

// separator steps past what follows an element or a member: a comma, or
// end, which closes the container (done). Anything else is a syntax error.
func (s *scanner) separator(end byte) (done bool, err error) {
	s.ws()
	if s.pos >= len(s.data) {
		return false, s.syntax()
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case end:
		s.pos++
		return true, nil
	}
	return false, s.syntax()
}

// smallObject is the member count up to which names are compared in a
// slice rather than a map: most objects are small, and this keeps the
// common walk allocation-free.
const smallObject = 16

func (s *scanner) object() error {
	if err := s.open(); err != nil {
		return err
	}
	s.pos++ // {
	s.path = append(s.path, pathElem{isKey: true})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	var small [smallObject][]byte
	names := small[:0]
	var seen, folded map[string]struct{}
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.syntax()
		}
		name, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped {
			// Rare: let encoding/json apply its own unescaping, so the
			// name compared is the name a Go decoder sees.
			var n string
			if json.Unmarshal(s.data[s.pos-len(name)-2:s.pos], &n) != nil {
				return s.syntax()
			}
			name = []byte(n)
		}
		s.path[len(s.path)-1].name = name
		// Duplicates, exact and (with foldCheck) case-folded: in a slice
		// while the object is small, then in maps.
		if seen == nil && len(names) < smallObject {
			for _, n := range names {
				if bytes.Equal(n, name) {
					return s.fail(CodeDuplicateMember, "")
				}
				if s.lim.foldCheck && bytes.EqualFold(n, name) {
					return s.fail(CodeAmbiguousMember, "")
				}
			}
			names = append(names, name)
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*smallObject)
				folded = make(map[string]struct{}, 2*smallObject)
				for _, n := range names {
					seen[string(n)] = struct{}{}
					folded[foldKey(string(n))] = struct{}{}
				}
			}
			if _, dup := seen[string(name)]; dup {
				return s.fail(CodeDuplicateMember, "")
			}
			seen[string(name)] = struct{}{}
			if s.lim.foldCheck {
				f := foldKey(string(name))
				if _, dup := folded[f]; dup {
					return s.fail(CodeAmbiguousMember, "")
				}
				folded[f] = struct{}{}
			}
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.syntax()
		}
		s.pos++
		s.ws()
		if err := s.value(); err != nil {
			return err
		}
		if done, err := s.separator('}'); done || err != nil {
			return err
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

// memberPath renders a member name for an error path: bare when it is a
// name this package reads (so paths read "operations[2].tool"), and
// otherwise quoted and cut short, so that a peer's name can neither look
// like part of the message (a member named "aauth" would read as a second
// "aauth: " prefix) nor make it long.
func memberPath(name string) string {
	if knownMembers[name] {
		return name
	}
	const max = 48
	if len(name) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return strconv.Quote(name[:cut]) + "…"
	}
	return strconv.Quote(name)
}

// knownMembers are the member names R3, the Budgets draft and JSON-RPC
// define, which paths show bare.
var knownMembers = map[string]bool{
	"vocabulary": true, "operations": true, "parameters": true, "account": true, "display": true,
	"summary": true, "implications": true, "data_accessed": true, "irreversible": true, "detail": true,
	"tool": true, "operationId": true, "method": true, "operation": true, "type": true, "action": true,
	"service": true, "methods": true, "s256": true, "excerpt": true, "media_type": true,
	"r3_uri": true, "r3_s256": true, "r3_granted": true, "r3_per_call": true, "r3_operations": true,
	"r3_vocabularies": true, "budget": true, "amount": true, "unit": true, "decimals": true,
	"jsonrpc": true, "id": true, "params": true, "result": true, "error": true, "name": true,
	"arguments": true, "_meta": true, "tools": true,
}

// rawMember is one member of an object: its name as a Go decoder reads it,
// and its value's exact text.
type rawMember struct {
	name  string
	value []byte
}

// objectMembers splits a JSON object that scanStrict has accepted into its
// members without decoding the values. ok is false for anything that is
// not an object.
func objectMembers(data []byte) (out []rawMember, ok bool) {
	s := scanner{data: data, lim: scanLimits{maxDepth: 1 << 30, maxTokens: 1 << 30}}
	s.ws()
	if s.pos >= len(data) || data[s.pos] != '{' {
		return nil, false
	}
	s.pos++
	for {
		s.ws()
		if s.pos >= len(data) || data[s.pos] == '}' {
			return out, true
		}
		if data[s.pos] == ',' {
			s.pos++
			s.ws()
		}
		raw, escaped, err := s.str()
		if err != nil {
			return out, true
		}
		name := string(raw)
		if escaped {
			_ = json.Unmarshal(data[s.pos-len(raw)-2:s.pos], &name)
		}
		s.ws()
		s.pos++ // :
		s.ws()
		start := s.pos
		if s.value() != nil {
			return out, true
		}
		out = append(out, rawMember{name: name, value: data[start:s.pos]})
	}
}

// member returns the value of the named member, and whether it is there.
func member(ms []rawMember, name string) ([]byte, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}
