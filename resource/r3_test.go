package resource

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/r3"
)

// The tools of the tests' MCP server, in two definitions.
var (
	r3Read = &r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "fetch").Operations,
		Display: &r3.Display{Summary: "Read your documents"}}
	r3Write = &r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("send_email", "delete_all").Operations,
		Display: &r3.Display{Summary: "Send email as you", Irreversible: "Sent mail cannot be unsent"}}
)

// newR3World is a world whose resource enforces R3 with the two
// definitions, in auth-token mode, naming person tokens in
// person_token_jti as mockin wants.
func newR3World(t testing.TB, configure func(rs *Resource)) *world {
	t.Helper()
	return newWorld(t, func(rs *Resource) {
		rs.Mode = AuthToken
		rs.PersonTokenJTI = true
		rs.AuthorizationPath = "/aauth/authorize"
		rs.R3 = &R3{Definitions: []*r3.Document{r3Read, r3Write}}
		if configure != nil {
			configure(rs)
		}
	})
}

// toolCall is a JSON-RPC tools/call body.
func toolCall(id int, tool, args string) string {
	if args == "" {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q}}`, id, tool)
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args)
}

// grantClaims are the R3 claims of an auth token drawn from the document
// a resource token referenced.
func grantClaims(rt map[string]any, granted, perCall []string) map[string]any {
	c := map[string]any{"r3_uri": rt["r3_uri"], "r3_s256": rt["r3_s256"]}
	if granted != nil {
		c["r3_granted"] = r3.Tools(granted...)
	}
	if perCall != nil {
		c["r3_per_call"] = r3.Tools(perCall...)
	}
	return c
}

// fetchR3 GETs an R3 document signed as the issuer is (jwks_uri scheme,
// with its published key), as a person server does.
func (w *world) fetchR3(is *issuer, uri string) (*http.Response, []byte) {
	w.t.Helper()
	req, err := http.NewRequest("GET", uri, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	is.mu.Lock()
	key, kid := is.key, is.kid
	is.mu.Unlock()
	s := &aauth.Signer{Now: w.clock.Now}
	if err := s.Sign(req, aauth.KeyMaterial{Signer: key, Key: aauth.JWKSURI(is.url, is.dwk, kid)}); err != nil {
		w.t.Fatal(err)
	}
	resp := w.send(req)
	return resp, []byte(bodyOf(resp))
}

// handlerRuns counts the requests the protected handler served.
func (w *world) handlerRuns() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.callers)
}

func TestR3Metadata(t *testing.T) {
	w := newR3World(t, nil)
	var md map[string]any
	getJSON(t, w.rs.Issuer+"/.well-known/aauth-resource.json", &md)
	voc, _ := md["r3_vocabularies"].(map[string]any)
	if voc[r3.VocabularyMCP] != w.rs.Issuer || len(voc) != 1 {
		t.Errorf("r3_vocabularies %v", md["r3_vocabularies"])
	}
	if _, err := (&Resource{Issuer: "https://r.example", R3: &R3{Definitions: []*r3.Document{r3Read}}, MetadataMembers: map[string]any{"r3_vocabularies": 1}}).Verify(w.request("GET", "/", "")); err == nil {
		t.Error("MetadataMembers replaced r3_vocabularies")
	}
}

// TestR3Flow walks R3 on the resource: the 401 challenge references the
// document of every definition, which only the person server fetches,
// byte for byte; a granted tool is served, a tool outside the grant is
// refused, a per-call tool is challenged with a proposal carrying the
// call's arguments, and the narrow token runs that call once.
func TestR3Flow(t *testing.T) {
	w := newR3World(t, nil)
	pt := w.personToken(nil)
	ptJTI := payloadOf(t, pt)["jti"]

	// tools/list needs what Mode says; a tools/call needs an auth token.
	resp := w.do("POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, pt)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	resp = w.do("POST", "/mcp", toolCall(2, "search", `{"q":"x"}`), pt)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	rtClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	uri, _ := rtClaims["r3_uri"].(string)
	if !strings.HasPrefix(uri, w.rs.Issuer+"/aauth/r3/") || rtClaims["r3_s256"] == nil || rtClaims["person_token_jti"] != ptJTI {
		t.Fatalf("resource token claims %v", rtClaims)
	}

	// The person server fetches the document: the bytes hash to r3_s256
	// and cover every definition.
	resp, body := w.fetchR3(w.ps, uri)
	wantStatus(t, resp, http.StatusOK, "")
	doc, err := r3.Verify(body, rtClaims["r3_s256"].(string))
	if err != nil {
		t.Fatalf("fetched document: %v", err)
	}
	for _, tool := range []string{"search", "fetch", "send_email", "delete_all"} {
		if !doc.OperationSet().CoversTool(tool) {
			t.Errorf("the document does not cover %s", tool)
		}
	}
	if resp.Header.Get("Cache-Control") != "private, no-transform" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	// Nobody else does.
	other := newIssuer(t, w.clock, dwkPerson)
	resp, _ = w.fetchR3(other, uri)
	wantStatus(t, resp, http.StatusForbidden, "")
	resp = w.send(w.request("GET", strings.TrimPrefix(uri, w.rs.Issuer), ""))
	wantStatus(t, resp, http.StatusUnauthorized, "invalid_signature")
	if resp.Header.Get("Accept-Signature-Scheme") != "jwks_uri" {
		t.Errorf("Accept-Signature-Scheme %q", resp.Header.Get("Accept-Signature-Scheme"))
	}
	resp = w.do("GET", strings.TrimPrefix(uri, w.rs.Issuer), "", pt)
	wantStatus(t, resp, http.StatusUnauthorized, "unsupported_scheme")

	// The person server grants search and fetch, send_email per call.
	at := w.authToken("", grantClaims(rtClaims, []string{"search", "fetch"}, []string{"send_email"}))
	runs := w.handlerRuns()
	resp = w.do("POST", "/mcp", toolCall(3, "search", `{"q":"x"}`), at)
	wantStatus(t, resp, http.StatusOK, "")
	c := w.lastCaller()
	if c.Grant == nil || !c.Grant.Granted.CoversTool("search") || c.PerCall || c.GrantDocument == nil || !c.GrantDocument.OperationSet().CoversTool("delete_all") {
		t.Errorf("caller grant %+v, document %+v, per-call %v", c.Grant, c.GrantDocument, c.PerCall)
	}
	resp = w.do("POST", "/mcp", `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, at)
	wantStatus(t, resp, http.StatusOK, "")
	resp = w.do("POST", "/mcp", toolCall(5, "delete_all", ""), at)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantProblem(t, resp, "operation_not_granted")
	if got := w.handlerRuns() - runs; got != 2 {
		t.Fatalf("the handler ran %d times, want 2", got)
	}

	// send_email: a per-call challenge whose proposal carries the
	// arguments.
	args := `{"to":"a@example.com","body":"hi"}`
	resp = w.do("POST", "/mcp", toolCall(6, "send_email", args), at)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	callClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	callURI, _ := callClaims["r3_uri"].(string)
	if !strings.HasPrefix(callURI, w.rs.Issuer+"/aauth/r3/call/") || callClaims["presented_jti"] != payloadOf(t, at)["jti"] ||
		callClaims["person_token_jti"] != ptJTI || callClaims["aud"] != w.ps.url {
		t.Fatalf("per-call resource token %v", callClaims)
	}
	resp, body = w.fetchR3(w.ps, callURI)
	wantStatus(t, resp, http.StatusOK, "")
	prop, err := r3.Verify(body, callClaims["r3_s256"].(string))
	if err != nil || !prop.IsProposal() || !prop.OperationSet().CoversTool("send_email") || len(prop.Operations) != 1 {
		t.Fatalf("proposal %s: %v", body, err)
	}
	if err := r3.MatchParameters(prop.Parameters, json.RawMessage(args)); err != nil {
		t.Errorf("the proposal does not carry the call's arguments: %v", err)
	}
	resp, _ = w.fetchR3(other, callURI)
	wantStatus(t, resp, http.StatusForbidden, "")

	// The narrow token runs the call once; the same token again gets
	// the same answer without running it.
	narrow := w.authToken("", grantClaims(callClaims, []string{"send_email"}, nil))
	runs = w.handlerRuns()
	resp = w.do("POST", "/mcp", toolCall(7, "send_email", `{"body":"hi", "to":"a@example.com"}`), narrow)
	wantStatus(t, resp, http.StatusOK, "")
	first := bodyOf(resp)
	if c := w.lastCaller(); !c.PerCall || c.GrantDocument == nil || !c.GrantDocument.IsProposal() {
		t.Errorf("per-call caller %+v", c)
	}
	resp = w.do("POST", "/mcp", toolCall(7, "send_email", args), narrow)
	wantStatus(t, resp, http.StatusOK, "")
	if bodyOf(resp) != first || w.handlerRuns()-runs != 1 {
		t.Errorf("the repeated presentation ran the call again (runs %d) or answered otherwise: %s", w.handlerRuns()-runs, bodyOf(resp))
	}
	// Not for other arguments, another tool, or a batch.
	resp = w.do("POST", "/mcp", toolCall(8, "send_email", `{"to":"b@example.com","body":"hi"}`), narrow)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantProblem(t, resp, "parameters_mismatch")
	resp = w.do("POST", "/mcp", toolCall(9, "search", `{"q":"x"}`), narrow)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantProblem(t, resp, "operation_not_granted")
	resp = w.do("POST", "/mcp", `[`+toolCall(10, "send_email", args)+`]`, narrow)
	wantStatus(t, resp, http.StatusForbidden, "")
	// Another narrow token for the same proposal runs nothing.
	again := w.authToken("", grantClaims(callClaims, []string{"send_email"}, nil))
	resp = w.do("POST", "/mcp", toolCall(11, "send_email", args), again)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantProblem(t, resp, "per_call_consumed")
	if w.handlerRuns()-runs != 1 {
		t.Errorf("the handler ran %d times under per-call tokens, want 1", w.handlerRuns()-runs)
	}

	// The class token is challenged again for the next send_email.
	resp = w.do("POST", "/mcp", toolCall(12, "send_email", args), at)
	wantStatus(t, resp, http.StatusUnauthorized, "")
	if next := verifyResourceToken(t, w, resourceTokenOf(t, resp)); next["r3_uri"] == callURI {
		t.Error("two challenges share one proposal")
	}
}

