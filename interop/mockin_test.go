package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/internal/procgroup"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// mockinVersion is the @hellocoop/mockin release pinned in package.json.
const mockinVersion = "2.0.0"

// mockinMinNode is the oldest Node major release mockin runs on. Its
// package asks for 22; 20 runs it too. On 18 it starts but refuses every
// signature: its httpsig calls the global crypto object, which Node 18
// does not define.
const mockinMinNode = 20

const (
	mockinDir          = "node_modules/@hellocoop/mockin"
	mockinStartTimeout = 15 * time.Second // from spawn to a served metadata document
	mockinStopTimeout  = 10 * time.Second // from the kill to the exit
	mockinRunTimeout   = 30 * time.Second // one whole flow, every request in it
	mockinStarts       = 3                // tries, for when the port picked was taken meanwhile
)

// TestMockin runs the Go agent's whole current-profile flow with
// @hellocoop/mockin as its person server and an aauthtest resource: once
// approved at once, once waiting for the person at mockin's consent page.
func TestMockin(t *testing.T) {
	m := startMockin(t)
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: m.URL})
	t.Cleanup(ap.Close)
	rs := aauthtest.NewResource(aauthtest.ResourceOptions{
		PersonServer:  m.URL,
		TrustedAgents: []string{ap.URL},
		// mockin reads the early -11 name of presented_jti only.
		PersonTokenJTI: true,
	})
	t.Cleanup(rs.Close)
	// Neither the resource nor mockin has to fetch the agent provider's
	// keys; the test checks below that nobody did.
	rs.TrustKey(ap.URL, "", ap.PublicKey())
	agent := agentEntity(t, ap)

	t.Run("auto-approved", func(t *testing.T) { testMockinFlow(t, m, ap, rs, agent, false) })
	t.Run("interaction", func(t *testing.T) { testMockinFlow(t, m, ap, rs, agent, true) })
}

