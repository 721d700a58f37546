package psclient_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/clock"
	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// psVerify checks a request's signature with the agent's public key as of
// now, with the independent verifier of internal/sigverify.
func psVerify(r *http.Request, pub crypto.PublicKey, now time.Time) error {
	_, err := sigverify.VerifyWithKey(r, "sig", pub, sigverify.Options{
		Now:      func() time.Time { return now },
		Required: []string{"@method", "@authority", "@path", "signature-key"},
	})
	return err
}

// Shared helpers of the person-server tests (exchange, metadata, poll).

const psTestAgentToken = "eyJhbGciOiJFZDI1NTE5IiwidHlwIjoiYWEtYWdlbnQrand0In0.eyJpc3MiOiJodHRwczovL2FnZW50LmV4YW1wbGUifQ.c2ln"

var psTestT0 = time.Unix(1730217600, 0)

func psTestKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed([]byte("aauth-ps-tests-0123456789abcdef!"))
}

// psTestClient is a real SigningTransport with a real Ed25519 key and the
// agent token, optionally declaring capabilities.
func psTestClient(p wire.Profile, caps ...wire.Capability) *http.Client {
	return (&aauth.SigningTransport{
		Keys:         aauth.StaticKeys(psTestKey(), aauth.JWT(psTestAgentToken)),
		Profile:      p,
		Capabilities: caps,
		Now:          func() time.Time { return psTestT0 },
	}).Client()
}

// psRec is a request as a test server received it.
type psRec struct {
	Method string
	Path   string
	Header http.Header
	Body   string
	// Verified is the outcome of checking the signature with the agent's
	// public key ("ok" or the error).
	Verified string
}

// psServer is an httptest server that records every request and routes it
// through a ServeMux the test fills in.
type psServer struct {
	*httptest.Server
	Mux  *http.ServeMux
	mu   sync.Mutex
	reqs []psRec
}

func newPSServer(t testing.TB) *psServer {
	t.Helper()
	s := &psServer{Mux: http.NewServeMux()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verified := "ok"
		if err := psVerify(r, psTestKey().Public(), psTestT0); err != nil {
			verified = err.Error()
		}
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		s.mu.Lock()
		s.reqs = append(s.reqs, psRec{r.Method, r.URL.RequestURI(), r.Header.Clone(), string(b), verified})
		s.mu.Unlock()
		s.Mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *psServer) requests() []psRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]psRec(nil), s.reqs...)
}

// count returns how many requests matched method and path.
func (s *psServer) count(method, path string) int {
	n := 0
	for _, r := range s.requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// serveMetadata publishes a document valid for p (and, with both names,
// for the other profile too) at the well-known path.
func (s *psServer) serveMetadata(p wire.Profile) {
	s.Mux.HandleFunc("GET "+psclient.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, s.metadataDoc(p))
	})
}

func (s *psServer) metadataDoc(p wire.Profile) map[string]any {
	doc := map[string]any{"jwks_uri": s.URL + "/jwks.json"}
	if p == wire.ProfileSeed {
		doc["token_endpoint"] = s.URL + "/aauth/token"
	} else {
		doc["issuer"] = s.URL
		doc["auth_token_endpoint"] = s.URL + "/aauth/token"
		doc["person_token_endpoint"] = s.URL + "/aauth/person"
	}
	return doc
}

func psJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func psProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": code, "detail": detail})
}

// psPending answers 202 with a Location and optional Retry-After and
// requirement.
func psPending(w http.ResponseWriter, loc, retryAfter, requirement string, body any) {
	w.Header().Set("Location", loc)
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	if requirement != "" {
		w.Header().Set("AAuth-Requirement", requirement)
	}
	w.Header().Set("Cache-Control", "no-store")
	if body == nil {
		body = map[string]any{"status": "pending"}
	}
	psJSON(w, http.StatusAccepted, body)
}

// psSequence serves the answers in order, then repeats the last one.
func psSequence(answers ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := answers[min(i, len(answers)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

// checkSigned asserts a request carries the agent's signature, with the
// body digest-covered in the current profile only.
func checkSigned(t testing.TB, r psRec, p wire.Profile) {
	t.Helper()
	if got := r.Header.Get("Signature-Key"); got != `sig=jwt;jwt="`+psTestAgentToken+`"` {
		t.Errorf("%s %s: Signature-Key = %q", r.Method, r.Path, got)
	}
	if r.Verified != "ok" {
		t.Errorf("%s %s: signature does not verify: %s", r.Method, r.Path, r.Verified)
	}
	si := r.Header.Get("Signature-Input")
	if si == "" || r.Header.Get("Signature") == "" {
		t.Errorf("%s %s: not signed", r.Method, r.Path)
	}
	if r.Body == "" {
		return
	}
	cd := r.Header.Get("Content-Digest")
	if p == wire.ProfileSeed {
		if cd != "" || strings.Contains(si, "content-digest") {
			t.Errorf("%s %s: seed request has a content digest", r.Method, r.Path)
		}
		return
	}
	sum := sha256.Sum256([]byte(r.Body))
	if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; cd != want {
		t.Errorf("%s %s: Content-Digest = %q, want %q", r.Method, r.Path, cd, want)
	}
	if !strings.Contains(si, `"content-type"`) || !strings.Contains(si, `"content-digest"`) {
		t.Errorf("%s %s: Signature-Input %q does not cover the body", r.Method, r.Path, si)
	}
}

// psFake is a virtual clock at psTestT0.
func psFake() *clock.Fake { return clock.NewFake(psTestT0) }

var psProfiles = []wire.Profile{wire.ProfileCurrent, wire.ProfileSeed}

// psMustErr fails unless errors.As(err, target).
func psMustAs[T error](t testing.TB, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error %v (%T) is not a %T", err, err, target)
	}
	return target
}

func psCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
