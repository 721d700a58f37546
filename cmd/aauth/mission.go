package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// The help of the mission and governance commands shares its agent part.
const govAgentHelp = `Agent:
  --key FILE             the agent's signing key, a private JWK  [$AAUTH_KEY]
  --agent-token JWT|@FILE
                         the agent token for that key  [$AAUTH_AGENT_TOKEN]
  --person-server URL    the agent's person server  [$AAUTH_PERSON_SERVER]
                         (default: the agent token's ps claim)
  --profile NAME         wire generation: current (the only one with missions)
  --timeout DURATION     give up after DURATION (default: the profile's bound
                         on waiting for the person)
  --explain              trace every exchange with the person server on
                         stderr, tokens abbreviated

When the person must approve, a line "interaction: URL CODE" is written to
stderr; questions from the person server are asked on stderr and answered
on stdin. TEXT may be @FILE (@- for stdin). Exit status: 0 success, 1 a
refusal or a failure, 2 bad usage.
`

const missionHelp = `Usage: aauth mission propose|update|complete [options]

Propose a mission to the agent's person server, record a change in it, or
propose that it is finished.

  aauth mission propose --description TEXT [--tool NAME[:DESCRIPTION]]…
                        [--resource URL]…
      Prints the mission's s256 on the first line and the approved mission
      (its JSON blob, s256 checked) on the second; the person tokens the
      approval brings are counted on stderr.
  aauth mission update --mission S256 --description TEXT
      Prints the update's digest.
  aauth mission complete --mission S256 --summary TEXT
      Prints "completed" once the person accepts.

` + govAgentHelp + `
Example:
  aauth mission propose --key agent.jwk --agent-token @agent.jwt \
      --description "Summarize this week's tickets" \
      --tool Summarize --resource https://tickets.example
`

const permissionHelp = `Usage: aauth permission --action NAME [options]

Ask the agent's person server whether the agent may take an action no
resource governs (a tool call, a message sent). Prints "granted", exit 0;
a denial is exit 1 with the person server's reason on stderr.

  --action NAME          the action, a tool name for instance (required)
  --description TEXT     what it will do and why
  --parameters JSON      its parameters, a JSON object
  --mission S256         the mission it belongs to

` + govAgentHelp

const auditHelp = `Usage: aauth audit --mission S256 --action NAME [options]

Record an action the agent took within a mission, at the agent's person
server's audit endpoint. Prints "recorded".

  --mission S256         the mission (required: there is no audit outside one)
  --action NAME          what was done (required)
  --description TEXT     what was done and how it went
  --parameters JSON      the parameters used, a JSON object
  --result JSON          the outcome, a JSON object

` + govAgentHelp

// govFlags are the flags every governance command takes.
type govFlags struct {
	key, agentToken, personServer, profile *string
	timeout                                *time.Duration
	explain                                *bool
}

func addGovFlags(fs *flag.FlagSet) govFlags {
	return govFlags{
		key:          fs.String("key", "", ""),
		agentToken:   fs.String("agent-token", "", ""),
		personServer: fs.String("person-server", "", ""),
		profile:      fs.String("profile", "current", ""),
		timeout:      fs.Duration("timeout", 0, ""),
		explain:      fs.Bool("explain", false, ""),
	}
}

// govCall is a governance command ready to run: the signing client and
// where its calls go.
type govCall struct {
	client *http.Client
	ps     string
	cache  *psclient.MetadataCache
	p      wire.Profile
	poll   psclient.PollOptions
	stop   func()
}

