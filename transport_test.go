package aauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

var profiles = []aauth.Profile{aauth.ProfileCurrent, aauth.ProfileSeed}

// world starts a kit World on a virtual clock and an agent Transport wired
// to it, watching what the Transport says for secrets (see leakWatch).
type world struct {
	*aauthtest.World
	clock *aauthtest.FakeClock
	tr    *aauth.Transport
}

func newWorld(t *testing.T, p aauth.Profile, opts aauthtest.WorldOptions) *world {
	t.Helper()
	clk := aauthtest.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	opts.Profile, opts.Now = p, clk.Now
	w := &world{World: aauthtest.NewWorld(opts), clock: clk}
	t.Cleanup(w.Close)
	w.tr = &aauth.Transport{
		Keys:          w.AgentKeys("alice"),
		PersonServer:  w.PS.URL,
		Profile:       p,
		Clock:         clk,
		Capabilities:  []aauth.Capability{aauth.CapabilityInteraction, aauth.CapabilityClarification},
		Justification: "read the data",
	}
	// Every error, event and log line of the test is checked for the
	// tokens, keys and signatures of the run.
	lw := newLeakWatch()
	lw.attach(w.tr)
	t.Cleanup(func() {
		lw.world(w.World)
		lw.check(t)
	})
	return w
}

// agentRequests keeps the requests the agent sent (all signed), leaving out
// the servers' fetches of each other's metadata and keys.
func agentRequests(reqs []aauthtest.RecordedRequest) []aauthtest.RecordedRequest {
	var out []aauthtest.RecordedRequest
	for _, r := range reqs {
		if r.Header.Get("Signature-Key") != "" {
			out = append(out, r)
		}
	}
	return out
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestTransportAgentTokenOnly(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := len(w.Resource.Requests()); n != 1 {
		t.Errorf("%d resource requests, want 1", n)
	}
	if n := len(agentRequests(w.PS.Requests())); n != 0 {
		t.Errorf("%d person-server requests, want 0", n)
	}
}

// The cold flow end to end, and the round trips it costs: current 3 to the
// resource (agent, person, auth) + 3 to the person server (metadata, person
// token, auth token); seed 2 + 2 (no person token).
func TestTransportColdAndWarm(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			c := w.tr.Client()
			resp, body := get(t, c, w.Resource.URL+"/data?x=1")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			res, ps := agentRequests(w.Resource.Requests()), agentRequests(w.PS.Requests())
			wantRes, wantPS := 3, 3
			if p == aauth.ProfileSeed {
				wantRes, wantPS = 2, 2
			}
			if len(res) != wantRes || len(ps) != wantPS {
				t.Errorf("cold: %d resource + %d person-server round trips, want %d + %d\n%v\n%v", len(res), len(ps), wantRes, wantPS, res, ps)
			}
			if got := res[len(res)-1].Presented; got != aauthtest.TokenAuth {
				t.Errorf("final request presented %s", got)
			}
			trs := w.PS.TokenRequests()
			auth := trs[len(trs)-1]
			if p == aauth.ProfileCurrent {
				// presented_token is exactly the person token presented.
				if auth.PresentedToken == "" || auth.PresentedToken != res[1].Token || auth.PresentedKind != aauthtest.TokenPerson {
					t.Errorf("presented_token is not the person token presented")
				}
				if got := strings.Join(trs[0].Capabilities, ","); got != "interaction,clarification,budget" {
					t.Errorf("person-token capabilities %q", got)
				}
				for _, r := range ps {
					if r.Header.Get("AAuth-Capabilities") != "" {
						t.Errorf("current profile sent AAuth-Capabilities to the person server (%s)", r.Path)
					}
				}
			} else if auth.PresentedToken != "" {
				t.Errorf("seed profile sent presented_token")
			}
			if auth.Justification != "read the data" {
				t.Errorf("justification %q", auth.Justification)
			}

			// Warm: exactly one round trip, presenting the cached auth token.
			w.Resource.Reset()
			w.PS.Reset()
			resp, _ = get(t, c, w.Resource.URL+"/other")
			if res, ps := agentRequests(w.Resource.Requests()), agentRequests(w.PS.Requests()); resp.StatusCode != 200 || len(res) != 1 || len(ps) != 0 {
				t.Errorf("warm: status %d, %d resource + %d person-server round trips, want 200, 1 + 0", resp.StatusCode, len(res), len(ps))
			}
		})
	}
}

