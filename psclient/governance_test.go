package psclient_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/wire"
)

// govServer is a person server publishing every governance endpoint, whose
// handlers the test fills in.
func govServer(t *testing.T) *psServer {
	t.Helper()
	s := newPSServer(t)
	s.Mux.HandleFunc("GET "+psclient.WellKnownPath, func(w http.ResponseWriter, r *http.Request) {
		doc := s.metadataDoc(wire.ProfileCurrent)
		doc["mission_endpoint"] = s.URL + "/mission"
		doc["permission_endpoint"] = s.URL + "/permission"
		doc["audit_endpoint"] = s.URL + "/audit"
		doc["interaction_endpoint"] = s.URL + "/interaction"
		psJSON(w, 200, doc)
	})
	return s
}

// govBlob is an approved mission and its approval document.
const govBlob = `{"agent":"aauth:agent@agent.example","approved_at":"2026-04-07T14:30:00Z","expires_at":"2026-05-07T14:30:00Z","description":"Plan a trip","approved_tools":[{"name":"WebSearch","description":"Search the web"}],"approved_resources":["https://flights.example"]}`

func govS256() string { return psclient.MissionDigest([]byte(govBlob)) }

func govPersonToken(aud, s256 string, exp int64) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"typ": "aa-person+jwt", "alg": "Ed25519"}) + "." +
		enc(map[string]any{"aud": aud, "mission_s256": s256, "exp": exp, "sub": "p1"}) + "." + enc("sig")
}

