package wire_test

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aauthgo/aauth/wire"
)

func ExampleParseRequirement() {
	c, err := wire.ParseRequirement(`requirement=interaction; url="https://ps.example/interact"; code="A1B2-C3D4"`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Requirement, c.URL, c.Code)

	// A resource token is redacted when a Challenge is printed.
	c, _ = wire.ParseRequirement(`requirement=auth-token; resource-token="eyJhbGciOiJFZDI1NTE5In0.e30.c2ln"`)
	fmt.Println(c)

	// Unknown requirements are errors that carry the value.
	_, err = wire.ParseRequirement("requirement=payment-token")
	var ce *wire.ChallengeError
	if errors.Is(err, wire.ErrUnknownRequirement) && errors.As(err, &ce) {
		fmt.Println("unknown:", ce.Value)
	}
	// Output:
	// interaction https://ps.example/interact A1B2-C3D4
	// auth-token resource-token=eyJhbG…[32 bytes]
	// unknown: payment-token
}

func ExampleParseRequirementHeader() {
	h := http.Header{}
	h.Set("AAuth-Requirement", "requirement=approval")
	c, present, err := wire.ParseRequirementHeader(h)
	fmt.Println(c.Requirement, present, err)
	// Output:
	// approval true <nil>
}

func ExampleFormatRequirement() {
	s, err := wire.FormatRequirement(wire.Challenge{
		Requirement:   wire.RequirementAuthToken,
		ResourceToken: "eyJhbGciOiJFZDI1NTE5In0.e30.c2ln",
	})
	fmt.Println(s, err)
	// Output:
	// requirement=auth-token; resource-token="eyJhbGciOiJFZDI1NTE5In0.e30.c2ln" <nil>
}

func ExampleParseSignatureErrorHeader() {
	h := http.Header{}
	h.Set("Signature-Error", "error=unsupported_algorithm")
	h.Set("Accept-Signature-Alg", "Ed25519, ES256")
	se, _, err := wire.ParseSignatureErrorHeader(h)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(se)
	fmt.Println(se.Code == wire.SigErrUnsupportedAlgorithm, se.AcceptAlgs)
	// Output:
	// aauth: signature rejected by server: unsupported_algorithm
	// true [Ed25519 ES256]
}
