package resource

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aauthgo/aauth/r3"
)

// R3 turns on per-operation authorization for an MCP server, as R3 (Rich
// Resource Requests, draft-hardt-aauth-r3-02) describes it: the resource
// describes its tools in R3 documents that only the agent's person server
// (or the resource's access server) may read, the auth token it gets back
// grants some tools outright (r3_granted) and some per call (r3_per_call),
// and each call is checked against that grant.
//
// With R3 set, the resource
//
//   - publishes r3_vocabularies (urn:aauth:vocabulary:mcp) in its metadata;
//   - serves every document it references as fixed bytes, hashed once, at a
//     content-addressed URL under Path, and only to a request signed by
//     the person server or access server a resource token referencing it
//     was issued to (Signature-Key scheme jwks_uri);
//   - puts r3_uri and r3_s256 in its resource tokens: the document covering
//     every definition on a 401 challenge, or one composed for the tools an
//     agent asked for at the authorization endpoint (r3_operations);
//   - reads every request body as MCP JSON-RPC (bounded by MaxBody; a body
//     it cannot read is refused, never served unclassified) and serves a
//     tools/call only under an auth token whose r3_granted names the tool;
//     a tool in r3_per_call is challenged with a per-call proposal carrying
//     the call's arguments, and the narrow token the agent gets for it runs
//     that one call once (presented again, it gets the same answer); any
//     other tool is refused with 403 operation_not_granted;
//   - puts the verified grant in the request context (Caller.Grant).
//
// A tools/call needs an auth token whatever Mode or Policy says; other MCP
// messages (initialize, tools/list, notifications) need what they say.
type R3 struct {
	// Definitions describe every tool the server offers, grouped as the
	// person should see them (one document per group, each with a
	// display), in the MCP vocabulary. A tool in no definition is never
	// granted. Required.
	Definitions []*r3.Document

	// Endpoint is the MCP vocabulary's discovery endpoint published in
	// r3_vocabularies: the MCP server's URL. "" means Issuer.
	Endpoint string

	// Path is the path prefix the documents are served under; "" means
	// "/aauth/r3/".
	Path string

	// PerCallDisplay, when set, describes one per-call invocation for the
	// person: what calling op with these arguments will do. Nil gives a
	// summary naming the tool.
	PerCallDisplay func(op r3.Operation, arguments json.RawMessage) *r3.Display

	// Proposal says which arguments a per-call proposal carries as
	// digests rather than values (InlineLimit, DigestParam, ExcerptLen);
	// its Display and Account are the resource's to set.
	Proposal r3.ProposalOptions

	// PerCallDeferred answers a per-call challenge with a 202 that holds
	// the call until the agent polls with the per-call token (R3's
	// SHOULD for a resource that can hold state), instead of a 401 after
	// which the agent sends the call again.
	PerCallDeferred bool
}

// The problem codes of R3 refusals (403), which the module's agent reads.
const (
	codeNotGranted     = r3.ProblemOperationNotGranted
	codePerCallBatch   = r3.ProblemPerCallBatch
	codeParamsMismatch = r3.ProblemParametersMismatch
	codeConsumed       = r3.ProblemPerCallConsumed
	codeInvalidGrant   = r3.ProblemInvalidGrant
)

// Bounds on what R3 keeps.
const (
	defaultR3Path    = "/aauth/r3/"
	maxStoredDocs    = 4096            // documents composed on request, besides the definitions
	maxEntitled      = 256             // parties entitled to fetch one document
	entitlementLife  = 24 * time.Hour  // how long a party may fetch a document after a token named it
	maxCallRecords   = 10_000          // per-call proposals held
	maxCallResult    = 1 << 20         // bytes of a per-call answer kept for a repeated presentation
	maxGrantsCached  = maxCachedTokens // parsed grants, by token text
	callRecordLife   = pendingLifetime // how long a per-call proposal waits for its token
	maxPersonRecords = 10_000          // person tokens remembered for person_token_jti
	minResultKeep    = resultLifetime  // a per-call answer is kept at least this long
	callPathSegment  = "call/"         // per-call proposals are at {Path}call/{id}
	s256Len          = 43              // an unpadded base64url SHA-256
)

// r3State is a Resource's R3 machinery, built when it compiles.
type r3State struct {
	cfg        *R3
	vocab      string
	endpoint   string
	path       string // the path prefix
	prefix     string // issuer + path: the start of every r3_uri
	defs       []*r3.Document
	all        *storedDoc // every definition: what a 401 challenge references
	classifier r3.MCPClassifier
	docs       docStore
	calls      callStore
	grants     grantCache
	now        func() time.Time
}

