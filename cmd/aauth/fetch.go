package main

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

const fetchHelp = `Usage: aauth fetch [options] URL...

Make a request as an AAuth agent: sign it, answer the resource's
challenges (person token, auth token) with the agent's person server, wait
for the person when asked, retry, and write the response body to stdout.
Options may also follow the URL.

Several URLs are fetched in order, with the same options, each answer
written as curl does (its head first with -i); a token one obtains serves
the next. A failed one is reported on stderr and the next is fetched; the
exit status is 1 if any failed.

The tokens obtained are kept for the next run, which presents them at
once: one round trip instead of the whole flow, and no person asked
again. They are kept in $XDG_STATE_HOME/aauth, else
~/.local/state/aauth, in 0600 files (see package filestore), those of
each agent key apart.

Request:
  -X METHOD              the method (default GET, or POST with -d)
  -H 'Name: value'       add a request header (repeatable)
  -d DATA, -d @FILE      send DATA, or the content of FILE (@- for stdin), as
                         the body; Content-Type defaults to
                         application/x-www-form-urlencoded, as with curl
  --timeout DURATION     give up on each URL after DURATION, such as 30s or
                         5m (default: no limit but the profile's bound on
                         waiting)

Agent:
  --key FILE             the agent's signing key, a private JWK  [$AAUTH_KEY,
                         a file name or the JWK itself]
  --agent-token JWT|@FILE
                         the agent token for that key  [$AAUTH_AGENT_TOKEN]
  --hwk                  send the bare public key instead of an agent token
  --person-server URL    the agent's person server, https (or http on a
                         loopback host)  [$AAUTH_PERSON_SERVER]
                         (default: the agent token's ps claim)
  --profile NAME         wire generation: current (default) or seed

Sub-agent (AAuth sub-agents: --key and --agent-token are the sub-agent's,
its token made with "aauth agent-token --parent"):
  --parent-key FILE      the parent agent's signing key; the parent runs in
                         this process and asks its person server for the
                         sub-agent's tokens, bound to the sub-agent's key
  --parent-agent-token JWT|@FILE
                         the parent's agent token (its person server is
                         --person-server, else this token's ps claim)

Intermediary (AAuth call chaining: --key and --agent-token are the
intermediary's own, self-issued under its resource identifier):
  --upstream-token JWT|@FILE
                         act on behalf of the caller who presented this
                         person or auth token to the intermediary: the
                         person server is the token's, and it is sent as
                         upstream_token

Told to the person server:
  --capabilities LIST    what this agent can do, comma separated (default
                         interaction,clarification; '' for none); the
                         current profile adds budget
  --justification TEXT   why the agent needs access
  --login-hint HINT      who the person is
  --tenant ID            the person's tenant
  --domain-hint DOMAIN   the person's domain
  --mission-s256 HASH    the mission the request belongs to
  --mission-approver URL who approved the mission (seed profile only)

Tokens:
  --store DIR            keep tokens in DIR instead
  --no-store             keep nothing: every run starts cold

Output:
  -i                     print the status line and response headers first
  --explain              trace every protocol step on stderr, tokens
                         abbreviated
  --dry-run              sign the request and print it instead of sending it:
                         "METHOD URL", one "Name: value" line per header, an
                         empty line, then the body (the agent token is shown
                         in Signature-Key, as it would be sent)

When the person must approve, a line "interaction: URL CODE" is written to
stderr: open URL?code=CODE in a browser. Questions from the person server
are asked on stderr and answered on stdin.

A warning is written to stderr when the agent token has expired, or
expires before the request may end (within --timeout, or the profile's
bound on waiting for the person).

Exit status: 0 when the answers are 1xx to 3xx, 1 when a request fails or
an answer is 4xx or 5xx (the body is still written), 2 on bad usage, 130
when interrupted (Ctrl-C).

Example:
  aauth fetch --key agent.jwk --agent-token @agent.jwt --explain \
      https://resource.example/api/data
`

// defaultCapabilities are what the command can do for a person server:
// show an interaction URL and ask a question on the terminal.
const defaultCapabilities = "interaction,clarification"

