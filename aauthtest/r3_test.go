package aauthtest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/resource"
)

// mcpEcho answers any tools/call with the tool's name.
var mcpEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	req, err := r3.ClassifyMCP(b)
	if err != nil || len(req.Messages) != 1 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	c, _ := resource.FromContext(r.Context())
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"tool":%q,"per_call":%v}}`, req.Messages[0].Tool, c.PerCall)
})

// The kit's R3 scripts: the resource authorizes tools one by one, and
// the person server grants by policy: all, some outright and some per
// call, each per-call call approved or denied.
func TestWorldR3(t *testing.T) {
	defs := []*r3.Document{{Vocabulary: r3.VocabularyMCP, Operations: r3.Tools("search", "send_email", "delete_all").Operations,
		Display: &r3.Display{Summary: "Your mail"}}}
	call := func(tr *aauth.Transport, url, tool string) (string, error) {
		body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{"to":"a"}}}`
		req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b), nil
	}
	for _, c := range []struct {
		name   string
		policy aauthtest.R3Policy
		want   map[string]string // tool → answer or error
	}{
		{"grant all", aauthtest.GrantAll(), map[string]string{
			"search": `"per_call":false`, "send_email": `"per_call":false`, "delete_all": `"per_call":false`}},
		{"grant some", aauthtest.GrantTools([]string{"search"}, []string{"send_email"}), map[string]string{
			"search": `"per_call":false`, "send_email": `"per_call":true`, "delete_all": "operation not granted"}},
		{"per call denied", aauthtest.R3Policy{Granted: []string{"search"}, PerCall: []string{"send_email"}, DenyPerCall: true}, map[string]string{
			"search": `"per_call":false`, "send_email": "per-call approval not given", "delete_all": "operation not granted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := aauthtest.NewWorld(aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Handler: mcpEcho, R3: &resource.R3{Definitions: defs}}})
			defer w.Close()
			w.PS.SetR3Policy(c.policy)
			tr := &aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL,
				Operations: map[string]r3.OperationSet{w.Resource.URL: r3.Tools("search", "send_email", "delete_all")}}
			for _, tool := range []string{"search", "send_email", "delete_all"} {
				out, err := call(tr, w.Resource.URL, tool)
				if err != nil {
					out = err.Error()
				}
				if !strings.Contains(out, c.want[tool]) {
					t.Errorf("%s: %q, want %q", tool, out, c.want[tool])
				}
			}
			f := w.PS.R3Fetches()
			if len(f) == 0 || f[0].Err != nil || f[0].Proposal {
				t.Errorf("fetches %+v", f)
			}
			if last := f[len(f)-1]; c.policy.DenyPerCall && (!last.Proposal || last.Err == nil || !strings.Contains(last.Err.Error(), "denied")) {
				t.Errorf("the denied proposal's fetch: proposal %v, %v", last.Proposal, last.Err)
			}
		})
	}
}
