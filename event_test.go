package aauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/aauthtest"
)

func TestEventString(t *testing.T) {
	const tok = "eyJhbGciOiJFZDI1NTE5In0.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl"
	for _, c := range []struct {
		ev   aauth.Event
		want string
	}{
		{aauth.Event{Step: aauth.StepSigned, Method: "GET", URL: "https://r.example/x", Status: 401, Credential: "agent", Detail: "sent GET presenting the agent token"},
			"signed GET https://r.example/x → 401 (agent token): sent GET presenting the agent token"},
		{aauth.Event{Step: aauth.StepTokenCached, Credential: "auth", Token: aauth.Redact(tok), Detail: "auth token cached"},
			"token-cached (auth token): auth token cached"},
		{aauth.Event{Step: aauth.StepError, Method: "POST", URL: "https://r.example/y", Detail: "request failed", Err: errors.New("aauth: boom")},
			"error POST https://r.example/y: request failed: aauth: boom"},
		{aauth.Event{Step: aauth.StepClarification, Detail: "question: why?\r\nInjected: line"},
			"clarification: question: why?  Injected: line"},
		{aauth.Event{}, ""},
	} {
		if got := c.ev.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
		if got := fmt.Sprintf("%v|%s", c.ev, c.ev); got != c.want+"|"+c.want {
			t.Errorf("%%v|%%s = %q", got)
		}
	}
}

// Every event of a whole flow prints as one line without a token.
func TestEventStringFromFlow(t *testing.T) {
	w := aauthtest.NewWorld(aauthtest.WorldOptions{})
	defer w.Close()
	w.PS.Queue(aauthtest.TokenAuth, aauthtest.Defer(aauthtest.Interaction()))
	var mu sync.Mutex
	var lines []string
	src := w.AgentKeys("alice")
	km, err := src.KeyMaterial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := (&aauth.Transport{
		Keys:          src,
		PersonServer:  w.PS.URL,
		OnInteraction: func(ctx context.Context, url, code string) error { return w.PS.CompleteInteraction(code) },
		OnEvent: func(ev aauth.Event) {
			mu.Lock()
			lines = append(lines, ev.String())
			mu.Unlock()
		},
	}).Client()
	resp, err := client.Get(w.Resource.URL + "/data")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	secrets := []string{km.Key.Token}
	for _, is := range w.PS.Issued() {
		secrets = append(secrets, is.Token)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) < 5 {
		t.Fatalf("%d events", len(lines))
	}
	for _, l := range lines {
		if l == "" || strings.ContainsAny(l, "\r\n") {
			t.Errorf("event line %q", l)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(l, s) {
				t.Errorf("event line %q shows a token", l)
			}
		}
	}
	if !strings.HasPrefix(lines[0], "signed GET "+w.Resource.URL+"/data → 401 (agent token): ") {
		t.Errorf("first event %q", lines[0])
	}
}