// govSetup reads the agent's identity and builds the client.
func (e *env) govSetup(ctx context.Context, fs *flag.FlagSet, g govFlags) (context.Context, *govCall, error) {
	o := &fetchOptions{}
	var err error
	if o.profile, err = wire.ParseProfile(*g.profile); err != nil {
		return nil, nil, usagef("%s", trimPrefix(err))
	}
	if o.profile != aauth.ProfileCurrent {
		return nil, nil, usagef("missions and governance exist in the current profile only")
	}
	if *g.timeout < 0 {
		return nil, nil, usagef("--timeout must not be negative")
	}
	if err := e.identity(o, setFlags(fs), *g.key, *g.agentToken, false, *g.personServer); err != nil {
		return nil, nil, err
	}
	if o.personServer == "" {
		return nil, nil, usagef("no person server: give --person-server, set AAUTH_PERSON_SERVER, or use an agent token with a ps claim")
	}
	u, err := url.Parse(o.personServer)
	if err != nil || u.Host == "" {
		return nil, nil, usagef("--person-server %q is not a URL", oneLine(o.personServer))
	}
	base, release := e.transport()
	stop := release
	if *g.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *g.timeout)
		stop = func() { cancel(); release() }
	}
	prompt := &prompter{w: e.stderr, in: newLineReader(e.stdin)}
	if *g.explain {
		// The trace comes from what the person-server client reports;
		// the prompts go through it, to come in order.
		x := newExplainer(e.stderr, u, false)
		ctx = psclient.WithObserver(ctx, x.observation)
		prompt.w = x
		prev := stop
		stop = func() { x.done(); prev() }
	}
	var clk psclient.Clock
	if e.clock != nil {
		clk = e.clock
	}
	st := &aauth.SigningTransport{Base: base, Keys: aauth.StaticKeys(o.signer, o.sigKey), Profile: o.profile}
	if e.clock != nil {
		st.Now = e.clock.Now
	}
	return ctx, &govCall{
		client: &http.Client{Transport: st, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ps:     o.personServer,
		cache:  &psclient.MetadataCache{},
		p:      o.profile,
		poll:   psclient.PollOptions{OnInteraction: prompt.interaction, OnClarification: prompt.clarify, Clock: clk},
		stop:   stop,
	}, nil
}

// govRun runs a governance command's one call: it sets the client up,
// runs call with it and prints done once the call succeeds.
func (e *env) govRun(ctx context.Context, fs *flag.FlagSet, g govFlags, done string, call func(context.Context, *govCall) error) error {
	ctx, c, err := e.govSetup(ctx, fs, g)
	if err != nil {
		return err
	}
	defer c.stop()
	if err := call(ctx, c); err != nil {
		return govError(ctx, err)
	}
	fmt.Fprintln(e.stdout, done)
	return nil
}

// mission runs "aauth mission". Options may come before or after the
// subcommand.
func (e *env) mission(ctx context.Context, args []string) error {
	fs := newFlagSet("mission")
	g := addGovFlags(fs)
	description := fs.String("description", "", "")
	summary := fs.String("summary", "", "")
	missionS256 := fs.String("mission", "", "")
	var tools, resources headerList
	fs.Var(&tools, "tool", "")
	fs.Var(&resources, "resource", "")
	pos, err := e.parse(fs, missionHelp, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return syntaxf("mission needs propose, update or complete")
	case pos[0] != "propose" && pos[0] != "update" && pos[0] != "complete":
		return syntaxf("mission %q: want propose, update or complete", oneLine(pos[0]))
	case len(pos) > 1:
		return syntaxf("mission %s takes no arguments, got %q", pos[0], oneLine(pos[1]))
	}
	sub := pos[0]
	set := setFlags(fs)
	for _, name := range map[string][]string{
		"propose":  {"summary", "mission"},
		"update":   {"summary", "tool", "resource"},
		"complete": {"description", "tool", "resource"},
	}[sub] {
		if set[name] {
			return syntaxf("mission %s takes no --%s", sub, name)
		}
	}
	text := func(flagName, v string) (string, error) {
		if v == "" {
			return "", syntaxf("mission %s needs --%s", sub, flagName)
		}
		return e.readText(flagName, v)
	}
	ctx, c, err := e.govSetup(ctx, fs, g)
	if err != nil {
		return err
	}
	defer c.stop()
	switch sub {
	case "propose":
		d, err := text("description", *description)
		if err != nil {
			return err
		}
		p := psclient.MissionProposal{PersonServer: c.ps, Cache: c.cache, Profile: c.p, Description: d, Poll: c.poll}
		for _, t := range tools {
			name, desc, _ := strings.Cut(t, ":")
			p.Tools = append(p.Tools, psclient.Tool{Name: strings.TrimSpace(name), Description: strings.TrimSpace(desc)})
		}
		p.Resources = resources
		a, err := psclient.ProposeMission(ctx, c.client, p)
		if err != nil {
			return govError(ctx, err)
		}
		fmt.Fprintln(e.stdout, a.S256)
		fmt.Fprintln(e.stdout, string(a.Mission.Raw))
		fmt.Fprintf(e.stderr, "mission approved: %d person tokens, capabilities %q\n", len(a.PersonTokens), a.Capabilities)
		for _, ig := range a.Ignored {
			fmt.Fprintf(e.stderr, "ignored the person token for %s: %s\n", oneLine(ig.Resource), ig.Reason)
		}
	case "update":
		d, err := text("description", *description)
		if err != nil {
			return err
		}
		digest, err := psclient.UpdateMission(ctx, c.client, psclient.MissionUpdate{PersonServer: c.ps, Cache: c.cache, Profile: c.p, MissionS256: *missionS256, Description: d, Poll: c.poll})
		if err != nil {
			return govError(ctx, err)
		}
		fmt.Fprintln(e.stdout, digest)
	case "complete":
		s, err := text("summary", *summary)
		if err != nil {
			return err
		}
		if err := psclient.CompleteMission(ctx, c.client, psclient.MissionCompletion{PersonServer: c.ps, Cache: c.cache, Profile: c.p, MissionS256: *missionS256, Summary: s, Poll: c.poll}); err != nil {
			return govError(ctx, err)
		}
		fmt.Fprintln(e.stdout, "completed")
	}
	return nil
}

