// Command testing shows how to test your own agent with aauthtest. The
// agent is fetchReport, written against a plain *http.Client; main_test.go
// runs it against in-process AAuth servers: the whole flow, a person who
// approves, a person who refuses, token reuse, and what the resource saw.
//
// main itself runs the agent once against a local stand-in (aauthtest on
// 127.0.0.1) and prints the report.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

// fetchReport is the agent under test: it fetches today's report from the
// resource at baseURL. It takes any *http.Client: the program passes an
// aauth.Transport's client, and so do its tests, wired to aauthtest.
func fetchReport(ctx context.Context, client *http.Client, baseURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/report", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("report: %s", resp.Status)
	}
	var out struct {
		Report string `json:"report"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return out.Report, nil
}

// reportHandler is the resource's API, behind aauthtest's access checks:
// it only runs for calls whose signature and token verified.
func reportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/report" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"report": "all systems nominal"})
	})
}

func main() {
	// ---- Local stand-in (a real program has none of this) ----
	world := aauthtest.NewWorld(aauthtest.WorldOptions{
		Resource: aauthtest.ResourceOptions{Handler: reportHandler()},
	})
	defer world.Close()

	// ---- A real program keeps this, with its own keys and URLs ----
	client := (&aauth.Transport{Keys: world.AgentKeys("alice"), PersonServer: world.PS.URL}).Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	report, err := fetchReport(ctx, client, world.Resource.URL)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("report:", report)
}
