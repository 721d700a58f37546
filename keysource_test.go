package aauth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/keys"
)

func TestStaticKeys(t *testing.T) {
	ed, _ := keys.Generate()
	src := aauth.StaticKeys(ed, aauth.JWT("tok"))
	for range 3 {
		m, err := src.KeyMaterial(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !ed.Equal(m.Signer) || m.Key != aauth.JWT("tok") {
			t.Fatalf("StaticKeys returned %v", m)
		}
	}
	_, err := aauth.StaticKeys(nil, aauth.HWK()).KeyMaterial(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
		t.Errorf("StaticKeys(nil): %v", err)
	}
}

func ExampleStaticKeys() {
	key, err := keys.ParsePrivateJWK([]byte(`{"kty":"OKP","crv":"Ed25519",`+
		`"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",`+
		`"d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`), aauth.ProfileCurrent)
	if err != nil {
		fmt.Println(err)
		return
	}
	// agentToken would come from the agent provider; its cnf.jwk is key's
	// public half.
	agentToken := "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiYWEtYWdlbnQrand0In0.eyJpc3MiOiJodHRwczovL2FnZW50LmV4YW1wbGUifQ.c2ln"
	src := aauth.StaticKeys(key, aauth.JWT(agentToken))

	m, err := src.KeyMaterial(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	kid, _ := keys.Thumbprint(m.Signer.Public())
	fmt.Println(m.Key)
	fmt.Println(kid)

	pub, _ := keys.MarshalPublicJWK(m.Signer.Public())
	fmt.Println(string(pub))
	// Output:
	// jwt(eyJhbG…[99 bytes])
	// kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
	// {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"Ed25519","kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"}
}
