package r3

import (
	"bytes"
	"encoding/json"
)

// AccessMode is an access_mode value: resource-wide in the resource's
// metadata (AAuth protocol §Resource Metadata), or per operation in an
// operation access annotation (R3 §Access Mode Annotation).
type AccessMode string

// The access modes. PerCall is R3's addition to the AAuth Access Mode
// Value Registry.
const (
	AccessAgentToken   AccessMode = "agent-token"
	AccessPersonToken  AccessMode = "person-token"
	AccessSessionToken AccessMode = "session-token" // resource-wide only
	AccessAuthToken    AccessMode = "auth-token"
	AccessPerCall      AccessMode = "per-call"
)

// Known reports whether m is a value this package understands. An agent
// treats an unknown resource-wide value as no declaration (AAuth protocol
// §Resource Metadata).
func (m AccessMode) Known() bool {
	switch m {
	case AccessAgentToken, AccessPersonToken, AccessSessionToken, AccessAuthToken, AccessPerCall:
		return true
	}
	return false
}

// Access is what one operation requires of the agent, from its operation
// access annotations (R3 §Operation Access Annotations).
type Access struct {
	Mode   AccessMode // empty when not annotated
	Budget bool       // invoking it draws down a budget
}

// MCP _meta keys of the annotations (R3 §Vocabulary Encodings).
const (
	MCPMetaAccessMode = "aauth.dev/access-mode"
	MCPMetaBudget     = "aauth.dev/budget"
)

// MCPMeta returns the _meta members that annotate an MCP tool with a, for
// a server to merge into the tool's _meta: nothing for a zero Access.
func (a Access) MCPMeta() map[string]any {
	m := map[string]any{}
	if a.Mode != "" {
		m[MCPMetaAccessMode] = string(a.Mode)
	}
	if a.Budget {
		m[MCPMetaBudget] = true
	}
	return m
}

// EffectiveAccess applies R3 §Applying Annotations and §Budget Annotation:
// an operation without an access mode annotation takes the resource's
// access_mode (agent-token when that is empty or unknown); an annotation
// replaces it rather than intersecting with it; session-token is not
// allowed in an annotation and is ignored there; a budget annotation
// needs at least an auth token, so with no access mode annotation it
// means auth-token, and with agent-token or person-token it is read as
// auth-token. The result is advisory: the resource's runtime
// AAuth-Requirement decides.
func EffectiveAccess(resourceMode AccessMode, a Access) AccessMode {
	mode := a.Mode
	if mode == AccessSessionToken || !mode.Known() {
		mode = ""
	}
	if a.Budget {
		switch mode {
		case "", AccessAgentToken, AccessPersonToken:
			return AccessAuthToken
		}
		return mode
	}
	if mode != "" {
		return mode
	}
	if !resourceMode.Known() {
		return AccessAgentToken
	}
	return resourceMode
}

// MCPToolAccess reads the annotations from an MCP tool's _meta object (as
// JSON text; nil for none). Members of other types than R3 gives them
// (a string mode, a boolean budget) are ignored, as is an unknown mode.
func MCPToolAccess(meta json.RawMessage) Access {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(meta)) == 0 || json.Unmarshal(meta, &m) != nil {
		return Access{}
	}
	var a Access
	var mode string
	if json.Unmarshal(m[MCPMetaAccessMode], &mode) == nil && AccessMode(mode).Known() && AccessMode(mode) != AccessSessionToken {
		a.Mode = AccessMode(mode)
	}
	var budget bool
	if json.Unmarshal(m[MCPMetaBudget], &budget) == nil {
		a.Budget = budget
	}
	return a
}

// ParseMCPToolsList reads the result of an MCP tools/list response (the
// JSON-RPC response object, or just its result) and returns each tool's
// annotations by tool name. Tools without annotations are listed with a
// zero Access. The input is bounded and strictly scanned like an R3
// document; a tool entry without a string name is skipped.
func ParseMCPToolsList(data []byte) (map[string]Access, error) {
	if len(data) > DefaultMaxMCPBody {
		return nil, errAt(CodeTooLarge, "", "")
	}
	if err := scanStrict(data, scanLimits{maxDepth: MaxDepth, maxTokens: DefaultMaxMCPBody}); err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, errAt(CodeInvalid, "", "not a JSON object")
	}
	if res, ok := top["result"]; ok {
		top = nil
		if err := json.Unmarshal(res, &top); err != nil || top == nil {
			return nil, errAt(CodeInvalid, "result", "not an object")
		}
	}
	var tools []map[string]json.RawMessage
	if err := json.Unmarshal(top["tools"], &tools); err != nil {
		return nil, errAt(CodeInvalid, "tools", "not an array of objects")
	}
	out := make(map[string]Access, len(tools))
	for _, t := range tools {
		var name string
		if json.Unmarshal(t["name"], &name) != nil || name == "" {
			continue
		}
		out[name] = MCPToolAccess(t["_meta"])
	}
	return out, nil
}

// Vocabularies is a resource's r3_vocabularies metadata: vocabulary URI to
// discovery endpoint (R3 §Resource Metadata Extensions).
type Vocabularies map[string]string

// ParseVocabularies reads the r3_vocabularies member of resource metadata.
// It is liberal, as metadata is advisory: entries whose key is not a
// vocabulary CheckVocabulary accepts, or whose value is not a string, are
// dropped; only input that is not a JSON object is an error.
func ParseVocabularies(raw json.RawMessage) (Vocabularies, error) {
	m, err := decodeObject(raw, "r3_vocabularies")
	if err != nil {
		return nil, err
	}
	out := Vocabularies{}
	for k, v := range m {
		var s string
		if CheckVocabulary(k) != nil || json.Unmarshal(v, &s) != nil || s == "" {
			continue
		}
		out[k] = s
	}
	return out, nil
}