// 100 goroutines start cold on one resource: exactly one person-token
// request and one exchange run; the others wait for them.
func TestTransportConcurrentColdStart(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			c := w.tr.Client()
			var wg sync.WaitGroup
			var failed atomic.Int32
			for i := 0; i < 100; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := c.Get(w.Resource.URL + "/data")
					if err != nil {
						failed.Add(1)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						failed.Add(1)
					}
				}()
			}
			wg.Wait()
			if failed.Load() != 0 {
				t.Fatalf("%d of 100 requests failed", failed.Load())
			}
			wantPerson := 1
			if p == aauth.ProfileSeed {
				wantPerson = 0
			}
			if n := len(w.PS.PersonTokenRequests()); n != wantPerson {
				t.Errorf("%d person-token requests, want %d", n, wantPerson)
			}
			if n := len(w.PS.AuthTokenRequests()); n != 1 {
				t.Errorf("%d exchanges, want 1", n)
			}
		})
	}
}

// A token inside the refresh margin is not presented: the flow starts again
// from the agent token and exchanges again.
func TestTransportRefreshBeforeExpiry(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			w.PS.SetPolicy(func(*aauthtest.TokenRequest) aauthtest.Decision {
				return aauthtest.Approve().Lifetime(10 * time.Minute)
			})
			c := w.tr.Client()
			get(t, c, w.Resource.URL+"/a")
			w.clock.Advance(4 * time.Minute) // 6 min left: outside both margins
			get(t, c, w.Resource.URL+"/b")
			if n := len(w.PS.AuthTokenRequests()); n != 1 {
				t.Fatalf("%d exchanges before the margin, want 1", n)
			}
			w.clock.Advance(5*time.Minute + 30*time.Second) // 30 s left: inside both margins
			resp, _ := get(t, c, w.Resource.URL+"/c")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if n := len(w.PS.AuthTokenRequests()); n != 2 {
				t.Errorf("%d exchanges after the margin, want 2", n)
			}
		})
	}
}

// A step-up (a new auth-token requirement on a request carrying an auth
// token) is exchanged presenting that auth token.
func TestTransportStepUp(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	c := w.tr.Client()
	get(t, c, w.Resource.URL+"/a")
	first := w.PS.Issued()
	w.Resource.StepUp("write")
	resp, body := get(t, c, w.Resource.URL+"/b")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	trs := w.PS.TokenRequests()
	last := trs[len(trs)-1]
	if last.Kind != aauthtest.TokenAuth || last.PresentedKind != aauthtest.TokenAuth {
		t.Fatalf("step-up exchange presented %s", last.PresentedKind)
	}
	var firstAuth string
	for _, it := range first {
		if it.Kind == aauthtest.TokenAuth {
			firstAuth = it.Token
		}
	}
	if last.PresentedToken != firstAuth {
		t.Error("step-up presented_token is not the auth token presented")
	}
	if !strings.Contains(last.Scope, "write") {
		t.Errorf("scope %q", last.Scope)
	}
}

// Session tokens: issued by the resource, presented as Authorization with
// the agent token (covered in current, Bearer uncovered in seed), replaced
// by each newer one.
func TestTransportSessionTokens(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken, RotateSessionTokens: true}})
			c := w.tr.Client()
			for i := 0; i < 3; i++ {
				if resp, body := get(t, c, w.Resource.URL+"/s"); resp.StatusCode != 200 {
					t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
				}
			}
			reqs := agentRequests(w.Resource.Requests())
			if len(reqs) != 3 {
				t.Fatalf("%d requests, want 3: %v", len(reqs), reqs)
			}
			if reqs[0].Session != "" || reqs[1].Session == "" || reqs[2].Session == "" || reqs[1].Session == reqs[2].Session {
				t.Errorf("sessions presented: %q %q %q", aauth.Redact(reqs[0].Session), aauth.Redact(reqs[1].Session), aauth.Redact(reqs[2].Session))
			}
			if reqs[1].Session != reqs[0].ResponseHeader.Get("AAuth-Access") {
				t.Error("second call did not present the session token of the first answer")
			}
			scheme := strings.Fields(reqs[1].Header.Get("Authorization"))[0]
			covered := reqs[1].Covers("authorization")
			if p == aauth.ProfileCurrent && (scheme != "AAuth" || !covered) {
				t.Errorf("current: Authorization scheme %q, covered %v", scheme, covered)
			}
			if p == aauth.ProfileSeed && (scheme != "Bearer" || covered) {
				t.Errorf("seed: Authorization scheme %q, covered %v", scheme, covered)
			}
			if reqs[1].Presented != aauthtest.TokenAgent {
				t.Errorf("Signature-Key presented %s with the session token, want the agent token", reqs[1].Presented)
			}
		})
	}
}

