package psclient_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

func TestDiscoverPersonServer(t *testing.T) {
	for _, p := range psProfiles {
		t.Run(p.String(), func(t *testing.T) {
			s := newPSServer(t)
			s.serveMetadata(p)
			for _, ps := range []string{s.URL, s.URL + "/"} {
				md, err := psclient.Discover(psCtx(t), psTestClient(p), ps, p)
				if err != nil {
					t.Fatalf("%s: %v", ps, err)
				}
				if got, want := md.AuthTokenEndpointFor(p), s.URL+"/aauth/token"; got != want {
					t.Errorf("token endpoint %q, want %q", got, want)
				}
				if md.JWKSURI != s.URL+"/jwks.json" || md.Raw["jwks_uri"] != s.URL+"/jwks.json" {
					t.Errorf("jwks_uri not read: %+v", md)
				}
			}
			reqs := s.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests", len(reqs))
			}
			for _, r := range reqs {
				if r.Method != "GET" || r.Path != psclient.WellKnownPath {
					t.Errorf("request %s %s", r.Method, r.Path)
				}
				checkSigned(t, r, p)
			}
		})
	}
}

func TestDiscoverPersonServerFailures(t *testing.T) {
	type doc = map[string]any
	cases := []struct {
		name    string
		profile wire.Profile
		status  int
		body    func(url string) string
		doc     func(url string) doc
		code    string
		field   string
		is      error
	}{
		{name: "404", status: 404, body: func(string) string { return "not here" }, code: psclient.MetadataFetchFailed},
		{name: "404 seed", profile: wire.ProfileSeed, status: 404, body: func(string) string { return "{}" }, code: psclient.MetadataFetchFailed},
		{name: "not json", body: func(string) string { return "<html>" }, code: psclient.MetadataInvalid},
		{name: "array", body: func(string) string { return "[1]" }, code: psclient.MetadataInvalid},
		{name: "null", body: func(string) string { return "null" }, code: psclient.MetadataInvalid},
		{name: "too large", body: func(string) string { return `{"x":"` + strings.Repeat("a", httpx.MaxBodySize) + `"}` }, code: psclient.MetadataInvalid, is: wire.ErrBodyTooLarge},
		{name: "issuer missing", doc: func(u string) doc {
			return doc{"auth_token_endpoint": u + "/t", "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataIssuerMissing, field: "issuer"},
		{name: "issuer not a string", doc: func(u string) doc {
			return doc{"issuer": 7, "auth_token_endpoint": u + "/t", "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataIssuerMissing},
		{name: "issuer mismatch", doc: func(u string) doc {
			return doc{"issuer": "https://evil.example", "auth_token_endpoint": u + "/t", "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataIssuerMismatch, field: "issuer"},
		{name: "issuer trailing slash", doc: func(u string) doc {
			return doc{"issuer": u + "/", "auth_token_endpoint": u + "/t", "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataIssuerMismatch},
		{name: "issuer case", doc: func(u string) doc {
			return doc{"issuer": strings.ToUpper(u), "auth_token_endpoint": u + "/t", "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataIssuerMismatch},
		{name: "seed issuer mismatch", profile: wire.ProfileSeed, doc: func(u string) doc {
			return doc{"issuer": "https://evil.example", "token_endpoint": u + "/t"}
		}, code: psclient.MetadataIssuerMismatch},
		{name: "no auth token endpoint", doc: func(u string) doc {
			return doc{"issuer": u, "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataEndpointMissing, field: "auth_token_endpoint"},
		{name: "no person token endpoint", doc: func(u string) doc {
			return doc{"issuer": u, "auth_token_endpoint": u + "/t"}
		}, code: psclient.MetadataEndpointMissing, field: "person_token_endpoint"},
		{name: "seed no token endpoint", profile: wire.ProfileSeed, doc: func(u string) doc {
			return doc{"jwks_uri": "x"}
		}, code: psclient.MetadataEndpointMissing, field: "token_endpoint"},
		{name: "endpoint not https", doc: func(u string) doc {
			return doc{"issuer": u, "auth_token_endpoint": "http://ps.example/t", "person_token_endpoint": u + "/p"}
		}, code: psclient.MetadataInvalidEndpoint, field: "auth_token_endpoint"},
		{name: "endpoint relative", profile: wire.ProfileSeed, doc: func(u string) doc {
			return doc{"token_endpoint": "/aauth/token"}
		}, code: psclient.MetadataInvalidEndpoint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newPSServer(t)
			s.Mux.HandleFunc("GET "+psclient.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
				if c.doc != nil {
					psJSON(w, 200, c.doc(s.URL))
					return
				}
				w.WriteHeader(max(c.status, 200))
				w.Write([]byte(c.body(s.URL)))
			})
			_, err := psclient.Discover(psCtx(t), psTestClient(c.profile), s.URL, c.profile)
			me := psMustAs[*psclient.MetadataError](t, err)
			if me.Code != c.code || c.field != "" && me.Field != c.field {
				t.Fatalf("code %q field %q, want %q %q (%v)", me.Code, me.Field, c.code, c.field, err)
			}
			if c.status != 0 && me.StatusCode != c.status {
				t.Errorf("status %d", me.StatusCode)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("%v is not %v", err, c.is)
			}
			if !strings.HasPrefix(err.Error(), "aauth: ") {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestDiscoverAcceptsOtherEndpointName(t *testing.T) {
	s := newPSServer(t)
	s.Mux.HandleFunc("GET "+psclient.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, map[string]any{"issuer": s.URL, "token_endpoint": s.URL + "/old", "person_token_endpoint": s.URL + "/p"})
	})
	md, err := psclient.Discover(psCtx(t), psTestClient(wire.ProfileCurrent), s.URL, wire.ProfileCurrent)
	if err != nil {
		t.Fatal(err)
	}
	if md.AuthTokenEndpointFor(wire.ProfileCurrent) != s.URL+"/old" {
		t.Fatalf("current did not fall back on token_endpoint: %+v", md)
	}

	md = &psclient.Metadata{AuthTokenEndpoint: "https://a/new", TokenEndpoint: "https://a/old"}
	if md.AuthTokenEndpointFor(wire.ProfileCurrent) != "https://a/new" || md.AuthTokenEndpointFor(wire.ProfileSeed) != "https://a/old" {
		t.Fatal("each profile must prefer its own name")
	}
	md = &psclient.Metadata{AuthTokenEndpoint: "https://a/new"}
	if md.AuthTokenEndpointFor(wire.ProfileSeed) != "https://a/new" {
		t.Fatal("seed must fall back on auth_token_endpoint")
	}
}

func TestDiscoverRefusesInsecurePersonServer(t *testing.T) {
	for _, ps := range []string{"http://ps.example", "ftp://ps.example", "ps.example", "", "https://ps.example/?x=1"} {
		if _, err := psclient.Discover(psCtx(t), psTestClient(wire.ProfileCurrent), ps, wire.ProfileCurrent); err == nil {
			t.Errorf("%q accepted", ps)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "[::1]", "app.localhost"} {
		if err := egress.CheckSecureURL(context.Background(), "http://"+h+":8080/x"); err != nil {
			t.Errorf("%s refused: %v", h, err)
		}
	}
}

func TestMetadataCache(t *testing.T) {
	var (
		mu      sync.Mutex
		headers = map[string]string{}
	)
	setHeaders := func(h map[string]string) { mu.Lock(); headers = h; mu.Unlock() }
	s := newPSServer(t)
	s.Mux.HandleFunc("GET "+psclient.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		mu.Unlock()
		psJSON(w, 200, s.metadataDoc(wire.ProfileCurrent))
	})
	now := psTestT0
	c := &psclient.MetadataCache{Now: func() time.Time { return now }}
	client := psTestClient(wire.ProfileCurrent)
	fetches := func() int { return s.count("GET", psclient.WellKnownPath) }
	get := func() {
		t.Helper()
		if _, err := c.Get(psCtx(t), client, s.URL, wire.ProfileCurrent); err != nil {
			t.Fatal(err)
		}
	}

	// No caching headers: the 5-minute default.
	get()
	get()
	if fetches() != 1 {
		t.Fatalf("%d fetches, want 1", fetches())
	}
	now = now.Add(5*time.Minute - time.Second)
	get()
	now = now.Add(2 * time.Second)
	get()
	if fetches() != 2 {
		t.Fatalf("default lifetime: %d fetches, want 2", fetches())
	}

	// max-age, bounded by an hour.
	c.Delete(s.URL)
	setHeaders(map[string]string{"Cache-Control": "public, max-age=86400"})
	get()
	now = now.Add(time.Hour - time.Second)
	get()
	if fetches() != 3 {
		t.Fatalf("max-age: %d fetches, want 3", fetches())
	}
	now = now.Add(2 * time.Second)
	get()
	if fetches() != 4 {
		t.Fatalf("max-age beyond an hour: %d fetches, want 4", fetches())
	}

	// no-store: fetched every time.
	c.Delete(s.URL)
	setHeaders(map[string]string{"Cache-Control": "no-store"})
	get()
	get()
	if fetches() != 6 {
		t.Fatalf("no-store: %d fetches, want 6", fetches())
	}

	// Put: supplied metadata is used without any fetch, also through a
	// trailing-slash spelling of the URL.
	c.Put(s.URL+"/", s.metadataDoc2(), 0)
	now = now.Add(100 * time.Hour)
	get()
	if fetches() != 6 {
		t.Fatalf("Put: %d fetches, want 6", fetches())
	}
	// An issuer check still applies to supplied metadata.
	c.Put(s.URL, &psclient.Metadata{Issuer: "https://other.example", AuthTokenEndpoint: s.URL + "/t", PersonTokenEndpoint: s.URL + "/p"}, time.Minute)
	if _, err := c.Get(psCtx(t), client, s.URL, wire.ProfileCurrent); psMustAs[*psclient.MetadataError](t, err).Code != psclient.MetadataIssuerMismatch {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	get()
	if fetches() != 7 {
		t.Fatalf("expired Put: %d fetches, want 7", fetches())
	}
}

func (s *psServer) metadataDoc2() *psclient.Metadata {
	return &psclient.Metadata{Issuer: s.URL, AuthTokenEndpoint: s.URL + "/aauth/token", PersonTokenEndpoint: s.URL + "/aauth/person"}
}

func TestMetadataCacheOneProfileAtATime(t *testing.T) {
	// A document cached for the seed is checked again for the current
	// profile, and refused there for its missing issuer.
	s := newPSServer(t)
	s.serveMetadata(wire.ProfileSeed)
	var c psclient.MetadataCache
	if _, err := c.Get(psCtx(t), psTestClient(wire.ProfileSeed), s.URL, wire.ProfileSeed); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(psCtx(t), psTestClient(wire.ProfileCurrent), s.URL, wire.ProfileCurrent)
	if psMustAs[*psclient.MetadataError](t, err).Code != psclient.MetadataIssuerMissing {
		t.Fatal(err)
	}
	if n := s.count("GET", psclient.WellKnownPath); n != 1 {
		t.Fatalf("%d fetches", n)
	}
}

func TestMetadataCacheConcurrentGetsShareOneFetch(t *testing.T) {
	s := newPSServer(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 16)
	s.Mux.HandleFunc("GET "+psclient.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		psJSON(w, 200, s.metadataDoc(wire.ProfileCurrent))
	})
	var c psclient.MetadataCache
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Get(psCtx(t), psTestClient(wire.ProfileCurrent), s.URL, wire.ProfileCurrent)
			errs <- err
		}()
	}
	<-arrived
	// Let the other goroutines reach the cache before the answer comes.
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.count("GET", psclient.WellKnownPath); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestSuppliedMetadata(t *testing.T) {
	// Supplied metadata skips discovery but is still checked.
	s := newPSServer(t)
	s.Mux.HandleFunc("POST /aauth/token", func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, map[string]any{"auth_token": "at", "expires_in": 60})
	})
	req := psclient.ExchangeRequest{
		PersonServer:   s.URL,
		Metadata:       s.metadataDoc2(),
		ResourceToken:  "rt",
		PresentedToken: "pt",
	}
	if _, err := psclient.ExchangeToken(psCtx(t), psTestClient(wire.ProfileCurrent), req); err != nil {
		t.Fatal(err)
	}
	req.Metadata = &psclient.Metadata{Issuer: "https://evil.example", AuthTokenEndpoint: s.URL + "/aauth/token", PersonTokenEndpoint: s.URL + "/p"}
	_, err := psclient.ExchangeToken(psCtx(t), psTestClient(wire.ProfileCurrent), req)
	if psMustAs[*psclient.MetadataError](t, err).Code != psclient.MetadataIssuerMismatch {
		t.Fatal(err)
	}
	// Without a PersonServer only the endpoints are checked.
	req.PersonServer = ""
	if _, err := psclient.ExchangeToken(psCtx(t), psTestClient(wire.ProfileCurrent), req); err != nil {
		t.Fatal(err)
	}
	req.Metadata = &psclient.Metadata{AuthTokenEndpoint: "http://ps.example/t", PersonTokenEndpoint: s.URL + "/p"}
	_, err = psclient.ExchangeToken(psCtx(t), psTestClient(wire.ProfileCurrent), req)
	if psMustAs[*psclient.MetadataError](t, err).Code != psclient.MetadataInvalidEndpoint {
		t.Fatal(err)
	}
	if s.count("GET", psclient.WellKnownPath) != 0 || s.count("POST", "/aauth/token") != 2 {
		t.Fatalf("requests: %+v", s.requests())
	}
}
