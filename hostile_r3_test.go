package aauth_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
)

// The R3 rows of the hostile-server table: a resource (or a person server)
// that bends R3 never gets the agent to cache a narrow token, send a
// per-call approval twice, loop, or panic; refusals are typed errors.

// r3Call is a tools/call body.
func r3Call(tool, args string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, tool, args)
}

// r3Resource starts, for the case, an MCP server protected by
// resource.Resource with R3 over defs (nil: search and fetch in one
// definition, send_email and delete_all in another), trusted by the kit's
// person server, behind wrap when set, and points the case's request at
// it with body.
func (e *hostileEnv) r3Resource(defs []*r3.Document, wrap func(rs http.Handler) http.Handler, body string) *resource.Resource {
	if defs == nil {
		defs = []*r3.Document{r3ReadDoc, r3WriteDoc}
	}
	rs := &resource.Resource{Mode: resource.AuthToken, PollInterval: -1, Now: e.clock.Now, R3: &resource.R3{Definitions: defs}}
	var h http.Handler = rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req, err := r3.ClassifyMCP(b)
		if err != nil || len(req.Messages) == 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ran %s"}]}}`, req.Messages[0].Tool)
	}))
	if wrap != nil {
		h = wrap(h)
	}
	srv := e.server(h)
	rs.Issuer = srv.URL
	e.w.PS.TrustResource(srv.URL)
	e.target, e.body = srv.URL+"/mcp", body
	return rs
}

