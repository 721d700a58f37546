package aauthtest

import (
	"maps"
	"net/http"
	"time"
)

// A Decision says how a server answers one request it has been asked to
// script: a token request at the person server, or a call that reached a
// resource's handler. It is a list of deferral steps followed by an end.
//
// With no steps the end is answered at once. With steps the server answers
// 202 Accepted with a Location (a pending URL on the same server), plays one
// step per answer (the first at the original endpoint, the next ones on the
// polls of the pending URL), and answers the end on the poll after the last
// step.
//
// The zero Decision approves at once.
type Decision struct {
	steps    []Step
	end      outcome
	lifetime time.Duration
	scope    string
	claims   map[string]any
	gov      *govDecision        // governance endpoints: mission approval, answers
	onEnd    func(consentResult) // told how the request ended (ConsentOnce)
}

// outcomeKind is how a Decision ends.
type outcomeKind uint8

const (
	endApprove   outcomeKind = iota // issue the token / serve the call
	endFail                         // an error body with status and code
	endRespond                      // exactly the given response
	endMalformed                    // a broken answer (see Fault)
)

// outcome is the end of a Decision.
type outcome struct {
	kind       outcomeKind
	status     int
	code       string
	detail     string
	retryAfter string
	header     http.Header
	body       []byte
	fault      Fault
}

// Approve answers with success at once: the token at the person server
// (200 {"auth_token"|"person_token", "expires_in"}), the handler's answer
// at a resource.
func Approve() Decision { return Decision{} }

// Defer answers 202 Accepted and plays steps, one per answer, before
// approving. Change the end with [Decision.Then]:
//
//	aauthtest.Defer(aauthtest.Interaction()).Then(aauthtest.Deny())
func Defer(steps ...Step) Decision { return Decision{steps: append([]Step(nil), steps...)} }

// Then returns d with end's ending (and end's steps, if any, after d's
// own). The lifetime, scope and claims of d are kept unless end sets them.
func (d Decision) Then(end Decision) Decision {
	out := d
	out.steps = append(append([]Step(nil), d.steps...), end.steps...)
	out.end = end.end
	if end.lifetime != 0 {
		out.lifetime = end.lifetime
	}
	if end.scope != "" {
		out.scope = end.scope
	}
	if end.claims != nil {
		out.claims = maps.Clone(end.claims)
	}
	if end.gov != nil {
		out.gov = end.gov
	}
	return out
}

// Lifetime returns d with the lifetime of the token issued on approval set
// to lifetime (still capped by the presented and agent tokens' expiry, as
// the protocol requires). It has no effect at a resource.
func (d Decision) Lifetime(lifetime time.Duration) Decision {
	d.lifetime = lifetime
	return d
}

// Scope returns d with the scope of the auth token issued on approval set
// to scope, instead of the resource token's. It has no effect at a
// resource.
func (d Decision) Scope(scope string) Decision {
	d.scope = scope
	return d
}

// Claims returns d with extra claims added to (or replacing claims of) the
// token issued on approval. It has no effect at a resource.
func (d Decision) Claims(claims map[string]any) Decision {
	d.claims = maps.Clone(claims)
	return d
}

// Deny ends with 403 {"error":"denied"}: the person said no.
func Deny() Decision { return Fail(http.StatusForbidden, "denied", "the person denied the request") }

// Abandon ends with 403 {"error":"abandoned"}: the person walked away.
func Abandon() Decision {
	return Fail(http.StatusForbidden, "abandoned", "the person abandoned the request")
}

// Revoked ends with 403 {"error":"revoked"}: the grant was revoked while
// pending (AAuth -11 polling).
func Revoked() Decision { return Fail(http.StatusForbidden, "revoked", "the request was revoked") }

// Expire ends with 408 {"error":"expired"}: the pending request timed out.
func Expire() Decision {
	return Fail(http.StatusRequestTimeout, "expired", "the pending request expired")
}

// Gone ends with 410 {"error":"invalid_code"}: the pending URL is no longer
// valid; the agent must not retry.
func Gone() Decision { return Fail(http.StatusGone, "invalid_code", "the pending request is gone") }

// ServerError ends with 500 {"error":"server_error"}.
func ServerError() Decision {
	return Fail(http.StatusInternalServerError, "server_error", "scripted server error")
}