// fetchOptions is a fetch to make, from the command line or the demo.
type fetchOptions struct {
	method  string
	target  *url.URL   // the URL fetched now
	targets []*url.URL // every URL, in order; nil means target alone
	header  http.Header
	host    string // a -H Host: value
	body    []byte
	hasBody bool

	signer       crypto.Signer
	sigKey       aauth.SignatureKey
	personServer string
	profile      aauth.Profile

	capabilities  []aauth.Capability
	justification string
	loginHint     string
	tenant        string
	domainHint    string
	mission       *wire.Mission

	// tokens is the token store (--store, --no-store); nil leaves the
	// tokens in the Transport's memory.
	tokens aauth.TokenCache

	// A sub-agent's parent, run in process; or the upstream token of a
	// call made on a caller's behalf.
	parentSigner crypto.Signer
	parentKey    aauth.SignatureKey
	upstream     string

	timeout time.Duration
	include bool
	explain bool
	dryRun  bool
}

// fetch runs "aauth fetch".
func (e *env) fetch(ctx context.Context, args []string) error {
	o, err := e.parseFetch(args)
	if err != nil {
		return err
	}
	e.warnExpiry(o)
	return e.doFetch(ctx, o, nil)
}

// warnExpiry warns, on stderr, when the agent token has expired, or
// expires before the request may end: within --timeout, or else within the
// profile's bound on waiting for the person. Servers would refuse it, with
// an answer less clear than this line; the request is made all the same,
// for a server whose clock differs may still take it.
func (e *env) warnExpiry(o *fetchOptions) {
	exp, ok := expiryOf(o.sigKey.Token)
	if !ok {
		return
	}
	now := e.now()
	run := o.timeout
	if run == 0 {
		run = profile.For(o.profile).MaxPollDuration
	}
	switch left := exp.Sub(now).Round(time.Second); {
	case left <= 0:
		fmt.Fprintf(e.stderr, "aauth: warning: the agent token expired %v ago (at %s); servers will refuse it\n", -left, exp.Format(time.RFC3339))
	case left < run:
		fmt.Fprintf(e.stderr, "aauth: warning: the agent token expires in %v (at %s), before this request may end\n", left, exp.Format(time.RFC3339))
	}
}

