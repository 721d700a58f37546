package aauth_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// A mission from proposal to completion, against the kit's servers: the
// person approves it with a person token for the resource, the agent acts
// within it (a request, a permission, an audit record), then proposes its
// completion, which the person accepts.
func ExampleTransport_ProposeMission() {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	tr := &aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL}
	defer tr.Close() // sends any audit records still queued
	ctx := context.Background()

	approval, err := tr.ProposeMission(ctx, psclient.MissionProposal{
		Description: "Summarize this week's data.",
		Tools:       []psclient.Tool{{Name: "Summarize", Description: "Summarize a document"}},
		Resources:   []string{w.Resource.URL},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("approved:", approval.Mission.Description)

	resp, err := tr.Client().Get(w.Resource.URL + "/data") // presents the approval's person token
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("data:", resp.Status)

	if err := tr.RequestPermission(ctx, psclient.PermissionRequest{Action: "SendEmail", Description: "Mail the summary"}); err != nil {
		log.Fatal(err) // never take the action without a nil error
	}
	fmt.Println("permission granted")
	tr.Audit(psclient.AuditRecord{Action: "SendEmail", Result: map[string]string{"status": "sent"}})

	if err := tr.CompleteMission(ctx, "Summarized the data and mailed it."); err != nil {
		log.Fatal(err)
	}
	_, err = tr.Client().Get(w.Resource.URL + "/data")
	fmt.Println("mission over:", errors.Is(err, psclient.ErrMissionTerminated))
	// Output:
	// approved: Summarize this week's data.
	// data: 200 OK
	// permission granted
	// mission over: true
}
