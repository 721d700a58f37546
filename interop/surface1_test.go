package interop

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
	"github.com/aauthgo/aauth/psclient"
)

// TestSurface1MissionApproval is Surface 1 of the AAuth interoperability
// profile, mission approval, with the Go agent proposing to the kit's
// person server (mockin has no mission endpoint): the approval carries
// s256, mission (base64url of the blob), capabilities and a person token
// per proposed resource; mission decodes to JSON; s256 is the unpadded
// base64url SHA-256 of the decoded bytes, which the agent checks.
func TestSurface1MissionApproval(t *testing.T) {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{PersonServer: aauthtest.PersonServerOptions{RelayInteractions: true}})
	defer w.Close()
	tr := &aauth.Transport{Keys: w.AgentKeys("alice"), PersonServer: w.PS.URL}
	a, err := tr.ProposeMission(context.Background(), psclient.MissionProposal{
		Description: "# Read the data\n\nAnd nothing else.",
		Tools:       []psclient.Tool{{Name: "Read", Description: "Read the data"}},
		Resources:   []string{w.Resource.URL},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The proposal as the person server received it, and the blob as it
	// keeps it.
	var body []byte
	for _, r := range w.PS.Requests() {
		if r.Endpoint == aauthtest.EndpointMission {
			body = r.Body
		}
	}
	if body == nil {
		t.Fatal("no proposal reached the person server")
	}
	ms := w.PS.Missions()
	if len(ms) != 1 {
		t.Fatalf("%d missions", len(ms))
	}
	blob := ms[0].Blob
	if !json.Valid(blob) || string(a.Mission.Raw) != string(blob) {
		t.Fatalf("the mission blob is not JSON: %q", blob)
	}
	if psclient.MissionDigest(blob) != a.S256 || string(a.Mission.Raw) != string(blob) {
		t.Errorf("s256 %s is not the digest of the blob", a.S256)
	}
	if len(a.Capabilities) == 0 || a.PersonTokens[w.Resource.URL] == nil || len(a.PersonTokens) != 1 {
		t.Errorf("capabilities %v, person tokens for %v", a.Capabilities, keysOf(a.PersonTokens))
	}
	var proposal map[string]any
	if err := json.Unmarshal(body, &proposal); err != nil || proposal["description"] != "# Read the data\n\nAnd nothing else." {
		t.Errorf("proposal %s", body)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