// wantProblem fails unless resp's problem body has the error code.
func wantProblem(t testing.TB, resp *http.Response, code string) {
	t.Helper()
	var p struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(bodyOf(resp)), &p); err != nil || p.Error != code {
		t.Fatalf("problem %s, want error %q", bodyOf(resp), code)
	}
}

// A per-call challenge delivered as a 202 holds the call; polling with
// the narrow token runs it once.
func TestR3PerCallDeferred(t *testing.T) {
	w := newR3World(t, func(rs *Resource) { rs.R3.PerCallDeferred = true; rs.PollInterval = -1 })
	pt := w.personToken(nil)
	resp := w.do("POST", "/mcp", toolCall(1, "search", ""), pt)
	rtClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	at := w.authToken("", grantClaims(rtClaims, []string{"search"}, []string{"send_email"}))

	runs := w.handlerRuns()
	resp = w.do("POST", "/mcp", toolCall(2, "send_email", `{"to":"a"}`), at)
	wantStatus(t, resp, http.StatusAccepted, "")
	loc := resp.Header.Get("Location")
	callClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	if loc == "" || !strings.Contains(callClaims["r3_uri"].(string), "/aauth/r3/call/") {
		t.Fatalf("202 Location %q, resource token %v", loc, callClaims)
	}
	path := strings.TrimPrefix(loc, w.rs.Issuer)
	// The class token does not release it.
	resp = w.do("GET", path, "", at)
	wantStatus(t, resp, http.StatusAccepted, "")
	narrow := w.authToken("", grantClaims(callClaims, []string{"send_email"}, nil))
	w.clock.Advance(time.Second)
	resp = w.do("GET", path, "", narrow)
	wantStatus(t, resp, http.StatusOK, "")
	if !w.lastCaller().PerCall || w.handlerRuns()-runs != 1 {
		t.Fatalf("runs %d, caller %+v", w.handlerRuns()-runs, w.lastCaller())
	}
	w.clock.Advance(time.Second)
	resp = w.do("GET", path, "", narrow)
	wantStatus(t, resp, http.StatusOK, "")
	// Sent as a fresh call, the narrow token runs nothing.
	resp = w.do("POST", "/mcp", toolCall(2, "send_email", `{"to":"a"}`), narrow)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantProblem(t, resp, "per_call_consumed")
	if w.handlerRuns()-runs != 1 {
		t.Errorf("the held call ran %d times", w.handlerRuns()-runs)
	}
}

