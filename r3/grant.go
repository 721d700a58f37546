package r3

import (
	"encoding/json"
	"net/url"
)

// Grant is the R3 part of an auth token (R3 §Auth Token Extensions): the
// document the grant was drawn from and what it grants.
type Grant struct {
	URI  string // r3_uri
	S256 string // r3_s256
	// Granted are the operations granted outright (r3_granted): the
	// resource serves them. R3 makes the claim REQUIRED; a token without
	// it is read as granting nothing outright.
	Granted *OperationSet
	// PerCall are the operations granted in principle (r3_per_call): each
	// call is challenged with a per-call proposal. Nil when absent.
	PerCall *OperationSet
}

// maxURILen bounds r3_uri.
const maxURILen = 2048

// ParseGrant reads the R3 claims from a JWT payload (the claims object,
// already verified by the caller). It returns nil and no error when the
// payload carries none of r3_uri, r3_s256, r3_granted and r3_per_call.
//
// r3_uri and r3_s256 must come together (R3 §Resource Token Extensions:
// "it MUST include both"); r3_s256 must be an unpadded base64url SHA-256
// and r3_uri an absolute URI. The grant claims are parsed as
// ParseOperationSet does. The -01 claim r3_conditional is not read: an
// operation named only there is not granted, which fails closed.
func ParseGrant(payload []byte) (*Grant, error) {
	claims, err := decodeObject(payload, "")
	if err != nil {
		return nil, err
	}
	rawURI, hasURI := claims["r3_uri"]
	rawS256, hasS256 := claims["r3_s256"]
	rawGranted, hasGranted := claims["r3_granted"]
	rawPerCall, hasPerCall := claims["r3_per_call"]
	if !hasURI && !hasS256 && !hasGranted && !hasPerCall {
		return nil, nil
	}
	g := &Grant{}
	if !hasURI || !hasS256 {
		return nil, errAt(CodeInvalid, "r3_uri", "r3_uri and r3_s256 must both be present")
	}
	if err := json.Unmarshal(rawURI, &g.URI); err != nil {
		return nil, errAt(CodeInvalid, "r3_uri", "not a string")
	}
	if err := checkURI(g.URI); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(rawS256, &g.S256); err != nil {
		return nil, errAt(CodeInvalid, "r3_s256", "not a string")
	}
	if len(g.S256) != 43 || !isBase64URL(g.S256) {
		return nil, errAt(CodeInvalid, "r3_s256", "not a base64url SHA-256")
	}
	for _, c := range []struct {
		raw  json.RawMessage
		has  bool
		dst  **OperationSet
		name string
	}{{rawGranted, hasGranted, &g.Granted, "r3_granted"}, {rawPerCall, hasPerCall, &g.PerCall, "r3_per_call"}} {
		if !c.has || string(c.raw) == "null" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.raw, &m); err != nil || m == nil {
			return nil, errAt(CodeInvalid, c.name, "not an object")
		}
		s, err := parseSet(m, c.name)
		if err != nil {
			return nil, err
		}
		*c.dst = &s
	}
	return g, nil
}

// checkURI accepts an absolute URI with a host, as r3_uri must be (the
// resource serves the document over HTTPS, R3 §R3 Document).
func checkURI(s string) error {
	if s == "" || len(s) > maxURILen {
		return errAt(CodeInvalid, "r3_uri", "empty or too long")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errAt(CodeInvalid, "r3_uri", "not an absolute URI")
	}
	return nil
}

// Claims returns the grant as JWT claims (r3_uri, r3_s256, r3_granted and
// r3_per_call when set), for an issuer to add to an auth token.
func (g *Grant) Claims() (map[string]any, error) {
	if err := checkURI(g.URI); err != nil {
		return nil, err
	}
	if len(g.S256) != 43 || !isBase64URL(g.S256) {
		return nil, errAt(CodeInvalid, "r3_s256", "not a base64url SHA-256")
	}
	c := map[string]any{"r3_uri": g.URI, "r3_s256": g.S256}
	if g.Granted != nil {
		b, err := g.Granted.MarshalJSON()
		if err != nil {
			return nil, err
		}
		c["r3_granted"] = json.RawMessage(b)
	}
	if g.PerCall != nil {
		b, err := g.PerCall.MarshalJSON()
		if err != nil {
			return nil, err
		}
		c["r3_per_call"] = json.RawMessage(b)
	}
	return c, nil
}