// A session token is bound to the key that signed for it: two agents
// sharing one TokenCache each get their own, and neither presents the
// other's.
func TestTransportSessionTokensSharedCache(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken}})
	shared := &aauth.MemoryCache{}
	alice := &aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL, Clock: w.clock, Tokens: shared}
	bob := &aauth.Transport{Keys: w.AgentKeys("bob"), PersonServer: w.PS.URL, Clock: w.clock, Tokens: shared}
	for i, tr := range []*aauth.Transport{alice, bob, alice, bob} {
		if resp, body := get(t, tr.Client(), w.Resource.URL+"/s"); resp.StatusCode != 200 {
			t.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
	}
	reqs := agentRequests(w.Resource.Requests())
	var sessions []string
	for _, r := range reqs {
		if r.Session != "" {
			sessions = append(sessions, r.Session)
		}
	}
	// Alice's and bob's first calls have no session; their second calls
	// each present the one their own first call was given.
	if len(reqs) != 4 || len(sessions) != 2 {
		t.Fatalf("%d requests, %d with a session; want 4 and 2", len(reqs), len(sessions))
	}
	if reqs[2].Session != reqs[0].ResponseHeader.Get("AAuth-Access") || reqs[3].Session != reqs[1].ResponseHeader.Get("AAuth-Access") {
		t.Error("an agent presented a session token granted to another key")
	}
	if reqs[2].Session == reqs[3].Session {
		t.Error("both agents presented the same session token")
	}
}

func TestTransportDeferredApproval(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Approval().Times(3)).RetryAfter("7"))
			resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if n := w.PS.Polls(); n < 3 {
				t.Errorf("%d polls, want at least 3", n)
			}
		})
	}
}

func TestTransportInteraction(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			kind := aauthtest.TokenPerson
			if p == aauth.ProfileSeed {
				kind = aauthtest.TokenAuth
			}
			w.PS.Queue(kind, aauthtest.Defer(aauthtest.Interaction()))
			var calls atomic.Int32
			w.tr.OnInteraction = func(ctx context.Context, url, code string) error {
				calls.Add(1)
				// The person visits the consent page.
				resp, err := http.Get(url + "?code=" + code)
				if err != nil {
					return err
				}
				resp.Body.Close()
				return nil
			}
			resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if calls.Load() != 1 {
				t.Errorf("OnInteraction called %d times, want 1", calls.Load())
			}
		})
	}
}

func TestTransportClarification(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Clarification("Which repository?", "web", "api")))
			w.tr.OnClarification = func(ctx context.Context, q aauth.Clarification) (string, error) {
				if q.Question != "Which repository?" || len(q.Options) != 2 {
					return "", fmt.Errorf("unexpected question %+v", q)
				}
				return "api", nil
			}
			resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			ans := w.PS.ClarificationAnswers()
			if len(ans) != 1 || ans[0].Response != "api" {
				t.Fatalf("answers %+v", ans)
			}
			wantAction := "clarification_response"
			if p == aauth.ProfileSeed {
				wantAction = ""
			}
			if ans[0].Action != wantAction {
				t.Errorf("action %q, want %q", ans[0].Action, wantAction)
			}
		})
	}
}

func TestTransportDenied(t *testing.T) {
	for _, p := range profiles {
		t.Run(p.String(), func(t *testing.T) {
			w := newWorld(t, p, aauthtest.WorldOptions{})
			w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Approval()).Then(aauthtest.Deny()))
			_, err := w.tr.Client().Get(w.Resource.URL + "/data")
			if !errors.Is(err, aauth.ErrDenied) {
				t.Fatalf("error %v, want ErrDenied", err)
			}
			var pe *aauth.PollError
			if !errors.As(err, &pe) || pe.StatusCode != 403 {
				t.Errorf("error %v is not a 403 *PollError", err)
			}
		})
	}
}

// A body without GetBody cannot be replayed: the 401 comes back with a
// typed error instead of a silent empty retry.
func TestTransportNotReplayable(t *testing.T) {
	w := newWorld(t, aauth.ProfileSeed, aauthtest.WorldOptions{})
	req, _ := http.NewRequest("POST", w.Resource.URL+"/upload", nil)
	req.Body = io.NopCloser(strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	_, err := w.tr.RoundTrip(req)
	var nr *aauth.NotReplayableError
	if !errors.As(err, &nr) {
		t.Fatalf("error %v, want *NotReplayableError", err)
	}
	defer nr.Response.Body.Close()
	if nr.Response.StatusCode != 401 || nr.Response.Header.Get("AAuth-Requirement") == "" {
		t.Errorf("the server's answer was not kept: %d", nr.Response.StatusCode)
	}
	if n := len(w.PS.AuthTokenRequests()); n != 1 {
		// The token was obtained (and cached) before the retry was refused.
		t.Errorf("%d exchanges", n)
	}
}

// A redirect to another origin carries none of the first origin's tokens.
func TestTransportRedirectToOtherOrigin(t *testing.T) {
	var seen atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Clone())
	}))
	defer other.Close()
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, other.URL+"/elsewhere", http.StatusFound)
		}),
	}})
	resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/go")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h, _ := seen.Load().(http.Header)
	if h == nil {
		t.Fatal("the redirect was not followed")
	}
	sk, err := wire.ParseSignatureKey(h.Get("Signature-Key"))
	if err != nil {
		t.Fatalf("redirected request not signed: %v", err)
	}
	for _, it := range w.PS.Issued() {
		if sk.Token == it.Token {
			t.Errorf("the %s token of the first origin was presented to another origin", it.Kind)
		}
	}
	if h.Get("Authorization") != "" {
		t.Error("Authorization sent to another origin")
	}
}

