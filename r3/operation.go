package r3

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
)

// Operation is one entry of an operations array: in an R3 document, in the
// agent's r3_operations request and in the r3_granted and r3_per_call
// claims (R3 §Vocabularies). Which fields are used depends on the
// vocabulary:
//
//	mcp       Tool
//	openapi   OperationID
//	grpc      Method                  (package.Service/Method)
//	graphql   Operation, Type         (query, mutation or subscription)
//	asyncapi  OperationID, Action?    (send or receive)
//	wsdl      Operation, Service?
//	odata     Operation, Methods?
//
// Members a vocabulary does not define, and every member of a third-party
// vocabulary, are kept in Extra as JSON text and written back in name
// order.
type Operation struct {
	Tool        string   // mcp
	OperationID string   // openapi, asyncapi
	Method      string   // grpc
	Operation   string   // graphql, wsdl, odata
	Type        string   // graphql
	Action      string   // asyncapi
	Service     string   // wsdl
	Methods     []string // odata
	Extra       map[string]json.RawMessage
}

// Tool returns the MCP operation for the named tool.
func Tool(name string) Operation { return Operation{Tool: name} }

// field returns the string field a member name fills, for the vocabulary's
// string members.
func (o *Operation) field(name string) *string {
	switch name {
	case "tool":
		return &o.Tool
	case "operationId":
		return &o.OperationID
	case "method":
		return &o.Method
	case "operation":
		return &o.Operation
	case "type":
		return &o.Type
	case "action":
		return &o.Action
	case "service":
		return &o.Service
	}
	return nil
}

// parseOperation reads one operation object in vocabulary vocab. The
// object has already been through scanStrict.
func parseOperation(raw json.RawMessage, vocab, path string) (Operation, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return Operation{}, errAt(CodeInvalid, path, "not an object")
	}
	var op Operation
	specs := vocabFields[vocab] // nil for a third-party vocabulary
	known := map[string]fieldSpec{}
	for _, s := range specs {
		known[s.name] = s
	}
	for name, v := range members {
		s, ok := known[name]
		if !ok {
			if op.Extra == nil {
				op.Extra = map[string]json.RawMessage{}
			}
			op.Extra[name] = v
			continue
		}
		p := join(path, name)
		if s.list {
			var list []string
			if err := json.Unmarshal(v, &list); err != nil || list == nil {
				return Operation{}, errAt(CodeInvalid, p, "not an array of strings")
			}
			if len(list) > maxListLen {
				return Operation{}, errAt(CodeTooLarge, p, "")
			}
			for i, m := range list {
				if m == "" || len(m) > MaxIdentifierLen {
					return Operation{}, errAt(CodeInvalid, join(p, i), "empty or too long")
				}
			}
			op.Methods = list
			continue
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return Operation{}, errAt(CodeInvalid, p, "not a string")
		}
		*op.field(name) = str
	}
	if err := op.validate(vocab, path); err != nil {
		return Operation{}, err
	}
	return op, nil
}

// validate checks the members vocab requires and the values it restricts.
func (o Operation) validate(vocab, path string) error {
	specs, standard := vocabFields[vocab]
	for name, v := range o.Extra {
		if !json.Valid(v) {
			return errAt(CodeInvalid, join(path, memberPath(name)), "not JSON")
		}
	}
	if !standard {
		// A third-party vocabulary's members are all in Extra.
		if !o.identityless() {
			return errAt(CodeInvalid, path, "typed fields set for a third-party vocabulary")
		}
		if len(o.Extra) == 0 {
			return errAt(CodeInvalid, path, "empty operation")
		}
		return nil
	}
	for _, s := range specs {
		if _, dup := o.Extra[s.name]; dup {
			return errAt(CodeInvalid, join(path, s.name), "set in Extra too")
		}
	}
	for _, s := range specs {
		p := join(path, s.name)
		if s.list {
			if o.Methods != nil && len(o.Methods) == 0 {
				return errAt(CodeInvalid, p, "empty")
			}
			continue
		}
		v := *o.field(s.name)
		if len(v) > MaxIdentifierLen {
			return errAt(CodeTooLarge, p, "")
		}
		if s.required && v == "" {
			return errAt(CodeInvalid, p, "missing or empty")
		}
	}
	switch vocab {
	case VocabularyGraphQL:
		switch o.Type {
		case "query", "mutation", "subscription":
		default:
			return errAt(CodeInvalid, join(path, "type"), "not query, mutation or subscription")
		}
	case VocabularyAsyncAPI:
		switch o.Action {
		case "", "send", "receive":
		default:
			return errAt(CodeInvalid, join(path, "action"), "not send or receive")
		}
	}
	// A field the vocabulary does not define must not be set by a Go
	// caller: it would be written where a peer does not expect it.
	defined := map[string]bool{}
	for _, s := range specs {
		defined[s.name] = true
	}
	for _, name := range []string{"tool", "operationId", "method", "operation", "type", "action", "service"} {
		if !defined[name] && *o.field(name) != "" {
			return errAt(CodeInvalid, join(path, name), "not a member of this vocabulary")
		}
	}
	if !defined["methods"] && o.Methods != nil {
		return errAt(CodeInvalid, join(path, "methods"), "not a member of this vocabulary")
	}
	return nil
}

