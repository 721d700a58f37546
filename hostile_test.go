package aauth_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// The hostile-server table: servers that answer badly, on purpose, in every
// way the agent must survive. Each case scripts the kit (or, where the kit
// cannot say it, a plain httptest server), makes one request through a
// Transport under a deadline, and expects a typed error or a correct
// result. After each case no goroutine may be left, and nothing the
// Transport said (errors, events, log lines) may hold a token, a key or a
// signature.

// hostileCase is one row of the table.
type hostileCase struct {
	name    string
	profile aauth.Profile
	world   aauthtest.WorldOptions // the kit's options; Profile and Now are the harness's
	script  func(e *hostileEnv)    // scripts the servers; may change e.target and e.tr
	want    hostileWant
	// deadline bounds the request; 0 means 5 s.
	deadline time.Duration
}

// hostileWant is what a case must end with.
type hostileWant struct {
	desc  string
	check func(e *hostileEnv, r hostileResult) error
}

// hostileResult is how a case's request ended.
type hostileResult struct {
	resp    *http.Response
	body    []byte
	bodyErr error
	err     error
	elapsed time.Duration
}

// wantStatus expects a response with status code (its body read whole).
func wantStatus(code int) hostileWant {
	return hostileWant{fmt.Sprintf("status %d", code), func(_ *hostileEnv, r hostileResult) error {
		if r.err != nil {
			return fmt.Errorf("error %v", r.err)
		}
		if r.resp.StatusCode != code {
			return fmt.Errorf("status %d: %.200s", r.resp.StatusCode, r.body)
		}
		if r.bodyErr != nil {
			return fmt.Errorf("reading the body: %v", r.bodyErr)
		}
		return nil
	}}
}

// wantIs expects an error matching each target with errors.Is.
func wantIs(targets ...error) hostileWant {
	return hostileWant{fmt.Sprintf("errors.Is %v", targets), func(_ *hostileEnv, r hostileResult) error {
		if r.err == nil {
			return fmt.Errorf("status %d, no error", r.resp.StatusCode)
		}
		for _, target := range targets {
			if !errors.Is(r.err, target) {
				return fmt.Errorf("error %v (%T) is not %v", r.err, r.err, target)
			}
		}
		return nil
	}}
}

// wantAs expects an error that errors.As finds as a T for which ok holds.
func wantAs[T error](desc string, ok func(T) bool) hostileWant {
	var zero T
	return hostileWant{fmt.Sprintf("errors.As %T: %s", zero, desc), func(_ *hostileEnv, r hostileResult) error {
		if r.err == nil {
			return fmt.Errorf("status %d, no error", r.resp.StatusCode)
		}
		var target T
		if !errors.As(r.err, &target) {
			return fmt.Errorf("error %v (%T) is not a %T", r.err, r.err, zero)
		}
		if ok != nil && !ok(target) {
			return fmt.Errorf("error %#v is not %s", target, desc)
		}
		return nil
	}}
}

// and expects every one of ws.
func and(ws ...hostileWant) hostileWant {
	var descs []string
	for _, w := range ws {
		descs = append(descs, w.desc)
	}
	return hostileWant{strings.Join(descs, " and "), func(e *hostileEnv, r hostileResult) error {
		for _, w := range ws {
			if err := w.check(e, r); err != nil {
				return err
			}
		}
		return nil
	}}
}

// also is a check on the servers or the Transport after the request.
func also(desc string, f func(e *hostileEnv) error) hostileWant {
	return hostileWant{desc, func(e *hostileEnv, _ hostileResult) error { return f(e) }}
}

// challengeCode expects a *ChallengeError with code.
func challengeCode(code string) hostileWant {
	return wantAs(code, func(ce *wire.ChallengeError) bool { return ce.Code == code })
}

// metadataCode expects a *MetadataError with code.
func metadataCode(code string) hostileWant {
	return wantAs(code, func(me *aauth.MetadataError) bool { return me.Code == code })
}

// exchangeStatus expects an *ExchangeError with status (0: any).
func exchangeStatus(status int) hostileWant {
	return wantAs(fmt.Sprintf("status %d", status), func(ee *aauth.ExchangeError) bool {
		return status == 0 || ee.StatusCode == status
	})
}

// hostileEnv is one case's world: the kit, extra servers, the Transport.
type hostileEnv struct {
	t       *testing.T
	p       aauth.Profile
	w       *aauthtest.World
	clock   *aauthtest.FakeClock
	tr      *aauth.Transport
	base    *http.Transport
	leaks   *leakWatch
	target  string        // the URL requested
	body    string        // POSTed to target when set (hostile_r3_test.go)
	noGet   bool          // the POST's body has no GetBody
	release chan struct{} // closed when the case ends: handlers that never answer return
	servers []*httptest.Server

	interactions atomic.Int32 // OnInteraction calls
	cancelled    atomic.Int32 // DELETEs a fake server received

	gov      error                     // how a script's governance call ended (hostile_mission_test.go)
	approval *psclient.MissionApproval // the approval it got, if any
}

// server starts an httptest server for the case, recording the signatures
// it receives as secrets.
func (e *hostileEnv) server(h http.Handler) *httptest.Server {
	srv := httptest.NewServer(e.watch(h))
	e.servers = append(e.servers, srv)
	return srv
}

func (e *hostileEnv) watch(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.leaks.signature(r.Header.Get("Signature"))
		if sk, err := wire.ParseSignatureKey(r.Header.Get("Signature-Key")); err == nil {
			e.leaks.secret("a token presented", sk.Token)
		}
		h.ServeHTTP(w, r)
	})
}

// hang is a handler that never answers (until the case is over).
func (e *hostileEnv) hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-e.release:
	}
}

// cut answers status and header, then closes the connection a few bytes
// into a body it announced as 1000 bytes long.
func cut(status int, header map[string]string, partial string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(status)
		io.WriteString(w, partial)
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // the server drops the connection
	}
}

// fakePS starts a person server of the case's own: its metadata names
// itself, with the token endpoints at /token/person and /token/auth, and
// routes answer the rest (a route for the metadata path replaces it). The
// Transport is pointed at it.
func (e *hostileEnv) fakePS(routes map[string]http.HandlerFunc) string {
	mux := http.NewServeMux()
	var self string
	meta := "GET " + psclient.WellKnownPath
	if _, ok := routes[meta]; !ok {
		mux.HandleFunc(meta, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"issuer":                self,
				"auth_token_endpoint":   self + "/token/auth",
				"token_endpoint":        self + "/token/auth",
				"person_token_endpoint": self + "/token/person",
				"jwks_uri":              self + "/jwks",
			})
		})
	}
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	srv := e.server(mux)
	self = srv.URL
	e.tr.PersonServer = self
	return self
}