// The authorization endpoint takes r3_operations: the resource token
// references a document covering exactly those tools (the definition
// itself when they are one definition's).
func TestR3AuthorizeFirst(t *testing.T) {
	w := newR3World(t, nil)
	pt := w.personToken(nil)
	authorize := func(body string) (*http.Response, map[string]any) {
		resp := w.do("POST", "/aauth/authorize", body, pt)
		if resp.StatusCode != http.StatusOK {
			return resp, nil
		}
		var out struct {
			ResourceToken string `json:"resource_token"`
		}
		if err := json.Unmarshal([]byte(bodyOf(resp)), &out); err != nil {
			t.Fatal(err)
		}
		return resp, verifyResourceToken(t, w, out.ResourceToken)
	}
	readEnc, _ := r3.Encode(r3Read)
	_, cl := authorize(`{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"fetch"},{"tool":"search"}]}}`)
	if cl == nil || cl["r3_s256"] != readEnc.S256 || cl["scope"] != nil {
		t.Fatalf("exactly one definition: claims %v, want r3_s256 %s", cl, readEnc.S256)
	}
	_, cl = authorize(`{"scope":"x","r3_operations":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"search"},{"tool":"send_email"}]}}`)
	if cl == nil || cl["scope"] != "x" {
		t.Fatalf("claims %v", cl)
	}
	resp, body := w.fetchR3(w.ps, cl["r3_uri"].(string))
	wantStatus(t, resp, http.StatusOK, "")
	doc, err := r3.Verify(body, cl["r3_s256"].(string))
	if err != nil || len(doc.Operations) != 2 || !doc.OperationSet().CoversTool("send_email") || doc.OperationSet().CoversTool("fetch") {
		t.Fatalf("composed document %s: %v", body, err)
	}
	// The same combination is the same document.
	_, cl2 := authorize(`{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"send_email"},{"tool":"search"}]}}`)
	if cl2 == nil || cl2["r3_s256"] != cl["r3_s256"] {
		t.Errorf("the same tools gave another document: %v", cl2)
	}
	// account goes into the document.
	_, cl = authorize(`{"account":"acct-7","r3_operations":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"search"}]}}`)
	_, body = w.fetchR3(w.ps, cl["r3_uri"].(string))
	if doc, err := r3.Verify(body, cl["r3_s256"].(string)); err != nil || doc.Account != "acct-7" {
		t.Errorf("document %s: %v", body, err)
	}

	for _, c := range []struct{ name, body, code string }{
		{"undefined tool", `{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"format_disk"}]}}`, "invalid_scope"},
		{"removed vocabulary", `{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:openapi-gateway","operations":[{"operationId":"x"}]}}`, "invalid_request"},
		{"unknown vocabulary", `{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:soap","operations":[{"tool":"x"}]}}`, "invalid_request"},
		{"another vocabulary", `{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:openapi","operations":[{"operationId":"x"}]}}`, "invalid_request"},
		{"duplicate member", `{"r3_operations":{"vocabulary":"urn:aauth:vocabulary:mcp","operations":[{"tool":"search","tool":"delete_all"}]}}`, "invalid_request"},
		{"not an object", `{"r3_operations":[]}`, "invalid_request"},
		{"neither scope nor operations", `{"account":"a"}`, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := authorize(c.body)
			wantStatus(t, resp, http.StatusBadRequest, "")
			wantProblem(t, resp, c.code)
		})
	}
}