// identityless reports whether none of the typed fields is set.
func (o *Operation) identityless() bool {
	return o.Tool == "" && o.OperationID == "" && o.Method == "" && o.Operation == "" &&
		o.Type == "" && o.Action == "" && o.Service == "" && o.Methods == nil
}

// key is the operation's identity in vocab: the members that name it, as
// compact JSON. Two operations with the same key are the same operation.
// For a third-party vocabulary every member identifies.
func (o Operation) key(vocab string) string {
	var b []byte
	b = append(b, '{')
	first := true
	add := func(name string, value []byte) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
		b = append(b, value...)
	}
	switch vocab {
	case VocabularyMCP:
		add("tool", appendString(nil, o.Tool))
	case VocabularyOpenAPI:
		add("operationId", appendString(nil, o.OperationID))
	case VocabularyGRPC:
		add("method", appendString(nil, o.Method))
	case VocabularyGraphQL:
		add("operation", appendString(nil, o.Operation))
		add("type", appendString(nil, o.Type))
	case VocabularyAsyncAPI:
		add("operationId", appendString(nil, o.OperationID))
		add("action", appendString(nil, o.Action))
	case VocabularyWSDL:
		add("operation", appendString(nil, o.Operation))
		add("service", appendString(nil, o.Service))
	case VocabularyOData:
		add("operation", appendString(nil, o.Operation))
		m := slices.Clone(o.Methods)
		sort.Strings(m)
		m = slices.Compact(m)
		var l []byte
		l = append(l, '[')
		for i, s := range m {
			if i > 0 {
				l = append(l, ',')
			}
			l = appendString(l, s)
		}
		l = append(l, ']')
		if o.Methods != nil {
			add("methods", l)
		}
	default:
		return string(o.appendJSON(nil, vocab))
	}
	b = append(b, '}')
	return string(b)
}

// covers reports whether the granted operation g covers the called
// operation c, both in vocab. Identity members must be equal; the members
// R3 marks optional narrow a grant when the grant sets them: an AsyncAPI
// grant with an action covers only that action, a WSDL grant with a
// service only that service, an OData grant with methods only calls whose
// methods are among them.
func covers(g, c Operation, vocab string) bool {
	switch vocab {
	case VocabularyMCP:
		return g.Tool == c.Tool
	case VocabularyOpenAPI:
		return g.OperationID == c.OperationID
	case VocabularyGRPC:
		return g.Method == c.Method
	case VocabularyGraphQL:
		return g.Operation == c.Operation && g.Type == c.Type
	case VocabularyAsyncAPI:
		return g.OperationID == c.OperationID && (g.Action == "" || g.Action == c.Action)
	case VocabularyWSDL:
		return g.Operation == c.Operation && (g.Service == "" || g.Service == c.Service)
	case VocabularyOData:
		if g.Operation != c.Operation {
			return false
		}
		if g.Methods == nil {
			return true
		}
		if c.Methods == nil {
			return false // a grant for some methods does not cover all of them
		}
		for _, m := range c.Methods {
			if !slices.Contains(g.Methods, m) {
				return false
			}
		}
		return true
	}
	return g.key(vocab) == c.key(vocab)
}

// appendJSON writes o: the vocabulary's members in R3's order, then Extra
// in name order.
func (o Operation) appendJSON(b []byte, vocab string) []byte {
	b = append(b, '{')
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	for _, s := range vocabFields[vocab] {
		if s.list {
			if o.Methods == nil {
				continue
			}
			sep()
			b = appendString(b, s.name)
			b = append(b, ":["...)
			for i, m := range o.Methods {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, m)
			}
			b = append(b, ']')
			continue
		}
		v := *o.field(s.name)
		if v == "" && !s.required {
			continue
		}
		sep()
		b = appendString(b, s.name)
		b = append(b, ':')
		b = appendString(b, v)
	}
	for _, name := range sortedKeys(o.Extra) {
		sep()
		b = appendString(b, name)
		b = append(b, ':')
		b = appendCompact(b, o.Extra[name])
	}
	return append(b, '}')
}

// String returns the operation's identifying members, for messages: the
// tool name for MCP.
func (o Operation) String() string {
	switch {
	case o.Tool != "":
		return o.Tool
	case o.OperationID != "":
		return o.OperationID
	case o.Method != "":
		return o.Method
	case o.Operation != "":
		return o.Operation
	}
	return strings.TrimSpace(string(o.appendJSON(nil, "")))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendCompact appends raw JSON text without insignificant white space.
// Invalid text (which a caller could put in Extra) is written as null so
// the output stays JSON; Encode refuses it before that can happen.
func appendCompact(b []byte, raw json.RawMessage) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return append(b, "null"...)
	}
	return append(b, buf.Bytes()...)
}