// A resource token that is not for this agent is refused before the person
// server sees it.
func TestTransportRefusesForeignResourceToken(t *testing.T) {
	for _, f := range []aauthtest.Fault{aauthtest.FaultResourceTokenOtherKey, aauthtest.FaultResourceTokenExpired} {
		t.Run(string(f), func(t *testing.T) {
			w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
			w.Resource.Queue(aauthtest.Malformed(f))
			// The queued answer replaces the auth-token challenge after the
			// person token is presented.
			_, err := w.tr.Client().Get(w.Resource.URL + "/data")
			if !errors.Is(err, aauth.ErrResourceToken) {
				t.Fatalf("error %v, want ErrResourceToken", err)
			}
			if n := len(w.PS.AuthTokenRequests()); n != 0 {
				t.Errorf("%d exchanges, want none", n)
			}
		})
	}
}

func TestTransportClockSkew(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	// The agent's clock runs 3 minutes fast; the resource's Date header
	// tells it the right time.
	w.tr.Clock = aauthtest.NewFakeClock(w.clock.Now().Add(3 * time.Minute))
	resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	reqs := agentRequests(w.Resource.Requests())
	if len(reqs) != 2 || reqs[0].SignatureError != wire.SigErrClockSkew {
		t.Fatalf("requests %v", reqs)
	}
	// The offset is remembered for the origin.
	w.Resource.Reset()
	get(t, w.tr.Client(), w.Resource.URL+"/again")
	if n := len(agentRequests(w.Resource.Requests())); n != 1 {
		t.Errorf("%d requests after learning the skew, want 1", n)
	}
}

func TestTransportRequiredInput(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}})
	w.Resource.RequireComponents("@query")
	resp, _ := get(t, w.tr.Client(), w.Resource.URL+"/data?x=1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	reqs := agentRequests(w.Resource.Requests())
	if len(reqs) != 2 || !reqs[1].Covers("@query") {
		t.Fatalf("requests %v", reqs)
	}
}

// A resource that keeps asking gets an error after a bounded number of
// requests, never a loop.
func TestTransportBounded(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("AAuth-Requirement", "requirement=agent-token")
		w.WriteHeader(401)
	}))
	defer srv.Close()
	key, _ := keys.Generate()
	tr := &aauth.Transport{Keys: aauth.StaticKeys(key, aauth.HWK())}
	resp, err := tr.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || n.Load() != 1 {
		t.Errorf("status %d after %d requests", resp.StatusCode, n.Load())
	}

	// Without a person server, a person-token requirement is an error.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("AAuth-Requirement", "requirement=person-token")
		w.WriteHeader(401)
	}))
	defer srv2.Close()
	if _, err := tr.Client().Get(srv2.URL); !errors.Is(err, aauth.ErrNoPersonServer) {
		t.Errorf("error %v, want ErrNoPersonServer", err)
	}
}

// MCP answers notifications with a bare 202: it is not AAuth deferral and
// passes through untouched.
func TestTransportBare202(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	key, _ := keys.Generate()
	tr := &aauth.Transport{Keys: aauth.StaticKeys(key, aauth.HWK())}
	resp, err := tr.Client().Post(srv.URL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

// A resource may hold the call with a 202 requirement=auth-token (AAuth
// -11): the Transport exchanges and polls with the auth token.
func TestTransportDeferredAuthToken(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{DeferAuthToken: true, RelativeLocation: true}})
	resp, body := get(t, w.tr.Client(), w.Resource.URL+"/data")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if n := len(w.PS.AuthTokenRequests()); n != 1 {
		t.Errorf("%d exchanges", n)
	}
}

// A revoked auth token (Signature-Error: revoked_jwt) is dropped and the
// flow starts again from the agent token, once.
func TestTransportRevokedToken(t *testing.T) {
	w := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	c := w.tr.Client()
	get(t, c, w.Resource.URL+"/a")
	for _, it := range w.PS.Issued() {
		if it.Kind == aauthtest.TokenAuth {
			w.Resource.Revoke(it.Token)
		}
	}
	resp, _ := get(t, c, w.Resource.URL+"/b")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if n := len(w.PS.AuthTokenRequests()); n != 2 {
		t.Errorf("%d exchanges, want 2", n)
	}
}
