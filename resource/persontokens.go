package resource

import (
	"sync"
	"time"
)

// personRecords remembers the person tokens the resource verified, so that
// a resource token issued later to a request presenting an auth token (a
// step-up, a per-call challenge) can still name the person token in
// person_token_jti, as person servers of the early -11 generation such as
// @hellocoop/mockin 2.0.0 require of every resource token. Only kept with
// Resource.PersonTokenJTI; bounded; an expired token is never named.
type personRecords struct {
	mu sync.Mutex
	m  map[personKey]personRecord
}

// personKey is whose token it was: the person server, the person, and
// the agent's key, to which the auth tokens it led to are bound too.
type personKey struct{ ps, sub, jkt string }

type personRecord struct {
	jti, mission, tenant string
	exp                  time.Time
}

// note remembers the person token caller presented.
func (p *personRecords) note(caller *Caller, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[personKey]personRecord{}
	}
	k := personKey{caller.Issuer, caller.Subject, caller.Thumbprint}
	if old, ok := p.m[k]; ok && old.jti == caller.JTI {
		return
	}
	if len(p.m) >= maxPersonRecords {
		for k, r := range p.m {
			if !now.Before(r.exp) {
				delete(p.m, k)
			}
		}
		for k := range p.m { // still full: a random one makes room
			if len(p.m) < maxPersonRecords {
				break
			}
			delete(p.m, k)
		}
	}
	p.m[k] = personRecord{jti: caller.JTI, mission: caller.MissionS256, tenant: caller.Tenant, exp: caller.Expiry}
}

// jti returns the jti of the unexpired person token that the auth token
// caller presents stems from: same person server, person, key, mission
// and tenant.
func (p *personRecords) jti(caller *Caller, now time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.m[personKey{caller.PersonServer, caller.Subject, caller.Thumbprint}]
	if !ok || !now.Before(r.exp) || r.mission != caller.MissionS256 || r.tenant != caller.Tenant {
		return ""
	}
	return r.jti
}