// parseFetch reads the fetch command line, with the environment's
// defaults. Every problem with it, unreadable files included, is a usage
// error.
func (e *env) parseFetch(args []string) (*fetchOptions, error) {
	fs := newFlagSet("fetch")
	var headers headerList
	method := fs.String("X", "", "")
	fs.Var(&headers, "H", "")
	data := fs.String("d", "", "")
	keyFile := fs.String("key", "", "")
	agentToken := fs.String("agent-token", "", "")
	hwk := fs.Bool("hwk", false, "")
	personServer := fs.String("person-server", "", "")
	caps := fs.String("capabilities", defaultCapabilities, "")
	justification := fs.String("justification", "", "")
	loginHint := fs.String("login-hint", "", "")
	tenant := fs.String("tenant", "", "")
	domainHint := fs.String("domain-hint", "", "")
	missionS256 := fs.String("mission-s256", "", "")
	missionApprover := fs.String("mission-approver", "", "")
	profileName := fs.String("profile", "current", "")
	parentKey := fs.String("parent-key", "", "")
	parentToken := fs.String("parent-agent-token", "", "")
	upstream := fs.String("upstream-token", "", "")
	timeout := fs.Duration("timeout", 0, "")
	include := fs.Bool("i", false, "")
	explain := fs.Bool("explain", false, "")
	dryRun := fs.Bool("dry-run", false, "")
	storeDir := fs.String("store", "", "")
	noStore := fs.Bool("no-store", false, "")

	pos, err := e.parse(fs, fetchHelp, args)
	if err != nil {
		return nil, err
	}
	set := setFlags(fs)
	if len(pos) == 0 {
		return nil, syntaxf("fetch needs a URL")
	}

	o := &fetchOptions{
		header:        http.Header{},
		justification: *justification,
		loginHint:     *loginHint,
		tenant:        *tenant,
		domainHint:    *domainHint,
		timeout:       *timeout,
		include:       *include,
		explain:       *explain,
		dryRun:        *dryRun,
	}
	if o.profile, err = wire.ParseProfile(*profileName); err != nil {
		return nil, usagef("%s", trimPrefix(err))
	}
	for _, p := range pos {
		u, err := parseTarget(p)
		if err != nil {
			return nil, err
		}
		o.targets = append(o.targets, u)
	}
	o.target = o.targets[0]
	if *timeout < 0 {
		return nil, usagef("--timeout must not be negative")
	}
	for _, line := range headers {
		name, value, err := parseHeader(line)
		if err != nil {
			return nil, err
		}
		if http.CanonicalHeaderKey(name) == "Host" {
			o.host = value
			continue
		}
		o.header.Add(name, value)
	}
	if set["d"] {
		if o.body, err = e.readData(*data); err != nil {
			return nil, err
		}
		o.hasBody = true
		if o.header.Get("Content-Type") == "" {
			o.header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	o.method = *method
	if o.method == "" {
		o.method = http.MethodGet
		if o.hasBody {
			o.method = http.MethodPost
		}
	}
	if !isToken(o.method) {
		return nil, usagef("-X %q is not a method", oneLine(o.method))
	}
	if o.capabilities, err = parseCapabilities(*caps); err != nil {
		return nil, err
	}

	if err := e.identity(o, set, *keyFile, *agentToken, *hwk, *personServer); err != nil {
		return nil, err
	}
	switch {
	case *missionApprover != "" && o.profile != aauth.ProfileSeed:
		return nil, usagef("--mission-approver is only sent in the seed profile (add --profile seed)")
	case *missionApprover != "" && *missionS256 == "":
		return nil, usagef("--mission-approver needs --mission-s256")
	case *missionS256 != "":
		o.mission = &wire.Mission{S256: *missionS256, Approver: *missionApprover}
	}
	if err := o.delegation(set, *parentKey, *parentToken, *upstream); err != nil {
		return nil, err
	}
	if o.tokens, err = e.openStore(*storeDir, *noStore, set, o); err != nil {
		return nil, err
	}
	return o, nil
}

// identity sets the agent's key, agent token (or bare key) and person
// server from the flags given (set), else from the environment, else, for
// the person server, from the agent token's ps claim.
func (e *env) identity(o *fetchOptions, set map[string]bool, keyFile, agentToken string, hwk bool, personServer string) error {
	keySpec, keyFromEnv := keyFile, false
	if !set["key"] {
		keySpec, keyFromEnv = e.getenv("AAUTH_KEY"), true
	}
	var err error
	if o.signer, err = loadSigningKey(keySpec, keyFromEnv, o.profile); err != nil {
		return err
	}
	switch {
	case hwk && set["agent-token"]:
		return usagef("--agent-token and --hwk exclude each other")
	case hwk:
		o.sigKey = aauth.HWK()
	default:
		token, name := agentToken, "--agent-token"
		if !set["agent-token"] {
			token, name = e.getenv("AAUTH_AGENT_TOKEN"), "AAUTH_AGENT_TOKEN"
		}
		if token == "" {
			return usagef("no agent token: give --agent-token JWT|@FILE, set AAUTH_AGENT_TOKEN, or use --hwk")
		}
		if token, err = loadToken(name, token); err != nil {
			return err
		}
		if err := checkTokenKey(token, o.signer); err != nil {
			return err
		}
		o.sigKey = aauth.JWT(token)
	}
	name := "--person-server"
	o.personServer = personServer
	if !set["person-server"] {
		o.personServer, name = e.getenv("AAUTH_PERSON_SERVER"), "AAUTH_PERSON_SERVER"
	}
	if o.personServer != "" {
		return checkServerURL(name, o.personServer, false)
	}
	// Else the agent token's ps claim, when it is a URL the agent may talk
	// to; a claim that is not is left alone, as the Transport would.
	if ps := claimString(o.sigKey.Token, "ps"); ps != "" && checkServerURL("ps", ps, false) == nil {
		o.personServer = ps
	}
	return nil
}

// parseTarget checks the URL to fetch.
func parseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, usagef("%q is not a URL", oneLine(s))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, usagef("%q is not an http or https URL", oneLine(s))
	}
	return u, nil
}