// A token whose grant names a tool outside its document, or whose claims
// are malformed, is refused (the issuer's fault); one whose document the
// resource does not hold is challenged afresh.
func TestR3GrantChecks(t *testing.T) {
	w := newR3World(t, nil)
	pt := w.personToken(nil)
	resp := w.do("POST", "/mcp", toolCall(1, "search", ""), pt)
	rtClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	readEnc, _ := r3.Encode(r3Read)
	readClaims := map[string]any{"r3_uri": w.rs.Issuer + "/aauth/r3/" + readEnc.S256, "r3_s256": readEnc.S256}

	for _, c := range []struct {
		name   string
		claims map[string]any
		status int
		code   string
	}{
		{"outside the document", grantClaims(readClaims, []string{"search", "delete_all"}, nil), 403, "invalid_grant"},
		{"per-call outside the document", grantClaims(readClaims, []string{"search"}, []string{"send_email"}), 403, "invalid_grant"},
		{"uri without s256", map[string]any{"r3_uri": rtClaims["r3_uri"], "r3_granted": r3.Tools("search")}, 403, "invalid_grant"},
		{"operations not an array", map[string]any{"r3_uri": rtClaims["r3_uri"], "r3_s256": rtClaims["r3_s256"],
			"r3_granted": map[string]any{"vocabulary": r3.VocabularyMCP, "operations": "search"}}, 403, "invalid_grant"},
		{"unknown vocabulary", map[string]any{"r3_uri": rtClaims["r3_uri"], "r3_s256": rtClaims["r3_s256"],
			"r3_granted": map[string]any{"vocabulary": "urn:aauth:vocabulary:openapi-gateway", "operations": []any{map[string]any{"operationId": "x"}}}}, 403, "invalid_grant"},
		{"-01 r3_conditional only", map[string]any{"r3_uri": rtClaims["r3_uri"], "r3_s256": rtClaims["r3_s256"],
			"r3_granted": r3.Tools("fetch"), "r3_conditional": r3.Tools("search")}, 403, "operation_not_granted"},
		{"no r3_granted", map[string]any{"r3_uri": rtClaims["r3_uri"], "r3_s256": rtClaims["r3_s256"]}, 403, "operation_not_granted"},
		{"no R3 claims", nil, 403, "operation_not_granted"},
		{"a document the resource never issued", map[string]any{"r3_uri": w.rs.Issuer + "/aauth/r3/" + strings.Repeat("A", 43), "r3_s256": strings.Repeat("A", 43),
			"r3_granted": r3.Tools("search")}, 401, ""},
		{"an unknown per-call proposal", map[string]any{"r3_uri": w.rs.Issuer + "/aauth/r3/call/nope", "r3_s256": strings.Repeat("A", 43),
			"r3_granted": r3.Tools("search")}, 403, "invalid_grant"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := w.handlerRuns()
			resp := w.do("POST", "/mcp", toolCall(2, "search", ""), w.authToken("", c.claims))
			wantStatus(t, resp, c.status, "")
			if c.code != "" {
				wantProblem(t, resp, c.code)
			} else if cl := verifyResourceToken(t, w, resourceTokenOf(t, resp)); cl["r3_uri"] != rtClaims["r3_uri"] {
				t.Errorf("the new challenge references %v", cl["r3_uri"])
			}
			if w.handlerRuns() != runs {
				t.Error("the handler ran")
			}
		})
	}
}

