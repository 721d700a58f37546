package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/dunglas/httpsfv"
)

// Requirement is the value of the requirement member of an AAuth-Requirement
// header: what a resource (or person server) wants before it serves the
// request.
type Requirement string

// The requirement values AAuth defines. Values are case-sensitive.
const (
	RequirementAgentToken    Requirement = "agent-token"   // retry signed with the agent token
	RequirementPersonToken   Requirement = "person-token"  // get a person token for the resource
	RequirementAuthToken     Requirement = "auth-token"    // exchange the resource token for an auth token
	RequirementApproval      Requirement = "approval"      // a person must approve; poll Location
	RequirementInteraction   Requirement = "interaction"   // send the person to URL with Code; poll Location
	RequirementClarification Requirement = "clarification" // answer the question in the body
	RequirementClaims        Requirement = "claims"        // AS to PS only; an agent just recognises it
)

// known reports whether r is one of the values AAuth defines.
func (r Requirement) known() bool {
	switch r {
	case RequirementAgentToken, RequirementPersonToken, RequirementAuthToken,
		RequirementApproval, RequirementInteraction, RequirementClarification,
		RequirementClaims:
		return true
	}
	return false
}

// Challenge is a parsed AAuth-Requirement header.
type Challenge struct {
	Requirement Requirement

	// ResourceToken, URL and Code are the resource-token, url and code
	// parameters of the requirement member (or, leniently, top-level members
	// of those names). Empty means absent. They are captured whatever the
	// requirement is.
	ResourceToken string
	URL           string
	Code          string

	// Extensions holds every other parameter of the requirement member and
	// every other dictionary member, such as the Budgets draft's
	// reason=budget-exhausted. A String or Token is stored as its text;
	// anything else (Integer, Boolean, Inner List, a member carrying
	// parameters, ...) as its RFC 9651 serialisation, so "final" reads
	// "?1". When a parameter and a member share a name, the parameter wins.
	// Extensions is nil when there are none.
	Extensions map[string]string
}

// String describes c for logs. The resource token is redacted, and so is any
// extension whose name contains "token".
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString(string(c.Requirement))
	if c.ResourceToken != "" {
		b.WriteString(" resource-token=")
		b.WriteString(safetext.Redact(c.ResourceToken))
	}
	if c.URL != "" {
		fmt.Fprintf(&b, " url=%q", c.URL)
	}
	if c.Code != "" {
		fmt.Fprintf(&b, " code=%q", c.Code)
	}
	for _, k := range chalSortedKeys(c.Extensions) {
		fmt.Fprintf(&b, " %s=%s", k, chalLogValue(k, c.Extensions[k]))
	}
	return b.String()
}

// GoString is like String for the %#v verb, which would otherwise print the
// resource token in full.
func (c Challenge) GoString() string {
	ext := "nil"
	if c.Extensions != nil {
		parts := make([]string, 0, len(c.Extensions))
		for _, k := range chalSortedKeys(c.Extensions) {
			v := c.Extensions[k]
			if strings.Contains(k, "token") {
				v = safetext.Redact(v)
			}
			parts = append(parts, fmt.Sprintf("%q:%q", k, v))
		}
		ext = "map[string]string{" + strings.Join(parts, ", ") + "}"
	}
	rt := ""
	if c.ResourceToken != "" {
		rt = safetext.Redact(c.ResourceToken)
	}
	return fmt.Sprintf("wire.Challenge{Requirement:%q, ResourceToken:%q, URL:%q, Code:%q, Extensions:%s}",
		string(c.Requirement), rt, c.URL, c.Code, ext)
}

// chalLogValue redacts extension values that look like credentials: some
// servers send resource_token as a member of its own (vector req-34).
func chalLogValue(key, value string) string {
	if strings.Contains(key, "token") {
		return safetext.Redact(value)
	}
	return fmt.Sprintf("%q", value)
}

// The codes a ChallengeError carries. The first six are the error classes of
// the requirement.json vectors.
const (
	ChallengeNotStructured        = "not_structured_field"              // the value is not an RFC 9651 Dictionary
	ChallengeMissingRequirement   = "missing_requirement"               // no requirement member, or requirement=""
	ChallengeInvalidType          = "invalid_requirement_type"          // requirement is an Inner List, Integer, Boolean, ...
	ChallengeUnknownRequirement   = "unknown_requirement"               // a text value AAuth does not define; see Value
	ChallengeMissingResourceToken = "auth_token_missing_resource_token" // auth-token without a usable resource-token
	ChallengeMissingURLOrCode     = "interaction_missing_url_or_code"   // interaction without a usable url and code
	ChallengeTooLong              = "too_long"                          // the value exceeds 16 KiB and was not parsed
)

// ErrUnknownRequirement matches, through errors.Is, a ChallengeError whose
// requirement value AAuth does not define. AAuth says such a requirement
// must not be treated as satisfiable, so the agent surfaces it.
var ErrUnknownRequirement = errors.New("aauth: unknown AAuth-Requirement value")