// Decision is what a resource does with one call under a grant (R3
// §Resource Enforcement).
type Decision int

const (
	// Refuse: the operation is in neither claim; the call is rejected.
	Refuse Decision = iota
	// Serve: the operation is in r3_granted.
	Serve
	// ChallengePerCall: the operation is in r3_per_call; the resource
	// builds a per-call proposal and challenges.
	ChallengePerCall
)

// String returns "refuse", "serve" or "challenge-per-call".
func (d Decision) String() string {
	switch d {
	case Serve:
		return "serve"
	case ChallengePerCall:
		return "challenge-per-call"
	}
	return "refuse"
}

// Decide says what to do with one call of op in vocabulary under g, in R3
// §Resource Enforcement's order: r3_granted first, then r3_per_call, else
// refuse. A nil grant refuses.
func (g *Grant) Decide(vocabulary string, op Operation) Decision {
	if g == nil {
		return Refuse
	}
	if g.Granted != nil && g.Granted.Covers(vocabulary, op) {
		return Serve
	}
	if g.PerCall != nil && g.PerCall.Covers(vocabulary, op) {
		return ChallengePerCall
	}
	return Refuse
}

// DecideAll decides a batch of calls: Refuse if any call is refused, else
// ChallengePerCall if any needs a per-call approval, else Serve. An empty
// batch refuses. (A resource cannot bind one per-call approval to several
// calls; what it does with a batch that needs one is its policy.)
func (g *Grant) DecideAll(vocabulary string, ops []Operation) Decision {
	if len(ops) == 0 {
		return Refuse
	}
	out := Serve
	for _, op := range ops {
		switch g.Decide(vocabulary, op) {
		case Refuse:
			return Refuse
		case ChallengePerCall:
			out = ChallengePerCall
		}
	}
	return out
}

// Within checks that g was drawn from doc: the grant's vocabularies are
// the document's, and every operation it names, granted or per-call, is
// covered by one of the document's (an issuer may narrow a grant, never
// widen it). The caller has already matched g.S256 to the document it
// issued.
func (g *Grant) Within(doc *Document) error {
	outer := doc.OperationSet()
	if g.Granted != nil {
		if err := g.Granted.Within(outer); err != nil {
			err.(*Error).Path = join("r3_granted", err.(*Error).Path)
			return err
		}
	}
	if g.PerCall != nil {
		if err := g.PerCall.Within(outer); err != nil {
			err.(*Error).Path = join("r3_per_call", err.(*Error).Path)
			return err
		}
	}
	return nil
}

// CheckPerCall checks a call presented with a per-call auth token (R3
// §Flow, the 401 path): g is the token's grant, whose r3_s256 the caller
// has matched to the proposal it stored; the token must grant exactly the
// proposal's operation outright and nothing per-call; the call must be
// that operation; and its arguments must match the proposal's parameters
// (MatchParameters). Whether this token or this proposal was already
// used is the caller's record, not this function's.
func CheckPerCall(g *Grant, proposal *Document, op Operation, arguments json.RawMessage) error {
	if !proposal.IsProposal() || len(proposal.Operations) != 1 {
		return errAt(CodeInvalid, "parameters", "not a per-call proposal")
	}
	if g == nil || g.Granted == nil {
		return errAt(CodeNotCovered, "r3_granted", "the token grants nothing")
	}
	if g.PerCall != nil {
		return errAt(CodeInvalid, "r3_per_call", "a per-call token grants nothing per call")
	}
	if err := g.Within(proposal); err != nil {
		return err
	}
	vocab := proposal.Vocabulary
	if !covers(proposal.Operations[0], op, vocab) || !g.Granted.Covers(vocab, op) {
		return errAt(CodeNotCovered, "operations", "the call is not the proposed operation")
	}
	return MatchParameters(proposal.Parameters, arguments)
}