func testMockinFlow(t *testing.T, m *mockin, ap *aauthtest.AgentProvider, rs *aauthtest.Resource, agent map[string]any, interaction bool) {
	ctx, cancel := context.WithTimeout(context.Background(), mockinRunTimeout)
	defer cancel()
	rs.Reset()
	m.reset(ctx, t)
	cfg := map[string]any{"trusted_servers": map[string]any{ap.URL: agent}}
	if interaction {
		// Both token endpoints answer 202 requirement=interaction, and
		// the pending requests wait until the consent page is visited.
		cfg["person_requirement"] = "interaction"
		cfg["requirement"] = "interaction"
		cfg["auto_approve"] = false
	}
	m.configure(ctx, t, cfg)

	wire := &wireLog{names: [][2]string{{m.URL, "ps"}, {rs.URL, "rs"}}}
	var (
		mu       sync.Mutex
		events   []aauth.Event
		visited  []string
		browsing = &http.Client{Transport: wire.wrap(m.http.Transport), CheckRedirect: noFollow}
	)
	tr := &aauth.Transport{
		Base:         wire.wrap(m.http.Transport),
		Keys:         ap.AgentKeys("alice"),
		PersonServer: m.URL,
		Capabilities: []aauth.Capability{aauth.CapabilityInteraction},
		OnEvent: func(ev aauth.Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		},
		// The person, in a browser: open the consent page with the code.
		OnInteraction: func(ctx context.Context, u, code string) error {
			mu.Lock()
			visited = append(visited, u)
			mu.Unlock()
			if !strings.HasPrefix(u, m.URL+"/") {
				return fmt.Errorf("interaction URL %q is not mockin's", u)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?code="+url.QueryEscape(code), nil)
			if err != nil {
				return err
			}
			resp, err := browsing.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				return fmt.Errorf("consent page: %s: %s", resp.Status, b)
			}
			return nil
		},
	}
	defer func() {
		if t.Failed() {
			t.Logf("wire:\n%s", strings.Join(wire.lines(), "\n"))
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rs.URL+"/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.Client().Do(req)
	if err != nil {
		t.Fatalf("GET /data: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /data: %s: %s", resp.Status, body)
	}

	// What went over the wire, in order.
	want := []string{
		"GET rs/data [agent] → 401 requirement=person-token",
		"GET ps/.well-known/aauth-person.json [agent] → 200",
	}
	if interaction {
		want = append(want,
			"POST ps/aauth/token/person [agent] → 202 requirement=interaction",
			"GET ps/aauth/consent?code=… → 200",
			"GET ps/aauth/pending/… [agent] → 200",
			"GET rs/data [person] → 401 requirement=auth-token",
			"POST ps/aauth/token/auth [agent] → 202 requirement=interaction",
			"GET ps/aauth/consent?code=… → 200",
			"GET ps/aauth/pending/… [agent] → 200",
		)
	} else {
		want = append(want,
			"POST ps/aauth/token/person [agent] → 200",
			"GET rs/data [person] → 401 requirement=auth-token",
			"POST ps/aauth/token/auth [agent] → 200",
		)
	}
	want = append(want, "GET rs/data [auth] → 200")
	if got := wire.lines(); !slices.Equal(got, want) {
		t.Errorf("wire:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The resource served the call to the person mockin vouched for.
	var echo struct{ Presented, Sub, Scope string }
	if err := json.Unmarshal(body, &echo); err != nil || echo.Presented != "auth" || echo.Sub == "" || echo.Scope != "read" {
		t.Errorf("the resource answered %s", body)
	}

	// The exchange presented the person token mockin issued, which is the
	// one the resource token names under both names.
	ex := wire.body("POST ps/aauth/token/auth")
	var exchange struct {
		ResourceToken  string   `json:"resource_token"`
		PresentedToken string   `json:"presented_token"`
		Capabilities   []string `json:"capabilities"`
	}
	if err := json.Unmarshal(ex, &exchange); err != nil {
		t.Fatalf("exchange body %q: %v", ex, err)
	}
	pt, rt := jwtParts(t, exchange.PresentedToken), jwtParts(t, exchange.ResourceToken)
	switch {
	case pt.typ != "aa-person+jwt" || pt.str("iss") != m.URL || pt.str("aud") != rs.URL:
		t.Errorf("presented_token: typ %q, claims %v", pt.typ, pt.claims)
	case rt.typ != "aa-resource+jwt" || rt.str("iss") != rs.URL || rt.str("aud") != m.URL || rt.str("ps") != m.URL:
		t.Errorf("resource_token: typ %q, claims %v", rt.typ, rt.claims)
	case rt.str("person_token_jti") != pt.str("jti") || rt.str("presented_jti") != pt.str("jti") || rt.str("sub") != pt.str("sub"):
		t.Errorf("the resource token (%v) does not name the person token presented (%v)", rt.claims, pt.claims)
	case pt.str("sub") != echo.Sub:
		t.Errorf("the auth token's sub %q is not the person token's %q", echo.Sub, pt.str("sub"))
	case !slices.Equal(exchange.Capabilities, []string{"interaction", "budget"}):
		t.Errorf("exchange capabilities %q", exchange.Capabilities)
	}

	// mockin fetched the resource's keys to verify the resource token, and
	// nobody fetched the agent provider's: mockin used the preloaded ones.
	fetched := 0
	for _, r := range rs.Requests() {
		if r.Endpoint == aauthtest.EndpointMetadata || r.Endpoint == aauthtest.EndpointJWKS {
			fetched++
		}
	}
	if fetched == 0 {
		t.Error("mockin did not fetch the resource's metadata and keys")
	}
	if n := len(ap.Requests()); n != 0 {
		t.Errorf("the agent provider got %d requests, want none", n)
	}

	mu.Lock()
	defer mu.Unlock()
	steps := map[aauth.Step]int{}
	for _, ev := range events {
		steps[ev.Step]++
	}
	wantInteractions := 0
	if interaction {
		wantInteractions = 2
	}
	if steps[aauth.StepPersonToken] != 1 || steps[aauth.StepExchange] != 1 || steps[aauth.StepInteraction] != wantInteractions || steps[aauth.StepError] != 0 {
		t.Errorf("events %v", steps)
	}
	if len(visited) != wantInteractions {
		t.Errorf("OnInteraction called for %q, want %d calls", visited, wantInteractions)
	}
}

// agentEntity is what mockin's trusted_servers holds for the agent
// provider: its metadata document and JWK Set, so mockin never fetches
// them.
func agentEntity(t *testing.T, ap *aauthtest.AgentProvider) map[string]any {
	t.Helper()
	md, err := json.Marshal(ap.TokenIssuer().Metadata())
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := ap.TokenIssuer().JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"metadata": json.RawMessage(md), "jwks": json.RawMessage(jwks)}
}

// mockin is a running mockin process.
type mockin struct {
	URL  string       // its issuer, http://127.0.0.1:port
	http *http.Client // unsigned, for the mock controls
}

// startMockin starts mockin on a free loopback port and waits until it
// serves its metadata. The process is killed when t ends; its output is
// logged only if t failed.
func startMockin(t *testing.T) *mockin {
	t.Helper()
	needMockin(t)
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	m := &mockin{http: &http.Client{Transport: tr, Timeout: 5 * time.Second, CheckRedirect: noFollow}}
	var errs []error
	for range mockinStarts {
		p, err := m.spawn(t)
		if err == nil {
			return m
		}
		errs = append(errs, err)
		if p == nil || !p.exited() {
			break // another port would not help
		}
	}
	t.Fatalf("starting mockin: %v", errors.Join(errs...))
	return nil
}

// spawn starts one mockin process on a port picked now and waits for it.
func (m *mockin) spawn(t *testing.T) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	m.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(nodePath, filepath.Join(mockinDir, "src", "server.js"))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "IP=127.0.0.1", "ISSUER="+m.URL)
	p, err := startProcess(t, "mockin", cmd)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(mockinStartTimeout)
	for {
		if m.ready() {
			return p, nil
		}
		if p.exited() {
			return p, fmt.Errorf("mockin on port %d exited: %s", port, p.output())
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("mockin on port %d not ready after %v: %s", port, mockinStartTimeout, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether mockin serves its metadata, naming itself, and
// its mock settings. Both, because another test's server that took the
// port between freePort and mockin's bind (a kit person server, say) also
// names itself by its URL; only mockin answers GET /mock/aauth. mockin
// itself then exits (the port is taken), and spawn tries another port.
func (m *mockin) ready() bool {
	resp, err := m.http.Get(m.URL + psclient.WellKnownPath)
	if err != nil {
		return false
	}
	var md struct{ Issuer string }
	ok := resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&md) == nil && md.Issuer == m.URL
	resp.Body.Close()
	if !ok {
		return false
	}
	resp, err = m.http.Get(m.URL + "/mock/aauth")
	if err != nil {
		return false
	}
	var settings map[string]any
	ok = resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&settings) == nil
	resp.Body.Close()
	return ok
}

// reset forgets every mock setting, pending request and cached key.
func (m *mockin) reset(ctx context.Context, t *testing.T) {
	t.Helper()
	m.control(ctx, t, http.MethodDelete, "/mock", nil)
}

// configure sets mock settings through PUT /mock/aauth.
func (m *mockin) configure(ctx context.Context, t *testing.T, cfg map[string]any) {
	t.Helper()
	got := m.control(ctx, t, http.MethodPut, "/mock/aauth", cfg)
	for k := range cfg {
		if _, ok := got[k]; !ok {
			t.Fatalf("mockin ignored the setting %q", k)
		}
	}
}

func (m *mockin) control(ctx context.Context, t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := m.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, truncate(string(b), 500))
	}
	return out
}

// needMockin skips or fails t as needNode does, and also when the
// installed mockin is not the pinned one or node is too old for it.
func needMockin(t *testing.T) {
	t.Helper()
	needNode(t)
	b, err := os.ReadFile(filepath.Join(mockinDir, "package.json"))
	if err != nil {
		t.Fatalf("interop: mockin is not installed (remove interop/node_modules): %v", err)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version != mockinVersion {
		t.Fatalf("interop: node_modules has mockin %q, want %s (remove interop/node_modules)", pkg.Version, mockinVersion)
	}
	major, err := nodeMajor()
	if err != nil {
		t.Fatalf("interop: %v", err)
	}
	if major < mockinMinNode {
		msg := fmt.Sprintf("interop: mockin %s needs Node %d or later (global crypto); node on the PATH is %d", mockinVersion, mockinMinNode, major)
		if os.Getenv(envInterop) == "required" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// nodeMajor returns the major version of nodePath.
func nodeMajor() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, nodePath, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0, fmt.Errorf("node --version said %q", out)
	}
	return n, nil
}

// freePort returns a loopback port nobody listened on a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func noFollow(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// process is a child process whose output is kept in memory.
type process struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{} // closed once it has exited
}

// startProcess starts cmd in its own process group and arranges for t's
// cleanup to kill the group and wait for the exit, logging the output if
// t failed.
func startProcess(t *testing.T, name string, cmd *exec.Cmd) (*process, error) {
	p := &process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	// The copying of output ends even if a grandchild holds the pipe.
	cmd.WaitDelay = 2 * time.Second
	procgroup.Own(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := procgroup.Kill(cmd); err != nil {
			t.Errorf("stopping %s (pid %d): %v", name, cmd.Process.Pid, err)
		}
		select {
		case <-p.done:
		case <-time.After(mockinStopTimeout):
			t.Errorf("%s (pid %d) still running %v after it was killed", name, cmd.Process.Pid, mockinStopTimeout)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.output())
		}
	})
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) output() string { return truncate(p.out.String(), 4000) }