// tokenPath is the first token endpoint the profile's flow reaches.
func (e *hostileEnv) tokenPath() string {
	if e.p == aauth.ProfileSeed {
		return "/token/auth"
	}
	return "/token/person"
}

// firstKind is the kind of the first token the profile's flow asks for.
func firstKind(p aauth.Profile) aauthtest.TokenKind {
	if p == aauth.ProfileSeed {
		return aauthtest.TokenAuth
	}
	return aauthtest.TokenPerson
}

// afterPersonToken runs f once the person server has been asked for the
// first token (current profile), or now (seed): queued resource answers
// then apply to the calls that present a person or auth token.
func (e *hostileEnv) afterPersonToken(f func()) {
	if e.p == aauth.ProfileSeed {
		f()
		return
	}
	var once sync.Once
	e.w.PS.SetPolicy(func(*aauthtest.TokenRequest) aauthtest.Decision {
		once.Do(f)
		return aauthtest.Approve()
	})
}

// resourceSends counts the requests the agent sent to the kit resource.
func (e *hostileEnv) resourceSends() int { return len(agentRequests(e.w.Resource.Requests())) }

// requirementEvery queues n answers of 401 with the AAuth-Requirement v.
func requirementEvery(n int, v string) func(e *hostileEnv) {
	return func(e *hostileEnv) {
		for i := 0; i < n; i++ {
			e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Aauth-Requirement": {v}}, ""))
		}
	}
}

