package resource

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/r3"
)

// The R3 cases of the hostile-client table: a client (or a person server)
// that bends R3's rules never gets a tool run it was not granted, or a
// per-call approval used twice.
func init() { hostileCases = append(hostileCases, r3HostileCases...) }

// r3Setup configures the table's resource for R3.
func r3Setup(rs *Resource) {
	rs.Mode = AuthToken
	rs.PersonTokenJTI = true
	rs.AuthorizationPath = "/aauth/authorize"
	rs.R3 = &R3{Definitions: []*r3.Document{r3Read, r3Write}}
}

// r3Challenged runs the 401 path and keeps, in w.stash, the claims of an
// auth token granting search and fetch outright and send_email per call
// ("class"), and a narrow token for send_email{"to":"a"} ("narrow"), and
// runs that call once when ranOnce.
func r3Challenged(ranOnce bool) func(w *world) {
	return func(w *world) {
		t := w.t
		resp := w.do("POST", "/mcp", toolCall(1, "search", ""), w.personToken(nil))
		rt := verifyResourceToken(t, w, resourceTokenOf(t, resp))
		class := w.authToken("", grantClaims(rt, []string{"search", "fetch"}, []string{"send_email"}))
		resp = w.do("POST", "/mcp", toolCall(2, "send_email", `{"to":"a"}`), class)
		call := verifyResourceToken(t, w, resourceTokenOf(t, resp))
		w.stash = map[string]string{
			"class": class, "doc": rt["r3_uri"].(string), "call": call["r3_uri"].(string),
			"narrow": w.authToken("", grantClaims(call, []string{"send_email"}, nil)),
			"other":  w.authToken("", grantClaims(call, []string{"send_email"}, nil)),
		}
		if ranOnce {
			resp = w.do("POST", "/mcp", toolCall(3, "send_email", `{"to":"a"}`), w.stash["narrow"])
			wantStatus(t, resp, http.StatusOK, "")
		}
	}
}

// r3Call is a signed tools/call presenting the stashed token name.
func r3Call(token, body string) func(w *world) *http.Request {
	return func(w *world) *http.Request {
		r := w.request("POST", "/mcp", body)
		w.agent.sign(w.t, r, w.stash[token], w.clock.Now())
		return r
	}
}

// r3Fetch is a GET of the stashed document name signed by f.
func r3Fetch(doc string, f func(w *world, r *http.Request)) func(w *world) *http.Request {
	return func(w *world) *http.Request {
		r, _ := http.NewRequest("GET", w.stash[doc], nil)
		if f != nil {
			f(w, r)
		}
		return r
	}
}

// signAsServer signs r with is's published key (jwks_uri), naming dwk.
func signAsServer(w *world, r *http.Request, is *issuer, dwk string) {
	s := &aauth.Signer{Now: w.clock.Now}
	if err := s.Sign(r, aauth.KeyMaterial{Signer: is.key, Key: aauth.JWKSURI(is.url, dwk, is.kid)}); err != nil {
		w.t.Fatal(err)
	}
}

// problemIs checks the problem code of a refusal that carries no
// Signature-Error.
func problemIs(code string) func(t *testing.T, resp *http.Response) {
	return func(t *testing.T, resp *http.Response) { wantProblem(t, resp, code) }
}

// grantToken is a tools/call of tool under an auth token with the given
// R3 claims (the claims may read the stash: see r3Challenged).
func grantToken(tool string, claims func(w *world) map[string]any) func(w *world) *http.Request {
	return func(w *world) *http.Request {
		r := w.request("POST", "/mcp", toolCall(5, tool, ""))
		w.agent.sign(w.t, r, w.authToken("", claims(w)), w.clock.Now())
		return r
	}
}

