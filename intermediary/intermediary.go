// Package intermediary makes a protected resource an intermediary (AAuth
// -11 "Call Chaining"): a resource whose handlers call downstream
// resources on behalf of their callers. One call, New, sets it up: the
// resource becomes its own agent provider, as the draft requires of an
// intermediary, and gets an aauth.Transport that makes the requests sent
// with a served request's context on that request's caller's behalf.
//
// It is a package of its own, above both the resource role and the agent,
// so that a resource that only protects itself never compiles the agent.
package intermediary

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/internal/agentid"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/keys"
	"github.com/aauthgo/aauth/resource"
)

// Paths the intermediary serves on the resource's origin.
const (
	// AgentMetadataPath and AgentJWKSPath are its agent provider's
	// documents; the JWK Set has a name of its own, beside the
	// resource's (roles sharing an origin are told apart by their
	// documents' names).
	AgentMetadataPath = "/.well-known/aauth-agent.json"
	AgentJWKSPath     = "/.well-known/aauth-agent-jwks.json"

	// InteractionPath is where a person is sent, with the intermediary's
	// own code, to act at a downstream person server.
	InteractionPath = "/aauth/interaction"
)

// Bounds.
const (
	maxRelayed     = 1024
	relayedLife    = resource.DeferTimeout
	defaultPolling = 30 * time.Second
)

// Options configures New. The zero value works.
type Options struct {
	// Name is the local part of the intermediary's agent identifier,
	// aauth:<Name>@<the resource's host>; "" means "intermediary".
	Name string

	// Key signs the intermediary's agent tokens (it is its own agent
	// provider); nil means an Ed25519 key generated in memory. That suits
	// one process: replicas serving one origin must share one Key, since a
	// verifier may fetch the JWK Set from any of them.
	Key crypto.Signer

	// Base sends the downstream requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	// MaxChainRequests bounds the person-server requests made for one
	// caller's request; zero means 16 (see aauth.Transport).
	MaxChainRequests int

	// MaxPollDuration bounds the wait for a deferred downstream token
	// request; zero means 30 seconds: the caller is waiting.
	MaxPollDuration time.Duration

	// OnEvent and Logger observe the downstream requests, as the
	// Transport's fields of those names do.
	OnEvent func(aauth.Event)
	Logger  *slog.Logger

	// Clock is the Transport's clock; nil means the system clock.
	Clock aauth.Clock
}

// intermediary is what New set up: the agent provider of the resource's
// own agent, and the interaction codes it relayed.
type intermediary struct {
	rs   *resource.Resource
	name string
	key  crypto.Signer

	once   sync.Once
	issuer string
	keys   *agentprovider.Keys
	docs   http.Handler
	err    error

	mu    sync.Mutex
	codes map[string]relayed // normalised own code → where it leads
}

type relayed struct {
	target  string // the downstream interaction URL, with its code
	expires time.Time
}

// New makes rs an intermediary and returns the Transport for its
// downstream calls: a request made with the context of a request rs
// serves (r.Context() in the handler) is made on behalf of that request's
// caller, with the person or auth token it presented as upstream_token,
// at that token's person server.
//
// rs becomes its own agent provider (AAuth -11 §10.1.1.1): it serves
// AgentMetadataPath, whose issuer is its own Issuer, and AgentJWKSPath,
// the keys of its agent tokens; the Transport's agent token is issued
// under that identifier, aauth:<Name>@<host>, and names no person server.
// A person server checks that the upstream token's aud is that issuer.
//
// A downstream person server that must ask the person (202
// requirement=interaction) is relayed to the caller when the handler
// serves the call with resource.Defer: the polls of the deferred call
// answer requirement=interaction with rs's own interaction URL and code,
// which sends the person on to the person server's page (-11 interaction
// chaining). Without Defer such a call fails at once with an error
// matching aauth.ErrInteraction, and the downstream request is cancelled.
//
// New sets rs.PublicPaths; call it before rs serves its first request.
// rs.Issuer may be set later (after httptest.NewServer, say), but before
// the first request.
func New(rs *resource.Resource, opts Options) (*aauth.Transport, error) {
	if rs == nil {
		return nil, errors.New("aauth: intermediary.New needs a resource")
	}
	name := opts.Name
	if name == "" {
		name = "intermediary"
	}
	if err := agentid.Discriminator(name); err != nil {
		return nil, fmt.Errorf("aauth: intermediary.Options.Name: %w", err)
	}
	key := opts.Key
	if key == nil {
		k, err := keys.Generate()
		if err != nil {
			return nil, err
		}
		key = k
	}
	in := &intermediary{rs: rs, name: name, key: key, codes: map[string]relayed{}}
	if rs.PublicPaths == nil {
		rs.PublicPaths = map[string]http.Handler{}
	}
	for _, p := range []string{AgentMetadataPath, AgentJWKSPath, InteractionPath} {
		if rs.PublicPaths[p] != nil {
			return nil, fmt.Errorf("aauth: the resource already serves %s", p)
		}
	}
	docs := http.HandlerFunc(in.serveDocuments)
	rs.PublicPaths[AgentMetadataPath] = docs
	rs.PublicPaths[AgentJWKSPath] = docs
	rs.PublicPaths[InteractionPath] = http.HandlerFunc(in.serveInteraction)

	poll := opts.MaxPollDuration
	if poll <= 0 {
		poll = defaultPolling
	}
	return &aauth.Transport{
		Base: opts.Base,
		Keys: aauth.KeySourceFunc(func(ctx context.Context) (aauth.KeyMaterial, error) {
			if err := in.bind(); err != nil {
				return aauth.KeyMaterial{}, err
			}
			return in.keys.KeyMaterial(ctx)
		}),
		Chain:            true,
		MaxChainRequests: opts.MaxChainRequests,
		MaxPollDuration:  poll,
		Capabilities:     []aauth.Capability{aauth.CapabilityInteraction},
		OnInteraction:    in.relay,
		OnEvent:          opts.OnEvent,
		Logger:           opts.Logger,
		Clock:            opts.Clock,
		InsecureEgress:   rs.InsecureEgress,
	}, nil
}

