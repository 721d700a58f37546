package resource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
)

// The revocation endpoint's cases of the hostile-client table: whoever
// calls it, with whatever body, the answer is the right status and code,
// nothing is recorded that should not be, and no server revokes a token
// it did not issue.
func init() { hostileCases = append(hostileCases, revocationHostileCases()...) }

// recordingStore is a revocation store that records what it was asked
// to keep, and can be made to fail.
type recordingStore struct {
	*MemoryRevocationStore
	mu          sync.Mutex
	revokes     []revokeCall
	failRevoke  error
	failRevoked error
}

type revokeCall struct {
	issuer, jti string
	until       time.Time
}

func (s *recordingStore) Revoke(ctx context.Context, issuer, jti string, until time.Time) error {
	s.mu.Lock()
	s.revokes = append(s.revokes, revokeCall{issuer, jti, until})
	err := s.failRevoke
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.MemoryRevocationStore.Revoke(ctx, issuer, jti, until)
}

func (s *recordingStore) Revoked(ctx context.Context, issuer, jti string) (bool, error) {
	s.mu.Lock()
	err := s.failRevoked
	s.mu.Unlock()
	if err != nil {
		return false, err
	}
	return s.MemoryRevocationStore.Revoked(ctx, issuer, jti)
}

func (s *recordingStore) calls() []revokeCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]revokeCall(nil), s.revokes...)
}

// newRecordingStore is a recording store of capacity on rs's clock.
func newRecordingStore(rs *Resource, capacity int) *recordingStore {
	m := NewMemoryRevocationStore(capacity)
	m.now = rs.Now
	return &recordingStore{MemoryRevocationStore: m}
}

// revocationRequest builds a revocation request with body.
func (w *world) revocationRequest(method, body string) *http.Request {
	r := w.request(method, revocationPath, body)
	return r
}

// revokeSigned is a revocation POST of body signed by the world's person
// server with its published key.
func revokeSigned(body func(w *world) string) func(w *world) *http.Request {
	return func(w *world) *http.Request {
		r := w.revocationRequest("POST", body(w))
		signAsServer(w, r, w.ps, dwkPerson)
		return r
	}
}

// revokeBody is a fixed body.
func revokeBody(s string) func(w *world) string { return func(*world) string { return s } }

// revokeExp is {"jti", "exp"} with exp d from the world's clock.
func revokeExp(jti string, d time.Duration) func(w *world) string {
	return func(w *world) string {
		return fmt.Sprintf(`{"jti":%q,"exp":%d}`, jti, w.clock.Now().Add(d).Unix())
	}
}

// storeCase builds a case whose resource keeps revocations in a
// recording store of capacity (0: the default), which before (after the
// world starts) and check may use.
func storeCase(hc hostileCase, capacity int, before func(w *world, s *recordingStore), check func(t *testing.T, s *recordingStore, resp *http.Response)) hostileCase {
	var s *recordingStore
	setup := hc.setup
	hc.setup = func(rs *Resource) {
		if setup != nil {
			setup(rs)
		}
		s = newRecordingStore(rs, capacity)
		rs.Revocations = s
	}
	if before != nil {
		hc.before = func(w *world) { before(w, s) }
	}
	prior := hc.check
	hc.check = func(t *testing.T, resp *http.Response) {
		if prior != nil {
			prior(t, resp)
		}
		if check != nil {
			check(t, s, resp)
		}
	}
	return hc
}

// nothingStored checks that no revocation was recorded.
func nothingStored(t *testing.T, s *recordingStore, _ *http.Response) {
	t.Helper()
	if c := s.calls(); len(c) != 0 || s.Len() != 0 {
		t.Errorf("recorded %v (%d held)", c, s.Len())
	}
}

// acceptsJWKSURI checks that a 401 says the jwks_uri scheme is wanted.
func acceptsJWKSURI(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Accept-Signature-Scheme"); got != "jwks_uri" {
		t.Errorf("Accept-Signature-Scheme %q, want jwks_uri", got)
	}
}

// emptyOK checks a revocation's 200: an empty body, not cached.
func emptyOK(t *testing.T, resp *http.Response) {
	t.Helper()
	if bodyOf(resp) != "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("200 with body %q, Cache-Control %q", bodyOf(resp), resp.Header.Get("Cache-Control"))
	}
}

