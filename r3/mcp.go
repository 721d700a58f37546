package r3

import (
	"bytes"
	"encoding/json"
)

// MCP method names this package recognises.
const (
	MethodToolsCall = "tools/call"
	MethodToolsList = "tools/list"
)

// Defaults for MCPClassifier.
const (
	DefaultMaxMCPBody  = 1 << 20 // bytes
	DefaultMaxMCPBatch = 100     // messages in one batch
)

// MCPMessage is one JSON-RPC message of an MCP request body.
type MCPMessage struct {
	// Method is the JSON-RPC method; empty for a response the client sends
	// back to the server (one with result or error and no method).
	Method string
	// ID is the request id as sent; nil for a notification.
	ID json.RawMessage
	// Tool is the tool name of a tools/call (params.name).
	Tool string
	// Arguments are the tools/call arguments (params.arguments) exactly as
	// sent; nil when absent or null.
	Arguments json.RawMessage
}

// IsToolCall reports whether m is a tools/call request.
func (m MCPMessage) IsToolCall() bool { return m.Method == MethodToolsCall }

// Operation returns the MCP vocabulary operation of a tools/call.
func (m MCPMessage) Operation() Operation { return Tool(m.Tool) }

// MCPRequest is a classified MCP request body: one JSON-RPC message, or a
// batch of them (MCP 2025-03-26 allowed batches; later revisions removed
// them, but a server may still accept one, so a body is classified as
// whatever it is).
type MCPRequest struct {
	Batch    bool
	Messages []MCPMessage
}

// ToolCalls returns the tools/call messages, in order.
func (r *MCPRequest) ToolCalls() []MCPMessage {
	var out []MCPMessage
	for _, m := range r.Messages {
		if m.IsToolCall() {
			out = append(out, m)
		}
	}
	return out
}

// Operations returns the MCP operations of the tool calls, in order.
func (r *MCPRequest) Operations() []Operation {
	var out []Operation
	for _, m := range r.ToolCalls() {
		out = append(out, m.Operation())
	}
	return out
}

// MCPClassifier classifies MCP request bodies. The zero value uses the
// defaults.
type MCPClassifier struct {
	MaxBody  int // bytes; 0 means DefaultMaxMCPBody
	MaxBatch int // messages; 0 means DefaultMaxMCPBatch
}

// ClassifyMCP is (&MCPClassifier{}).Classify.
func ClassifyMCP(body []byte) (*MCPRequest, error) {
	var c MCPClassifier
	return c.Classify(body)
}

// Classify reads an MCP request body (a Streamable HTTP POST) and says what
// it asks for: which JSON-RPC methods, and for each tools/call the tool
// and its arguments. It takes the bytes, never a reader, so the caller
// keeps its body: a Transport reads a copy through Request.GetBody, a
// resource reads the body once (bounded) and hands the handler a fresh
// reader over the same bytes.
//
// A resource enforces on the result, so Classify refuses what it cannot
// read exactly as an MCP server would, and the resource must then refuse
// the request rather than serve it unclassified: a body over MaxBody
// (ErrTooLarge, without reading further than that), invalid UTF-8 or
// JSON, a duplicate member name or member names that differ only in case
// anywhere in the body (a Go server matches fields case-insensitively, so
// {"name":"a","Name":"b"} could run a tool this classifier never saw), an
// empty or oversized batch, a method that is not a string, and a
// tools/call without an object params, a non-empty string name or an
// object (or absent) arguments.
func (c *MCPClassifier) Classify(body []byte) (*MCPRequest, error) {
	maxBody := c.MaxBody
	if maxBody <= 0 {
		maxBody = DefaultMaxMCPBody
	}
	maxBatch := c.MaxBatch
	if maxBatch <= 0 {
		maxBatch = DefaultMaxMCPBatch
	}
	if len(body) > maxBody {
		return nil, errAt(CodeTooLarge, "", "MCP request body")
	}
	if err := scanStrict(body, scanLimits{maxDepth: MaxDepth, maxTokens: maxBody, foldCheck: true}); err != nil {
		return nil, err
	}
	t := bytes.TrimSpace(body)
	r := &MCPRequest{}
	switch t[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, &Error{Code: CodeSyntax, Err: err}
		}
		if len(items) == 0 {
			return nil, errAt(CodeInvalid, "", "empty batch")
		}
		if len(items) > maxBatch {
			return nil, errAt(CodeTooLarge, "", "batch")
		}
		r.Batch = true
		for i, raw := range items {
			m, err := parseMCPMessage(raw, join("", i))
			if err != nil {
				return nil, err
			}
			r.Messages = append(r.Messages, m)
		}
	case '{':
		m, err := parseMCPMessage(t, "")
		if err != nil {
			return nil, err
		}
		r.Messages = []MCPMessage{m}
	default:
		return nil, errAt(CodeInvalid, "", "not a JSON-RPC object or batch")
	}
	return r, nil
}