func hostileCases() []hostileCase {
	huge := strings.Repeat("x", 64<<10)
	return []hostileCase{
		// AAuth-Requirement: malformed, unknown, incomplete, oversized.
		{name: "requirement-garbage", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultRequirementGarbage))
		}, want: challengeCode(wire.ChallengeNotStructured)},
		{name: "requirement-unknown", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultRequirementUnknown))
		}, want: wantIs(wire.ErrUnknownRequirement)},
		{name: "requirement-auth-token-without-resource-token", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultAuthTokenNoResource))
		}, want: challengeCode(wire.ChallengeMissingResourceToken)},
		{name: "requirement-interaction-without-url", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultInteractionNoURL))
		}, want: challengeCode(wire.ChallengeMissingURLOrCode)},
		{name: "requirement-comma-form", script: func(e *hostileEnv) {
			e.afterPersonToken(func() { e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultRequirementCommaFormat)) })
		}, want: wantStatus(200)},
		{name: "requirement-oversized", script: requirementEvery(1, `requirement=auth-token; resource-token="`+huge+`"`),
			want: challengeCode(wire.ChallengeTooLong)},
		{name: "requirement-oversized-many-lines", script: func(e *hostileEnv) {
			lines := make([]string, 5000)
			for i := range lines {
				lines[i] = "requirement=person-token"
			}
			e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Aauth-Requirement": lines}, ""))
		}, want: challengeCode(wire.ChallengeTooLong)},
		{name: "requirement-headers-beyond-net-http-limit", script: func(e *hostileEnv) {
			big := strings.Repeat("a", 1<<20)
			e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i < 12; i++ {
					w.Header().Add("AAuth-Requirement", big)
				}
				w.WriteHeader(401)
			})).URL
		}, want: wantAs("net/http's header limit", func(ue *url.Error) bool { return strings.Contains(ue.Err.Error(), "exceeded") })},

		// Resource tokens the agent must not exchange.
		{name: "resource-token-garbage", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultResourceTokenGarbage))
		}, want: wantIs(aauth.ErrResourceToken)},
		{name: "resource-token-other-key", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultResourceTokenOtherKey))
		}, want: and(wantIs(aauth.ErrResourceToken), noExchange())},
		{name: "resource-token-expired", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultResourceTokenExpired))
		}, want: and(wantIs(aauth.ErrResourceToken), noExchange())},
		{name: "resource-token-deeply-nested-payload", script: requirementEvery(1,
			`requirement=auth-token; resource-token="`+fakeJWT(`{"a":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`)+`"`),
			want: wantIs(aauth.ErrResourceToken)},
		{name: "resource-token-payload-not-object", script: requirementEvery(1,
			`requirement=auth-token; resource-token="`+fakeJWT(`"iss"`)+`"`),
			want: wantIs(aauth.ErrResourceToken)},
		{name: "resource-token-claims-wrong-types", script: requirementEvery(1,
			`requirement=auth-token; resource-token="`+fakeJWT(`{"iss":7,"agent_jkt":[],"exp":"soon","ps":{}}`)+`"`),
			want: wantIs(aauth.ErrResourceToken)},

		// Signature-Error: malformed, unknown, oversized, repeated.
		{name: "signature-error-garbage", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultSignatureErrorGarbage))
		}, want: and(wantStatus(401), sends(1))},
		{name: "signature-error-unknown", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultSignatureErrorUnknown))
		}, want: and(wantStatus(401), sends(1))},
		{name: "signature-error-oversized", script: func(e *hostileEnv) {
			v := "error=invalid_input, required_input=(" + strings.TrimSpace(strings.Repeat(`"x-pad" `, 3000)) + ")"
			e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Signature-Error": {v}}, ""))
		}, want: and(wantStatus(401), sends(1))},
		{name: "signature-error-code-huge", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Signature-Error": {"error=" + strings.Repeat("e", 12<<10)}}, ""))
		}, want: and(wantStatus(401), sends(1))},
		{name: "signature-error-invalid-input-every-retry", script: func(e *hostileEnv) {
			for i := 0; i < 10; i++ {
				e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Signature-Error": {`error=invalid_input, required_input=("@query")`}}, ""))
			}
		}, want: and(wantStatus(401), sends(2))},
		// A component the request lacks, or the signer cannot cover, is no
		// reason to retry, and must not break later requests to the origin.
		{name: "signature-error-invalid-input-absent-header", script: invalidInput(`("x-never-sent")`),
			want: and(wantStatus(401), sends(1), secondRequest(200))},
		{name: "signature-error-invalid-input-content-digest-on-get", script: invalidInput(`("content-digest")`),
			want: and(wantStatus(401), sends(1), secondRequest(200))},
		{name: "signature-error-invalid-input-unsupported-component", script: invalidInput(`("@query-param";name="q" "@status")`),
			want: and(wantStatus(401), sends(1), secondRequest(200))},
		{name: "signature-error-invalid-input-many-components", script: func(e *hostileEnv) {
			var names []string
			for i := 0; i < 500; i++ {
				names = append(names, fmt.Sprintf(`"x-c%d"`, i))
			}
			invalidInput("(" + strings.Join(names, " ") + ")")(e)
		}, want: and(wantStatus(401), sends(1), secondRequest(200))},
		{name: "signature-error-invalid-input-partly-coverable", script: invalidInput(`("x-never-sent" "@query" "@Bogus")`),
			want: and(wantStatus(200), sends(4), also("@query covered", func(e *hostileEnv) error {
				for _, r := range agentRequests(e.w.Resource.Requests())[1:] {
					if !r.Covers("@query") {
						return fmt.Errorf("a retry did not cover @query: %v", r.Components)
					}
				}
				return nil
			}), secondRequest(200))},
		{name: "signature-error-expired-jwt-every-retry", script: func(e *hostileEnv) {
			for i := 0; i < 10; i++ {
				e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Signature-Error": {`error=expired_jwt`}}, ""))
			}
		}, want: and(wantStatus(401), sends(2))},
		{name: "signature-error-invalid-signature-every-retry", script: func(e *hostileEnv) {
			// Signed once more in the next second (a replay check may
			// have refused a request made twice), then given up.
			for i := 0; i < 10; i++ {
				e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Signature-Error": {`error=invalid_signature`}}, ""))
			}
		}, want: and(wantStatus(401), sends(2))},
		{name: "signature-error-clock-skew-absurd-date", script: func(e *hostileEnv) {
			var n atomic.Int32
			e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				w.Header()["Date"] = []string{"Mon, 01 Jan 0001 00:00:00 GMT"}
				w.Header().Set("Signature-Error", "error=clock_skew")
				w.WriteHeader(401)
			})).URL
		}, want: wantStatus(401)},
		{name: "signature-error-clock-skew-far-future-date", script: func(e *hostileEnv) {
			e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Date"] = []string{"Fri, 31 Dec 9999 23:59:59 GMT"}
				w.Header().Set("Signature-Error", "error=clock_skew")
				w.WriteHeader(401)
			})).URL
		}, want: wantStatus(401)},

		// AAuth-Access: malformed and oversized session tokens are ignored.
		{name: "access-whitespace", world: aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken}}, script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultAccessTokenWhitespace))
		}, want: and(wantStatus(200), noSession())},
		{name: "access-multiple", world: aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken}}, script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultAccessTokenMultiple))
		}, want: and(wantStatus(200), noSession())},
		{name: "access-oversized", world: aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessAgentToken}}, script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Respond(200, http.Header{"Aauth-Access": {strings.Repeat("A", 9<<10)}}, "{}"))
		}, want: and(wantStatus(200), noSession())},

		// Person server metadata.
		{name: "metadata-not-json", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"GET " + psclient.WellKnownPath: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, "<html>not json</html>")
			}})
		}, want: metadataCode(psclient.MetadataInvalid)},
		{name: "metadata-huge", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { doc["padding"] = strings.Repeat("x", 2<<20) })
		}, want: and(metadataCode(psclient.MetadataInvalid), wantIs(aauth.ErrBodyTooLarge))},
		{name: "metadata-other-issuer", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { doc["issuer"] = "https://ps.evil.example" })
		}, want: metadataCode(psclient.MetadataIssuerMismatch)},
		{name: "metadata-other-issuer-seed", profile: aauth.ProfileSeed, script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { doc["issuer"] = "https://ps.evil.example" })
		}, want: metadataCode(psclient.MetadataIssuerMismatch)},
		{name: "metadata-no-issuer", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { delete(doc, "issuer") })
		}, want: metadataCode(psclient.MetadataIssuerMissing)},
		{name: "metadata-token-endpoint-http", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) {
				doc["person_token_endpoint"] = "http://ps.example/token"
				doc["auth_token_endpoint"] = "http://ps.example/token"
			})
		}, want: metadataCode(psclient.MetadataInvalidEndpoint)},
		{name: "metadata-token-endpoint-http-seed", profile: aauth.ProfileSeed, script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { doc["token_endpoint"] = "http://ps.example/token" })
		}, want: metadataCode(psclient.MetadataInvalidEndpoint)},
		{name: "metadata-token-endpoint-relative", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { doc["person_token_endpoint"] = "/aauth/token/person" })
		}, want: metadataCode(psclient.MetadataInvalidEndpoint)},
		{name: "metadata-token-endpoint-wrong-type", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) { doc["person_token_endpoint"] = []any{1, 2} })
		}, want: metadataCode(psclient.MetadataEndpointMissing)},
		{name: "metadata-token-endpoint-other-host-private", script: func(e *hostileEnv) {
			e.publicPS(map[string]string{"example.com": "93.184.216.34", "internal.example": "10.0.0.7"},
				map[string]any{"person_token_endpoint": "https://internal.example/token", "auth_token_endpoint": "https://internal.example/token"})
		}, want: and(metadataCode(psclient.MetadataInvalidEndpoint), wantIs(aauth.ErrEgress), messageLacks("not an https URL"))},
		{name: "metadata-token-endpoint-other-host-metadata-address", script: func(e *hostileEnv) {
			e.publicPS(map[string]string{"example.com": "93.184.216.34"},
				map[string]any{"person_token_endpoint": "https://169.254.169.254/latest/meta-data", "auth_token_endpoint": "https://169.254.169.254/latest/meta-data"})
		}, want: and(metadataCode(psclient.MetadataInvalidEndpoint), wantIs(aauth.ErrEgress), messageLacks("not an https URL"))},
		{name: "metadata-token-endpoint-nat64-of-metadata-address", script: func(e *hostileEnv) {
			e.publicPS(map[string]string{"example.com": "93.184.216.34", "nat64.example": "64:ff9b::a9fe:a9fe"},
				map[string]any{"person_token_endpoint": "https://nat64.example/latest/meta-data", "auth_token_endpoint": "https://nat64.example/latest/meta-data"})
		}, want: and(metadataCode(psclient.MetadataInvalidEndpoint), wantIs(aauth.ErrEgress))},
		{name: "metadata-token-endpoint-6to4-of-private-address", script: func(e *hostileEnv) {
			e.publicPS(map[string]string{"example.com": "93.184.216.34"},
				map[string]any{"person_token_endpoint": "https://[2002:a00:7::1]/token", "auth_token_endpoint": "https://[2002:a00:7::1]/token"})
		}, want: and(metadataCode(psclient.MetadataInvalidEndpoint), wantIs(aauth.ErrEgress))},
		{name: "metadata-token-endpoint-long-url", script: func(e *hostileEnv) {
			dead := closedAddr(e.t)
			e.w.PS.EditMetadata(func(doc map[string]any) {
				doc["person_token_endpoint"] = "http://" + dead + "/" + strings.Repeat("t", 4<<10)
				doc["auth_token_endpoint"] = doc["person_token_endpoint"]
			})
		}, want: wantIs(syscall.ECONNREFUSED)},
		{name: "metadata-token-endpoint-huge-url", script: func(e *hostileEnv) {
			e.w.PS.EditMetadata(func(doc map[string]any) {
				doc["person_token_endpoint"] = "https://ps.example/" + strings.Repeat("t", 64<<10)
				doc["auth_token_endpoint"] = doc["person_token_endpoint"]
			})
		}, want: and(metadataCode(psclient.MetadataInvalidEndpoint), messageLacks("not an https URL"))},
		{name: "metadata-not-found", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"GET " + psclient.WellKnownPath: http.NotFound})
		}, want: metadataCode(psclient.MetadataFetchFailed)},
		{name: "metadata-redirect-loop", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"GET " + psclient.WellKnownPath: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path, http.StatusFound)
			}})
		}, want: and(metadataCode(psclient.MetadataFetchFailed), wantAs("status 302", func(me *aauth.MetadataError) bool { return me.StatusCode == 302 }))},
		{name: "metadata-closed-mid-body", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"GET " + psclient.WellKnownPath: cut(200, map[string]string{"Content-Type": "application/json"}, `{"issuer":"`)})
		}, want: and(metadataCode(psclient.MetadataInvalid), wantIs(io.ErrUnexpectedEOF))},
		{name: "metadata-never-answers", deadline: 300 * time.Millisecond, script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"GET " + psclient.WellKnownPath: e.hang})
		}, want: wantIs(context.DeadlineExceeded)},

		// Token endpoints.
		{name: "token-body-not-json", script: psFault(aauthtest.FaultBodyNotJSON), want: exchangeStatus(200)},
		{name: "token-empty-body", script: psFault(aauthtest.FaultEmptyBody), want: exchangeStatus(200)},
		{name: "token-missing", script: psFault(aauthtest.FaultNoToken), want: exchangeStatus(200)},
		{name: "token-missing-seed", profile: aauth.ProfileSeed, script: psFault(aauthtest.FaultNoToken), want: exchangeStatus(200)},
		{name: "token-not-string", script: psFault(aauthtest.FaultTokenNotString), want: exchangeStatus(200)},
		{name: "token-negative-expires-in", script: psFault(aauthtest.FaultNegativeExpiresIn), want: exchangeStatus(200)},
		{name: "token-absurd-expires-in", script: psFault(aauthtest.FaultAbsurdExpiresIn), want: exchangeStatus(200)},
		{name: "token-expires-in-string", script: psFault(aauthtest.FaultExpiresInString), want: wantStatus(200)},
		{name: "token-huge-body", script: psFault(aauthtest.FaultHugeBody), want: and(exchangeStatus(200), wantIs(aauth.ErrBodyTooLarge))},
		{name: "token-closed-mid-body", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): cut(200, map[string]string{"Content-Type": "application/json"}, `{"person_token":"ey`)})
		}, want: and(exchangeStatus(200), wantIs(io.ErrUnexpectedEOF))},
		{name: "token-endpoint-never-answers", deadline: 300 * time.Millisecond, script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): e.hang})
		}, want: wantIs(context.DeadlineExceeded)},
		{name: "token-endpoint-redirect-loop", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
			}})
		}, want: exchangeStatus(307)},
		{name: "token-error-body-huge", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Respond(403, http.Header{"Content-Type": {"application/problem+json"}},
				`{"error":"denied","detail":"`+strings.Repeat("x", 2<<20)+`"}`))
		}, want: and(exchangeStatus(403), wantAs("without a problem", func(ee *aauth.ExchangeError) bool { return ee.Problem == nil }))},
		{name: "token-error-body-not-json", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Respond(403, http.Header{"Content-Type": {"application/json"}}, `{"error":`))
		}, want: and(exchangeStatus(403), wantAs("without a problem", func(ee *aauth.ExchangeError) bool { return ee.Problem == nil }))},
		{name: "token-error-content-type-oversized", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Respond(403, http.Header{"Content-Type": {"application/json; x=" + strings.Repeat("y", 64<<10)}},
				`{"error":"denied"}`))
		}, want: and(exchangeStatus(403), wantAs("without a problem", func(ee *aauth.ExchangeError) bool { return ee.Problem == nil }))},
		{name: "token-error-detail-control-characters", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Respond(403, http.Header{"Content-Type": {"application/problem+json"}},
				`{"error":"denied","detail":"line\r\nInjected: yes\u0000`+strings.Repeat("y", 5000)+`"}`))
		}, want: and(wantIs(aauth.ErrDenied), cleanError())},
		// The error's own prefix stays single when the server's text
		// imitates it (the leak watch counts "aauth: ").
		{name: "token-error-detail-imitates-prefix", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Respond(403, http.Header{"Content-Type": {"application/problem+json"}},
				`{"error":"denied","detail":"aauth: aauth: approved, really"}`))
		}, want: and(wantIs(aauth.ErrDenied), cleanError())},

		{name: "token-huge-value", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): tokenAnswer(`"` + strings.Repeat("a", 100<<10) + `"`)})
		}, want: and(exchangeStatus(200), nothingCached())},
		{name: "token-control-characters", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): tokenAnswer(`"eyJ0eXAiOiJ4In0.e30.c2ln\r\nX-Injected: yes"`)})
		}, want: and(exchangeStatus(200), nothingCached())},
		{name: "token-body-trickle", deadline: 300 * time.Millisecond, script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(200)
				for {
					if _, err := io.WriteString(w, " "); err != nil {
						return
					}
					http.NewResponseController(w).Flush()
					select {
					case <-time.After(20 * time.Millisecond):
					case <-r.Context().Done():
						return
					case <-e.release:
						return
					}
				}
			}})
		}, want: wantIs(context.DeadlineExceeded)},
		{name: "metadata-gzip-bomb", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"GET " + psclient.WellKnownPath: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gzipBomb())
			}})
		}, want: and(metadataCode(psclient.MetadataInvalid), wantIs(aauth.ErrBodyTooLarge))},
		{name: "token-gzip-bomb", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				w.Write(gzipBomb())
			}})
		}, want: and(exchangeStatus(200), wantIs(aauth.ErrBodyTooLarge))},

		// Polling.
		{name: "poll-202-forever", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().Times(1<<30)))
			e.tr.MaxPollDuration = time.Minute
		}, want: and(wantIs(aauth.ErrTimeout), polls(66))},
		{name: "poll-202-forever-seed", profile: aauth.ProfileSeed, script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().Times(1<<30)))
			e.tr.MaxPollDuration = time.Minute
		}, want: and(wantIs(aauth.ErrTimeout), polls(66))},
		{name: "poll-202-forever-at-resource", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Defer(aauthtest.Pending().Times(1 << 30)))
			e.tr.MaxPollDuration = time.Minute
		}, want: and(wantIs(aauth.ErrTimeout), also("at most 70 resource requests", func(e *hostileEnv) error {
			if n := e.resourceSends(); n > 70 {
				return fmt.Errorf("%d resource requests", n)
			}
			return nil
		}))},
		{name: "poll-flips-requirements", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(
				aauthtest.Interaction().Times(1), aauthtest.Approval(), aauthtest.Interaction().Times(2),
				aauthtest.Interacting(), aauthtest.Pending(), aauthtest.Approval().Times(2)))
		}, want: and(wantStatus(200), also("two interactions announced", func(e *hostileEnv) error {
			if n := e.interactions.Load(); n != 2 {
				return fmt.Errorf("OnInteraction called %d times", n)
			}
			return nil
		}))},
		{name: "poll-cross-origin-location", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending()).Then(aauthtest.Malformed(aauthtest.FaultCrossOriginLocation)))
		}, want: wantIs(psclient.ErrLocation)},
		{name: "poll-cross-origin-location-first", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Malformed(aauthtest.FaultCrossOriginLocation))
		}, want: wantIs(psclient.ErrLocation)},
		{name: "poll-cross-origin-location-at-resource", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Defer(aauthtest.Pending()).Then(aauthtest.Malformed(aauthtest.FaultCrossOriginLocation)))
		}, want: wantIs(psclient.ErrLocation)},
		{name: "poll-no-location", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Malformed(aauthtest.FaultNoLocation))
		}, want: wantIs(psclient.ErrLocation)},
		{name: "poll-bare-202-at-resource", script: func(e *hostileEnv) {
			e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultNoLocation))
		}, want: wantStatus(202)},
		{name: "poll-location-oversized", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/pending/"+strings.Repeat("p", 64<<10))
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(202)
			}})
		}, want: wantIs(psclient.ErrLocation)},
		{name: "poll-retry-after-999999", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().RetryAfter("999999")))
		}, want: wantIs(aauth.ErrTimeout)},
		{name: "poll-retry-after-999999-seed", profile: aauth.ProfileSeed, script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().RetryAfter("999999")))
		}, want: wantIs(aauth.ErrTimeout)},
		{name: "poll-retry-after-year-9999", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().RetryAfter("Fri, 31 Dec 9999 23:59:59 GMT")))
		}, want: wantIs(aauth.ErrTimeout)},
		{name: "poll-retry-after-malformed", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().RetryAfter("soon"), aauthtest.Pending().RetryAfter("-5"), aauthtest.Pending().RetryAfter("1.5")))
		}, want: wantStatus(200)},
		{name: "poll-retry-after-oversized", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending().RetryAfter(strings.Repeat("9", 64<<10))))
		}, want: wantStatus(200)},
		{name: "poll-429-503-bursts", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Status(429, "999999"), aauthtest.Status(503, "x"), aauthtest.Status(429, "")))
		}, want: wantIs(aauth.ErrTimeout)},
		{name: "poll-clarification-loop", world: aauthtest.WorldOptions{PersonServer: aauthtest.PersonServerOptions{MaxClarificationRounds: 20}}, script: func(e *hostileEnv) {
			var steps []aauthtest.Step
			for i := 0; i < 20; i++ {
				steps = append(steps, aauthtest.Clarification(fmt.Sprintf("Question %d?", i)))
			}
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(steps...))
			e.tr.OnClarification = func(context.Context, aauth.Clarification) (string, error) { return "yes", nil }
		}, want: wantIs(aauth.ErrClarification)},
		{name: "poll-clarification-ps-bound", script: func(e *hostileEnv) {
			// The kit's own bound (5, AAuth -11 Clarification Limits) ends
			// the request before the agent's (10): a denial, not a loop.
			var steps []aauthtest.Step
			for i := 0; i < 8; i++ {
				steps = append(steps, aauthtest.Clarification(fmt.Sprintf("Question %d?", i)))
			}
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(steps...))
			e.tr.OnClarification = func(context.Context, aauth.Clarification) (string, error) { return "yes", nil }
		}, want: and(wantIs(aauth.ErrDenied), also("five answers taken", func(e *hostileEnv) error {
			if n := len(e.w.PS.ClarificationAnswers()); n != 5 {
				return fmt.Errorf("%d answers", n)
			}
			return nil
		}))},
		{name: "poll-clarification-huge-question", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Clarification(strings.Repeat("Why? ", 100<<10))))
			e.tr.OnClarification = func(context.Context, aauth.Clarification) (string, error) { return "because", nil }
		}, want: wantStatus(200)},
		{name: "poll-interaction-url-oversized", script: func(e *hostileEnv) {
			var n atomic.Int32
			e.fakePS(map[string]http.HandlerFunc{
				"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", "/pending/1")
					w.Header().Set("Retry-After", "0")
					w.Header().Set("AAuth-Requirement", `requirement=interaction; url="https://ps.example/`+strings.Repeat("u", 15<<10)+`"; code="ABCD1234"`)
					w.WriteHeader(202)
				},
				"GET /pending/1": func(w http.ResponseWriter, r *http.Request) {
					if n.Add(1) < 3 {
						w.Header().Set("Location", "/pending/1")
						w.WriteHeader(202)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"person_token":"`+fakeJWT(`{}`)+`","auth_token":"`+fakeJWT(`{}`)+`","expires_in":60}`)
				},
			})
		}, want: wantStatus(401)},
		{name: "poll-new-interaction-code-every-poll", script: func(e *hostileEnv) {
			var n atomic.Int32
			interaction := func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/pending/1")
				w.Header().Set("Retry-After", "5")
				w.Header().Set("AAuth-Requirement", fmt.Sprintf(`requirement=interaction; url="https://ps.example/consent"; code="C%07d"`, n.Add(1)))
				w.WriteHeader(202)
			}
			e.fakePS(map[string]http.HandlerFunc{
				"POST " + e.tokenPath(): interaction,
				"GET /pending/1":        interaction,
				"DELETE /pending/1": func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(204)
					e.cancelled.Add(1)
				},
			})
		}, want: and(wantIs(aauth.ErrInteraction), also("ten interactions announced, then the request cancelled", func(e *hostileEnv) error {
			if n, c := e.interactions.Load(), e.cancelled.Load(); n != 10 || c != 1 {
				return fmt.Errorf("OnInteraction called %d times, %d DELETEs", n, c)
			}
			return nil
		}))},
		{name: "poll-pending-never-answers", deadline: 2 * time.Second, script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{
				"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", "/pending/1")
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(202)
				},
				"GET /pending/1": e.hang,
			})
			// The real clock (MaxPollDuration cuts the long poll), so a
			// resource of the case's own, which asks for a person token.
			e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("AAuth-Requirement", "requirement=person-token")
				w.WriteHeader(401)
			})).URL
			e.tr.Clock = nil
			e.tr.MaxPollDuration = 200 * time.Millisecond
		}, want: wantIs(aauth.ErrTimeout)},
		{name: "poll-closed-mid-body", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{
				"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", "/pending/1")
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(202)
				},
				"GET /pending/1": cut(202, map[string]string{"Location": "/pending/1", "Content-Type": "application/json"}, `{"status":"pen`),
			})
		}, want: wantIs(io.ErrUnexpectedEOF)},
		{name: "poll-terminal-problem-huge", script: func(e *hostileEnv) {
			e.w.PS.Queue(firstKind(e.p), aauthtest.Defer(aauthtest.Pending()).Then(aauthtest.Respond(403,
				http.Header{"Content-Type": {"application/problem+json"}}, `{"error":"denied","detail":"`+strings.Repeat("z", 2<<20)+`"}`)))
		}, want: and(wantIs(aauth.ErrDenied), wantAs("403 without a problem", func(pe *aauth.PollError) bool { return pe.StatusCode == 403 && pe.Problem == nil }))},

		{name: "poll-interaction-callback-fails-cancel-never-answers", deadline: 300 * time.Millisecond, script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{
				"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Location", "/pending/1")
					w.Header().Set("AAuth-Requirement", `requirement=interaction; url="https://ps.example/consent"; code="ABCD1234"`)
					w.WriteHeader(202)
				},
				"DELETE /pending/1": e.hang,
			})
			e.tr.OnInteraction = func(context.Context, string, string) error { return errors.New("no browser") }
		}, want: wantIs(aauth.ErrInteraction)},

		{name: "poll-deferred-auth-token-never-satisfied", world: aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{DeferAuthToken: true}}, script: func(e *hostileEnv) {
			e.w.PS.SetPolicy(func(tr *aauthtest.TokenRequest) aauthtest.Decision {
				return aauthtest.Approve().Scope("nothing-useful")
			})
			// The pending URL repeats the first resource token, which names
			// the person token; the auth token is presented now, so the
			// agent refuses to exchange it a second time.
		}, want: and(wantIs(aauth.ErrResourceToken), bounded())},
		{name: "poll-pending-url-redirects", script: func(e *hostileEnv) {
			e.target = e.server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/pending/1" {
					http.Redirect(w, r, "https://elsewhere.example/steal", http.StatusFound)
					return
				}
				w.Header().Set("Location", "/pending/1")
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(202)
			})).URL
		}, want: wantAs("status 302", func(pe *aauth.PollError) bool { return pe.StatusCode == 302 })},
		{name: "poll-person-server-asks-for-auth-token", script: func(e *hostileEnv) {
			e.fakePS(map[string]http.HandlerFunc{"POST " + e.tokenPath(): func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/pending/1")
				w.Header().Set("Retry-After", "0")
				w.Header().Set("AAuth-Requirement", `requirement=auth-token; resource-token="`+fakeJWT(`{}`)+`"`)
				w.WriteHeader(202)
			}})
		}, want: and(exchangeStatus(202), wantAs("not an *AuthTokenRequiredError", func(ee *aauth.ExchangeError) bool {
			var atr *psclient.AuthTokenRequiredError
			return !errors.As(ee, &atr)
		}))},
		{name: "resource-interaction-on-401", script: requirementEvery(1, `requirement=interaction; url="https://resource.example/consent"; code="ABCD1234"`),
			want: and(wantStatus(401), sends(1))},

		// Servers that never answer, or hang up.
		{name: "resource-never-answers", deadline: 300 * time.Millisecond, script: func(e *hostileEnv) {
			e.target = e.server(http.HandlerFunc(e.hang)).URL
		}, want: wantIs(context.DeadlineExceeded)},
		{name: "resource-202-closed-mid-body", script: func(e *hostileEnv) {
			e.target = e.server(cut(202, map[string]string{"Location": "/pending/1", "Content-Type": "application/json"}, `{"sta`)).URL
		}, want: wantIs(io.ErrUnexpectedEOF)},
		{name: "resource-200-closed-mid-body", script: func(e *hostileEnv) {
			e.target = e.server(cut(200, map[string]string{"Content-Type": "application/json"}, `{"da`)).URL
		}, want: hostileWant{"status 200, then io.ErrUnexpectedEOF reading the body", func(_ *hostileEnv, r hostileResult) error {
			if r.err != nil || r.resp.StatusCode != 200 || !errors.Is(r.bodyErr, io.ErrUnexpectedEOF) {
				return fmt.Errorf("error %v, body error %v", r.err, r.bodyErr)
			}
			return nil
		}}},

		// Redirects.
		{name: "resource-redirect-loop", world: aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) }),
		}}, want: and(wantAs("stopped after 10 redirects", func(ue *url.Error) bool { return strings.Contains(ue.Err.Error(), "redirects") }),
			also("at most 13 resource requests", func(e *hostileEnv) error {
				if n := e.resourceSends(); n > 13 {
					return fmt.Errorf("%d resource requests", n)
				}
				return nil
			}))},
		{name: "resource-redirect-to-plain-http", world: aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://internal.example/admin", http.StatusFound)
			}),
		}}, want: wantIs(aauth.ErrEgress)},

		// A resource that asks the same again and again.
		{name: "resource-same-auth-challenge-every-retry", script: func(e *hostileEnv) {
			e.afterPersonToken(func() {
				for i := 0; i < 20; i++ {
					e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultRequirementCommaFormat))
				}
			})
		}, want: and(wantIs(aauth.ErrTooManySteps), bounded())},
		{name: "resource-same-auth-challenge-every-retry-seed", profile: aauth.ProfileSeed, script: func(e *hostileEnv) {
			for i := 0; i < 20; i++ {
				e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultRequirementCommaFormat))
			}
		}, want: and(wantIs(aauth.ErrTooManySteps), bounded())},
		{name: "resource-alternating-challenges", script: func(e *hostileEnv) {
			e.afterPersonToken(func() {
				for i := 0; i < 10; i++ {
					e.w.Resource.Queue(aauthtest.Malformed(aauthtest.FaultRequirementCommaFormat),
						aauthtest.Respond(401, http.Header{"Aauth-Requirement": {"requirement=person-token"}}, ""),
						aauthtest.Respond(401, http.Header{"Aauth-Requirement": {"requirement=agent-token"}}, ""))
				}
			})
		}, want: and(wantIs(aauth.ErrTooManySteps), bounded())},
		{name: "resource-same-person-challenge-every-retry", script: requirementEvery(20, "requirement=person-token"),
			want: and(wantStatus(401), sends(3))},
		{name: "resource-same-agent-challenge-every-retry", script: requirementEvery(20, "requirement=agent-token"),
			want: and(wantStatus(401), sends(1))},
		{name: "resource-refuses-every-token", script: func(e *hostileEnv) {
			e.w.PS.SetPolicy(func(*aauthtest.TokenRequest) aauthtest.Decision {
				return aauthtest.Malformed(aauthtest.FaultTokenBadSignature)
			})
		}, want: and(wantStatus(401), bounded())},
		{name: "token-expired-on-arrival", script: func(e *hostileEnv) {
			e.w.PS.SetPolicy(func(*aauthtest.TokenRequest) aauthtest.Decision {
				return aauthtest.Malformed(aauthtest.FaultTokenExpired)
			})
		}, want: and(wantStatus(401), bounded())},
	}
}

