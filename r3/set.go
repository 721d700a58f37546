package r3

import "encoding/json"

// OperationSet is a vocabulary and its operations: the shape of
// r3_operations, r3_granted and r3_per_call (R3 §Auth Token Extensions).
type OperationSet struct {
	Vocabulary string
	Operations []Operation
}

// Tools returns the MCP operation set for the named tools.
func Tools(names ...string) OperationSet {
	s := OperationSet{Vocabulary: VocabularyMCP}
	for _, n := range names {
		s.Operations = append(s.Operations, Tool(n))
	}
	return s
}

// Covers reports whether s grants op: op is in s's vocabulary and one of
// s's operations covers it (see Operation for the members that count).
func (s OperationSet) Covers(vocabulary string, op Operation) bool {
	if s.Vocabulary != vocabulary {
		return false
	}
	for _, g := range s.Operations {
		if covers(g, op, vocabulary) {
			return true
		}
	}
	return false
}

// CoversTool is Covers for an MCP tool name.
func (s OperationSet) CoversTool(name string) bool { return s.Covers(VocabularyMCP, Tool(name)) }

// Within reports, as an error, whether every operation of s is covered by
// an operation of outer in the same vocabulary: a grant must not name
// operations outside the document it was drawn from (R3 §Auth Token
// Extensions: "The AS MAY narrow the grant"; it may not widen it).
func (s OperationSet) Within(outer OperationSet) error {
	if s.Vocabulary != outer.Vocabulary {
		return errAt(CodeVocabulary, "vocabulary", "")
	}
	for i, op := range s.Operations {
		if !outer.Covers(s.Vocabulary, op) {
			return errAt(CodeNotCovered, join("operations", i), "")
		}
	}
	return nil
}

// Validate checks s as this package would when parsing it.
func (s OperationSet) Validate() error {
	if err := checkVocabulary(s.Vocabulary, "vocabulary"); err != nil {
		return err
	}
	if len(s.Operations) == 0 {
		return errAt(CodeInvalid, "operations", "empty")
	}
	if len(s.Operations) > MaxOperations {
		return errAt(CodeTooLarge, "operations", "")
	}
	for i, op := range s.Operations {
		if err := op.validate(s.Vocabulary, join("operations", i)); err != nil {
			return err
		}
	}
	return nil
}

// ParseOperationSet reads an operation set: an r3_operations request
// member or an r3_granted or r3_per_call claim value. The input is checked
// as strictly as an R3 document (size, duplicate members, vocabulary,
// required members); members R3 does not define are kept.
func ParseOperationSet(data []byte) (OperationSet, error) {
	m, err := decodeObject(data, "")
	if err != nil {
		return OperationSet{}, err
	}
	return parseSet(m, "")
}

// parseSet reads the vocabulary and operations members of m.
func parseSet(m map[string]json.RawMessage, path string) (OperationSet, error) {
	var s OperationSet
	vraw, ok := m["vocabulary"]
	if !ok {
		return s, errAt(CodeInvalid, join(path, "vocabulary"), "missing")
	}
	if err := json.Unmarshal(vraw, &s.Vocabulary); err != nil {
		return s, errAt(CodeInvalid, join(path, "vocabulary"), "not a string")
	}
	if err := checkVocabulary(s.Vocabulary, join(path, "vocabulary")); err != nil {
		return s, err
	}
	oraw, ok := m["operations"]
	if !ok {
		return s, errAt(CodeInvalid, join(path, "operations"), "missing")
	}
	var ops []json.RawMessage
	if err := json.Unmarshal(oraw, &ops); err != nil || ops == nil {
		return s, errAt(CodeInvalid, join(path, "operations"), "not an array")
	}
	if len(ops) == 0 {
		return s, errAt(CodeInvalid, join(path, "operations"), "empty")
	}
	if len(ops) > MaxOperations {
		return s, errAt(CodeTooLarge, join(path, "operations"), "")
	}
	s.Operations = make([]Operation, 0, len(ops))
	for i, raw := range ops {
		op, err := parseOperation(raw, s.Vocabulary, join(path, "operations", i))
		if err != nil {
			return s, err
		}
		s.Operations = append(s.Operations, op)
	}
	return s, nil
}

// MarshalJSON writes s as {"vocabulary":…,"operations":[…]}, the form of
// the r3_granted and r3_per_call claims, after checking it.
func (s OperationSet) MarshalJSON() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.appendJSON(nil), nil
}

// UnmarshalJSON reads s with ParseOperationSet's checks.
func (s *OperationSet) UnmarshalJSON(data []byte) error {
	v, err := ParseOperationSet(data)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func (s OperationSet) appendJSON(b []byte) []byte {
	b = append(b, `{"vocabulary":`...)
	b = appendString(b, s.Vocabulary)
	b = append(b, `,"operations":`...)
	b = appendOperations(b, s.Operations, s.Vocabulary)
	return append(b, '}')
}

func appendOperations(b []byte, ops []Operation, vocab string) []byte {
	b = append(b, '[')
	for i, op := range ops {
		if i > 0 {
			b = append(b, ',')
		}
		b = op.appendJSON(b, vocab)
	}
	return append(b, ']')
}