func govApproval(extra map[string]any) map[string]any {
	a := map[string]any{
		"s256":         govS256(),
		"mission":      base64.RawURLEncoding.EncodeToString([]byte(govBlob)),
		"capabilities": []string{"interaction"},
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func govCommon(s *psServer) (string, *psclient.MetadataCache) {
	return s.URL, &psclient.MetadataCache{}
}

// lastBody returns the body of the last request to method path.
func lastBody(t *testing.T, s *psServer, method, path string) psRec {
	t.Helper()
	reqs := s.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && reqs[i].Path == path {
			return reqs[i]
		}
	}
	t.Fatalf("no %s %s", method, path)
	return psRec{}
}

func TestProposeMission(t *testing.T) {
	s := govServer(t)
	flights := govPersonToken("https://flights.example", govS256(), 1778000000)
	other := govPersonToken("https://other.example", govS256(), 1778000000)
	s.Mux.HandleFunc("POST /mission", func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, govApproval(map[string]any{"person_tokens": map[string]any{
			"https://flights.example": flights,
			"https://other.example":   other, // not proposed
		}}))
	})
	ps, cache := govCommon(s)
	a, err := psclient.ProposeMission(psCtx(t), psTestClient(wire.ProfileCurrent, wire.CapabilityInteraction), psclient.MissionProposal{
		PersonServer: ps, Cache: cache,
		Description: "# Plan a trip\n\nBook \"flights\" & hotels <soon>.",
		Tools:       []psclient.Tool{{Name: "WebSearch", Description: "Search the web"}, {Name: "BookFlight"}},
		Resources:   []string{"https://flights.example", "https://hotels.example"},
		Extra:       map[string]any{"z_note": "x", "description": "ignored"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := lastBody(t, s, "POST", "/mission")
	want := `{"description":"# Plan a trip\n\nBook \"flights\" & hotels <soon>.","tools":[{"name":"WebSearch","description":"Search the web"},{"name":"BookFlight"}],"resources":["https://flights.example","https://hotels.example"],"z_note":"x"}`
	if r.Body != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	checkSigned(t, r, wire.ProfileCurrent)
	if r.Header.Get("Prefer") != "wait=45" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("AAuth-Capabilities") != "" {
		t.Errorf("headers %v", r.Header)
	}
	if a.S256 != govS256() || a.Mission.Description != "Plan a trip" || len(a.Capabilities) != 1 {
		t.Errorf("approval %+v", a)
	}
	if len(a.PersonTokens) != 1 || a.PersonTokens["https://flights.example"] == nil {
		t.Errorf("person tokens %v", a.PersonTokens)
	}
	if len(a.Ignored) != 1 || a.Ignored[0].Resource != "https://other.example" || a.Ignored[0].Reason != "the resource was not proposed" {
		t.Errorf("ignored %v", a.Ignored)
	}
}

func TestProposeMissionDeferredWithClarification(t *testing.T) {
	s := govServer(t)
	s.Mux.HandleFunc("POST /mission", func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/pending/1", "0", "requirement=clarification", map[string]any{"status": "pending", "clarification": "Which dates?"})
	})
	answered := false
	s.Mux.HandleFunc("POST /pending/1", func(w http.ResponseWriter, r *http.Request) {
		answered = true
		psPending(w, "/pending/1", "0", "", nil)
	})
	s.Mux.HandleFunc("GET /pending/1", func(w http.ResponseWriter, r *http.Request) {
		if !answered {
			psPending(w, "/pending/1", "0", "", nil)
			return
		}
		psJSON(w, 200, govApproval(nil))
	})
	ps, cache := govCommon(s)
	a, err := psclient.ProposeMission(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.MissionProposal{
		PersonServer: ps, Cache: cache, Description: "Plan a trip",
		Poll: psclient.PollOptions{Clock: psFake(), OnClarification: func(_ context.Context, q psclient.Clarification) (string, error) {
			return "May 7 to 14", nil
		}},
	})
	if err != nil || a.S256 != govS256() {
		t.Fatalf("%+v, %v", a, err)
	}
	if r := lastBody(t, s, "POST", "/pending/1"); r.Body != `{"action":"clarification_response","clarification_response":"May 7 to 14"}` {
		t.Errorf("clarification answer %s", r.Body)
	}
	if r := lastBody(t, s, "POST", "/mission"); r.Body != `{"description":"Plan a trip"}` {
		t.Errorf("minimal proposal %s", r.Body)
	}
}

func TestProposeMissionRefused(t *testing.T) {
	for name, tc := range map[string]struct {
		h    http.HandlerFunc
		want []error
		as   func(error) bool
	}{
		"digest mismatch": {func(w http.ResponseWriter, r *http.Request) {
			psJSON(w, 200, govApproval(map[string]any{"s256": psclient.MissionDigest([]byte("other"))}))
		}, []error{psclient.ErrInvalidMission}, nil},
		"not base64url": {func(w http.ResponseWriter, r *http.Request) {
			psJSON(w, 200, govApproval(map[string]any{"mission": "eyJ!!"}))
		}, []error{psclient.ErrInvalidMission}, nil},
		"denied": {func(w http.ResponseWriter, r *http.Request) {
			psProblem(w, 403, "denied", "no")
		}, []error{psclient.ErrDenied}, nil},
		"user unreachable": {func(w http.ResponseWriter, r *http.Request) {
			psProblem(w, 403, "user_unreachable", "no channel")
		}, []error{psclient.ErrUserUnreachable}, nil},
		"huge": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"pad":"` + strings.Repeat("x", 2<<20) + `"}`))
		}, []error{wire.ErrBodyTooLarge}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			s := govServer(t)
			s.Mux.HandleFunc("POST /mission", tc.h)
			ps, cache := govCommon(s)
			a, err := psclient.ProposeMission(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.MissionProposal{PersonServer: ps, Cache: cache, Description: "d"})
			if a != nil {
				t.Fatalf("approval %+v", a)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v does not match %v", err, w)
				}
			}
			if strings.Count(err.Error(), "aauth: ") != 1 {
				t.Errorf("prefix repeated: %v", err)
			}
		})
	}
}

func TestGovernanceArgumentsRefusedBeforeSending(t *testing.T) {
	s := govServer(t)
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	ctx := psCtx(t)
	for name, err := range map[string]error{
		"no description": func() error {
			_, err := psclient.ProposeMission(ctx, c, psclient.MissionProposal{PersonServer: ps, Cache: cache})
			return err
		}(),
		"resource with a path": func() error {
			_, err := psclient.ProposeMission(ctx, c, psclient.MissionProposal{PersonServer: ps, Cache: cache, Description: "d", Resources: []string{"https://r.example/x"}})
			return err
		}(),
		"tool without name": func() error {
			_, err := psclient.ProposeMission(ctx, c, psclient.MissionProposal{PersonServer: ps, Cache: cache, Description: "d", Tools: []psclient.Tool{{}}})
			return err
		}(),
		"update path injection": func() error {
			_, err := psclient.UpdateMission(ctx, c, psclient.MissionUpdate{PersonServer: ps, Cache: cache, MissionS256: "../../admin?x=", Description: "d"})
			return err
		}(),
		"update no mission": func() error {
			_, err := psclient.UpdateMission(ctx, c, psclient.MissionUpdate{PersonServer: ps, Cache: cache, Description: "d"})
			return err
		}(),
		"complete no summary":  psclient.CompleteMission(ctx, c, psclient.MissionCompletion{PersonServer: ps, Cache: cache, MissionS256: govS256()}),
		"permission no action": psclient.RequestPermission(ctx, c, psclient.PermissionRequest{PersonServer: ps, Cache: cache}),
		"parameters an array":  psclient.RequestPermission(ctx, c, psclient.PermissionRequest{PersonServer: ps, Cache: cache, Action: "a", Parameters: []int{1}}),
		"audit no mission":     psclient.Audit(ctx, c, psclient.AuditRecord{PersonServer: ps, Cache: cache, Action: "a"}),
		"relay no code": func() error {
			_, err := psclient.RelayInteraction(ctx, c, psclient.InteractionRelay{PersonServer: ps, Cache: cache, URL: "https://r.example/i"})
			return err
		}(),
		"relay URL with query": func() error {
			_, err := psclient.RelayInteraction(ctx, c, psclient.InteractionRelay{PersonServer: ps, Cache: cache, URL: "https://r.example/i?x=1", Code: "C"})
			return err
		}(),
		"relay URL http": func() error {
			_, err := psclient.RelayInteraction(ctx, c, psclient.InteractionRelay{PersonServer: ps, Cache: cache, URL: "http://r.example/i", Code: "C"})
			return err
		}(),
		"relay type question": func() error {
			_, err := psclient.RelayInteraction(ctx, c, psclient.InteractionRelay{PersonServer: ps, Cache: cache, Type: "question", URL: "https://r.example/i", Code: "C"})
			return err
		}(),
		"ask nothing": func() error {
			_, err := psclient.Ask(ctx, c, psclient.QuestionRelay{PersonServer: ps, Cache: cache})
			return err
		}(),
		"seed profile":    psclient.RequestPermission(ctx, psTestClient(wire.ProfileSeed), psclient.PermissionRequest{PersonServer: ps, Cache: cache, Profile: wire.ProfileSeed, Action: "a"}),
		"unknown profile": psclient.RequestPermission(ctx, c, psclient.PermissionRequest{PersonServer: ps, Cache: cache, Profile: wire.Profile(9), Action: "a"}),
		"no client":       psclient.RequestPermission(ctx, nil, psclient.PermissionRequest{PersonServer: ps, Cache: cache, Action: "a"}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Count(err.Error(), "aauth: ") != 1 {
			t.Errorf("%s: prefix repeated: %v", name, err)
		}
	}
	for _, r := range s.requests() {
		if r.Method == "POST" {
			t.Errorf("sent %s %s", r.Method, r.Path)
		}
	}
}

func TestUpdateAndCompleteMission(t *testing.T) {
	s := govServer(t)
	s256 := govS256()
	upd := psclient.MissionDigest([]byte("the update"))
	s.Mux.HandleFunc("POST /mission/"+s256, func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Action string }
		json.NewDecoder(r.Body).Decode(&b)
		if b.Action == "update" {
			psJSON(w, 200, map[string]any{"s256": upd})
			return
		}
		w.WriteHeader(200)
	})
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	got, err := psclient.UpdateMission(psCtx(t), c, psclient.MissionUpdate{PersonServer: ps, Cache: cache, MissionS256: s256, Description: "Hotel moved"})
	if err != nil || got != upd {
		t.Fatalf("update %q, %v", got, err)
	}
	if r := lastBody(t, s, "POST", "/mission/"+s256); r.Body != `{"action":"update","description":"Hotel moved"}` {
		t.Errorf("update body %s", r.Body)
	} else {
		checkSigned(t, r, wire.ProfileCurrent)
	}
	if err := psclient.CompleteMission(psCtx(t), c, psclient.MissionCompletion{PersonServer: ps, Cache: cache, MissionS256: s256, Summary: "Booked."}); err != nil {
		t.Fatal(err)
	}
	if r := lastBody(t, s, "POST", "/mission/"+s256); r.Body != `{"action":"completion","summary":"Booked."}` {
		t.Errorf("completion body %s", r.Body)
	}
}

func TestMissionErrors(t *testing.T) {
	s := govServer(t)
	s256 := govS256()
	term := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(403)
		w.Write([]byte(`{"error":"mission_terminated","mission_status":"terminated","termination_reason":"revoked","detail":"The person withdrew it."}`))
	}
	s.Mux.HandleFunc("POST /mission/"+s256, term)
	s.Mux.HandleFunc("POST /permission", term)
	s.Mux.HandleFunc("POST /audit", term)
	s.Mux.HandleFunc("POST /interaction", term)
	other := psclient.MissionDigest([]byte("x"))
	s.Mux.HandleFunc("POST /mission/"+other, func(w http.ResponseWriter, r *http.Request) { psProblem(w, 404, "mission_not_found", "") })
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	ctx := psCtx(t)
	_, errUpdate := psclient.UpdateMission(ctx, c, psclient.MissionUpdate{PersonServer: ps, Cache: cache, MissionS256: s256, Description: "d"})
	_, errAsk := psclient.Ask(ctx, c, psclient.QuestionRelay{PersonServer: ps, Cache: cache, Question: "q?", MissionS256: s256})
	for name, err := range map[string]error{
		"update":     errUpdate,
		"completion": psclient.CompleteMission(ctx, c, psclient.MissionCompletion{PersonServer: ps, Cache: cache, MissionS256: s256, Summary: "s"}),
		"permission": psclient.RequestPermission(ctx, c, psclient.PermissionRequest{PersonServer: ps, Cache: cache, Action: "a", MissionS256: s256}),
		"audit":      psclient.Audit(ctx, c, psclient.AuditRecord{PersonServer: ps, Cache: cache, Action: "a", MissionS256: s256}),
		"question":   errAsk,
	} {
		me := psMustAs[*psclient.MissionError](t, err)
		if !errors.Is(err, psclient.ErrMissionTerminated) || me.Reason != psclient.TerminationRevoked || me.MissionS256 != s256 || me.Detail != "The person withdrew it." {
			t.Errorf("%s: %+v", name, me)
		}
		re := psMustAs[*psclient.RequestError](t, err)
		if re.StatusCode != 403 {
			t.Errorf("%s: request error %+v", name, re)
		}
		if strings.Count(err.Error(), "aauth: ") != 1 {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := psclient.UpdateMission(ctx, c, psclient.MissionUpdate{PersonServer: ps, Cache: cache, MissionS256: other, Description: "d"})
	if !errors.Is(err, psclient.ErrMissionNotFound) || errors.Is(err, psclient.ErrMissionTerminated) {
		t.Errorf("not found: %v", err)
	}
}

func TestRequestPermission(t *testing.T) {
	s := govServer(t)
	var answer string
	s.Mux.HandleFunc("POST /permission", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	})
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	req := psclient.PermissionRequest{
		PersonServer: ps, Cache: cache, Action: "SendEmail", Description: "Send the itinerary",
		Parameters: map[string]any{"to": "user@example.com", "subject": "Trip <draft>"}, MissionS256: govS256(),
	}
	answer = `{"permission":"granted"}`
	if err := psclient.RequestPermission(psCtx(t), c, req); err != nil {
		t.Fatal(err)
	}
	r := lastBody(t, s, "POST", "/permission")
	if want := `{"action":"SendEmail","description":"Send the itinerary","parameters":{"subject":"Trip <draft>","to":"user@example.com"},"mission_s256":"` + govS256() + `"}`; r.Body != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	checkSigned(t, r, wire.ProfileCurrent)

	answer = `{"permission":"denied","reason":"Not to that address."}`
	err := psclient.RequestPermission(psCtx(t), c, req)
	pd := psMustAs[*psclient.PermissionDeniedError](t, err)
	if !errors.Is(err, psclient.ErrDenied) || pd.Reason != "Not to that address." || pd.Action != "SendEmail" {
		t.Errorf("denied: %v", err)
	}
	for _, a := range []string{`{"permission":"maybe"}`, `{}`, `{"permission":"denied","permission":"granted"}`} {
		answer = a
		err := psclient.RequestPermission(psCtx(t), c, req)
		if !errors.Is(err, psclient.ErrMalformedAnswer) {
			t.Errorf("%s: %v", a, err)
		}
		psMustAs[*psclient.RequestError](t, err)
	}
	// Parameters may be raw JSON, sent as written.
	answer = `{"permission":"granted"}`
	req.Parameters = json.RawMessage(`{"b":1,"a":2}`)
	req.Description, req.MissionS256 = "", ""
	if err := psclient.RequestPermission(psCtx(t), c, req); err != nil {
		t.Fatal(err)
	}
	if r := lastBody(t, s, "POST", "/permission"); r.Body != `{"action":"SendEmail","parameters":{"b":1,"a":2}}` {
		t.Errorf("raw parameters %s", r.Body)
	}
}

func TestRequestPermissionDeferred(t *testing.T) {
	s := govServer(t)
	s.Mux.HandleFunc("POST /permission", func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/pending/p", "0", "requirement=approval", nil)
	})
	s.Mux.HandleFunc("GET /pending/p", psSequence(
		func(w http.ResponseWriter, r *http.Request) { psPending(w, "/pending/p", "0", "", nil) },
		func(w http.ResponseWriter, r *http.Request) { psProblem(w, 403, "denied", "The person said no.") },
	))
	ps, cache := govCommon(s)
	err := psclient.RequestPermission(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.PermissionRequest{PersonServer: ps, Cache: cache, Action: "Rm", Poll: psclient.PollOptions{Clock: psFake()}})
	if !errors.Is(err, psclient.ErrDenied) {
		t.Fatalf("deferred denial: %v", err)
	}
	re := psMustAs[*psclient.RequestError](t, err)
	psMustAs[*psclient.PollError](t, err)
	if !strings.Contains(re.Error(), "after deferral") {
		t.Errorf("message %q", re)
	}
}

func TestAudit(t *testing.T) {
	s := govServer(t)
	status := 201
	s.Mux.HandleFunc("POST /audit", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	rec := psclient.AuditRecord{
		PersonServer: ps, Cache: cache, MissionS256: govS256(), Action: "WebSearch", Description: "Searched flights",
		Parameters: map[string]any{"query": "flights to Tokyo"}, Result: struct {
			Status string `json:"status"`
		}{"completed"},
	}
	if err := psclient.Audit(psCtx(t), c, rec); err != nil {
		t.Fatal(err)
	}
	r := lastBody(t, s, "POST", "/audit")
	if want := `{"mission_s256":"` + govS256() + `","action":"WebSearch","description":"Searched flights","parameters":{"query":"flights to Tokyo"},"result":{"status":"completed"}}`; r.Body != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	if r.Header.Get("Prefer") != "" {
		t.Errorf("audit asks to wait: %q", r.Header.Get("Prefer"))
	}
	checkSigned(t, r, wire.ProfileCurrent)
	status = 400
	if err := psclient.Audit(psCtx(t), c, rec); err == nil {
		t.Error("a 400 was taken")
	}
}

func TestRelayInteraction(t *testing.T) {
	s := govServer(t)
	var h http.HandlerFunc
	s.Mux.HandleFunc("POST /interaction", func(w http.ResponseWriter, r *http.Request) { h(w, r) })
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	relay := psclient.InteractionRelay{PersonServer: ps, Cache: cache, URL: "https://r.example/interact", Code: "X7K2-M9P4", Description: "Confirm", MaxWait: 1500 * time.Millisecond, MissionS256: govS256()}

	h = func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/relay/1#frag", "0", "requirement=approval", nil)
	}
	loc, err := psclient.RelayInteraction(psCtx(t), c, relay)
	if err != nil || loc != s.URL+"/relay/1" {
		t.Fatalf("relay: %q, %v", loc, err)
	}
	r := lastBody(t, s, "POST", "/interaction")
	if want := `{"type":"interaction","description":"Confirm","url":"https://r.example/interact","code":"X7K2-M9P4","max_wait":2,"mission_s256":"` + govS256() + `"}`; r.Body != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	checkSigned(t, r, wire.ProfileCurrent)

	relay.Type, relay.MaxWait, relay.Description, relay.MissionS256 = psclient.RelayTypePayment, 0, "", ""
	h = func(w http.ResponseWriter, r *http.Request) { psJSON(w, 200, map[string]any{"status": "completed"}) }
	if loc, err := psclient.RelayInteraction(psCtx(t), c, relay); err != nil || loc != "" {
		t.Fatalf("relay 200: %q, %v", loc, err)
	}
	if r := lastBody(t, s, "POST", "/interaction"); r.Body != `{"type":"payment","url":"https://r.example/interact","code":"X7K2-M9P4"}` {
		t.Errorf("payment body %s", r.Body)
	}

	for name, tc := range map[string]struct {
		h    http.HandlerFunc
		want error
	}{
		"unavailable": {func(w http.ResponseWriter, r *http.Request) {
			psProblem(w, 424, "interaction_unavailable", "no channel")
		}, psclient.ErrInteractionUnavailable},
		"424 without code": {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(424) }, psclient.ErrInteractionUnavailable},
		"rate limited": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			psProblem(w, 429, "slow_down", "")
		}, psclient.ErrRateLimited},
		"429 without code": {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, psclient.ErrRateLimited},
		"user unreachable": {func(w http.ResponseWriter, r *http.Request) { psProblem(w, 403, "user_unreachable", "") }, psclient.ErrUserUnreachable},
		"no location":      {func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) }, psclient.ErrLocation},
		"other origin": {func(w http.ResponseWriter, r *http.Request) {
			psPending(w, "https://elsewhere.example/relay", "0", "", nil)
		}, psclient.ErrLocation},
	} {
		h = tc.h
		_, err := psclient.RelayInteraction(psCtx(t), c, relay)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v", name, err)
		}
		if name == "unavailable" && errors.Is(err, psclient.ErrUserUnreachable) {
			t.Errorf("424 matches user_unreachable")
		}
	}
}

func TestAsk(t *testing.T) {
	s := govServer(t)
	s.Mux.HandleFunc("POST /interaction", func(w http.ResponseWriter, r *http.Request) {
		psPending(w, "/pending/q", "0", "", nil)
	})
	s.Mux.HandleFunc("GET /pending/q", func(w http.ResponseWriter, r *http.Request) {
		psJSON(w, 200, map[string]any{"answer": "Yes, the refundable one."})
	})
	ps, cache := govCommon(s)
	a, err := psclient.Ask(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.QuestionRelay{PersonServer: ps, Cache: cache, Question: "Refundable?", Description: "Two fares", Poll: psclient.PollOptions{Clock: psFake()}})
	if err != nil || a != "Yes, the refundable one." {
		t.Fatalf("%q, %v", a, err)
	}
	if r := lastBody(t, s, "POST", "/interaction"); r.Body != `{"type":"question","description":"Two fares","question":"Refundable?"}` {
		t.Errorf("body %s", r.Body)
	}
}

func TestGovernanceEndpointMissing(t *testing.T) {
	s := newPSServer(t)
	s.serveMetadata(wire.ProfileCurrent)
	ps, cache := govCommon(s)
	c := psTestClient(wire.ProfileCurrent)
	_, err := psclient.ProposeMission(psCtx(t), c, psclient.MissionProposal{PersonServer: ps, Cache: cache, Description: "d"})
	me := psMustAs[*psclient.MetadataError](t, err)
	if me.Code != psclient.MetadataEndpointMissing || me.Field != "mission_endpoint" {
		t.Errorf("%+v", me)
	}
	err = psclient.RequestPermission(psCtx(t), c, psclient.PermissionRequest{PersonServer: ps, Cache: cache, Action: "a"})
	if me := psMustAs[*psclient.MetadataError](t, err); me.Field != "permission_endpoint" {
		t.Errorf("%+v", me)
	}
}

func TestPersonTokenMissionTerminated(t *testing.T) {
	s := govServer(t)
	s.Mux.HandleFunc("POST /aauth/person", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(403)
		w.Write([]byte(`{"error":"mission_terminated","mission_status":"terminated","termination_reason":"expired"}`))
	})
	ps, cache := govCommon(s)
	_, err := psclient.RequestPersonToken(psCtx(t), psTestClient(wire.ProfileCurrent), psclient.PersonTokenRequest{PersonServer: ps, Cache: cache, Resource: "https://r.example", MissionS256: govS256()})
	me := psMustAs[*psclient.MissionError](t, err)
	ee := psMustAs[*psclient.ExchangeError](t, err)
	if me.Reason != psclient.TerminationExpired || me.MissionS256 != govS256() || ee.StatusCode != 403 || !errors.Is(err, psclient.ErrMissionTerminated) {
		t.Errorf("%+v %+v", me, ee)
	}
}