// invalidInput makes the resource answer the first call with
// Signature-Error: error=invalid_input, required_input=<list>.
func invalidInput(list string) func(e *hostileEnv) {
	return func(e *hostileEnv) {
		e.w.Resource.Queue(aauthtest.Respond(401, http.Header{"Signature-Error": {"error=invalid_input, required_input=" + list}}, ""))
	}
}

// secondRequest expects another request to the same URL, through the same
// Transport, to end with status: what the first one learnt does not break
// the origin.
func secondRequest(status int) hostileWant {
	return also(fmt.Sprintf("a second request gets %d", status), func(e *hostileEnv) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.target, nil)
		resp, err := e.tr.RoundTrip(req)
		e.leaks.err(err)
		if err != nil {
			return fmt.Errorf("second request: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			return fmt.Errorf("second request: status %d", resp.StatusCode)
		}
		return nil
	})
}

// psFault makes the person server answer the first token request with a
// malformed answer.
func psFault(f aauthtest.Fault) func(e *hostileEnv) {
	return func(e *hostileEnv) { e.w.PS.Queue(firstKind(e.p), aauthtest.Malformed(f)) }
}

// sends expects exactly n requests at the kit resource.
func sends(n int) hostileWant {
	return also(fmt.Sprintf("%d resource requests", n), func(e *hostileEnv) error {
		if got := e.resourceSends(); got != n {
			return fmt.Errorf("%d resource requests, want %d", got, n)
		}
		return nil
	})
}

