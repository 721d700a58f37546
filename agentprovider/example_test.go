package agentprovider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/keys"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// An agent provider that mints agent tokens and publishes the keys that
// verify them.
func ExampleIssuer() {
	// The provider's long-lived key; in production, keys.ReadFile or an HSM.
	providerKey, err := keys.Generate()
	if err != nil {
		fmt.Println(err)
		return
	}
	issuer := &agentprovider.Issuer{
		Issuer:  "https://agent.example",
		Key:     providerKey,
		KeyID:   "agent-root-1",
		Display: agentprovider.Display{Name: "Example Agent"},
	}
	// Publish the metadata and JWKS that verifiers fetch:
	//	http.Handle("/.well-known/", issuer.Handler())
	md, _ := json.Marshal(issuer.Metadata())
	fmt.Println(string(md))

	// The agent signs with an ephemeral key; the token binds it to the
	// agent's identity.
	agentKey, _ := keys.Generate()
	token, expiry, err := issuer.Issue(context.Background(), agentprovider.TokenRequest{
		Subject:      "aauth:assistant@agent.example",
		Key:          agentKey.Public(),
		PersonServer: "https://ps.example",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := aauth.StaticKeys(agentKey, aauth.JWT(token))
	_ = src // give src to a Transport or SigningTransport as its Keys

	// A resource verifies the token against the provider's JWKS.
	jwks, _ := issuer.JWKS()
	set, _ := jwk.Parse(jwks)
	tok, err := jwt.Parse([]byte(token), jwt.WithKeySet(set))
	if err != nil {
		fmt.Println(err)
		return
	}
	sub, _ := tok.Subject()
	fmt.Println(sub)
	fmt.Println(time.Until(expiry).Round(time.Hour))
	// Output:
	// {"issuer":"https://agent.example","jwks_uri":"https://agent.example/.well-known/aauth-agent-jwks.json","name":"Example Agent"}
	// aauth:assistant@agent.example
	// 1h0m0s
}

// An agent that is its own agent provider: a renewing KeySource.
func ExampleKeys() {
	providerKey, _ := keys.Generate()
	src := &agentprovider.Keys{
		Issuer: &agentprovider.Issuer{
			Issuer: "https://agent.example",
			Key:    providerKey,
		},
		Subject:      "aauth:assistant@agent.example",
		PersonServer: "https://ps.example",
	}
	// Each request asks for key material; a new key and token are minted
	// when the current token nears its expiry.
	m, err := src.KeyMaterial(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Key.Scheme)
	// Output: jwt
}

// A sub-agent gets its own key and an agent token naming its parent
// (AAuth -11 sub-agents). Give its Keys to an aauth.Transport whose Parent
// is the parent's Transport.
func ExampleKeys_Subagent() {
	signer, _ := keys.Generate()
	issuer := &agentprovider.Issuer{Issuer: "https://agent.example", Key: signer}
	parent := &agentprovider.Keys{Issuer: issuer, Subject: "aauth:planner@agent.example", PersonServer: "https://ps.example"}

	w1, err := parent.Subagent("w1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(w1.Subject, "under", w1.ParentAgent)
	if _, err := w1.Subagent("x"); err != nil {
		fmt.Println("no second level")
	}
	// Output:
	// aauth:planner+w1@agent.example under aauth:planner@agent.example
	// no second level
}
