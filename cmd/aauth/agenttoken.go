package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/internal/agentid"
	"github.com/aauthgo/aauth/wire"
)

const agentTokenHelp = `Usage: aauth agent-token --provider-key FILE --iss URL --sub ID --key AGENT_KEY_FILE
                         [--ps URL] [--parent ID] [--ttl 1h] [--profile current|seed]

Mint an agent token, as an agent provider does: a JWT signed with the
provider's key that binds the agent's public key (cnf.jwk) to the agent's
identifier (sub). The token is printed on stdout.

  --provider-key FILE  the agent provider's signing key (a private JWK)
  --iss URL            the agent provider's URL, the token's iss; verifiers
                       fetch its keys from URL/.well-known/aauth-agent.json
  --sub ID             the agent identifier, such as aauth:assistant@agent.example
  --key FILE           the agent's key (a private or public JWK); only its
                       public half goes into the token
  --ps URL             the agent's person server, the token's ps claim
  --parent ID          make a sub-agent's token: ID is its parent, the
                       parent_agent claim, a top-level agent identifier;
                       --sub must be ID's local part, "+" and a name, at
                       ID's domain (aauth:planner+w1@agent.example under
                       aauth:planner@agent.example). The parent asks its
                       person server for the sub-agent's tokens: see
                       "aauth fetch --parent-key"
  --ttl DURATION       how long the token is valid (default 1h, at most 24h)
  --profile NAME       wire generation: current (default) or seed

Example:
  aauth keygen -o provider.jwk && aauth keygen -o agent.jwk
  aauth agent-token --provider-key provider.jwk --iss https://agent.example \
      --sub aauth:assistant@agent.example --key agent.jwk \
      --ps https://ps.example > agent.jwt
  aauth keygen -o worker.jwk
  aauth agent-token --provider-key provider.jwk --iss https://agent.example \
      --sub aauth:assistant+w1@agent.example --parent aauth:assistant@agent.example \
      --key worker.jwk --ps https://ps.example > worker.jwt
`

// agentToken runs "aauth agent-token".
func (e *env) agentToken(ctx context.Context, args []string) error {
	fs := newFlagSet("agent-token")
	providerKey := fs.String("provider-key", "", "")
	iss := fs.String("iss", "", "")
	sub := fs.String("sub", "", "")
	agentKey := fs.String("key", "", "")
	ps := fs.String("ps", "", "")
	parent := fs.String("parent", "", "")
	ttl := fs.Duration("ttl", time.Hour, "")
	profileName := fs.String("profile", "current", "")
	if err := e.parseOptions(fs, agentTokenHelp, args); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"provider-key", *providerKey}, {"iss", *iss}, {"sub", *sub}, {"key", *agentKey},
	} {
		if f.value == "" {
			missing = append(missing, "--"+f.name)
		}
	}
	if len(missing) > 0 {
		return syntaxf("missing %s", strings.Join(missing, ", "))
	}
	profile, err := wire.ParseProfile(*profileName)
	if err != nil {
		return usagef("%s", trimPrefix(err))
	}
	if err := checkServerURL("--iss", *iss, true); err != nil {
		return err
	}
	if *ps != "" {
		if err := checkServerURL("--ps", *ps, true); err != nil {
			return err
		}
	}
	if *ttl < time.Second || *ttl > 24*time.Hour {
		return usagef("--ttl %v is out of range (1s to 24h)", *ttl)
	}

	signer, err := readKeyFile("--provider-key "+*providerKey, *providerKey, profile)
	if err != nil {
		return err
	}
	pub, err := readPublicKey("--key "+*agentKey, *agentKey, profile)
	if err != nil {
		return err
	}
	issuer := &agentprovider.Issuer{Issuer: *iss, Key: signer, Profile: profile, Now: e.now}
	tok, _, err := issuer.Issue(ctx, agentprovider.TokenRequest{
		Subject:      *sub,
		Key:          pub,
		PersonServer: *ps,
		Lifetime:     *ttl,
		ParentAgent:  *parent,
	})
	if err != nil {
		if errors.Is(err, agentid.ErrInvalid) {
			// The identifiers given break AAuth's naming rules.
			return usagef("%s", trimPrefix(err))
		}
		return err
	}
	_, err = fmt.Fprintln(e.stdout, tok)
	return err
}
