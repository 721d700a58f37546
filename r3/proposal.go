package r3

import (
	"bytes"
	"encoding/json"
	"io"
	"math/big"
	"strings"
	"unicode/utf8"
)

// Digest is a parameter carried by its hash instead of its value, so that a
// large or sensitive value stays between the agent and the resource (R3
// §Proposal Document, §Large and Sensitive Payloads).
type Digest struct {
	S256      string // base64url SHA-256 of the value's bytes (REQUIRED)
	Excerpt   string // a short human-readable excerpt (OPTIONAL)
	MediaType string // the value's media type (OPTIONAL)
}

// DigestBytes returns the bytes a parameter digest is computed over, for
// a JSON value as it appears in the call: a string's own UTF-8 text (what
// "the parameter value" is for text), and for any other value its JSON
// text as sent, without surrounding white space. R3 says only that the
// agent presents the value "byte-identically"; this package, which builds
// the proposals and checks the calls, fixes the rule for both ends.
func DigestBytes(value json.RawMessage) []byte {
	v := bytes.TrimSpace(value)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return []byte(s)
		}
	}
	return v
}

// ParseDigest reports whether value is a digest object: an object whose
// members are s256 (a 43-character base64url string) and, optionally,
// excerpt and media_type (strings), and nothing else.
func ParseDigest(value json.RawMessage) (Digest, bool) {
	v := bytes.TrimSpace(value)
	if len(v) == 0 || v[0] != '{' {
		return Digest{}, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return Digest{}, false
	}
	var d Digest
	for k, raw := range m {
		var f *string
		switch k {
		case "s256":
			f = &d.S256
		case "excerpt":
			f = &d.Excerpt
		case "media_type":
			f = &d.MediaType
		default:
			return Digest{}, false
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, f) != nil {
			return Digest{}, false
		}
	}
	if len(d.S256) != 43 || !isBase64URL(d.S256) {
		return Digest{}, false
	}
	return d, true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func (d Digest) appendJSON(b []byte) []byte {
	b = append(b, `{"s256":`...)
	b = appendString(b, d.S256)
	if d.Excerpt != "" {
		b = append(b, `,"excerpt":`...)
		b = appendString(b, d.Excerpt)
	}
	if d.MediaType != "" {
		b = append(b, `,"media_type":`...)
		b = appendString(b, d.MediaType)
	}
	return append(b, '}')
}

// DefaultInlineLimit is the JSON length above which NewProposal carries a
// parameter as a digest.
const DefaultInlineLimit = 1024

// defaultExcerpt is the excerpt length, in characters.
const defaultExcerpt = 64

// ProposalOptions adjust NewProposal.
type ProposalOptions struct {
	// InlineLimit is the length of a parameter's JSON text above which it
	// is carried as a digest. Zero means DefaultInlineLimit; negative
	// means every parameter is inline.
	InlineLimit int
	// DigestParam, when set, decides instead of InlineLimit: true carries
	// the named parameter as a digest (a message body, say, that the
	// person server should not see).
	DigestParam func(name string, value json.RawMessage) bool
	// ExcerptLen is the length, in characters, of a digest's excerpt;
	// zero means 64, negative means none.
	ExcerptLen int
	// Display describes the call for the person; nil gives a summary
	// naming the operation.
	Display *Display
	// Account echoes the account the grant was for, if any.
	Account string
}

// NewProposal builds the per-call proposal for one call of op (R3
// §Per-Call Proposals): a document in vocabulary naming op alone, whose
// parameters are the members of arguments, the call's JSON object exactly
// as the agent sent it (nil or null for a call without arguments).
// Parameters longer than the inline limit, those DigestParam picks, and
// any value that itself looks like a digest object (so that it cannot be
// mistaken for one) are carried as a Digest over DigestBytes.
//
// The result is checked by Encode; the caller encodes it, persists the
// bytes and challenges with a resource token naming them.
func NewProposal(vocabulary string, op Operation, arguments json.RawMessage, opts ProposalOptions) (*Document, error) {
	set := OperationSet{Vocabulary: vocabulary, Operations: []Operation{op}}
	if err := set.Validate(); err != nil {
		return nil, err
	}
	args, err := splitObject(arguments, "arguments")
	if err != nil {
		return nil, err
	}
	limit := opts.InlineLimit
	if limit == 0 {
		limit = DefaultInlineLimit
	}
	params := make(map[string]json.RawMessage, len(args.names))
	for _, name := range args.names {
		v := args.values[name]
		digest := limit > 0 && len(v) > limit
		if opts.DigestParam != nil {
			digest = opts.DigestParam(name, v)
		}
		if _, looksLike := ParseDigest(v); looksLike {
			digest = true
		}
		if !digest {
			var buf bytes.Buffer
			if err := json.Compact(&buf, v); err != nil {
				return nil, &Error{Code: CodeSyntax, Path: join("arguments", memberPath(name)), Err: err}
			}
			params[name] = buf.Bytes()
			continue
		}
		d := Digest{S256: S256(DigestBytes(v))}
		if opts.ExcerptLen >= 0 {
			n := opts.ExcerptLen
			if n == 0 {
				n = defaultExcerpt
			}
			d.Excerpt = excerpt(DigestBytes(v), n)
		}
		if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '"' {
			d.MediaType = "text/plain"
		} else {
			d.MediaType = "application/json"
		}
		params[name] = d.appendJSON(nil)
	}
	disp := opts.Display
	if disp == nil {
		disp = &Display{Summary: "Call " + op.String() + " once, with the parameters shown"}
	}
	return &Document{
		Vocabulary: vocabulary,
		Operations: []Operation{op},
		Parameters: params,
		Account:    opts.Account,
		Display:    disp,
	}, nil
}

// excerpt returns the first n characters of b (valid UTF-8 is assumed;
// invalid bytes become U+FFFD), with "…" when cut.
func excerpt(b []byte, n int) string {
	var s strings.Builder
	for i := 0; len(b) > 0; i++ {
		if i == n {
			s.WriteString("…")
			break
		}
		r, size := utf8.DecodeRune(b)
		s.WriteRune(r)
		b = b[size:]
	}
	return s.String()
}

// MatchParameters checks a call against the proposal it was approved as
// (R3 §Flow, step 3, the 401 path): the call's arguments must have exactly
// the proposal's parameter names; an inline value must be the same JSON
// value (structural equality: member order, white space and the spelling
// of a number do not count, so 1, 1.0 and 1e0 are equal); a digest must
// equal the SHA-256 of the value's DigestBytes. arguments is the call's
// JSON object as sent, or nil for none. Any difference gives ErrMismatch
// naming the parameter, never its value.
func MatchParameters(proposal map[string]json.RawMessage, arguments json.RawMessage) error {
	if len(arguments) > MaxDocumentSize {
		return errAt(CodeTooLarge, "arguments", "")
	}
	args, err := splitObject(arguments, "arguments")
	if err != nil {
		return err
	}
	for _, name := range args.names {
		if _, ok := proposal[name]; !ok {
			return errAt(CodeMismatch, join("parameters", memberPath(name)), "not in the proposal")
		}
	}
	for _, name := range sortedKeys(proposal) {
		want := proposal[name]
		got, ok := args.values[name]
		p := join("parameters", memberPath(name))
		if !ok {
			return errAt(CodeMismatch, p, "missing from the call")
		}
		if d, isDigest := ParseDigest(want); isDigest {
			if S256(DigestBytes(got)) != d.S256 {
				return errAt(CodeMismatch, p, "digest differs")
			}
			continue
		}
		eq, err := jsonEqual(want, got)
		if err != nil {
			return &Error{Code: CodeMismatch, Path: p, Err: err}
		}
		if !eq {
			return errAt(CodeMismatch, p, "value differs")
		}
	}
	return nil
}

// object is a JSON object split into its members, each as sent.
type object struct {
	names  []string
	values map[string]json.RawMessage
}

// splitObject splits a JSON object into its members, keeping each value's
// exact text (a digest is over the bytes as sent). Nil, empty or null
// input is an empty object. The input is strictly scanned first.
func splitObject(raw json.RawMessage, path string) (object, error) {
	o := object{values: map[string]json.RawMessage{}}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return o, nil
	}
	if err := scanStrict(t, docScan); err != nil {
		return o, err
	}
	if t[0] != '{' {
		return o, errAt(CodeInvalid, path, "not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return o, &Error{Code: CodeSyntax, Path: path, Err: err}
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return o, &Error{Code: CodeSyntax, Path: path, Err: err}
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return o, &Error{Code: CodeSyntax, Path: path, Err: err}
		}
		if len(o.names) >= MaxParameters {
			return o, errAt(CodeTooLarge, path, "too many members")
		}
		o.names = append(o.names, name)
		o.values[name] = v
	}
	if _, err := dec.Token(); err != nil && err != io.EOF { // }
		return o, &Error{Code: CodeSyntax, Path: path, Err: err}
	}
	return o, nil
}