// ASUnreachable ends with 502 {"error":"as_unreachable"}: the person server
// could not reach the resource's access server (AAuth -11).
func ASUnreachable() Decision {
	return Fail(http.StatusBadGateway, "as_unreachable", "the access server is unreachable")
}

// Fail ends with status and an error body carrying code and detail, in the
// server's profile: application/problem+json {"error","detail"} (current) or
// application/json {"error","error_description"} (seed).
func Fail(status int, code, detail string) Decision {
	return Decision{end: outcome{kind: endFail, status: status, code: code, detail: detail}}
}

// RetryAfter returns d with a Retry-After header value added to its final
// answer (for a 429 or 503 end, say). The value is sent as it is: seconds,
// an HTTP-date, or nonsense.
func (d Decision) RetryAfter(value string) Decision {
	d.end.retryAfter = value
	return d
}

// Respond ends with exactly this answer: status, the headers in header
// (may be nil) and body. Use it for answers the other constructors do not
// cover.
func Respond(status int, header http.Header, body string) Decision {
	return Decision{end: outcome{kind: endRespond, status: status, header: header.Clone(), body: []byte(body)}}
}

// Malformed ends with a broken answer of the given kind. Each Fault says
// where it applies; at a server where it does not, the answer is a 500
// saying so.
func Malformed(f Fault) Decision { return Decision{end: outcome{kind: endMalformed, fault: f}} }

// A Fault is a kind of malformed answer, for [Malformed].
type Fault string

// Faults of a person server's token answer (they replace the 200). On the
// person-token endpoint "auth_token" reads "person_token".
const (
	FaultBodyNotJSON       Fault = "body-not-json"        // 200, text/plain, not JSON
	FaultEmptyBody         Fault = "empty-body"           // 200, application/json, no body
	FaultNoToken           Fault = "no-token"             // 200 {"expires_in":3600}
	FaultTokenNotString    Fault = "token-not-string"     // 200 {"auth_token":12345,"expires_in":3600}
	FaultNegativeExpiresIn Fault = "negative-expires-in"  // a real token with "expires_in":-60
	FaultAbsurdExpiresIn   Fault = "absurd-expires-in"    // a real token with "expires_in":99999999999999999999
	FaultExpiresInString   Fault = "expires-in-string"    // a real token with "expires_in":"3600"
	FaultHugeBody          Fault = "huge-body"            // 200 with 8 MiB of JSON (white space, then a token)
	FaultTokenOtherKey     Fault = "token-other-key"      // a real token whose cnf.jwk is another key
	FaultTokenWrongAud     Fault = "token-wrong-audience" // a real token for another audience
	FaultTokenWrongIssuer  Fault = "token-wrong-issuer"   // a token signed by the server but naming another issuer
	FaultTokenBadSignature Fault = "token-bad-signature"  // a token whose signature does not verify
	FaultTokenExpired      Fault = "token-expired"        // a real token that expired an hour ago
)

// Faults of a deferred answer, at either server: a 202 that is broken.
const (
	FaultNoLocation          Fault = "no-location"           // 202 without Location
	FaultCrossOriginLocation Fault = "cross-origin-location" // 202 whose Location is another origin (localhost instead of 127.0.0.1)
)

// Faults of a challenge, at either server: the answer carries a broken
// AAuth-Requirement (401 at a resource, 202 at a person server).
const (
	FaultRequirementGarbage     Fault = "requirement-garbage"      // AAuth-Requirement: not a structured field
	FaultRequirementUnknown     Fault = "requirement-unknown"      // requirement=bogus
	FaultAuthTokenNoResource    Fault = "auth-token-no-resource"   // requirement=auth-token without resource-token
	FaultResourceTokenGarbage   Fault = "resource-token-garbage"   // resource-token="not-a-jwt"
	FaultResourceTokenOtherKey  Fault = "resource-token-other-key" // a real resource token whose agent_jkt is another key (resource only)
	FaultResourceTokenExpired   Fault = "resource-token-expired"   // a real resource token that expired (resource only)
	FaultInteractionNoURL       Fault = "interaction-no-url"       // requirement=interaction; code only
	FaultAccessTokenWhitespace  Fault = "access-whitespace"        // 200 with AAuth-Access: "a b" (resource only)
	FaultAccessTokenMultiple    Fault = "access-multiple"          // 200 with two AAuth-Access lines (resource only)
	FaultSignatureErrorGarbage  Fault = "signature-error-garbage"  // 401 with a Signature-Error that is not a dictionary
	FaultSignatureErrorUnknown  Fault = "signature-error-unknown"  // 401 with Signature-Error: error=something_new
	FaultRequirementCommaFormat Fault = "requirement-comma"        // requirement=auth-token, resource-token="…" (separate members; resource only)
)