// readData reads the -d argument: the data itself, or @FILE, or @- for
// stdin.
func (e *env) readData(arg string) ([]byte, error) {
	name, ok := strings.CutPrefix(arg, "@")
	if !ok {
		return []byte(arg), nil
	}
	if name == "-" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, usagef("-d @-: reading stdin: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fileError("-d "+arg, err)
	}
	return b, nil
}

// parseCapabilities reads --capabilities: known AAuth capabilities,
// comma separated.
func parseCapabilities(list string) ([]aauth.Capability, error) {
	var caps []aauth.Capability
	for _, s := range strings.Split(list, ",") {
		c := aauth.Capability(strings.TrimSpace(s))
		switch c {
		case "":
			continue
		case aauth.CapabilityInteraction, aauth.CapabilityClarification, aauth.CapabilityPayment, wire.CapabilityBudget:
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		default:
			return nil, usagef("--capabilities: unknown capability %q (want interaction, clarification, payment or budget)", oneLine(string(c)))
		}
	}
	return caps, nil
}

// loadSigningKey reads the signing key from a file or, from the
// environment only, the JWK itself (a value starting with "{"): a key on
// the command line would show in the process list.
func loadSigningKey(spec string, fromEnv bool, p aauth.Profile) (crypto.Signer, error) {
	switch {
	case spec == "":
		return nil, usagef("no signing key: give --key FILE or set AAUTH_KEY")
	case fromEnv && strings.HasPrefix(strings.TrimSpace(spec), "{"):
		key, err := keys.ParsePrivateJWK([]byte(spec), p)
		if err != nil {
			return nil, usagef("AAUTH_KEY: %s", trimPrefix(err))
		}
		return key, nil
	}
	name := "--key " + spec
	if fromEnv {
		name = "AAUTH_KEY " + spec
	}
	return readKeyFile(name, spec, p)
}

// loadToken reads a token argument: the JWT itself, or @FILE. Errors never
// show the value.
func loadToken(name, arg string) (string, error) {
	tok := arg
	if file, ok := strings.CutPrefix(arg, "@"); ok {
		b, err := readSmallFile(name+" "+arg, file)
		if err != nil {
			return "", err
		}
		tok = string(b)
	}
	tok = strings.TrimSpace(tok)
	if !isJWT(tok) {
		return "", usagef("%s is not a JWT", name)
	}
	return tok, nil
}

// checkTokenKey catches the common mistake of a token minted for another
// key, which every server would refuse with a less helpful answer.
func checkTokenKey(tok string, signer crypto.Signer) error {
	want := cnfThumbprint(tok)
	if want == "" {
		return nil
	}
	have, err := keys.Thumbprint(signer.Public())
	if err != nil {
		return usagef("%s", trimPrefix(err))
	}
	if have != want {
		return usagef("the agent token is for another key (its cnf.jwk thumbprint is %s, the signing key's is %s)", want, have)
	}
	return nil
}

// newRequest builds the request o describes.
func (o *fetchOptions) newRequest(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if o.hasBody {
		// A bytes.Reader gives the request a GetBody, so the Transport
		// can send the body again after a challenge.
		body = bytes.NewReader(o.body)
	}
	req, err := http.NewRequestWithContext(ctx, o.method, o.target.String(), body)
	if err != nil {
		return nil, usagef("%v", err)
	}
	for name, values := range o.header {
		req.Header[name] = slices.Clone(values)
	}
	if o.host != "" {
		req.Host = o.host
	}
	return req, nil
}

