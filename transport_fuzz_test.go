package aauth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/clock"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// FuzzTransportAnswers runs the whole agent flow against servers whose
// every answer is fuzzed: status (from a script), AAuth-Requirement,
// Signature-Error, Retry-After, Location, AAuth-Access, Content-Type and
// body, the same for the resource, its pending URLs and the person
// server's token endpoints. It checks that the Transport never panics,
// ends after a bounded number of requests, closes what it does not return,
// and says no token or key in its errors.
func FuzzTransportAnswers(f *testing.F) {
	rt := fuzzJWS(`{"typ":"aa-resource+jwt"}`, `{"iss":"https://resource.example","ps":"https://ps.example","agent_jkt":"`+fuzzAgentJKT()+`","exp":1730218000}`)
	tokens := `{"person_token":"eyJ0eXAiOiJhYS1wZXJzb24rand0In0.e30.c2ln","auth_token":"eyJ0eXAiOiJhYS1hdXRoK2p3dCJ9.e30.c2ln","expires_in":600}`
	for _, s := range []struct {
		profile                                   uint8
		statuses                                  string
		req, sigErr, ra, loc, access, ctype, body string
	}{
		{0, "\x02\x00\x02\x00\x00", "requirement=person-token", "", "", "", "", "application/json", tokens},
		{0, "\x02\x00\x02\x00\x00", `requirement=auth-token; resource-token="` + rt + `"`, "", "", "", "", "application/json", tokens},
		{1, "\x02\x00\x00", `requirement=auth-token; resource-token="` + rt + `"`, "", "0", "", "", "", tokens},
		{0, "\x01", "requirement=approval", "", "0", "/pending/1", "", "application/json", `{"status":"pending"}`},
		{0, "\x01", `requirement=interaction; url="https://ps.example/c"; code="ABCD1234"`, "", "999999", "/pending/1", "", "application/json", `{"status":"pending","clarification":"Why?","options":["a"]}`},
		{0, "\x01", "", "", "Fri, 31 Dec 9999 23:59:59 GMT", "http://localhost/p", "", "", ""},
		{0, "\x02", "", `error=invalid_input, required_input=("@query" "x-absent" "content-digest")`, "", "", "", "", ""},
		{0, "\x02", "", "error=clock_skew", "", "", "", "", ""},
		{0, "\x02\x02\x02", "", "error=expired_jwt", "", "", "", "", ""},
		{0, "\x02", "requirement=?! garbage (", "((not a dictionary", "soon", "::", "a b", "text/plain", "not json"},
		{0, "\x00", "", "", "", "", "c2Vzc2lvbg", "application/json", "{}"},
		{0, "\x0b\x0c\x09", "", "", "1", "", "", "application/problem+json", `{"error":"denied","detail":"line\r\nx"}`},
		{1, "\x02\x01\x01\x01\x01\x01\x01\x01\x01", `requirement=auth-token; resource-token="not-a-jwt"`, "", "0", "/pending/1", "", "", "{}"},
		{0, "\x0d", "", "", "", "/elsewhere", "", "", ""},
	} {
		f.Add(s.profile, []byte(s.statuses), s.req, s.sigErr, s.ra, s.loc, s.access, s.ctype, []byte(s.body))
	}
	statusOf := []int{200, 202, 401, 401, 401, 202, 403, 408, 410, 429, 500, 502, 503, 302, 204, 404}
	key := fuzzAgentKey()
	secrets := []string{fuzzAgentToken, base64.RawURLEncoding.EncodeToString(key.Seed())}
	f.Fuzz(func(t *testing.T, profile uint8, statuses []byte, req, sigErr, ra, loc, access, ctype string, body []byte) {
		if len(statuses) == 0 {
			statuses = []byte{0}
		}
		var calls atomic.Int32
		open := &atomic.Int32{}
		base := roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Body != nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
			n := calls.Add(1)
			h := http.Header{}
			for k, v := range map[string]string{"AAuth-Requirement": req, "Signature-Error": sigErr, "Retry-After": ra,
				"Location": loc, "AAuth-Access": access, "Content-Type": ctype} {
				if v != "" {
					h[http.CanonicalHeaderKey(k)] = strings.Split(v, "\n")
				}
			}
			h.Set("Date", "Tue, 29 Oct 2024 16:00:00 GMT")
			open.Add(1)
			return &http.Response{
				StatusCode: statusOf[int(statuses[int(n-1)%len(statuses)])%len(statusOf)],
				Header:     h,
				Body:       &countedBody{Reader: bytes.NewReader(body), open: open},
				Request:    r,
			}, nil
		})
		p := wire.Profile(profile % 2)
		tr := &Transport{
			Base:         base,
			Keys:         StaticKeys(key, JWT(fuzzAgentToken)),
			PersonServer: "https://ps.example",
			PersonServerMetadata: &psclient.Metadata{
				Issuer:              "https://ps.example",
				AuthTokenEndpoint:   "https://ps.example/token/auth",
				TokenEndpoint:       "https://ps.example/token/auth",
				PersonTokenEndpoint: "https://ps.example/token/person",
			},
			Profile:         p,
			Clock:           clock.NewFake(fuzzT0),
			MaxPollDuration: 10 * time.Second,
			Capabilities:    []wire.Capability{wire.CapabilityInteraction, wire.CapabilityClarification},
			OnInteraction:   func(context.Context, string, string) error { return nil },
			OnClarification: func(context.Context, psclient.Clarification) (string, error) { return "yes", nil },
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://resource.example/data?q=1", nil)
		start := time.Now()
		resp, err := tr.RoundTrip(r)
		if time.Since(start) > 5*time.Second {
			t.Fatalf("RoundTrip took %v", time.Since(start))
		}
		if n := calls.Load(); n > 400 {
			t.Fatalf("%d requests", n)
		}
		if (resp == nil) == (err == nil) {
			t.Fatalf("response %v with error %v", resp, err)
		}
		if err != nil {
			msg := err.Error()
			if len(msg) > 2048 {
				t.Fatalf("error of %d bytes", len(msg))
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Fatalf("error %q says a secret", msg)
				}
			}
			if nr, ok := err.(*NotReplayableError); ok && nr.Response != nil {
				nr.Response.Body.Close()
			}
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if n := open.Load(); n != 0 {
			t.Fatalf("%d response bodies left open", n)
		}
	})
}

// countedBody counts the bodies not yet closed.
type countedBody struct {
	*bytes.Reader
	open   *atomic.Int32
	closed bool
}

func (b *countedBody) Close() error {
	if !b.closed {
		b.closed = true
		b.open.Add(-1)
	}
	return nil
}

// The agent of the fuzzed flows: a fixed Ed25519 key, an agent token (never
// verified here) and the time the servers' tokens are minted for.
const fuzzAgentToken = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiYWEtYWdlbnQrand0In0.eyJpc3MiOiJodHRwczovL2FnZW50LmV4YW1wbGUifQ.c2ln"

var fuzzT0 = time.Unix(1730217600, 0)

func fuzzAgentKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte("aauth-ps-tests-0123456789abcdef!"))
}

// fuzzAgentJKT is the thumbprint of the test agent key.
func fuzzAgentJKT() string {
	jkt, err := keys.Thumbprint(fuzzAgentKey().Public())
	if err != nil {
		panic(err)
	}
	return jkt
}