func revocationHostileCases() []hostileCase {
	bad := func(name, body string) hostileCase {
		return storeCase(hostileCase{name: name, status: 400,
			req: revokeSigned(revokeBody(body)), check: problemIs("invalid_request")}, 0, nil, nothingStored)
	}
	overlong := strings.Repeat("j", maxJTILen+1)
	return []hostileCase{
		storeCase(hostileCase{name: "revoke-valid", status: 200,
			req: revokeSigned(revokeExp("jti-1", 30*time.Minute)), check: emptyOK}, 0, nil,
			func(t *testing.T, s *recordingStore, _ *http.Response) {
				want := []revokeCall{{"", "jti-1", t0.Add(30*time.Minute + defaultWindow)}}
				got := s.calls()
				if len(got) != 1 || got[0].jti != want[0].jti || !got[0].until.Equal(want[0].until) || !strings.HasPrefix(got[0].issuer, "http://127.0.0.1:") {
					t.Errorf("recorded %v, want jti-1 until exp plus the window", got)
				}
			}),
		storeCase(hostileCase{name: "revoke-unsigned", status: 401, code: "invalid_signature",
			req: func(w *world) *http.Request {
				return w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
			}, check: acceptsJWKSURI}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-signed-with-agent-token", status: 401, code: "unsupported_scheme",
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				w.agent.sign(w.t, r, w.agentToken(nil), w.clock.Now())
				return r
			}, check: acceptsJWKSURI}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-signed-with-person-token", status: 401, code: "unsupported_scheme",
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				w.agent.sign(w.t, r, w.personToken(nil), w.clock.Now())
				return r
			}, check: acceptsJWKSURI}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-untrusted-person-server", status: 403,
			setup: func(rs *Resource) { rs.PersonServers = TrustIssuers("https://ps.example") },
			req:   revokeSigned(revokeExp("x", time.Minute)), check: problemIs("unsupported_iss")}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-foreign-access-server", status: 403,
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				signAsServer(w, r, w.ps, dwkAccess)
				return r
			}, check: problemIs("unsupported_iss")}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-as-a-resource", status: 401, code: "invalid_key",
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				signAsServer(w, r, w.ps, dwkResource)
				return r
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-signed-by-another-key", status: 401, code: "invalid_signature",
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				other := newIssuer(w.t, w.clock, dwkPerson)
				s := &aauth.Signer{Now: w.clock.Now}
				// The other server's key, under the person server's name.
				if err := s.Sign(r, aauth.KeyMaterial{Signer: other.key, Key: aauth.JWKSURI(w.ps.url, dwkPerson, w.ps.kid)}); err != nil {
					w.t.Fatal(err)
				}
				return r
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-content-digest-not-covered", status: 401, code: "invalid_input",
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				s := &aauth.Signer{Now: w.clock.Now, ContentDigest: aauth.DigestNever,
					Components: []string{"@method", "@authority", "@path", "content-type", "signature-key"}}
				if err := s.Sign(r, aauth.KeyMaterial{Signer: w.ps.key, Key: aauth.JWKSURI(w.ps.url, dwkPerson, w.ps.kid)}); err != nil {
					w.t.Fatal(err)
				}
				return r
			},
			check: func(t *testing.T, resp *http.Response) {
				if !strings.Contains(resp.Header.Get("Signature-Error"), `"content-digest"`) {
					t.Errorf("Signature-Error %q", resp.Header.Get("Signature-Error"))
				}
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-content-type-not-covered", status: 401, code: "invalid_input",
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				s := &aauth.Signer{Now: w.clock.Now,
					Components: []string{"@method", "@authority", "@path", "signature-key", "content-digest"}}
				if err := s.Sign(r, aauth.KeyMaterial{Signer: w.ps.key, Key: aauth.JWKSURI(w.ps.url, dwkPerson, w.ps.kid)}); err != nil {
					w.t.Fatal(err)
				}
				return r
			},
			check: func(t *testing.T, resp *http.Response) {
				if !strings.Contains(resp.Header.Get("Signature-Error"), `"content-type"`) {
					t.Errorf("Signature-Error %q", resp.Header.Get("Signature-Error"))
				}
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-body-does-not-match-digest", status: 401, code: "invalid_signature",
			req: func(w *world) *http.Request {
				r := revokeSigned(revokeBody(`{"jti":"a","exp":9999999999}`))(w)
				swapBody(r, `{"jti":"b","exp":9999999999}`)
				return r
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-stale-signature", status: 401, code: "invalid_signature",
			req: func(w *world) *http.Request {
				r := revokeSigned(revokeExp("x", time.Hour))(w)
				w.clock.Advance(2 * time.Minute)
				return r
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-content-type-not-json", status: 400,
			req: func(w *world) *http.Request {
				r := w.revocationRequest("POST", `{"jti":"x","exp":9999999999}`)
				r.Header.Set("Content-Type", "text/plain")
				signAsServer(w, r, w.ps, dwkPerson)
				return r
			}, check: problemIs("invalid_request")}, 0, nil, nothingStored),
		bad("revoke-body-not-json", `jti=x&exp=1`),
		bad("revoke-body-not-an-object", `["x",9999999999]`),
		bad("revoke-body-empty-object", `{}`),
		bad("revoke-jti-missing", `{"exp":9999999999}`),
		bad("revoke-jti-empty", `{"jti":"","exp":9999999999}`),
		bad("revoke-jti-null", `{"jti":null,"exp":9999999999}`),
		bad("revoke-jti-not-a-string", `{"jti":42,"exp":9999999999}`),
		bad("revoke-jti-wrong-case-name", `{"JTI":"x","exp":9999999999}`),
		bad("revoke-jti-overlong", `{"jti":"`+overlong+`","exp":9999999999}`),
		bad("revoke-exp-missing", `{"jti":"x"}`),
		bad("revoke-exp-string", `{"jti":"x","exp":"9999999999"}`),
		bad("revoke-exp-fraction", `{"jti":"x","exp":9999999999.5}`),
		bad("revoke-exp-exponent", `{"jti":"x","exp":1e10}`),
		bad("revoke-exp-negative", `{"jti":"x","exp":-1}`),
		bad("revoke-exp-beyond-year-5138", `{"jti":"x","exp":100000000001}`),
		bad("revoke-exp-overflows", `{"jti":"x","exp":99999999999999999999999}`),
		bad("revoke-body-trailing-garbage", `{"jti":"x","exp":9999999999}{}`),
		storeCase(hostileCase{name: "revoke-exp-past", status: 200,
			req: revokeSigned(revokeExp("old", -time.Second)), check: emptyOK}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-exp-far-future", status: 200,
			req: revokeSigned(revokeExp("far", 100*24*time.Hour)), check: emptyOK}, 0, nil,
			func(t *testing.T, s *recordingStore, _ *http.Response) {
				// Kept as long as a token the resource accepts can live,
				// whatever exp says.
				got := s.calls()
				if want := t0.Add(maxLifetime + defaultWindow); len(got) != 1 || !got[0].until.Equal(want) {
					t.Errorf("recorded %v, want until %v", got, want)
				}
			}),
		storeCase(hostileCase{name: "revoke-body-huge", status: 413,
			req: revokeSigned(revokeBody(`{"jti":"x","exp":9999999999,"pad":"` + strings.Repeat("p", 64<<10) + `"}`))}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-body-huge-chunked", status: 413,
			req: func(w *world) *http.Request {
				r := revokeSigned(revokeBody(`{"jti":"x","exp":9999999999,"pad":"` + strings.Repeat("p", 64<<10) + `"}`))(w)
				r.ContentLength = -1
				return r
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-get", status: 405,
			req: func(w *world) *http.Request {
				r := w.revocationRequest("GET", "")
				signAsServer(w, r, w.ps, dwkPerson)
				return r
			},
			check: func(t *testing.T, resp *http.Response) {
				if resp.Header.Get("Allow") != "POST" {
					t.Errorf("Allow %q", resp.Header.Get("Allow"))
				}
			}}, 0, nil, nothingStored),
		storeCase(hostileCase{name: "revoke-store-full", status: 429,
			req: revokeSigned(revokeExp("one-more", 30*time.Minute)), check: problemIs("rate_limited")}, 1,
			func(w *world, s *recordingStore) {
				if err := s.MemoryRevocationStore.Revoke(context.Background(), "https://ps.example", "live", w.clock.Now().Add(10*time.Minute)); err != nil {
					w.t.Fatal(err)
				}
			},
			func(t *testing.T, s *recordingStore, resp *http.Response) {
				// The live revocation is kept: dropping it would serve a
				// revoked token again.
				if ok, _ := s.Revoked(context.Background(), "https://ps.example", "live"); !ok || s.Len() != 1 {
					t.Errorf("the live revocation was dropped (%d held)", s.Len())
				}
				if got := resp.Header.Get("Retry-After"); got != "600" {
					t.Errorf("Retry-After %q, want 600", got)
				}
			}),
		storeCase(hostileCase{name: "revoke-store-fails", status: 500,
			req: revokeSigned(revokeExp("x", 30*time.Minute)), check: problemIs("server_error")}, 0,
			func(_ *world, s *recordingStore) { s.failRevoke = errors.New("disk on fire") }, nil),
		storeCase(hostileCase{name: "revoked-at-the-endpoint-person-token", status: 401, code: "revoked_jwt",
			req: func(w *world) *http.Request { return signedGET(w, w.stash["pt"]) }}, 0,
			func(w *world, _ *recordingStore) {
				w.stash = map[string]string{"pt": w.personToken(map[string]any{"jti": "pt-1"})}
				wantStatus(w.t, w.send(signedGET(w, w.stash["pt"])), 200, "")
				wantStatus(w.t, w.send(revokeSigned(revokeExp("pt-1", time.Hour))(w)), 200, "")
			}, nil),
		storeCase(hostileCase{name: "revoked-at-the-endpoint-auth-token", status: 401, code: "revoked_jwt",
			req: func(w *world) *http.Request { return signedGET(w, w.stash["at"]) }}, 0,
			func(w *world, _ *recordingStore) {
				w.stash = map[string]string{"at": w.authToken("read", map[string]any{"jti": "at-1"})}
				wantStatus(w.t, w.send(revokeSigned(revokeExp("at-1", time.Hour))(w)), 200, "")
			},
			func(t *testing.T, _ *recordingStore, resp *http.Response) {
				if resp.Header.Get("AAuth-Requirement") != "requirement=person-token" {
					t.Errorf("AAuth-Requirement %q", resp.Header.Get("AAuth-Requirement"))
				}
			}),
		// A server revokes only its own tokens: another person server
		// naming the jti of this one's token changes nothing for it.
		storeCase(hostileCase{name: "revoke-another-issuers-token", status: 200,
			req: func(w *world) *http.Request { return signedGET(w, w.stash["pt"]) }}, 0,
			func(w *world, _ *recordingStore) {
				w.stash = map[string]string{"pt": w.personToken(map[string]any{"jti": "shared-jti"})}
				other := newIssuer(w.t, w.clock, dwkPerson)
				r := w.revocationRequest("POST", fmt.Sprintf(`{"jti":"shared-jti","exp":%d}`, w.clock.Now().Add(time.Hour).Unix()))
				signAsServer(w, r, other, dwkPerson)
				wantStatus(w.t, w.send(r), 200, "")
			}, nil),
		// The resource's own access server revokes the auth tokens it
		// issued.
		storeCase(hostileCase{name: "revoked-by-the-access-server", status: 401, code: "revoked_jwt",
			req: func(w *world) *http.Request { return signedGET(w, w.stash["at"]) }}, 0,
			func(w *world, _ *recordingStore) {
				as := newIssuer(w.t, w.clock, dwkAccess)
				w.rs.AccessServer = as.url // before the first request
				w.stash = map[string]string{"at": as.mint(typAuth, map[string]any{
					"jti": "as-1", "aud": w.rs.Issuer, "sub": "person-1", "ps": w.ps.url, "scope": "read", "cnf": w.agent.cnf(),
				})}
				wantStatus(w.t, w.send(signedGET(w, w.stash["at"])), 200, "")
				r := w.revocationRequest("POST", fmt.Sprintf(`{"jti":"as-1","exp":%d}`, w.clock.Now().Add(time.Hour).Unix()))
				signAsServer(w, r, as, dwkAccess)
				wantStatus(w.t, w.send(r), 200, "")
			}, nil),
		storeCase(hostileCase{name: "revocation-store-fails-on-a-token", status: 503,
			req: func(w *world) *http.Request { return signedGET(w, w.personToken(nil)) }}, 0,
			func(_ *world, s *recordingStore) { s.failRevoked = errors.New("unreachable") },
			func(t *testing.T, _ *recordingStore, resp *http.Response) {
				wantProblem(t, resp, "temporarily_unavailable")
			}),
	}
}