// parseMCPMessage reads one JSON-RPC message, already strictly scanned.
func parseMCPMessage(raw []byte, path string) (MCPMessage, error) {
	env, isObject := objectMembers(raw)
	if !isObject {
		return MCPMessage{}, errAt(CodeInvalid, path, "not a JSON-RPC object")
	}
	if err := exactMembers(env, path, envelopeMembers); err != nil {
		return MCPMessage{}, err
	}
	var m MCPMessage
	if id, ok := member(env, "id"); ok {
		m.ID = id
	}
	rawMethod, ok := member(env, "method")
	if !ok {
		_, r := member(env, "result")
		_, e := member(env, "error")
		if r || e {
			return m, nil
		}
		return MCPMessage{}, errAt(CodeInvalid, join(path, "method"), "missing")
	}
	var isString bool
	if m.Method, isString = jsonString(rawMethod); !isString || m.Method == "" {
		return MCPMessage{}, errAt(CodeInvalid, join(path, "method"), "not a non-empty string")
	}
	if m.Method != MethodToolsCall {
		return m, nil
	}
	p := join(path, "params")
	rawParams, _ := member(env, "params")
	params, isObject := objectMembers(rawParams)
	if !isObject {
		return MCPMessage{}, errAt(CodeInvalid, p, "tools/call without params object")
	}
	if err := exactMembers(params, p, paramsMembers); err != nil {
		return MCPMessage{}, err
	}
	rawName, ok := member(params, "name")
	if !ok {
		return MCPMessage{}, errAt(CodeInvalid, join(p, "name"), "missing")
	}
	if m.Tool, isString = jsonString(rawName); !isString || m.Tool == "" {
		return MCPMessage{}, errAt(CodeInvalid, join(p, "name"), "not a non-empty string")
	}
	if len(m.Tool) > MaxIdentifierLen {
		return MCPMessage{}, errAt(CodeTooLarge, join(p, "name"), "")
	}
	if a, ok := member(params, "arguments"); ok && string(a) != "null" {
		if a[0] != '{' {
			return MCPMessage{}, errAt(CodeInvalid, join(p, "arguments"), "not an object")
		}
		m.Arguments = a
	}
	return m, nil
}

// jsonString decodes a JSON string value; false for any other value.
func jsonString(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// The members a JSON-RPC message and a tools/call's params are read by.
var (
	envelopeMembers = foldSet("jsonrpc", "id", "method", "params", "result", "error")
	paramsMembers   = foldSet("name", "arguments", "_meta")
)

func foldSet(names ...string) map[string]string {
	m := map[string]string{}
	for _, n := range names {
		m[foldKey(n)] = n
	}
	return m
}

// exactMembers refuses a member whose name is one of the significant names
// in another case ("METHOD" alone, with no "method"): encoding/json would
// read it as that member, and this classifier, matching exactly, would
// not.
func exactMembers(obj []rawMember, path string, significant map[string]string) error {
	for _, m := range obj {
		if want, ok := significant[foldKey(m.name)]; ok && m.name != want {
			return errAt(CodeAmbiguousMember, join(path, memberPath(m.name)), "")
		}
	}
	return nil
}