// Bodies the resource cannot read exactly as an MCP server would are
// refused before anything runs, and batches are decided as a whole.
func TestR3Classification(t *testing.T) {
	w := newR3World(t, func(rs *Resource) { rs.MaxBody = 4096 })
	pt := w.personToken(nil)
	resp := w.do("POST", "/mcp", toolCall(1, "search", ""), pt)
	rtClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	at := w.authToken("", grantClaims(rtClaims, []string{"search", "fetch"}, []string{"send_email"}))
	for _, c := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"batch of granted tools", `[` + toolCall(1, "search", "") + `,` + toolCall(2, "fetch", "") + `]`, 200, ""},
		{"batch mixing granted and per-call", `[` + toolCall(1, "search", "") + `,` + toolCall(2, "send_email", `{"to":"a"}`) + `]`, 403, "per_call_batch"},
		{"batch with a refused tool", `[` + toolCall(1, "search", "") + `,` + toolCall(2, "delete_all", "") + `]`, 403, "operation_not_granted"},
		{"batch of one per-call tool", `[` + toolCall(1, "send_email", "") + `]`, 403, "per_call_batch"},
		{"case-variant name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","Name":"delete_all"}}`, 400, "invalid_request"},
		{"upper-case method member", `{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","params":{"name":"delete_all"}}`, 400, "invalid_request"},
		{"duplicate name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"delete_all"}}`, 400, "invalid_request"},
		{"not JSON", `hello`, 400, "invalid_request"},
		{"too large to classify", toolCall(1, "search", `{"q":"`+strings.Repeat("x", 5000)+`"}`), 413, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runs := w.handlerRuns()
			resp := w.do("POST", "/mcp", c.body, at)
			wantStatus(t, resp, c.status, "")
			if c.code != "" {
				wantProblem(t, resp, c.code)
				if w.handlerRuns() != runs {
					t.Error("the handler ran")
				}
			}
		})
	}
}

