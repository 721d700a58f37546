package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// normalize replaces what changes from run to run in a trace: the
// servers' URLs, abbreviated tokens and pending ids.
func normalize(w *aauthtest.World, s string) string {
	s = strings.NewReplacer(w.Resource.URL, "RS", w.PS.URL, "PS", w.Agent.URL, "AP").Replace(s)
	s = regexp.MustCompile(`\S{6}…\[\d+ bytes\]`).ReplaceAllString(s, "TOKEN")
	s = regexp.MustCompile(`/aauth/pending/[\w-]+`).ReplaceAllString(s, "/aauth/pending/ID")
	s = regexp.MustCompile(`(?m)^(interaction: \S+) [0-9A-Z]{8}$`).ReplaceAllString(s, "$1 CODE")
	return regexp.MustCompile(`code="?[0-9A-Z]{8}"?`).ReplaceAllString(s, "code=CODE")
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		profile aauth.Profile
		want    string
	}{
		{aauth.ProfileCurrent, `
→ GET RS/data (agent token)
← 401 requirement=person-token
· requesting a person token for RS at PS
  → GET PS/.well-known/aauth-person.json (agent token)
  ← 200 OK
  → POST PS/aauth/token/person (agent token)
  ← 200 OK
· person token cached: TOKEN
↻ retrying with the person token
→ GET RS/data (person token)
← 401 requirement=auth-token
· exchanging the resource token of RS at PS
  → POST PS/aauth/token/auth (agent token)
  ← 200 OK
· auth token cached: TOKEN
↻ retrying with the auth token
→ GET RS/data (auth token)
← 200 OK
✓ 200 OK, presenting the auth token
`},
		{aauth.ProfileSeed, `
→ GET RS/data (agent token)
← 401 requirement=auth-token
· exchanging the resource token of RS at PS
  → GET PS/.well-known/aauth-person.json (agent token)
  ← 200 OK
  → POST PS/aauth/token (agent token)
  ← 200 OK
· auth token cached: TOKEN
↻ retrying with the auth token
→ GET RS/data (auth token)
← 200 OK
✓ 200 OK, presenting the auth token
`},
	} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			w, clk := newWorld(t, tc.profile, aauthtest.WorldOptions{})
			a := newAgentFiles(t, w)
			r := a.run(t, clk, "", "fetch", "--explain", "--profile", tc.profile.String(), w.Resource.URL+"/data")
			if r.code != 0 {
				t.Fatalf("fetch:\n%s", r)
			}
			if got := normalize(w, r.stderr); got != tc.want[1:] {
				t.Errorf("trace:\n%s\nwant:\n%s", got, tc.want[1:])
			}
			if !strings.HasPrefix(r.stdout, "{") {
				t.Errorf("stdout %q is not the answer", r.stdout)
			}
		})
	}
}

// The trace of a deferred call, an interaction, a session token and a
// failure.
func TestExplainMore(t *testing.T) {
	t.Run("deferred auth token", func(t *testing.T) {
		w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{DeferAuthToken: true}})
		a := newAgentFiles(t, w)
		r := a.run(t, clk, "", "fetch", "--explain", w.Resource.URL+"/data")
		if r.code != 0 {
			t.Fatalf("fetch:\n%s", r)
		}
		got := normalize(w, r.stderr)
		for _, want := range []string{
			"→ GET RS/data (person token)\n← 202 Accepted\n· the resource deferred the request\n· polling RS/aauth/pending/ID, first poll in 0s\n· exchanging the resource token of RS at PS\n",
			"→ GET RS/aauth/pending/ID (auth token)\n← 200 OK\n✓ 200 OK, presenting the auth token\n",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("trace does not hold\n%s\ntrace:\n%s", want, got)
			}
		}
	})
	t.Run("interaction", func(t *testing.T) {
		w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
		w.PS.Queue(aauthtest.TokenPerson, aauthtest.Defer(aauthtest.Interaction().Times(1), aauthtest.Status(429, "0")))
		a := newAgentFiles(t, w)
		r := a.run(t, clk, "", "fetch", "--explain", w.Resource.URL+"/data")
		if r.code != 0 {
			t.Fatalf("fetch:\n%s", r)
		}
		got := normalize(w, r.stderr)
		want := `  → POST PS/aauth/token/person (agent token)
  ← 202 Accepted
  · polling PS/aauth/pending/ID, first poll in 0s
interaction: PS/aauth/consent CODE
  To continue, open PS/aauth/consent?code=CODE in a browser and approve the request there. Waiting…
  → GET PS/aauth/pending/ID (agent token)
  ← 429 Too Many Requests; next poll in 5s
  → GET PS/aauth/pending/ID (agent token)
  ← 200 OK
`
		if !strings.Contains(got, want) {
			t.Errorf("trace does not hold\n%s\ntrace:\n%s", want, got)
		}
	})
	t.Run("session token", func(t *testing.T) {
		w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{Resource: aauthtest.ResourceOptions{Mode: aauthtest.AccessSessionToken}})
		a := newAgentFiles(t, w)
		r := a.run(t, clk, "", "fetch", "--explain", w.Resource.URL+"/data")
		if r.code != 0 {
			t.Fatalf("fetch:\n%s", r)
		}
		want := "→ GET RS/data (agent token)\n← 200 OK, session token TOKEN\n· session token cached: TOKEN\n✓ 200 OK, presenting the agent token\n"
		if got := normalize(w, r.stderr); got != want {
			t.Errorf("trace:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("denied", func(t *testing.T) {
		w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
		w.PS.Queue(aauthtest.TokenPerson, aauthtest.Deny())
		a := newAgentFiles(t, w)
		r := a.run(t, clk, "", "fetch", "--explain", w.Resource.URL+"/data")
		if r.code != exitFailure {
			t.Fatalf("fetch:\n%s", r)
		}
		got := normalize(w, r.stderr)
		want := "  ← 403 Forbidden\n✗ request failed\naauth: GET RS/data: token request to PS/aauth/token/person failed with status 403: denied: the person denied the request\n"
		if !strings.HasSuffix(got, want) {
			t.Errorf("trace:\n%s\nwant it to end with:\n%s", got, want)
		}
	})
}

func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/x":   "http://127.0.0.1:8080",
		"HTTPS://Example.COM:443/x": "https://example.com",
		"http://example.com:80":     "http://example.com",
		"https://[::1]:8443/":       "https://[::1]:8443",
		"https://[::1]/":            "https://[::1]",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := originOf(u); got != want {
			t.Errorf("originOf(%s) = %s, want %s", in, got, want)
		}
	}
}