// ChallengeError reports an AAuth-Requirement header that cannot be acted
// on. Its message never contains a resource token.
type ChallengeError struct {
	Code  string // one of the Challenge… codes
	Value string // the requirement value, for ChallengeUnknownRequirement
	Err   error  // the RFC 9651 syntax error, for ChallengeNotStructured
}

// Error returns a message starting with "aauth: ".
func (e *ChallengeError) Error() string {
	const p = "aauth: invalid AAuth-Requirement header: "
	switch e.Code {
	case ChallengeNotStructured:
		if e.Err != nil {
			return p + "not a structured field dictionary: " + e.Err.Error()
		}
		return p + "not a structured field dictionary"
	case ChallengeMissingRequirement:
		return p + "no requirement"
	case ChallengeInvalidType:
		return p + "requirement is not a token or string"
	case ChallengeUnknownRequirement:
		// The value comes from the server; keep a long one (which might be
		// a misplaced token) out of logs.
		v := fmt.Sprintf("%q", e.Value)
		if len(e.Value) > 32 {
			v = safetext.Redact(e.Value)
		}
		return "aauth: unknown AAuth-Requirement value " + v
	case ChallengeMissingResourceToken:
		return p + "auth-token without resource-token"
	case ChallengeMissingURLOrCode:
		return p + "interaction without url and code"
	case ChallengeTooLong:
		return p + fmt.Sprintf("longer than %d bytes", challengeMaxLen)
	}
	if e.Err != nil {
		return p + e.Code + ": " + e.Err.Error()
	}
	return p + e.Code
}

// Unwrap returns the underlying syntax error, if any.
func (e *ChallengeError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnknownRequirement) true for an unknown
// requirement value, and errors.Is(err, &ChallengeError{Code: c}) true for
// any ChallengeError with code c.
func (e *ChallengeError) Is(target error) bool {
	if target == ErrUnknownRequirement {
		return e.Code == ChallengeUnknownRequirement
	}
	if t, ok := target.(*ChallengeError); ok && t != nil {
		return t.Code != "" && t.Code == e.Code && (t.Value == "" || t.Value == e.Value)
	}
	return false
}

// ParseRequirement parses an AAuth-Requirement field value. It is the Go
// form of parseAAuthHeader in @aauth/mcp-agent, rebuilt on RFC 9651:
//
//   - The value must be an RFC 9651 Dictionary. If it is not, white space
//     before ';' and one dangling trailing ';' (both sent by seed-era
//     servers) are removed outside quoted strings and the value is parsed
//     again.
//   - The requirement member must be a Token or a String naming a known
//     Requirement. An unknown value gives a ChallengeError with code
//     ChallengeUnknownRequirement (errors.Is ErrUnknownRequirement) and the
//     value in Value.
//   - resource-token, url and code are read from the member's parameters as
//     text: a String or Token counts, any other type or "" counts as
//     absent. An absent one may come from a top-level member of the same
//     name instead (the comma form requirement=auth-token,
//     resource-token="…"); a parameter wins over a member.
//   - auth-token needs a resource token; interaction needs url and code.
//   - Unknown parameters and members go to Extensions.
//
// A value longer than 16 KiB is refused with code ChallengeTooLong. Every
// error is a *ChallengeError.
func ParseRequirement(v string) (Challenge, error) {
	if len(v) > challengeMaxLen {
		return Challenge{}, &ChallengeError{Code: ChallengeTooLong}
	}
	d, err := chalParseDictionary(v)
	if err != nil {
		return Challenge{}, &ChallengeError{Code: ChallengeNotStructured, Err: err}
	}
	return chalFromDictionary(d)
}

// ParseRequirementHeader reads the AAuth-Requirement header of h. Several
// field lines are combined with ", " as RFC 9651 §4.2 prescribes, so with
// repeated members the last line wins; lines that are empty or all white
// space are skipped, as empty list elements are in HTTP. present reports
// whether the header occurs at all; when it does not, c and err are zero.
func ParseRequirementHeader(h http.Header) (c Challenge, present bool, err error) {
	v, ok, tooLong := chalJoinLines(h, "AAuth-Requirement", challengeMaxLen)
	if !ok {
		return Challenge{}, false, nil
	}
	if tooLong {
		return Challenge{}, true, &ChallengeError{Code: ChallengeTooLong}
	}
	c, err = ParseRequirement(v)
	return c, true, err
}