// permission runs "aauth permission".
func (e *env) permission(ctx context.Context, args []string) error {
	fs := newFlagSet("permission")
	g := addGovFlags(fs)
	action := fs.String("action", "", "")
	description := fs.String("description", "", "")
	parameters := fs.String("parameters", "", "")
	missionS256 := fs.String("mission", "", "")
	if err := e.parseOptions(fs, permissionHelp, args); err != nil {
		return err
	}
	if *action == "" {
		return syntaxf("permission needs --action")
	}
	var err error
	r := psclient.PermissionRequest{Action: *action, MissionS256: *missionS256}
	if r.Description, err = e.readText("description", *description); err != nil {
		return err
	}
	if r.Parameters, err = jsonObjectFlag("parameters", *parameters); err != nil {
		return err
	}
	return e.govRun(ctx, fs, g, "granted", func(ctx context.Context, c *govCall) error {
		r.PersonServer, r.Cache, r.Profile, r.Poll = c.ps, c.cache, c.p, c.poll
		return psclient.RequestPermission(ctx, c.client, r)
	})
}

// audit runs "aauth audit".
func (e *env) audit(ctx context.Context, args []string) error {
	fs := newFlagSet("audit")
	g := addGovFlags(fs)
	action := fs.String("action", "", "")
	description := fs.String("description", "", "")
	parameters := fs.String("parameters", "", "")
	result := fs.String("result", "", "")
	missionS256 := fs.String("mission", "", "")
	if err := e.parseOptions(fs, auditHelp, args); err != nil {
		return err
	}
	switch {
	case *missionS256 == "":
		return syntaxf("audit needs --mission: there is no audit outside a mission")
	case *action == "":
		return syntaxf("audit needs --action")
	}
	var err error
	r := psclient.AuditRecord{Action: *action, MissionS256: *missionS256}
	if r.Description, err = e.readText("description", *description); err != nil {
		return err
	}
	if r.Parameters, err = jsonObjectFlag("parameters", *parameters); err != nil {
		return err
	}
	if r.Result, err = jsonObjectFlag("result", *result); err != nil {
		return err
	}
	return e.govRun(ctx, fs, g, "recorded", func(ctx context.Context, c *govCall) error {
		r.PersonServer, r.Cache, r.Profile = c.ps, c.cache, c.p
		return psclient.Audit(ctx, c.client, r)
	})
}

// readText reads a TEXT argument: the text, or @FILE, or @- for stdin.
func (e *env) readText(flagName, v string) (string, error) {
	if !strings.HasPrefix(v, "@") {
		return v, nil
	}
	b, err := e.readData(v)
	if err != nil {
		return "", usagef("--%s: %s", flagName, strings.TrimPrefix(err.Error(), "-d: "))
	}
	return string(b), nil
}

// jsonObjectFlag reads a JSON object flag (or @FILE); "" is none.
func jsonObjectFlag(flagName, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	if name, ok := strings.CutPrefix(v, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, usagef("--%s: %v", flagName, err)
		}
		v = string(b)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
		return nil, usagef("--%s is not a JSON object", flagName)
	}
	return json.RawMessage(strings.TrimSpace(v)), nil
}

// govError describes a refused or failed governance call on one line.
func govError(ctx context.Context, err error) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return errors.New("no answer within --timeout")
	case errors.Is(ctx.Err(), context.Canceled):
		return errors.New("interrupted")
	}
	return err
}
