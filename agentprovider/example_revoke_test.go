package agentprovider_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// An agent provider that no longer trusts an agent revokes its agent
// token at the agent's person server, which then refuses the agent.
func ExampleIssuer_Revoke() {
	ctx := context.Background()
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	alice, err := w.NewAgent("alice")
	if err != nil {
		fmt.Println(err)
		return
	}
	client := (&aauth.SigningTransport{Keys: alice}).Client()
	personToken := func() error {
		_, err := psclient.RequestPersonToken(ctx, client, psclient.PersonTokenRequest{
			PersonServer: w.PS.URL, Resource: w.Resource.URL,
		})
		return err
	}
	fmt.Println("before:", personToken())

	// w.Agent.TokenIssuer() is the provider's agentprovider.Issuer.
	if err := w.Agent.TokenIssuer().Revoke(ctx, nil, w.PS.URL, alice.Token); err != nil {
		fmt.Println(err)
		return
	}
	var ee *psclient.ExchangeError
	if err := personToken(); errors.As(err, &ee) {
		fmt.Println("after:", ee.StatusCode, ee.Problem.Error)
	}
	// Output:
	// before: <nil>
	// after: 401 revoked_jwt
}