// r3Do sends a tools/call through the case's Transport before the case's
// own request (to hold a class token, say).
func (e *hostileEnv) r3Do(body string) error {
	req, err := http.NewRequest(http.MethodPost, e.target, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.tr.RoundTrip(req)
	e.leaks.err(err)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return nil
}

// exchanges expects exactly n auth-token requests at the kit person server.
func exchanges(n int) hostileWant {
	return also(fmt.Sprintf("%d exchanges", n), func(e *hostileEnv) error {
		if got := len(e.w.PS.AuthTokenRequests()); got != n {
			return fmt.Errorf("%d exchanges, want %d", got, n)
		}
		return nil
	})
}

// classTokenHeld expects a granted call to be served with the token held,
// with no exchange: a narrow token never replaced it.
func classTokenHeld() hostileWant {
	return also("the class token still held", func(e *hostileEnv) error {
		before := len(e.w.PS.AuthTokenRequests())
		e.clock.Advance(1e9)
		if err := e.r3Do(r3Call("search", `{"q":"again"}`)); err != nil {
			return err
		}
		if n := len(e.w.PS.AuthTokenRequests()); n != before {
			return fmt.Errorf("search cost %d exchanges", n-before)
		}
		return nil
	})
}

// perCallChallengeAgain answers a request presenting a per-call token
// (its grant names a proposal) with the per-call challenge the resource
// answered last, as a resource that never lets the call through would.
func perCallChallengeAgain(next http.Handler) http.Handler {
	var mu sync.Mutex
	var last string
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(presentedR3URI(r), "/aauth/r3/call/") {
			mu.Lock()
			v := last
			mu.Unlock()
			w.Header().Set("AAuth-Requirement", v)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if v := rec.Header().Get("AAuth-Requirement"); rec.Code == 401 && v != "" {
			mu.Lock()
			last = v
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// presentedR3URI is the r3_uri of the token a request presents, if any.
func presentedR3URI(r *http.Request) string {
	sk := r.Header.Get("Signature-Key")
	i := strings.Index(sk, `jwt="`)
	if i < 0 {
		return ""
	}
	tok := strings.TrimSuffix(sk[i+5:], `"`)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	g := grantOfPayload(parts[1])
	if g == nil {
		return ""
	}
	return g.URI
}

// tamperDocuments serves every R3 document with a byte added: its hash no
// longer matches r3_s256.
func tamperDocuments(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/aauth/r3/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := append(bytes.TrimSpace(rec.Body.Bytes()), ' ')
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// answerTools answers every tools/call of tool with status, header and
// body, and passes the rest on.
func answerTools(tool string, status int, header http.Header, body string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			if req, err := r3.ClassifyMCP(b); err == nil && len(req.ToolCalls()) == 1 && req.ToolCalls()[0].Tool == tool {
				for k, v := range header {
					w.Header()[k] = v
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func r3HostileCases() []hostileCase {
	hugeProblem := `{"error":"operation_not_granted","detail":"` + strings.Repeat("x", 2<<20) + `"}`
	return []hostileCase{
		{name: "r3-document-hash-mismatch", script: func(e *hostileEnv) {
			e.r3Resource(nil, tamperDocuments, r3Call("search", `{}`))
		}, want: and(exchangeStatus(400), exchanges(1), also("the person server refused the bytes", func(e *hostileEnv) error {
			f := e.w.PS.R3Fetches()
			if len(f) != 1 || !errors.Is(f[0].Err, r3.ErrHashMismatch) {
				return fmt.Errorf("fetches %+v", f)
			}
			return nil
		}))},
		{name: "r3-grant-outside-document", script: func(e *hostileEnv) {
			e.r3Resource([]*r3.Document{r3ReadDoc}, nil, r3Call("search", `{}`))
			e.w.PS.SetR3Policy(aauthtest.R3Policy{Tamper: func(g *r3.Grant) {
				g.Granted.Operations = append(g.Granted.Operations, r3.Tool("delete_all"))
			}})
		}, want: and(wantIs(r3.ErrInvalidGrant), wantAs("status 403", func(oe *aauth.OperationError) bool { return oe.StatusCode == 403 }))},
		{name: "r3-tool-outside-grant", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, r3Call("delete_all", `{}`))
			e.w.PS.SetR3Policy(aauthtest.GrantTools([]string{"search"}, nil))
		}, want: and(wantIs(aauth.ErrOperationNotGranted), exchanges(1))},
		{name: "r3-per-call-challenged-again", script: func(e *hostileEnv) {
			e.r3Resource(nil, perCallChallengeAgain, r3Call("send_email", `{"to":"a"}`))
			e.w.PS.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
		}, want: and(wantStatus(401), exchanges(2), classTokenHeld())},
		{name: "r3-per-call-denied", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, r3Call("send_email", `{"to":"a"}`))
			p := aauthtest.GrantTools([]string{"search"}, []string{"send_email"})
			p.DenyPerCall = true
			e.w.PS.SetR3Policy(p)
		}, want: and(wantIs(aauth.ErrPerCallDenied, aauth.ErrDenied), exchanges(2), classTokenHeld())},
		{name: "r3-per-call-served-once-narrow-token-dropped", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, r3Call("send_email", `{"to":"a"}`))
			e.w.PS.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
		}, want: and(wantStatus(200), exchanges(2), classTokenHeld())},
		{name: "r3-per-call-body-not-replayable", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, r3Call("search", `{}`))
			e.w.PS.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
			if err := e.r3Do(r3Call("search", `{}`)); err != nil {
				e.t.Fatal(err)
			}
			e.body, e.noGet = r3Call("send_email", `{"to":"a"}`), true
		}, want: and(wantAs[*aauth.NotReplayableError]("a 401", func(nr *aauth.NotReplayableError) bool { return nr.Response.StatusCode == 401 }), exchanges(1))},
		{name: "r3-batch-granted-and-per-call", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, `[`+r3Call("search", `{}`)+`,`+r3Call("send_email", `{"to":"a"}`)+`]`)
			e.w.PS.SetR3Policy(aauthtest.GrantTools([]string{"search"}, []string{"send_email"}))
		}, want: and(wantIs(r3.ErrPerCallBatch), exchanges(1))},
		{name: "r3-body-too-large-to-classify", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, r3Call("search", `{}`))
			if err := e.r3Do(r3Call("search", `{}`)); err != nil {
				e.t.Fatal(err)
			}
			e.body = r3Call("search", `{"q":"`+strings.Repeat("x", 1<<20)+`"}`)
		}, want: and(wantStatus(413), exchanges(1))},
		{name: "r3-declared-unknown-vocabulary-not-requested", script: func(e *hostileEnv) {
			e.r3Resource(nil, nil, r3Call("search", `{}`))
			u := strings.TrimSuffix(e.target, "/mcp")
			e.tr.Operations = map[string]r3.OperationSet{u: {Vocabulary: "urn:aauth:vocabulary:openapi-gateway", Operations: []r3.Operation{{OperationID: "x"}}}}
		}, want: and(wantStatus(200), exchanges(1))},
		{name: "r3-refusal-problem-huge", script: func(e *hostileEnv) {
			e.r3Resource(nil, answerTools("fetch", 403, http.Header{"Content-Type": {"application/problem+json"}}, hugeProblem), r3Call("search", `{}`))
			if err := e.r3Do(r3Call("search", `{}`)); err != nil {
				e.t.Fatal(err)
			}
			e.body = r3Call("fetch", `{}`)
		}, want: and(wantStatus(403), hostileWant{"the body whole", func(_ *hostileEnv, r hostileResult) error {
			if len(r.body) != len(hugeProblem) {
				return fmt.Errorf("a body of %d bytes, want %d", len(r.body), len(hugeProblem))
			}
			return nil
		}})},
		{name: "r3-refusal-unknown-problem-code", script: func(e *hostileEnv) {
			e.r3Resource(nil, answerTools("fetch", 403, http.Header{"Content-Type": {"application/problem+json"}}, `{"error":"forbidden"}`), r3Call("search", `{}`))
			if err := e.r3Do(r3Call("search", `{}`)); err != nil {
				e.t.Fatal(err)
			}
			e.body = r3Call("fetch", `{}`)
		}, want: wantStatus(403)},
		{name: "budget-header-hostile", script: func(e *hostileEnv) {
			// Each malformed: negative, 16 digits, a String, oversized, an
			// Inner List, no remaining.
			bad := []string{`remaining=-5`, `remaining=1234567890123456`, `remaining="x"`, strings.Repeat("a=1,", 600), "remaining=(1 2)", `cost=5`}
			i := 0
			e.r3Resource(nil, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/mcp" {
						w.Header()["Aauth-Budget"] = []string{bad[i%len(bad)]}
						i++
					}
					next.ServeHTTP(w, r)
				})
			}, r3Call("search", `{}`))
		}, want: and(wantStatus(200), also("no budget kept", func(e *hostileEnv) error {
			if b, ok := e.tr.Budget(e.target); ok {
				return fmt.Errorf("kept %+v", b)
			}
			return nil
		}))},
		{name: "budget-trailer-hostile", script: func(e *hostileEnv) {
			// A streamed answer whose AAuth-Budget trailer is malformed:
			// negative, 16 digits, a String, oversized, without cost, a
			// remaining that a trailer may not carry. The header's
			// figures stand.
			bad := []string{`cost=-5`, `cost=1234567890123456`, `cost="x"`, "cost=1, " + strings.Repeat("a=1,", 600), `reserved=5`, `remaining=1`}
			i := 0
			e.r3Resource(nil, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/mcp" {
						next.ServeHTTP(w, r)
						return
					}
					w.Header().Set("Trailer", "AAuth-Budget")
					w.Header()["Aauth-Budget"] = []string{`remaining=100, reserved=10`}
					next.ServeHTTP(w, r)
					w.Header()["Aauth-Budget"] = []string{bad[i%len(bad)]}
					i++
				})
			}, r3Call("search", `{}`))
			// Served warm, every malformed trailer in turn (the first
			// calls' challenges take some).
			for range len(bad) {
				e.clock.Advance(time.Second) // not one signature twice
				if err := e.r3Do(r3Call("search", `{}`)); err != nil {
					e.t.Fatal(err)
				}
			}
		}, want: and(wantStatus(200), also("the header's figures kept", func(e *hostileEnv) error {
			if b, ok := e.tr.Budget(e.target); !ok || b.Remaining != 100 || b.Reserved != 10 || b.Has(r3.BudgetCost) {
				return fmt.Errorf("kept %+v, %v", b, ok)
			}
			return nil
		}))},
	}
}

// grantOfPayload reads the grant of a JWT payload segment, or nil.
func grantOfPayload(seg string) *r3.Grant {
	payload, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil
	}
	g, _ := r3.ParseGrant(payload)
	return g
}