// bind makes the agent provider, once the resource's Issuer is known.
func (in *intermediary) bind() error {
	in.once.Do(func() {
		u, err := url.Parse(in.rs.Issuer)
		if err != nil || in.rs.Issuer == "" {
			in.err = errors.New("aauth: the resource's Issuer is not set")
			return
		}
		in.issuer = in.rs.Issuer
		iss := &agentprovider.Issuer{Issuer: in.issuer, Key: in.key, Now: in.rs.Now, Display: agentprovider.Display{Name: in.rs.Display.Name}}
		in.keys = &agentprovider.Keys{Issuer: iss, Subject: agentid.Scheme + in.name + "@" + u.Hostname()}
		in.docs = iss.Handler()
		if _, _, err := agentid.Parse(in.keys.Subject); err != nil {
			in.err = err
		}
	})
	if in.err != nil {
		return fmt.Errorf("aauth: the intermediary's agent: %s", safetext.Unprefixed(in.err.Error()))
	}
	return nil
}

func (in *intermediary) now() time.Time {
	if in.rs.Now != nil {
		return in.rs.Now()
	}
	return time.Now()
}

// serveDocuments serves the agent provider's metadata and JWK Set.
func (in *intermediary) serveDocuments(w http.ResponseWriter, r *http.Request) {
	if err := in.bind(); err != nil {
		http.Error(w, "the intermediary is not configured", http.StatusInternalServerError)
		return
	}
	in.docs.ServeHTTP(w, r)
}

// relay hands a downstream interaction on to the caller of the deferred
// call ctx belongs to: under a code of the intermediary's own, at its own
// interaction URL.
func (in *intermediary) relay(ctx context.Context, u, code string) error {
	if err := in.bind(); err != nil {
		return err
	}
	target, err := url.Parse(u)
	if err != nil || (target.Scheme != "https" && target.Scheme != "http") || target.Host == "" {
		return fmt.Errorf("aauth: the downstream interaction URL %q is not a web page", safetext.Clean(u, 256))
	}
	q := target.Query()
	q.Set("code", code)
	target.RawQuery = q.Encode()
	own := resource.NewInteractionCode()
	// The code leads somewhere before the caller can learn it: once
	// SetInteraction returns, a poll may already have handed it out and the
	// person's browser be on its way.
	in.remember(own, target.String())
	if err := resource.SetInteraction(ctx, in.issuer+InteractionPath, own); err != nil {
		in.mu.Lock()
		delete(in.codes, normalizeCode(own))
		in.mu.Unlock()
		if errors.Is(err, resource.ErrNotDeferred) {
			return errors.New("aauth: the person must act at the downstream person server, and the call was not deferred (resource.Defer) to tell the caller")
		}
		return err
	}
	return nil
}

// remember makes the intermediary's code own lead to target, keeping at
// most maxRelayed codes.
func (in *intermediary) remember(own, target string) {
	now := in.now()
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.codes) >= maxRelayed {
		for k, v := range in.codes {
			if now.After(v.expires) {
				delete(in.codes, k)
			}
		}
		for k := range in.codes {
			if len(in.codes) < maxRelayed {
				break
			}
			delete(in.codes, k) // the bound holds, whatever is lost
		}
	}
	in.codes[normalizeCode(own)] = relayed{target: target, expires: now.Add(relayedLife)}
}

// serveInteraction sends the person, who opened the intermediary's
// interaction URL with its code, on to the downstream person server's
// page. It is a browser's request: not signed.
func (in *intermediary) serveInteraction(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	code := r.URL.Query().Get("code")
	in.mu.Lock()
	v, ok := in.codes[normalizeCode(code)]
	in.mu.Unlock()
	if !ok || code == "" || in.now().After(v.expires) {
		http.Error(w, "unknown or expired interaction code", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, v.target, http.StatusSeeOther)
}

// normalizeCode reads an interaction code as the draft compares them:
// hyphens and case ignored (resource.SameInteractionCode's rule, as a map
// key).
func normalizeCode(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 64; i++ {
		c := s[i]
		switch {
		case c == '-':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		b = append(b, c)
	}
	return string(b)
}
