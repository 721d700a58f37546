package intermediary_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/intermediary"
	"github.com/aauthgo/aauth/resource"
)

// An intermediary: a resource whose handler calls a downstream resource
// on behalf of its own caller (AAuth -11 call chaining). One call sets it
// up: the resource becomes its own agent provider and gets a Transport;
// a request made with the handler's context is made for that request's
// caller. The person server, agent provider and downstream resource here
// are aauthtest's.
func ExampleNew() {
	ps := aauthtest.NewPersonServer(aauthtest.PersonServerOptions{})
	defer ps.Close()
	ap := aauthtest.NewAgentProvider(aauthtest.AgentProviderOptions{PersonServer: ps.URL})
	defer ap.Close()
	downstream := aauthtest.NewResource(aauthtest.ResourceOptions{PersonServer: ps.URL})
	defer downstream.Close()

	rs := &resource.Resource{Mode: resource.AuthToken, Scope: "read"}
	onBehalf, err := intermediary.New(rs, intermediary.Options{Name: "summariser"})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, downstream.URL+"/data", nil)
		resp, err := onBehalf.RoundTrip(req) // for r's caller
		if err != nil {
			http.Error(w, "downstream: "+err.Error(), http.StatusBadGateway)
			return
		}
		resp.Body.Close()
		fmt.Fprintf(w, "downstream answered %d", resp.StatusCode)
	})))
	defer srv.Close()
	rs.Issuer = srv.URL

	agent := (&aauth.Transport{Keys: ap.AgentKeys("alice"), PersonServer: ps.URL}).Client()
	resp, err := agent.Get(srv.URL + "/summary")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	for _, tr := range ps.TokenRequests() {
		if tr.Upstream != nil {
			fmt.Printf("%s token for the caller, asked by %s\n", tr.Kind, tr.Agent)
		}
	}
	// Output:
	// 200 downstream answered 200
	// person token for the caller, asked by aauth:summariser@127.0.0.1
	// auth token for the caller, asked by aauth:summariser@127.0.0.1
}
