package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// The demo runs the whole flow with one interaction, explains it, prints
// the resource's answer, and finishes well within 10 seconds.
func TestDemo(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			var world *aauthtest.World
			e := &env{onDemoWorld: func(w *aauthtest.World) {
				world = w
				recordWorld(w)
			}}
			start := time.Now()
			r := runEnv(t, e, "", "demo", "--profile", p.String())
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("the demo took %v", took)
			}
			if r.code != 0 {
				t.Fatalf("demo:\n%s", r)
			}
			var answer map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &answer); err != nil || answer["presented"] != "auth" || !strings.HasSuffix(r.stdout, "}\n") {
				t.Errorf("stdout is not the resource's answer to an auth token:\n%s", r.stdout)
			}
			trace := normalize(world, r.stderr)
			traceHolds(t, trace, "stderr",
				"AAuth demo, "+p.String()+" profile: ",
				"$ aauth fetch --explain RS/data\n→ GET RS/data (agent token)\n",
				"\ninteraction: PS/aauth/consent CODE\n",
				"\ndemo: approving for you, as your browser would: GET PS/aauth/consent?code=CODE\n",
				"\n→ GET RS/data (auth token)\n← 200 OK\n✓ 200 OK, presenting the auth token\n",
				"; the servers are stopped.\n",
			)
			if p == aauth.ProfileCurrent && !strings.Contains(trace, "← 401 requirement=person-token\n") {
				t.Errorf("the current demo does not show the person token:\n%s", trace)
			}
			if p == aauth.ProfileCurrent {
				// The mission scene: approved with a person token, which
				// the first request under it presents at once.
				traceHolds(t, trace, "the mission scene",
					"\nA mission: the person approves once",
					"  → POST PS/aauth/mission (agent token)\n  ← 200 OK\n· working under mission ",
					"; person tokens seeded: 1\n",
					"(under the mission)\n→ GET RS/data (person token)\n",
					"· permission for Summarize granted by the mission's approved tools\n",
					"  → POST PS/aauth/permission (agent token)\n  ← 200 OK\n",
					"  → POST PS/aauth/audit (agent token)\n  ← 201 Created\n",
					"· after completion the agent may not act on the mission: mission ",
				)
			}
			if p == aauth.ProfileCurrent {
				// The chaining scene: the summarizer fetches the data
				// with its own tokens, the agent's auth token upstream.
				traceHolds(t, trace, "the chaining scene",
					"\nCall chaining: a summarizer",
					"    summarizer: · requesting a person token for RS on behalf of the caller (upstream auth token) at PS\n",
					"    summarizer: · exchanging the resource token of RS on behalf of the caller (upstream auth token) at PS\n",
					"    summarizer: → GET RS/data (auth token)\n    summarizer: ← 200 OK\n    summarizer: ✓ 200 OK, presenting the auth token\n",
					"(auth token)\n← 200 OK\n✓ 200 OK, presenting the auth token\n· the summarizer says \"summary: the data resource answered ",
				)
				chained := 0
				for _, tr := range world.PS.TokenRequests() {
					if tr.Upstream != nil && tr.Kind == aauthtest.TokenAuth {
						chained++
						if !strings.HasPrefix(tr.Agent, "aauth:summarizer@") || tr.Resource != world.Resource.URL {
							t.Errorf("the chained exchange: agent %q for %q", tr.Agent, tr.Resource)
						}
					}
				}
				if chained != 1 {
					t.Errorf("%d chained exchanges at the person server, want 1", chained)
				}
			}
			if p == aauth.ProfileCurrent {
				// The sub-agent scene: the worker's tokens come through
				// its parent, and the resource sees the worker's key.
				traceHolds(t, trace, "the sub-agent scene",
					"\nA sub-agent: the agent starts a worker",
					"· asking the parent agent for a person token for RS\n",
					"· asking the parent agent to exchange the resource token of RS\n",
					"→ GET RS/data (auth token)\n← 200 OK\n✓ 200 OK, presenting the auth token\n· the worker's auth token is bound to the worker's key",
				)
				m := regexp.MustCompile(`worker key: Ed25519, thumbprint (\S+)`).FindStringSubmatch(trace)
				reqs := world.Resource.Requests()
				if last := reqs[len(reqs)-1]; m == nil || last.Thumbprint != m[1] || last.Presented != aauthtest.TokenAuth || last.Status != 200 {
					t.Errorf("the resource's last request: key %s, %s token, status %d; want the worker's key %v", last.Thumbprint, last.Presented, last.Status, m)
				}
			}
			if !regexp.MustCompile(`done in \d+\.\d\ds`).MatchString(trace) {
				t.Errorf("no timing:\n%s", trace)
			}
			// Nothing is left running: the servers refuse connections.
			client := &http.Client{Timeout: time.Second, Transport: &http.Transport{}}
			if resp, err := client.Get(world.Resource.URL); err == nil {
				resp.Body.Close()
				t.Error("the resource still answers after the demo")
			}
			if n := len(world.PS.Interactions()); n != 1 {
				t.Errorf("%d interactions, want 1", n)
			}
		})
	}
}

// traceHolds reports each of wants that trace, what, does not hold.
func traceHolds(t *testing.T, trace, what string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(trace, want) {
			t.Errorf("%s does not hold %q:\n%s", what, want, trace)
		}
	}
}

// An interrupted demo stops cleanly with exit 130.
func TestDemoCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &env{stdin: strings.NewReader(""), stdout: new(strings.Builder), stderr: new(strings.Builder), getenv: func(string) string { return "" }}
	if code := e.run(ctx, []string{"demo"}); code != exitInterrupted {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, e.stderr)
	}
	recordOutput(t, "stderr of demo", e.stderr.(*strings.Builder).String())
	if last := lastLine(e.stderr.(*strings.Builder).String()); !strings.HasSuffix(last, ": interrupted") {
		t.Errorf("last line %q", last)
	}
}
