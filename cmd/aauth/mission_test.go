package main

import (
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

func TestMissionCommands(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	w.PS.QueueAt(aauthtest.EndpointMission, aauthtest.Defer(aauthtest.Clarification("Which week?")))
	r := a.run(t, clk, "last week\n", "mission", "propose", "--explain",
		"--description", "Summarize the tickets", "--tool", "Summarize: summarize a document", "--tool", "Read",
		"--resource", w.Resource.URL)
	if r.code != 0 {
		t.Fatalf("propose:\n%s", r)
	}
	out := lines(r.stdout)
	ms := w.PS.Missions()
	if len(out) != 2 || len(ms) != 1 || out[0] != ms[0].S256 || out[1] != string(ms[0].Blob) {
		t.Fatalf("stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "→ POST "+w.PS.URL+"/aauth/mission (agent token)") || !strings.Contains(r.stderr, "mission approved: 1 person tokens") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	if ans := w.PS.ClarificationAnswers(); len(ans) != 1 || ans[0].Response != "last week" {
		t.Errorf("clarification answers %+v", ans)
	}
	grs := w.PS.GovernanceRequests()
	if len(grs) != 1 || len(grs[0].Tools) != 2 || grs[0].Tools[0] != (psclient.Tool{Name: "Summarize", Description: "summarize a document"}) {
		t.Errorf("proposal %+v", grs)
	}
	s256 := out[0]

	if r := a.run(t, clk, "", "mission", "update", "--mission", s256, "--description", "Also last month"); r.code != 0 || !psclient.ValidDigest(strings.TrimSpace(r.stdout)) {
		t.Fatalf("update:\n%s", r)
	}
	if r := a.run(t, clk, "", "permission", "--action", "SendEmail", "--parameters", `{"to":"bob"}`, "--mission", s256); r.code != 0 || r.stdout != "granted\n" {
		t.Fatalf("permission:\n%s", r)
	}
	w.PS.QueueAt(aauthtest.EndpointPermission, aauthtest.DenyPermission("Not to Bob."))
	r = a.run(t, clk, "", "permission", "--action", "SendEmail")
	if r.code != 1 || !strings.Contains(wantOneErrorLine(t, r), `permission for "SendEmail" denied: Not to Bob.`) {
		t.Fatalf("denied:\n%s", r)
	}
	if r := a.run(t, clk, "", "audit", "--mission", s256, "--action", "SendEmail", "--result", `{"status":"sent"}`); r.code != 0 || r.stdout != "recorded\n" {
		t.Fatalf("audit:\n%s", r)
	}
	if r := a.run(t, clk, "", "mission", "complete", "--mission", s256, "--summary", "Done."); r.code != 0 || r.stdout != "completed\n" {
		t.Fatalf("complete:\n%s", r)
	}
	r = a.run(t, clk, "", "audit", "--mission", s256, "--action", "late")
	if r.code != 1 || !strings.Contains(wantOneErrorLine(t, r), "mission "+s256+" terminated (completed)") {
		t.Fatalf("after completion:\n%s", r)
	}
}

func TestMissionCommandUsage(t *testing.T) {
	w, clk := newWorld(t, aauth.ProfileCurrent, aauthtest.WorldOptions{})
	a := newAgentFiles(t, w)
	for _, args := range [][]string{
		{"mission"},
		{"mission", "launch"},
		{"mission", "propose"},
		{"mission", "propose", "--description", "d", "--summary", "s"},
		{"mission", "complete", "--mission", "x"},
		{"audit", "--action", "x"},
		{"audit", "--mission", "x"},
		{"permission"},
		{"permission", "--action", "x", "--parameters", "[1]"},
		{"permission", "--action", "x", "--profile", "seed"},
		{"permission", "--action", "x", "extra"},
	} {
		var r result
		if args[0] == "mission" && len(args) == 1 {
			r = runCmd(t, "", args...)
		} else {
			r = a.run(t, clk, "", args[0], args[1:]...)
		}
		if r.code != 2 {
			t.Errorf("%v: exit %d\n%s", args, r.code, r)
		}
	}
	if r := runCmd(t, "", "mission", "-h"); r.code != 0 || !strings.Contains(r.stdout, "aauth mission propose") {
		t.Errorf("mission -h:\n%s", r)
	}
	// A mission s256 that would steer the URL is refused before sending.
	r := a.run(t, clk, "", "mission", "update", "--mission", "../token", "--description", "d")
	if r.code != 1 || !strings.Contains(r.stderr, "not an unpadded base64url SHA-256") {
		t.Errorf("path steering:\n%s", r)
	}
}