// jsonEqual reports whether a and b are the same JSON value: objects with
// the same members (any order), arrays element by element, strings and
// booleans equal, numbers equal in value (compared exactly as decimals, so
// no float rounding and no big exponent arithmetic on untrusted input).
func jsonEqual(a, b json.RawMessage) (bool, error) {
	for _, v := range []json.RawMessage{a, b} {
		if err := scanStrict(bytes.TrimSpace(v), docScan); err != nil {
			return false, err
		}
	}
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	var va, vb any
	if err := da.Decode(&va); err != nil {
		return false, &Error{Code: CodeSyntax, Err: err}
	}
	if err := db.Decode(&vb); err != nil {
		return false, &Error{Code: CodeSyntax, Err: err}
	}
	return valueEqual(va, vb), nil
}

func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numberEqual(string(x), string(y))
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

// numberEqual compares two JSON number literals by value. Each becomes a
// sign, a digit string without leading or trailing zeros, and the power of
// ten of its last digit (a big.Int, so an exponent of any length is exact
// and costs only its own length).
func numberEqual(a, b string) bool {
	na, ok1 := normNumber(a)
	nb, ok2 := normNumber(b)
	if !ok1 || !ok2 {
		return a == b
	}
	return na.neg == nb.neg && na.digits == nb.digits && na.exp.Cmp(nb.exp) == 0
}

type normNum struct {
	neg    bool
	digits string
	exp    *big.Int
}

func normNumber(s string) (normNum, bool) {
	var n normNum
	if strings.HasPrefix(s, "-") {
		n.neg = true
		s = s[1:]
	}
	mant, expPart, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	exp := new(big.Int)
	if hasExp {
		if _, ok := exp.SetString(strings.TrimPrefix(expPart, "+"), 10); !ok {
			return n, false
		}
	}
	digits := intPart + frac
	exp.Sub(exp, big.NewInt(int64(len(frac))))
	digits = strings.TrimLeft(digits, "0")
	trimmed := strings.TrimRight(digits, "0")
	exp.Add(exp, big.NewInt(int64(len(digits)-len(trimmed))))
	n.digits = trimmed
	n.exp = exp
	if trimmed == "" { // zero, whatever its sign and exponent
		n.neg = false
		n.exp = new(big.Int)
	}
	return n, true
}
