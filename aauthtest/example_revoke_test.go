package aauthtest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/resource"
)

// The person server revokes the agent's person token at a resource; the
// agent's next call is refused with revoked_jwt, and its Transport gets a
// new person token and is served.
func ExamplePersonServer_RevokeAt() {
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	defer ps.Close()
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: ps.URL})
	defer ap.Close()
	rs := &resource.Resource{Mode: resource.PersonToken}
	var presented string
	srv := httptest.NewServer(rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := resource.FromContext(r.Context())
		presented = c.Token
		io.WriteString(w, "hello, "+string(c.Kind))
	})))
	defer srv.Close()
	rs.Issuer = srv.URL

	client := (&aauth.Transport{Keys: ap.AgentKeys("alice"), PersonServer: ps.URL}).Client()
	get := func() {
		resp, err := client.Get(srv.URL + "/data")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(body))
	}
	get()
	first := presented
	if err := ps.RevokeAt(context.Background(), srv.URL, first); err != nil {
		fmt.Println(err)
		return
	}
	get()
	fmt.Println("new person token:", presented != first)
	// Output:
	// 200 hello, person
	// 200 hello, person
	// new person token: true
}
