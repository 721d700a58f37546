package aauthtest

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// failureLimit counts each agent's failed requests at an endpoint in a
// window of time, and says when an agent has had too many (AAuth -11
// Mission Endpoint Errors: a PS SHOULD rate-limit repeated failures). It
// keeps an agent identifier and a count, no mission reference, and at
// most maxFailureAgents agents.
type failureLimit struct {
	max    int // failures allowed in a window; 0: no limit
	window time.Duration

	mu      sync.Mutex
	byAgent map[string]*failureWindow
}

// failureWindow is one agent's failures since start.
type failureWindow struct {
	start time.Time
	n     int
}

// Defaults of the mission endpoint's limit, and the bound on the agents
// tracked: an agent flood costs at most this many small entries, the
// oldest window forgotten first.
const (
	defaultMissionFailures      = 10
	defaultMissionFailureWindow = time.Minute
	maxFailureAgents            = 1024
)

func newFailureLimit(max int, window time.Duration) *failureLimit {
	switch {
	case max == 0:
		max = defaultMissionFailures
	case max < 0:
		max = 0
	}
	if window <= 0 {
		window = defaultMissionFailureWindow
	}
	return &failureLimit{max: max, window: window, byAgent: map[string]*failureWindow{}}
}

// blocked reports whether agent has used up its failures in the window
// holding now, and when that window ends.
func (l *failureLimit) blocked(agent string, now time.Time) (time.Time, bool) {
	if l.max == 0 {
		return time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.byAgent[agent]
	if f == nil || !now.Before(f.start.Add(l.window)) {
		return time.Time{}, false
	}
	return f.start.Add(l.window), f.n >= l.max
}

// fail counts a failure of agent at now.
func (l *failureLimit) fail(agent string, now time.Time) {
	if l.max == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.byAgent[agent]; f != nil && now.Before(f.start.Add(l.window)) {
		f.n++
		return
	}
	if _, ok := l.byAgent[agent]; !ok && len(l.byAgent) >= maxFailureAgents {
		l.evict(now)
	}
	l.byAgent[agent] = &failureWindow{start: now, n: 1}
}

// evict forgets the windows that have ended and, if that frees nothing,
// the oldest. l.mu is held.
func (l *failureLimit) evict(now time.Time) {
	oldest, at := "", time.Time{}
	for k, f := range l.byAgent {
		if !now.Before(f.start.Add(l.window)) {
			delete(l.byAgent, k)
			continue
		}
		if oldest == "" || f.start.Before(at) {
			oldest, at = k, f.start
		}
	}
	if len(l.byAgent) >= maxFailureAgents {
		delete(l.byAgent, oldest)
	}
}

// reset forgets every agent's failures.
func (l *failureLimit) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.byAgent)
}

// tracked is how many agents l holds (for tests of its bound).
func (l *failureLimit) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byAgent)
}

// limitMissionFailures answers 429 to an agent that has failed too often
// at the mission endpoint, and reports whether it did. Otherwise it
// returns a func to call once the request is answered, which counts the
// answer if it is a failure (4xx or 5xx).
func (ps *PersonServer) limitMissionFailures(w http.ResponseWriter, rec *RecordedRequest, agent string) (done func(), limited bool) {
	now := ps.now()
	if until, ok := ps.missionFailures.blocked(agent, now); ok {
		secs := int((until.Sub(now) + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if ps.logf != nil {
			ps.logf("aauthtest: person server: agent %s rate-limited at the mission endpoint for %d s after %d failures", shorten(agent), secs, ps.missionFailures.max)
		}
		ps.problem(w, rec, http.StatusTooManyRequests, "slow_down", "too many failed mission requests; retry after "+strconv.Itoa(secs)+" s")
		return nil, true
	}
	sw, _ := w.(*statusWriter)
	return func() {
		if sw != nil && sw.status >= http.StatusBadRequest {
			ps.missionFailures.fail(agent, now)
		}
	}, false
}
