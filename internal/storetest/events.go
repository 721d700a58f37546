package storetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/aauthgo/aauth"
)

// Events records a store's events (its Options.OnEvent is Add) and fails
// the test when one carries secret, a token value that must never leak.
type Events struct {
	t      testing.TB
	secret string
	mu     sync.Mutex
	ev     []aauth.Event
}

// NewEvents returns an empty record for t that watches for secret.
func NewEvents(t testing.TB, secret string) *Events {
	return &Events{t: t, secret: secret}
}

// Add records ev and checks it does not carry the secret.
func (e *Events) Add(ev aauth.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
	text := ev.Detail + ev.URL + ev.Token
	if ev.Err != nil {
		text += ev.Err.Error()
	}
	if strings.Contains(text, e.secret) {
		e.t.Errorf("event leaks the token: %+v", ev)
	}
}

// Count returns how many events of step were recorded.
func (e *Events) Count(step aauth.Step) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.ev {
		if ev.Step == step {
			n++
		}
	}
	return n
}