// Two presentations of one per-call token at once run the call once,
// and both get its answer.
func TestR3PerCallConcurrent(t *testing.T) {
	w := newR3World(t, nil)
	resp := w.do("POST", "/mcp", toolCall(1, "search", ""), w.personToken(nil))
	rtClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	at := w.authToken("", grantClaims(rtClaims, nil, []string{"send_email"}))
	resp = w.do("POST", "/mcp", toolCall(2, "send_email", `{"to":"a"}`), at)
	callClaims := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	narrow := w.authToken("", grantClaims(callClaims, []string{"send_email"}, nil))
	runs := w.handlerRuns()
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	reqs := make([]*http.Request, len(statuses))
	for i := range reqs {
		// Distinct JSON-RPC ids: identical requests would be replays.
		reqs[i] = w.request("POST", "/mcp", toolCall(10+i, "send_email", `{"to":"a"}`))
		w.agent.sign(t, reqs[i], narrow, w.clock.Now())
	}
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.DefaultClient.Do(reqs[i])
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("statuses %v", statuses)
			break
		}
	}
	if got := w.handlerRuns() - runs; got != 1 {
		t.Errorf("the call ran %d times", got)
	}
}

func TestR3ConfigErrors(t *testing.T) {
	proposal := &r3.Document{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("x").Operations, Parameters: map[string]json.RawMessage{}}
	other := &r3.Document{Vocabulary: r3.VocabularyOpenAPI, Operations: []r3.Operation{{OperationID: "x"}}}
	read := []*r3.Document{r3Read}
	for _, c := range []struct {
		name string
		set  func(rs *Resource)
	}{
		{"no definitions", func(rs *Resource) { rs.R3 = &R3{} }},
		{"nil definition", func(rs *Resource) { rs.R3 = &R3{Definitions: []*r3.Document{nil}} }},
		{"a proposal", func(rs *Resource) { rs.R3 = &R3{Definitions: []*r3.Document{proposal}} }},
		{"another vocabulary", func(rs *Resource) { rs.R3 = &R3{Definitions: []*r3.Document{other}} }},
		{"seed profile", func(rs *Resource) { rs.Profile, rs.R3 = profileSeed, &R3{Definitions: read} }},
		{"session mode", func(rs *Resource) { rs.Mode, rs.R3 = SessionToken, &R3{Definitions: read} }},
		{"path under pending", func(rs *Resource) { rs.R3 = &R3{Definitions: read, Path: "/aauth/pending/r3/"} }},
		{"path without slash", func(rs *Resource) { rs.R3 = &R3{Definitions: read, Path: "/r3"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := &Resource{Issuer: "https://r.example"}
			c.set(rs)
			if _, err := rs.config(); err == nil {
				t.Error("no error")
			}
		})
	}
}

// An argument longer than the inline limit reaches the person server as a
// digest (its hash, an excerpt), and the call with the same value matches
// it; another value does not.
func TestR3ProposalDigests(t *testing.T) {
	w := newR3World(t, nil)
	resp := w.do("POST", "/mcp", toolCall(1, "search", ""), w.personToken(nil))
	rt := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	at := w.authToken("", grantClaims(rt, nil, []string{"send_email"}))
	long := strings.Repeat("long body ", 200)
	args := `{"to":"a","body":"` + long + `"}`
	resp = w.do("POST", "/mcp", toolCall(2, "send_email", args), at)
	call := verifyResourceToken(t, w, resourceTokenOf(t, resp))
	_, body := w.fetchR3(w.ps, call["r3_uri"].(string))
	prop, err := r3.Verify(body, call["r3_s256"].(string))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := r3.ParseDigest(prop.Parameters["body"])
	if !ok || d.S256 != r3.S256([]byte(long)) || !strings.HasPrefix(d.Excerpt, "long body") || strings.Contains(string(body), long) {
		t.Fatalf("the long argument is not a digest: %s", body)
	}
	if string(prop.Parameters["to"]) != `"a"` {
		t.Errorf("the short argument is not inline: %s", prop.Parameters["to"])
	}
	narrow := w.authToken("", grantClaims(call, []string{"send_email"}, nil))
	w.clock.Advance(time.Second)
	resp = w.do("POST", "/mcp", toolCall(3, "send_email", `{"to":"a","body":"`+long+`x"}`), narrow)
	wantStatus(t, resp, http.StatusForbidden, "")
	wantProblem(t, resp, "parameters_mismatch")
	resp = w.do("POST", "/mcp", toolCall(3, "send_email", args), narrow)
	wantStatus(t, resp, http.StatusOK, "")
}