// compileR3 checks rs.R3 and encodes its definitions, once.
func (c *config) compileR3() error {
	cfg := c.rs.R3
	if cfg == nil {
		return nil
	}
	s := &r3State{cfg: cfg, vocab: r3.VocabularyMCP, endpoint: cfg.Endpoint, path: cfg.Path, now: c.rs.now}
	if s.endpoint == "" {
		s.endpoint = c.issuer
	}
	if s.path == "" {
		s.path = defaultR3Path
	}
	if !strings.HasPrefix(s.path, "/") || !strings.HasSuffix(s.path, "/") || strings.HasPrefix(s.path, "/.well-known/") ||
		strings.HasPrefix(s.path, c.pending) || strings.HasPrefix(c.pending, s.path) ||
		(c.rs.AuthorizationPath != "" && strings.HasPrefix(c.rs.AuthorizationPath, s.path)) {
		return fmt.Errorf("aauth: Resource.R3.Path %q must start and end with / and be a path of its own", s.path)
	}
	s.prefix = c.issuer + s.path
	if len(cfg.Definitions) == 0 {
		return fmt.Errorf("aauth: Resource.R3.Definitions is empty: describe the server's tools")
	}
	if c.seed {
		return fmt.Errorf("aauth: Resource.R3 needs the current profile")
	}
	if c.rs.Mode == SessionToken {
		return fmt.Errorf("aauth: Resource.R3 needs auth tokens, not Mode %q", c.rs.Mode)
	}
	for i, d := range cfg.Definitions {
		switch {
		case d == nil:
			return fmt.Errorf("aauth: Resource.R3.Definitions[%d] is nil", i)
		case d.Vocabulary != s.vocab:
			return fmt.Errorf("aauth: Resource.R3.Definitions[%d] is in vocabulary %q; only %s is enforced", i, shorten(d.Vocabulary), s.vocab)
		case d.IsProposal():
			return fmt.Errorf("aauth: Resource.R3.Definitions[%d] has parameters: it is a per-call proposal, not a definition", i)
		}
		enc, err := r3.Encode(d)
		if err != nil {
			return fmt.Errorf("aauth: Resource.R3.Definitions[%d]: %w", i, err)
		}
		s.docs.pin(enc, s.prefix+enc.S256)
		s.defs = append(s.defs, enc.Document)
	}
	all := s.defs[0]
	if len(s.defs) > 1 {
		composed, err := r3.Compose(s.defs...)
		if err != nil {
			return fmt.Errorf("aauth: Resource.R3.Definitions: %w", err)
		}
		all = composed
	}
	enc, err := r3.Encode(all)
	if err != nil {
		return fmt.Errorf("aauth: Resource.R3.Definitions: %w", err)
	}
	s.all = s.docs.pin(enc, s.prefix+enc.S256)
	s.classifier = r3.MCPClassifier{MaxBody: int(c.maxBody)}
	s.calls.now = c.rs.now
	s.docs.now = c.rs.now
	c.r3 = s
	return nil
}

// metadataMembers are the R3 members of the metadata document.
func (s *r3State) metadataMembers(doc map[string]any) {
	doc["r3_vocabularies"] = map[string]string{s.vocab: s.endpoint}
}

// audience returns the parties a resource token for caller goes to, who
// are entitled to fetch the document it references: its aud (the access
// server, or the person server) and its ps.
func (c *config) audience(caller *Caller) []string {
	aud := caller.PersonServer
	if c.rs.AccessServer != "" {
		aud = c.rs.AccessServer
	}
	if aud == caller.PersonServer {
		return []string{aud}
	}
	return []string{aud, caller.PersonServer}
}

// withDocument returns need with r3_uri and r3_s256 naming d added to its
// resource-token claims, and entitles caller's person server (and access
// server) to fetch d.
func (c *config) withDocument(need Need, caller *Caller, d *storedDoc) Need {
	claims := make(map[string]any, len(need.ResourceTokenClaims)+2)
	for k, v := range need.ResourceTokenClaims {
		claims[k] = v
	}
	claims["r3_uri"] = d.uri
	claims["r3_s256"] = d.enc.S256
	need.ResourceTokenClaims = claims
	c.r3.docs.entitle(d, c.audience(caller), c.rs.now().Add(entitlementLife))
	return need
}

// mcpRequest reads r's body (bounded; kept for the handler; already read
// when its digest was checked) and classifies it as MCP JSON-RPC. A
// request without a body has no messages.
func (c *config) mcpRequest(r *http.Request, caller *Caller) (*r3.MCPRequest, *Error) {
	body := caller.body
	if body == nil {
		var err error
		if body, err = heldBody(r, c.maxBody); err != nil {
			return nil, asError(err)
		}
	}
	if len(body) == 0 {
		return &r3.MCPRequest{}, nil
	}
	req, err := c.r3.classifier.Classify(body)
	if err != nil {
		if isR3Code(err, r3.CodeTooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request", Detail: "the MCP request is larger than the resource reads", Err: err}
		}
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "the body is not an MCP request the resource can read", Err: err}
	}
	return req, nil
}

// heldBody returns r's body, reading it (bounded) and putting it back
// when it was not read already.
func heldBody(r *http.Request, limit int64) ([]byte, error) {
	if r.GetBody != nil {
		rc, err := r.GetBody()
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "cannot read the body", Err: err}
		}
		defer rc.Close()
		return readHeldBody(&http.Request{Body: rc}, limit)
	}
	return readHeldBody(r, limit)
}

// isR3Code reports whether err is an *r3.Error with code.
func isR3Code(err error, code r3.Code) bool { return errors.Is(err, &r3.Error{Code: code}) }

// documentFor returns the document a resource token from the
// authorization endpoint references: one covering exactly the operations
// requested (raw, the r3_operations member; nil for none, which means
// every definition), with the request's account.
func (s *r3State) documentFor(raw json.RawMessage, account string) (*storedDoc, *Error) {
	if raw == nil && account == "" {
		return s.all, nil
	}
	requested := s.all.enc.Document.OperationSet()
	if raw != nil {
		set, err := r3.ParseOperationSet(raw)
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "r3_operations is not an R3 operation set", Err: err}
		}
		if set.Vocabulary != s.vocab {
			return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "r3_operations is not in a vocabulary the resource advertises"}
		}
		requested = set
	}
	doc, err := r3.Select(s.defs, requested)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_scope", Detail: "r3_operations names an operation the resource does not define", Err: err}
	}
	doc.Account = account
	enc, err := r3.Encode(doc)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Detail: "no R3 document can be written for this request", Err: err}
	}
	if enc.S256 == s.all.enc.S256 {
		return s.all, nil
	}
	return s.docs.put(enc, s.prefix+enc.S256), nil
}
