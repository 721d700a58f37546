package resource

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
	"github.com/aauthgo/aauth/keys"
)

// Paths the intermediary serves on the resource's origin.
const (
	agentMetadataPath = "/.well-known/aauth-agent.json"
	agentJWKSPath     = "/.well-known/aauth-agent-jwks.json"
	interactionPath   = "/aauth/interaction"
)

// Bounds of the interaction codes an intermediary hands out.
const (
	maxRelayedInteractions = 1024
	relayedInteractionLife = DeferTimeout
	defaultChainPoll       = 30 * time.Second
)

// IntermediaryOptions configures Resource.Intermediary. The zero value
// works.
type IntermediaryOptions struct {
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

// intermediary is what Resource.Intermediary set up: the agent provider
// of the resource's own agent, and the interaction codes it relayed.
type intermediary struct {
	name string
	key  crypto.Signer
	now  func() time.Time

	once   sync.Once
	issuer *agentprovider.Issuer
	keys   *agentprovider.Keys
	docs   http.Handler
	err    error

	mu    sync.Mutex
	codes map[string]relayedInteraction // normalised own code → where it leads
}

type relayedInteraction struct {
	target  string // the downstream interaction URL with its code
	expires time.Time
}

// Intermediary makes rs an intermediary (AAuth -11 "Call Chaining"): a
// resource whose handlers call downstream resources on behalf of their
// callers. It returns the Transport for those calls: a request made with
// the context of a request rs serves (r.Context() in the handler) is made
// on behalf of that request's caller, with the person or auth token it
// presented as upstream_token.
//
// rs becomes its own agent provider, as -11 requires of an intermediary
// (§10.1.1.1): it serves /.well-known/aauth-agent.json, whose issuer is
// its own Issuer, and the JWK Set of the key that signs its agent tokens;
// the Transport's agent token is issued under that identifier,
// aauth:<Name>@<host>, and names no person server. Person servers check
// that the upstream token's aud is that issuer.
//
// A downstream person server that must ask the person (202
// requirement=interaction) is relayed to the caller when the handler
// serves the call with Defer: the polls of the deferred call answer
// requirement=interaction with rs's own interaction URL and code, which
// sends the person on to the person server's page (-11 interaction
// chaining). Without Defer such a call fails at once with an error
// matching aauth.ErrInteraction, and the pending request is cancelled.
//
// Call it before rs serves its first request.
func (rs *Resource) Intermediary(opts IntermediaryOptions) (*aauth.Transport, error) {
	if rs.compiled.ptr.Load() != nil {
		return nil, errors.New("aauth: Resource.Intermediary must be called before the resource serves its first request")
	}
	name := opts.Name
	if name == "" {
		name = "intermediary"
	}
	if err := agentid.Discriminator(name); err != nil {
		return nil, fmt.Errorf("aauth: IntermediaryOptions.Name: %w", err)
	}
	key := opts.Key
	if key == nil {
		k, err := keys.Generate()
		if err != nil {
			return nil, err
		}
		key = k
	}
	in := &intermediary{name: name, key: key, now: rs.now, codes: map[string]relayedInteraction{}}
	if !rs.inter.CompareAndSwap(nil, in) {
		return nil, errors.New("aauth: Resource.Intermediary was called twice")
	}
	poll := opts.MaxPollDuration
	if poll <= 0 {
		poll = defaultChainPoll
	}
	return &aauth.Transport{
		Base: opts.Base,
		Keys: aauth.KeySourceFunc(func(ctx context.Context) (aauth.KeyMaterial, error) {
			k, err := in.agentKeys(rs)
			if err != nil {
				return aauth.KeyMaterial{}, err
			}
			return k.KeyMaterial(ctx)
		}),
		Chain:            true,
		MaxChainRequests: opts.MaxChainRequests,
		MaxPollDuration:  poll,
		Capabilities:     []aauth.Capability{aauth.CapabilityInteraction},
		OnInteraction: func(ctx context.Context, u, code string) error {
			return in.relay(ctx, rs, u, code)
		},
		OnEvent:        opts.OnEvent,
		Logger:         opts.Logger,
		Clock:          opts.Clock,
		InsecureEgress: rs.InsecureEgress,
	}, nil
}

// agentKeys returns the intermediary's key source, made once rs's Issuer
// is known and valid.
func (in *intermediary) agentKeys(rs *Resource) (*agentprovider.Keys, error) {
	c, err := rs.config()
	if err != nil {
		return nil, err
	}
	in.once.Do(func() {
		u, err := url.Parse(c.issuer)
		if err != nil {
			in.err = err
			return
		}
		in.issuer = &agentprovider.Issuer{Issuer: c.issuer, Key: in.key, Now: rs.Now, Display: agentprovider.Display{Name: rs.Display.Name}}
		in.keys = &agentprovider.Keys{Issuer: in.issuer, Subject: agentid.Scheme + in.name + "@" + u.Hostname()}
		in.docs = in.issuer.Handler()
		// The identifier must be valid where the resource runs.
		_, _, in.err = agentid.Parse(in.keys.Subject)
	})
	if in.err != nil {
		return nil, fmt.Errorf("aauth: the intermediary's agent: %w", in.err)
	}
	return in.keys, nil
}

func (in *intermediary) owns(path string) bool {
	return path == agentMetadataPath || path == agentJWKSPath || path == interactionPath
}

// serve answers the intermediary's own paths: its agent provider's
// documents, and its interaction URL.
func (in *intermediary) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == interactionPath {
		in.serveInteraction(w, r)
		return
	}
	in.docs.ServeHTTP(w, r)
}

// relay hands a downstream interaction on to the caller of the deferred
// call ctx belongs to: under a code of the intermediary's own, at its own
// interaction URL.
func (in *intermediary) relay(ctx context.Context, rs *Resource, u, code string) error {
	c, err := rs.config()
	if err != nil {
		return err
	}
	target, err := url.Parse(u)
	if err != nil || (target.Scheme != "https" && target.Scheme != "http") {
		return fmt.Errorf("aauth: the downstream interaction URL %q is not a web page", shorten(u))
	}
	q := target.Query()
	q.Set("code", code)
	target.RawQuery = q.Encode()
	own := NewInteractionCode()
	if err := SetInteraction(ctx, c.issuer+interactionPath, own); err != nil {
		if errors.Is(err, ErrNotDeferred) {
			return errors.New("aauth: the person must act at the downstream person server, and the call was not deferred (resource.Defer) to tell the caller")
		}
		return err
	}
	now := rs.now()
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.codes) >= maxRelayedInteractions {
		for k, v := range in.codes {
			if now.After(v.expires) {
				delete(in.codes, k)
			}
		}
		for k := range in.codes {
			if len(in.codes) < maxRelayedInteractions {
				break
			}
			delete(in.codes, k) // the bound holds, whatever is lost
		}
	}
	in.codes[normalizeCode(own)] = relayedInteraction{target: target.String(), expires: now.Add(relayedInteractionLife)}
	return nil
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