// transport returns the RoundTripper requests go through and a function
// that releases it.
func (e *env) transport() (http.RoundTripper, func()) {
	if e.base != nil {
		return e.base, func() {}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	return t, t.CloseIdleConnections
}

// doFetch makes the fetch o describes. approve, when set, is called after
// each interaction prompt; the demo approves there on the person's behalf.
func (e *env) doFetch(ctx context.Context, o *fetchOptions, approve func(ctx context.Context, url, code string) error) error {
	targets := o.targets
	if len(targets) == 0 {
		targets = []*url.URL{o.target}
	}
	if o.dryRun {
		return e.dryRunEach(ctx, o, targets)
	}

	base, release := e.transport()
	defer release()
	prompt := &prompter{w: e.stderr, in: newLineReader(e.stdin), then: approve}
	tr := &aauth.Transport{
		Base:            base,
		Keys:            aauth.StaticKeys(o.signer, o.sigKey),
		PersonServer:    o.personServer,
		Capabilities:    o.capabilities,
		Mission:         o.mission,
		OnInteraction:   prompt.interaction,
		OnClarification: prompt.clarify,
		Justification:   o.justification,
		LoginHint:       o.loginHint,
		Tenant:          o.tenant,
		DomainHint:      o.domainHint,
		Profile:         o.profile,
		Clock:           e.clock,
		Tokens:          o.tokens,
	}
	var x *explainer
	if o.explain {
		x = newExplainer(e.stderr, o.target, o.sigKey.Scheme == wire.SchemeHWK)
		tr.OnEvent = x.event
		prompt.w = x // the prompts come in order with the trace
		defer x.done()
	}
	ctx = o.delegate(ctx, tr, x)
	// Redirects are not followed, as with curl: following one would
	// present the agent's credentials to whatever origin it names.
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e.fetchEach(ctx, client, o, targets, x)
}

// requestError describes a request that got no usable answer.
func requestError(ctx context.Context, req *http.Request, timeout time.Duration, err error) error {
	// The client adds the method and the full URL, query included; say
	// it once, without the query.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := trimPrefix(err)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0:
		msg = fmt.Sprintf("no answer within --timeout %v", timeout)
	case errors.Is(ctx.Err(), context.Canceled):
		msg = "interrupted"
	}
	return fmt.Errorf("%s %s: %s", req.Method, showURL(req.URL), msg)
}

// statusError describes a 4xx or 5xx answer, with what the server said
// about it: its unmet AAuth requirement, Signature-Error, or problem.
func statusError(req *http.Request, resp *http.Response, problem *wire.Problem) error {
	msg := fmt.Sprintf("%s %s: %s", req.Method, showURL(req.URL), resp.Status)
	switch ch, present, err := wire.ParseRequirementHeader(resp.Header); {
	case present && err == nil:
		msg += " (requirement=" + ch.String() + ")"
	case resp.Header.Get("Signature-Error") != "":
		msg += " (Signature-Error: " + clip(resp.Header.Get("Signature-Error"), 200) + ")"
	case problem != nil && problem.String() != "":
		msg += " (" + problem.String() + ")"
	}
	return errors.New(msg)
}

// writeHead writes the status line and the headers of resp, as curl -i
// does. Tokens a server hands out in headers are abbreviated.
func writeHead(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "%s %s\n", resp.Proto, resp.Status)
	writeHeaderLines(w, resp.Header, redactHeader)
	fmt.Fprintln(w)
}

// writeHeaderLines writes h as "Name: value" lines, names sorted, each
// value as show returns it.
func writeHeaderLines(w io.Writer, h http.Header, show func(name, value string) string) {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range h[name] {
			fmt.Fprintf(w, "%s: %s\n", name, show(name, v))
		}
	}
}

// redactHeader abbreviates the tokens in the response headers that carry
// them: a session token in AAuth-Access, a resource token in
// AAuth-Requirement.
func redactHeader(name, value string) string {
	switch http.CanonicalHeaderKey(name) {
	case "Aauth-Access":
		return aauth.Redact(strings.TrimSpace(value))
	case "Aauth-Requirement":
		if ch, err := wire.ParseRequirement(value); err == nil && ch.ResourceToken != "" {
			return strings.ReplaceAll(value, ch.ResourceToken, aauth.Redact(ch.ResourceToken))
		}
	}
	return value
}

// showURL returns u for messages: without user info and query, which may
// hold secrets.
func showURL(u *url.URL) string {
	v := *u
	v.User = nil
	if v.RawQuery != "" || v.ForceQuery {
		v.RawQuery, v.ForceQuery = "…", false
	}
	v.Fragment, v.RawFragment = "", ""
	return v.String()
}

// clip makes server text one line of at most n bytes.
func clip(s string, n int) string {
	s = oneLine(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return s
}