// FormatRequirement serialises c in the spec's example form, for resources
// and test servers: requirement=auth-token; resource-token="…" or
// requirement=interaction; url="…"; code="…". Extensions follow as
// parameters of the requirement member, sorted by name, each as a Token
// when its text is a valid token and as a String otherwise. The result
// parses back to c with ParseRequirement.
//
// It fails when c could not be parsed back: an unknown requirement, a
// missing resource token, url or code, an extension named resource-token,
// url or code, an invalid parameter name, or text that is not printable
// ASCII.
func FormatRequirement(c Challenge) (string, error) {
	if c.Requirement == "" {
		return "", &ChallengeError{Code: ChallengeMissingRequirement}
	}
	if !c.Requirement.known() {
		return "", &ChallengeError{Code: ChallengeUnknownRequirement, Value: string(c.Requirement)}
	}
	if err := chalValidate(c); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("requirement=")
	b.WriteString(string(c.Requirement))
	add := func(key, text string, asToken bool) error {
		if !chalIsKey(key) {
			return fmt.Errorf("aauth: cannot format AAuth-Requirement: invalid parameter name %q", key)
		}
		s, err := chalBareText(text, asToken)
		if err != nil {
			return fmt.Errorf("aauth: cannot format AAuth-Requirement parameter %s: %w", key, err)
		}
		b.WriteString("; ")
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(s)
		return nil
	}
	for _, p := range [...]struct{ key, text string }{
		{"resource-token", c.ResourceToken},
		{"url", c.URL},
		{"code", c.Code},
	} {
		if p.text == "" {
			continue
		}
		if err := add(p.key, p.text, false); err != nil {
			return "", err
		}
	}
	for _, k := range chalSortedKeys(c.Extensions) {
		switch k {
		case "resource-token", "url", "code":
			return "", fmt.Errorf("aauth: cannot format AAuth-Requirement: extension %q duplicates a field", k)
		}
		if err := add(k, c.Extensions[k], true); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// chalParseDictionary parses v as an RFC 9651 Dictionary, retrying once with
// the seed-era white-space leniency (vector rule 8). The strict error is
// returned when both fail, since it points at the real defect.
func chalParseDictionary(v string) (*httpsfv.Dictionary, error) {
	d, err := httpsfv.UnmarshalDictionary([]string{v})
	if err == nil {
		return d, nil
	}
	if fixed, changed := chalLenient(v); changed {
		if d2, err2 := httpsfv.UnmarshalDictionary([]string{fixed}); err2 == nil {
			return d2, nil
		}
	}
	return nil, err
}

// chalFromDictionary applies the target rules 2 to 7 to a parsed header.
func chalFromDictionary(d *httpsfv.Dictionary) (Challenge, error) {
	m, ok := d.Get("requirement")
	if !ok {
		return Challenge{}, &ChallengeError{Code: ChallengeMissingRequirement}
	}
	item, ok := m.(httpsfv.Item)
	if !ok {
		return Challenge{}, &ChallengeError{Code: ChallengeInvalidType}
	}
	name, ok := chalText(item.Value)
	if !ok {
		return Challenge{}, &ChallengeError{Code: ChallengeInvalidType}
	}
	if name == "" {
		return Challenge{}, &ChallengeError{Code: ChallengeMissingRequirement}
	}
	c := Challenge{Requirement: Requirement(name)}
	if !c.Requirement.known() {
		return Challenge{}, &ChallengeError{Code: ChallengeUnknownRequirement, Value: name}
	}

	ext := map[string]string{}
	if item.Params != nil {
		for _, k := range item.Params.Names() {
			pv, _ := item.Params.Get(k)
			if f := c.field(k); f != nil {
				*f, _ = chalText(pv) // non-text counts as absent
				continue
			}
			if s, ok := chalSerializeBare(pv); ok {
				ext[k] = s
			}
		}
	}
	for _, k := range d.Names() {
		if k == "requirement" {
			continue
		}
		mv, _ := d.Get(k)
		if f := c.field(k); f != nil {
			// Rule 6: a member only fills a field its parameter left empty.
			if *f == "" {
				if it, ok := mv.(httpsfv.Item); ok {
					*f, _ = chalText(it.Value)
				}
			}
			continue
		}
		if _, dup := ext[k]; dup {
			continue // the parameter wins
		}
		if s, ok := chalSerializeMember(mv); ok {
			ext[k] = s
		}
	}
	if len(ext) > 0 {
		c.Extensions = ext
	}
	if err := chalValidate(c); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// field returns the Challenge field a parameter or member name fills, or nil.
func (c *Challenge) field(name string) *string {
	switch name {
	case "resource-token":
		return &c.ResourceToken
	case "url":
		return &c.URL
	case "code":
		return &c.Code
	}
	return nil
}

// chalValidate checks the parameters a requirement cannot do without.
func chalValidate(c Challenge) error {
	switch c.Requirement {
	case RequirementAuthToken:
		if c.ResourceToken == "" {
			return &ChallengeError{Code: ChallengeMissingResourceToken}
		}
	case RequirementInteraction:
		if c.URL == "" || c.Code == "" {
			return &ChallengeError{Code: ChallengeMissingURLOrCode}
		}
	}
	return nil
}