// bounded expects the Transport's loop bounds to have held: at most 8
// resource requests and 4 token requests.
func bounded() hostileWant {
	return also("bounded", func(e *hostileEnv) error {
		if n := e.resourceSends(); n > 8 {
			return fmt.Errorf("%d resource requests", n)
		}
		if n := len(e.w.PS.AuthTokenRequests()) + len(e.w.PS.PersonTokenRequests()); n > 4 {
			return fmt.Errorf("%d token requests", n)
		}
		return nil
	})
}

// polls expects at most n polls at the kit person server.
func polls(n int) hostileWant {
	return also(fmt.Sprintf("at most %d polls", n), func(e *hostileEnv) error {
		if got := e.w.PS.Polls(); got > n {
			return fmt.Errorf("%d polls", got)
		}
		return nil
	})
}

// noExchange expects the person server never to have been asked for an
// auth token.
func noExchange() hostileWant {
	return also("no exchange", func(e *hostileEnv) error {
		if n := len(e.w.PS.AuthTokenRequests()); n != 0 {
			return fmt.Errorf("%d exchanges", n)
		}
		return nil
	})
}

// noSession expects no session token kept for the resource.
func noSession() hostileWant {
	return also("no session token kept", func(e *hostileEnv) error {
		u, _ := url.Parse(e.w.Resource.URL)
		if held := e.tr.Tokens.(*watchedMemoryCache).heldUnder("session http://" + u.Host + " "); len(held) != 0 {
			return errors.New("a session token was kept")
		}
		return nil
	})
}

