package keys_test

import (
	"fmt"

	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// An agent's key: generated once, kept in a key file, and named by its
// RFC 7638 thumbprint.
func ExampleGenerate() {
	key, err := keys.Generate()
	if err != nil {
		fmt.Println(err)
		return
	}
	// keys.WriteFile(path, key) keeps it, readable by its owner only;
	// keys.ReadFile(path, wire.ProfileCurrent) reads it back.
	jwk, err := keys.MarshalPrivateJWK(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	back, err := keys.ParsePrivateJWK(jwk, wire.ProfileCurrent)
	if err != nil {
		fmt.Println(err)
		return
	}
	a, _ := keys.Thumbprint(key.Public())
	b, _ := keys.Thumbprint(back.Public())
	fmt.Println(len(a), a == b)
	// Output: 43 true
}

// The thumbprint of the RFC 8037 appendix A key, from its public JWK.
func ExampleThumbprint() {
	pub, err := keys.ParsePublicJWK([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), wire.ProfileCurrent)
	if err != nil {
		fmt.Println(err)
		return
	}
	kid, _ := keys.Thumbprint(pub)
	fmt.Println(kid)
	// Output: kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
}