var r3HostileCases = []hostileCase{
	{name: "r3-grant-outside-document", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("invalid_grant"),
		req: grantToken("delete_all", func(w *world) map[string]any {
			readEnc, _ := r3.Encode(r3Read)
			return map[string]any{"r3_uri": w.rs.Issuer + "/aauth/r3/" + readEnc.S256, "r3_s256": readEnc.S256,
				"r3_granted": r3.Tools("search", "delete_all")}
		})},
	{name: "r3-grant-claims-malformed", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("invalid_grant"),
		req: grantToken("search", func(w *world) map[string]any {
			return map[string]any{"r3_uri": w.stash["doc"], "r3_granted": r3.Tools("search")}
		})},
	{name: "r3-grant-unknown-vocabulary", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("invalid_grant"),
		req: grantToken("search", func(w *world) map[string]any {
			return map[string]any{"r3_uri": w.stash["doc"], "r3_s256": w.stash["doc"][len(w.stash["doc"])-43:],
				"r3_granted": map[string]any{"vocabulary": "urn:aauth:vocabulary:openapi-gateway", "operations": []any{map[string]any{"operationId": "search"}}}}
		})},
	{name: "r3-tool-outside-grant", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("operation_not_granted"),
		req: r3Call("class", toolCall(4, "delete_all", ""))},
	{name: "r3-per-call-replay-second-call", status: 200, ran: times(0), setup: r3Setup, before: r3Challenged(true),
		req: r3Call("narrow", toolCall(4, "send_email", `{"to":"a"}`))},
	{name: "r3-per-call-replay-other-tool", status: 403, setup: r3Setup, before: r3Challenged(true), check: problemIs("operation_not_granted"),
		req: r3Call("narrow", toolCall(4, "search", ""))},
	{name: "r3-per-call-replay-other-parameters", status: 403, setup: r3Setup, before: r3Challenged(true), check: problemIs("parameters_mismatch"),
		req: r3Call("narrow", toolCall(4, "send_email", `{"to":"b"}`))},
	{name: "r3-per-call-extra-parameter", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("parameters_mismatch"),
		req: r3Call("narrow", toolCall(4, "send_email", `{"to":"a","bcc":"c"}`))},
	{name: "r3-per-call-second-token-for-consumed", status: 403, setup: r3Setup, before: r3Challenged(true), check: problemIs("per_call_consumed"),
		req: r3Call("other", toolCall(4, "send_email", `{"to":"a"}`))},
	{name: "r3-per-call-token-for-tools-list", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("operation_not_granted"),
		req: r3Call("narrow", `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`)},
	{name: "r3-batch-granted-and-per-call", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("per_call_batch"),
		req: r3Call("class", `[`+toolCall(1, "search", "")+`,`+toolCall(2, "send_email", `{"to":"a"}`)+`]`)},
	{name: "r3-batch-granted-and-refused", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("operation_not_granted"),
		req: r3Call("class", `[`+toolCall(1, "search", "")+`,`+toolCall(2, "delete_all", "")+`]`)},
	{name: "r3-body-too-large-to-classify", status: 413, setup: r3Setup, before: r3Challenged(false),
		req: r3Call("class", toolCall(1, "search", `{"q":"`+strings.Repeat("x", 1<<20)+`"}`))},
	{name: "r3-case-variant-members", status: 400, setup: r3Setup, before: r3Challenged(false), check: problemIs("invalid_request"),
		req: r3Call("class", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","Name":"delete_all"}}`)},
	{name: "r3-duplicate-members", status: 400, setup: r3Setup, before: r3Challenged(false), check: problemIs("invalid_request"),
		req: r3Call("class", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"delete_all"}}`)},
	{name: "r3-authorize-unknown-vocabulary", status: 400, setup: r3Setup, check: problemIs("invalid_request"),
		req: func(w *world) *http.Request {
			r := w.request("POST", "/aauth/authorize", `{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:openapi-gateway","operations":[{"operationId":"x"}]}}`)
			w.agent.sign(w.t, r, w.personToken(nil), w.clock.Now())
			return r
		}},
	{name: "r3-document-fetch-unsigned", status: 401, code: "invalid_signature", setup: r3Setup, before: r3Challenged(false),
		req: r3Fetch("doc", nil)},
	{name: "r3-document-fetch-by-agent", status: 401, code: "unsupported_scheme", setup: r3Setup, before: r3Challenged(false),
		req: r3Fetch("doc", func(w *world, r *http.Request) { w.agent.sign(w.t, r, w.personToken(nil), w.clock.Now()) })},
	{name: "r3-document-fetch-other-ps", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("not_entitled"),
		req: r3Fetch("doc", func(w *world, r *http.Request) { signAsServer(w, r, newIssuer(w.t, w.clock, dwkPerson), dwkPerson) })},
	{name: "r3-proposal-fetch-other-ps", status: 403, setup: r3Setup, before: r3Challenged(false), check: problemIs("not_entitled"),
		req: r3Fetch("call", func(w *world, r *http.Request) { signAsServer(w, r, newIssuer(w.t, w.clock, dwkPerson), dwkPerson) })},
	{name: "r3-document-fetch-agent-document", status: 401, code: "invalid_key", setup: r3Setup, before: r3Challenged(false),
		req: r3Fetch("doc", func(w *world, r *http.Request) { signAsServer(w, r, w.ap, dwkAgent) })},
	{name: "r3-document-fetch-bad-signature", status: 401, code: "invalid_signature", setup: r3Setup, before: r3Challenged(false),
		req: r3Fetch("doc", func(w *world, r *http.Request) { signAsServer(w, r, w.ps, dwkPerson); flipSignature(r) })},
	{name: "r3-document-fetch-unknown-kid", status: 401, code: "unknown_key", setup: r3Setup, before: r3Challenged(false),
		req: r3Fetch("doc", func(w *world, r *http.Request) {
			signAsServer(w, r, w.ps, dwkPerson)
			r.Header.Set("Signature-Key", strings.Replace(r.Header.Get("Signature-Key"), `kid="`, `kid="x`, 1))
		})},
}
