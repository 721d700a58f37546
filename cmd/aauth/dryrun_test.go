package main

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/wire"
)

// parseDryRun reads --dry-run output back into a request: "METHOD URL",
// "Name: value" lines, an empty line, the body.
func parseDryRun(t *testing.T, out string) *http.Request {
	t.Helper()
	head, body, ok := strings.Cut(out, "\n\n")
	if !ok {
		t.Fatalf("no empty line after the headers:\n%s", out)
	}
	ls := strings.Split(head, "\n")
	method, target, ok := strings.Cut(ls[0], " ")
	if !ok {
		t.Fatalf("first line %q is not METHOD URL", ls[0])
	}
	req, err := http.NewRequest(method, target, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls[1:] {
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("header line %q is not Name: value", l)
		}
		if name == "Host" {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	return req
}

// --dry-run prints a signed request that the verifier accepts, and sends
// nothing.
func TestDryRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile aauth.Profile
		args    []string
		hwk     bool
		check   func(t *testing.T, req *http.Request, res *sigverify.Result)
	}{
		{
			name:    "current GET",
			profile: aauth.ProfileCurrent,
			check: func(t *testing.T, req *http.Request, res *sigverify.Result) {
				if req.Method != "GET" || req.Header.Get("Aauth-Capabilities") != "interaction, clarification, budget" {
					t.Errorf("method %s, headers %v", req.Method, req.Header)
				}
				if want := []string{"@method", "@authority", "@path", "signature-key"}; !slices.Equal(res.Components, want) {
					t.Errorf("covered %v, want %v", res.Components, want)
				}
			},
		},
		{
			name:    "current POST with a body",
			profile: aauth.ProfileCurrent,
			args:    []string{"-d", `{"q":1}`, "-H", "Content-Type: application/json", "-H", "X-A: 1", "-H", "X-A: 2", "--capabilities", ""},
			check: func(t *testing.T, req *http.Request, res *sigverify.Result) {
				if req.Method != "POST" || string(res.Body) != `{"q":1}` || !slices.Equal(req.Header.Values("X-A"), []string{"1", "2"}) {
					t.Errorf("method %s, body %q, headers %v", req.Method, res.Body, req.Header)
				}
				// None listed: the current profile's own budget only, as
				// a fetch sends.
				if got := req.Header.Get("Aauth-Capabilities"); got != "budget" {
					t.Errorf("capabilities declared: %q, want budget", got)
				}
				if !slices.Contains(res.Components, "content-digest") || !slices.Contains(res.Components, "content-type") {
					t.Errorf("covered %v: no content-type and content-digest", res.Components)
				}
			},
		},
		{
			name:    "normalised URL and Host",
			profile: aauth.ProfileCurrent,
			args:    []string{"-X", "delete", "-H", "Host: EXAMPLE.com:80"},
			check: func(t *testing.T, req *http.Request, res *sigverify.Result) {
				if req.Method != "DELETE" || req.Host != "example.com" || req.URL.Path != "/b" {
					t.Errorf("method %s, host %q, path %q", req.Method, req.Host, req.URL.Path)
				}
			},
		},
		{
			name:    "current hwk",
			profile: aauth.ProfileCurrent,
			hwk:     true,
			check: func(t *testing.T, req *http.Request, res *sigverify.Result) {
				if res.Scheme != wire.SchemeHWK {
					t.Errorf("scheme %s", res.Scheme)
				}
			},
		},
		{
			name:    "seed with a mission",
			profile: aauth.ProfileSeed,
			args:    []string{"--mission-s256", "bWlzc2lvbg", "--mission-approver", "https://ps.example"},
			check: func(t *testing.T, req *http.Request, res *sigverify.Result) {
				m, err := wire.ParseMission(req.Header.Get("Aauth-Mission"))
				if err != nil || m.S256 != "bWlzc2lvbg" || m.Approver != "https://ps.example" {
					t.Errorf("AAuth-Mission %q: %+v %v", req.Header.Get("Aauth-Mission"), m, err)
				}
				// The seed generation declares only what is listed.
				if got := req.Header.Get("Aauth-Capabilities"); got != "interaction, clarification" {
					t.Errorf("capabilities declared: %q", got)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, clk := newWorld(t, tc.profile, aauthtest.WorldOptions{})
			a := newAgentFiles(t, w)
			target := w.Resource.URL + "/a/../b"
			args := append([]string{"fetch", "--dry-run", "--profile", tc.profile.String(), "--key", a.key}, tc.args...)
			if tc.hwk {
				args = append(args, "--hwk")
			} else {
				args = append(args, "--agent-token", "@"+a.token)
			}
			r := runEnv(t, &env{clock: clk}, "", append(args, target)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("dry run:\n%s", r)
			}
			req := parseDryRun(t, r.stdout)
			if req.Host == "" && !strings.HasPrefix(r.stdout, req.Method+" "+w.Resource.URL+"/b\n") {
				t.Errorf("first line is not the URL as sent:\n%s", r.stdout)
			}
			res, err := sigverify.Verify(req, sigverify.Options{
				Now:           clk.Now,
				RequireAlg:    tc.profile == aauth.ProfileCurrent,
				RequireDigest: tc.profile == aauth.ProfileCurrent,
			})
			if err != nil {
				t.Fatalf("the verifier refuses the output: %v\n%s", err, r.stdout)
			}
			if want, _ := keys.Thumbprint(a.signer.Public()); res.Thumbprint != want {
				t.Errorf("signed with %s, want the agent key %s", res.Thumbprint, want)
			}
			if !tc.hwk && res.Token != a.tokenValue {
				t.Errorf("Signature-Key does not carry the agent token")
			}
			if !res.Created.Equal(clk.Now().Truncate(time.Second)) {
				t.Errorf("created %v, want the injected clock's %v", res.Created, clk.Now())
			}
			if tc.check != nil {
				tc.check(t, req, res)
			}
			if n := len(w.Resource.Requests()); n != 0 {
				t.Errorf("the dry run sent %d requests", n)
			}
		})
	}
}