// lockedBuffer is a bytes.Buffer safe for the writes of exec's copying
// goroutines and the reads of the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wireLog records every request a client sends, one line each, with the
// server's URL shortened to a name, the kind of token presented, the
// status and the requirement of the answer. Pending ids and interaction
// codes are elided, as they change every run.
type wireLog struct {
	names [][2]string // URL prefix → short name

	mu      sync.Mutex
	entries []string
	bodies  map[string][]byte // "METHOD name/path" → the body of its first request
}

var pendingID = regexp.MustCompile(`/aauth/pending/[^/?]+`)

func (w *wireLog) wrap(base http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		var body []byte
		if req.Body != nil && req.Body != http.NoBody {
			var err error
			if body, err = io.ReadAll(req.Body); err != nil {
				return nil, err
			}
			req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		resp, err := base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		target := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
		for _, n := range w.names {
			if strings.HasPrefix(target, n[0]+"/") {
				target = n[1] + strings.TrimPrefix(target, n[0])
				break
			}
		}
		target = pendingID.ReplaceAllString(target, "/aauth/pending/…")
		if req.URL.Query().Has("code") {
			target += "?code=…"
		}
		call := req.Method + " " + target
		line := call
		if k := presentedKind(req.Header.Get("Signature-Key")); k != "" {
			line += " [" + k + "]"
		}
		line += " → " + strconv.Itoa(resp.StatusCode)
		if c, err := wire.ParseRequirement(resp.Header.Get("AAuth-Requirement")); err == nil {
			line += " requirement=" + string(c.Requirement)
		}
		w.mu.Lock()
		w.entries = append(w.entries, line)
		if w.bodies == nil {
			w.bodies = map[string][]byte{}
		}
		if _, ok := w.bodies[call]; !ok {
			w.bodies[call] = body
		}
		w.mu.Unlock()
		return resp, nil
	})
}

func (w *wireLog) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.entries)
}

// body returns the body of the first request sent as call ("POST
// ps/aauth/token/auth").
func (w *wireLog) body(call string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bodies[call]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// presentedKind names the token in a Signature-Key: agent, person or auth
// (from its typ), or "" when there is none.
func presentedKind(v string) string {
	if v == "" {
		return ""
	}
	sk, err := wire.ParseSignatureKey(v)
	if err != nil || sk.Token == "" {
		return string(sk.Scheme)
	}
	typ, _, _ := strings.Cut(decodeTyp(sk.Token), "+")
	return strings.TrimPrefix(typ, "aa-")
}

func decodeTyp(tok string) string {
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct{ Typ string }
	json.Unmarshal(b, &hdr)
	return hdr.Typ
}

// jwt is a decoded, unverified JWT.
type jwt struct {
	typ    string
	claims map[string]any
}

func (j jwt) str(k string) string { s, _ := j.claims[k].(string); return s }

func jwtParts(t *testing.T, tok string) jwt {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", truncate(tok, 40))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	j := jwt{typ: decodeTyp(tok)}
	if err := json.Unmarshal(b, &j.claims); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return j
}