// nothingCached expects the Transport's token cache to be empty.
func nothingCached() hostileWant {
	return also("nothing cached", func(e *hostileEnv) error {
		if n := e.tr.Tokens.(*watchedMemoryCache).MemoryCache.Len(); n != 0 {
			return fmt.Errorf("%d tokens cached", n)
		}
		return nil
	})
}

// cleanError expects an error message free of control characters.
func cleanError() hostileWant {
	return hostileWant{"a clean message", func(_ *hostileEnv, r hostileResult) error {
		if r.err == nil {
			return errors.New("no error")
		}
		for _, c := range r.err.Error() {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("control character %q in %q", c, r.err)
			}
		}
		return nil
	}}
}

// tokenAnswer answers 200 with the JSON value v as both tokens.
func tokenAnswer(v string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"person_token":`+v+`,"auth_token":`+v+`,"expires_in":600}`)
	}
}

var gzipBombOnce = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 2; i++ {
		zw.Write(zeros)
	}
	zw.Close()
	return b.Bytes()
})

// gzipBomb is 2 MiB of zeros, gzipped to about 2 KiB: twice what the
// library reads.
func gzipBomb() []byte { return gzipBombOnce() }

// closedAddr is the address of a listener that was closed: connecting to it
// is refused.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// messageLacks expects an error whose message does not say text.
func messageLacks(text string) hostileWant {
	return hostileWant{"a message without " + fmt.Sprintf("%q", text), func(_ *hostileEnv, r hostileResult) error {
		if r.err != nil && strings.Contains(r.err.Error(), text) {
			return fmt.Errorf("message %q says %q", r.err, text)
		}
		return nil
	}}
}

// fakeJWT is a compact JWS shape around a payload, unsigned.
func fakeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA","typ":"aa-resource+jwt"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

// publicPS starts a TLS person server that the Transport reaches as
// https://example.com, with names resolving as dns says for the egress
// checks, serving metadata with the given members over the defaults.
func (e *hostileEnv) publicPS(dns map[string]string, members map[string]any) {
	restore := egress.SetResolverForTest(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := dns[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	})
	e.t.Cleanup(restore)
	srv := httptest.NewUnstartedServer(nil)
	var self string
	srv.Config.Handler = e.watch(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != psclient.WellKnownPath {
			http.NotFound(w, r)
			return
		}
		doc := map[string]any{
			"issuer":                self,
			"auth_token_endpoint":   self + "/token/auth",
			"person_token_endpoint": self + "/token/person",
			"jwks_uri":              self + "/jwks",
		}
		for k, v := range members {
			doc[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	srv.StartTLS()
	e.servers = append(e.servers, srv)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	self = "https://example.com:" + port
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	e.base.TLSClientConfig = &tls.Config{RootCAs: pool}
	addr := srv.Listener.Addr().String()
	e.base.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if strings.HasPrefix(a, "example.com:") {
			a = addr
		}
		var d net.Dialer
		return d.DialContext(ctx, network, a)
	}
	e.tr.PersonServer = self
}

func TestHostileServers(t *testing.T) {
	cases := append(append(append(append(hostileCases(), missionHostileCases()...), findingHostileCases()...), r3HostileCases()...), delegationHostileCases()...)
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		seen[c.name] = true
	}
	start := time.Now()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runHostile(t, c) })
	}
	t.Logf("%d hostile cases in %v", len(cases), time.Since(start).Round(time.Millisecond))
}

func runHostile(t *testing.T, c hostileCase) {
	before := runtime.NumGoroutine()

	clk := aauthtest.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	opts := c.world
	opts.Profile, opts.Now = c.profile, clk.Now
	e := &hostileEnv{
		t:       t,
		p:       c.profile,
		w:       aauthtest.NewWorld(opts),
		clock:   clk,
		base:    &http.Transport{},
		leaks:   newLeakWatch(),
		release: make(chan struct{}),
	}
	e.tr = &aauth.Transport{
		Base:            e.base,
		Keys:            e.w.AgentKeys("alice"),
		PersonServer:    e.w.PS.URL,
		Profile:         c.profile,
		Clock:           clk,
		MaxPollDuration: 10 * time.Minute,
		Capabilities:    []aauth.Capability{aauth.CapabilityInteraction, aauth.CapabilityClarification},
		Justification:   "read the data",
		OnInteraction: func(context.Context, string, string) error {
			e.interactions.Add(1)
			return nil
		},
	}
	e.target = e.w.Resource.URL + "/data"
	e.leaks.attach(e.tr)
	if c.script != nil {
		c.script(e)
	}

	deadline := c.deadline
	if deadline == 0 {
		deadline = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.target, nil)
	if e.body != "" {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, e.target, strings.NewReader(e.body))
	}
	if err != nil {
		t.Fatal(err)
	}
	if e.body != "" {
		req.Header.Set("Content-Type", "application/json")
		if e.noGet {
			req.GetBody = nil
		}
	}
	var r hostileResult
	t0 := time.Now()
	r.resp, r.err = (&http.Client{Transport: e.tr}).Do(req)
	if r.err == nil {
		r.body, r.bodyErr = io.ReadAll(io.LimitReader(r.resp.Body, 4<<20))
		r.resp.Body.Close()
	}
	r.elapsed = time.Since(t0)
	cancel()
	e.leaks.err(r.err)
	e.leaks.err(r.bodyErr)
	e.leaks.err(e.gov)

	// The deadline holds, give or take the scheduler: the slack is wide
	// enough for a loaded machine under -race, and still far below the
	// overshoots this check exists to catch (a cancel that ignored the
	// caller's deadline held RoundTrip 10 s too long).
	if r.elapsed > deadline+time.Second {
		t.Errorf("took %v, deadline %v", r.elapsed, deadline)
	}
	if err := c.want.check(e, r); err != nil {
		t.Errorf("want %s: %v", c.want.desc, err)
	}
	if r.err != nil {
		t.Logf("error: %v", r.err)
	}

	close(e.release)
	for _, s := range e.servers {
		s.Close()
	}
	e.w.Close()
	e.base.CloseIdleConnections()
	e.leaks.world(e.w)
	e.leaks.check(t)

	if n, ok := settleGoroutines(before, 3*time.Second); !ok {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines left running (before: %d):\n%s", n-before, before, buf)
	}
}

// settleGoroutines waits (at most wait) for the number of goroutines to
// come back to limit.
func settleGoroutines(limit int, wait time.Duration) (int, bool) {
	end := time.Now().Add(wait)
	for {
		n := runtime.NumGoroutine()
		if n <= limit {
			return n, true
		}
		if time.Now().After(end) {
			return n, false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