// stepKind is what a Step answers.
type stepKind uint8

const (
	stepPending stepKind = iota
	stepApproval
	stepInteraction
	stepInteracting
	stepClarification
	stepStatus
	stepAwait // answers as approval until a consent gate closes (ConsentOnce)
)

// A Step is one non-final answer of a deferred request: a 202 (pending,
// approval, interaction, interacting, clarification) or a transient error
// (429, 503). Steps are values; their methods return modified copies.
type Step struct {
	kind       stepKind
	times      int // answers before the step is done; 0: the kind's default
	retryAfter *string
	question   string
	options    []string
	timeout    int
	status     int
	gate       *consentGate // stepAwait
}

// Pending answers 202 {"status":"pending"} with no requirement, once.
func Pending() Step { return Step{kind: stepPending} }

// Approval answers 202 with AAuth-Requirement: requirement=approval, once:
// a person is asked to approve out of band.
func Approval() Step { return Step{kind: stepApproval} }

// Interaction answers 202 with AAuth-Requirement: requirement=interaction;
// url="…"; code="…", where url is the server's consent page and code a
// fresh Crockford base32 code of 8 symbols. It repeats on every poll until
// the interaction is completed: by the test (CompleteInteraction or
// DenyInteraction with the code), by anyone fetching url?code=… (add
// &action=deny to deny), or after Times(n) answers.
func Interaction() Step { return Step{kind: stepInteraction} }

// Interacting answers 202 {"status":"interacting"}, once: the person is
// being reached, so the agent should stop prompting.
func Interacting() Step { return Step{kind: stepInteracting} }

// Clarification answers 202 with AAuth-Requirement:
// requirement=clarification and the body
// {"status":"pending","clarification":question,"timeout":120,"options":[…]}.
// It repeats until the agent POSTs an answer to the pending URL (or after
// Times(n) answers). The answer is recorded (see ClarificationAnswers).
func Clarification(question string, options ...string) Step {
	return Step{kind: stepClarification, question: question, options: append([]string(nil), options...), timeout: 120}
}

// Status answers a poll with status (429 and 503 are the useful ones) and
// the Retry-After value retryAfter ("" sends none), once; the request stays
// pending. 429 carries {"error":"slow_down"}, other statuses
// {"error":"temporarily_unavailable"}. A Decision whose first step is a
// Status step answers the original request with a plain pending 202 (an
// error there would end the exchange) and the Status on the first poll;
// queue a [Fail] decision to refuse the request itself.
func Status(status int, retryAfter string) Step {
	return Step{kind: stepStatus, status: status, retryAfter: &retryAfter}
}

// Times returns s answered n times before it is done (n < 1 means once for
// the kinds that are answered once). For Interaction and Clarification,
// which otherwise wait to be completed or answered, n makes them complete
// by themselves after n answers.
func (s Step) Times(n int) Step {
	s.times = n
	return s
}

// RetryAfter returns s with the Retry-After header set to value, sent as it
// is (seconds, an HTTP-date, or an absurd value). "" sends no Retry-After.
// Without it a 202 carries the server's default (see the options'
// RetryAfter).
func (s Step) RetryAfter(value string) Step {
	s.retryAfter = &value
	return s
}

// Timeout returns a Clarification step whose body says timeout seconds.
func (s Step) Timeout(seconds int) Step {
	s.timeout = seconds
	return s
}

// count is how many answers the step gives when it does not hold.
func (s Step) count() int {
	if s.times < 1 {
		return 1
	}
	return s.times
}

func (k stepKind) String() string {
	switch k {
	case stepPending:
		return "pending"
	case stepApproval:
		return "approval"
	case stepInteraction:
		return "interaction"
	case stepInteracting:
		return "interacting"
	case stepClarification:
		return "clarification"
	case stepStatus:
		return "status"
	case stepAwait:
		return "await"
	}
	return "unknown"
}
