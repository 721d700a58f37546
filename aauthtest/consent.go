package aauthtest

import "sync"

// consentResult is how a request that a consent hangs on ended.
type consentResult uint8

const (
	consentApproved consentResult = iota + 1
	consentDenied
	consentCanceled
)

func outcomeResult(o outcome) consentResult {
	if o.kind == endApprove {
		return consentApproved
	}
	return consentDenied
}

// ended tells d's observer, if any, how the request it decided ended.
func (d Decision) ended(r consentResult) {
	if d.onEnd != nil {
		d.onEnd(r)
	}
}

// consentGate is one consent in progress: requests that wait on it are
// held until it closes.
type consentGate struct {
	once sync.Once
	done chan struct{}
	res  consentResult
}

func newConsentGate() *consentGate { return &consentGate{done: make(chan struct{})} }

func (g *consentGate) close(r consentResult) {
	g.once.Do(func() {
		g.res = r
		close(g.done)
	})
}

// result reports how the consent ended, if it has.
func (g *consentGate) result() (consentResult, bool) {
	select {
	case <-g.done:
		return g.res, true
	default:
		return 0, false
	}
}

// ConsentOnce returns a policy for PersonServerOptions.Policy (or
// SetPolicy) that asks the person once per agent and resource, as a person
// server that remembers consent does: the first token request of an agent
// (the signer's issuer and identifier) for a resource gets first, for
// example Defer(Interaction()); while that request is pending, the others
// for the same agent and resource answer 202 requirement=approval and end
// as it ends; after it was approved, they are approved at once.
//
// Requests a parent makes for its sub-agents count as the parent's (AAuth
// -11: the person server evaluates the parent's grant), so a parent and
// all its sub-agents need one consent per resource. A first request that
// is cancelled leaves the next one to ask again.
func ConsentOnce(first Decision) func(*TokenRequest) Decision {
	var (
		mu    sync.Mutex
		gates = map[string]*consentGate{}
	)
	return func(tr *TokenRequest) Decision {
		key := tr.AgentIssuer + "\x00" + tr.Agent + "\x00" + tr.Resource
		mu.Lock()
		defer mu.Unlock()
		g := gates[key]
		if g != nil {
			if res, done := g.result(); done && res == consentApproved {
				return Approve()
			} else if done && res == consentDenied {
				return Deny()
			} else if !done {
				return Defer(Step{kind: stepAwait, gate: g})
			}
		}
		g = newConsentGate()
		gates[key] = g
		d := first
		d.onEnd = g.close
		return d
	}
}
