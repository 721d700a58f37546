package aauth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

// Fuzz targets for what the agent reads of tokens others hand it, without
// verifying them: an upstream token in a chaining Transport's context
// (parseUpstream), and a sub-agent's request at its parent (peekSubagent,
// checkSubagentExchange). Whatever the bytes, the answer is a typed error
// with one prefix and no token in it, or a result that obeys the checks.

const (
	fuzzParentToken = `{"typ":"aa-agent+jwt","alg":"Ed25519"}`
	fuzzParent      = `{"iss":"https://agent.example","sub":"aauth:planner@agent.example","exp":1796302800}`
	fuzzJWK         = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"Ed25519"}`
)

var fuzzNow = time.Unix(1796299200, 0)

func FuzzUpstreamPeek(f *testing.F) {
	for _, c := range [][2]string{
		{`{"typ":"aa-auth+jwt"}`, `{"iss":"https://ps.example","ps":"https://ps.example","aud":"https://a.example","jti":"u","exp":1796302800,"cnf":{"jwk":` + fuzzJWK + `}}`},
		{`{"typ":"aa-person+jwt"}`, `{"iss":"https://ps.example","aud":"https://a.example","exp":1796302800,"cnf":{"jwk":` + fuzzJWK + `}}`},
		{`{"typ":"aa-auth+jwt"}`, `{"ps":"http://10.0.0.1","aud":["x"],"exp":"soon"}`},
		{`{"typ":"aa-agent+jwt"}`, `{}`},
		{`{"typ":1}`, `[]`},
		{`{"typ":"aa-person+jwt"}`, `{"iss":"https://ps.example#x","aud":"a","exp":1e308,"cnf":{"jwk":{"kty":"EC"}}}`},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, header, payload string) {
		tok := fuzzJWS(header, payload)
		up := parseUpstream(tok).(*upstream)
		if up.err != nil {
			if !errors.Is(up.err, psclient.ErrInvalidUpstreamToken) {
				t.Fatalf("error %v is not ErrInvalidUpstreamToken", up.err)
			}
			checkFuzzMessage(t, up.err, tok)
			return
		}
		switch {
		case up.typ != "aa-person+jwt" && up.typ != "aa-auth+jwt":
			t.Fatalf("accepted typ %q", up.typ)
		case usablePS(up.ps) == "" || up.aud == "" || up.jkt == "" || up.exp.IsZero():
			t.Fatalf("accepted %+v", up)
		case !strings.Contains(up.scope, up.ps) || strings.Contains(up.scope, tok):
			t.Fatalf("scope %q", up.scope)
		}
	})
}

func FuzzSubagentRequest(f *testing.F) {
	parent := fuzzJWS(fuzzParentToken, fuzzParent)
	good := `{"iss":"https://agent.example","sub":"aauth:planner+w1@agent.example","parent_agent":"aauth:planner@agent.example","exp":1796302800,"cnf":{"jwk":` + fuzzJWK + `}}`
	f.Add(`{"typ":"aa-agent+jwt"}`, good, `{"iss":"https://r.example","agent_jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs","exp":1796302800}`, `{"typ":"aa-person+jwt"}`)
	f.Add(`{"typ":"aa-agent+jwt"}`, `{"parent_agent":"aauth:planner@agent.example","sub":"x"}`, `{}`, `{}`)
	f.Add(`{"typ":"aa-agent+jwt"}`, strings.Replace(good, "planner@", "Planner@", 1), `[]`, `null`)
	f.Add(`{"typ":"aa-agent+jwt"}`, strings.Replace(good, `"exp":1796302800`, `"exp":1`, 1), `{"presented_jti":1}`, `{"typ":"aa-auth+jwt"}`)
	f.Fuzz(func(t *testing.T, subHeader, subPayload, rtPayload, presentedHeader string) {
		sub := fuzzJWS(subHeader, subPayload)
		sa, err := peekSubagent(sub, parent, fuzzNow)
		if err != nil {
			if !errors.Is(err, psclient.ErrInvalidSubagentToken) && !errors.Is(err, psclient.ErrExpiredSubagentToken) {
				t.Fatalf("error %v", err)
			}
			checkFuzzMessage(t, err, sub)
			return
		}
		if sa.jkt == "" || !strings.HasPrefix(sa.sub, "aauth:") {
			t.Fatalf("accepted %+v", sa)
		}
		req := psclient.SubagentRequest{
			SubagentToken:  sub,
			Resource:       "https://r.example",
			ResourceToken:  fuzzJWS(`{"typ":"aa-resource+jwt"}`, rtPayload),
			PresentedToken: fuzzJWS(presentedHeader, `{"jti":"p-1","cnf":{"jwk":`+fuzzJWK+`}}`),
		}
		if err := checkSubagentExchange(req, "https://r.example", "https://ps.example", sa.jkt, fuzzNow); err != nil {
			if !errors.Is(err, ErrResourceToken) {
				t.Fatalf("error %v", err)
			}
			checkFuzzMessage(t, err, req.ResourceToken)
		}
	})
}

func checkFuzzMessage(t *testing.T, err error, tok string) {
	t.Helper()
	msg := err.Error()
	if strings.Count(msg, "aauth: ") != 1 || len(msg) > 2048 {
		t.Fatalf("message %.300q", msg)
	}
	if len(tok) > 40 && strings.Contains(msg, tok) {
		t.Fatalf("the message holds the token")
	}
}
