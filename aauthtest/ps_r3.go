package aauthtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/r3"
)

// This file is the person server's side of R3 (Rich Resource Requests,
// -02): when a resource token carries r3_uri and r3_s256, the person
// server fetches the document, signed with its own key (Signature-Key
// jwks_uri, as @hellocoop/mockin 2.0.0 does), checks that its bytes hash
// to r3_s256 and that it is an R3 document, and puts on the auth token
// what its R3Policy grants: r3_granted and r3_per_call for a document
// describing the resource's operations, the one operation outright for a
// per-call proposal it approves.

// R3Policy scripts what the person server grants from an R3 document. The
// zero value grants every operation of a document outright and approves
// every per-call proposal, as mockin does.
type R3Policy struct {
	// Granted names the tools a grant gives outright (those of the
	// document; others are dropped). Nil means every tool of the
	// document but those in PerCall.
	Granted []string

	// PerCall names the tools a grant gives per call (r3_per_call).
	PerCall []string

	// DenyPerCall refuses every per-call proposal (403 denied), as a
	// person who says no would.
	DenyPerCall bool

	// Tamper, when set, changes each grant before it is issued (hostile
	// tests: a grant wider than its document).
	Tamper func(g *r3.Grant)
}

// GrantAll is the default R3Policy: every operation outright, every
// per-call proposal approved.
func GrantAll() R3Policy { return R3Policy{} }

// GrantTools grants the named tools outright and perCall per call.
func GrantTools(granted, perCall []string) R3Policy {
	return R3Policy{Granted: slices.Clone(granted), PerCall: slices.Clone(perCall)}
}

// R3Fetch is one fetch of an R3 document by the person server.
type R3Fetch struct {
	URI      string
	S256     string // r3_s256 of the resource token
	Bytes    []byte // what the resource served
	Proposal bool   // a per-call proposal (it has parameters)
	Err      error  // why the document was refused, if it was
}

// psR3 is the person server's R3 state.
type psR3 struct {
	mu      sync.Mutex
	policy  R3Policy
	fetches []R3Fetch
	client  *http.Client
}

// SetR3Policy sets what later auth tokens grant from R3 documents.
func (ps *PersonServer) SetR3Policy(p R3Policy) {
	ps.r3.mu.Lock()
	defer ps.r3.mu.Unlock()
	ps.r3.policy = p
}

// R3Fetches returns the R3 documents fetched so far, in order.
func (ps *PersonServer) R3Fetches() []R3Fetch {
	ps.r3.mu.Lock()
	defer ps.r3.mu.Unlock()
	return slices.Clone(ps.r3.fetches)
}

// maxR3Fetch bounds the time of one document fetch.
const maxR3Fetch = 10 * time.Second

// r3Grant fetches and checks the document a resource token names (uri,
// s256) and returns the claims the auth token carries. The error's text
// is the problem detail; denied reports a per-call proposal refused.
func (ps *PersonServer) r3Grant(ctx context.Context, uri, s256 string) (claims map[string]any, denied bool, err error) {
	f := R3Fetch{URI: uri, S256: s256}
	defer func() {
		f.Err = err
		ps.r3.mu.Lock()
		ps.r3.fetches = append(ps.r3.fetches, f)
		ps.r3.mu.Unlock()
	}()
	if uri == "" || s256 == "" {
		return nil, false, fmt.Errorf("the resource token must carry both r3_uri and r3_s256, or neither")
	}
	if err := loopbackURL(uri); err != nil {
		return nil, false, fmt.Errorf("r3_uri: %w", err)
	}
	body, err := ps.fetchR3(ctx, uri)
	if err != nil {
		return nil, false, fmt.Errorf("r3 fetch failed: %w", err)
	}
	f.Bytes = body
	doc, err := r3.Verify(body, s256)
	if err != nil {
		return nil, false, fmt.Errorf("r3 document: %w", err)
	}
	f.Proposal = doc.IsProposal()
	ps.r3.mu.Lock()
	p := ps.r3.policy
	ps.r3.mu.Unlock()

	g := &r3.Grant{URI: uri, S256: s256}
	all := doc.OperationSet()
	if doc.IsProposal() {
		if p.DenyPerCall {
			return nil, true, fmt.Errorf("the person denied the call")
		}
		g.Granted = &all // the one call, approved (R3 §Flow, step 2)
	} else {
		granted := r3.OperationSet{Vocabulary: all.Vocabulary}
		perCall := r3.OperationSet{Vocabulary: all.Vocabulary}
		for _, op := range all.Operations {
			name := op.String()
			switch {
			case slices.Contains(p.PerCall, name):
				perCall.Operations = append(perCall.Operations, op)
			case p.Granted == nil || slices.Contains(p.Granted, name):
				granted.Operations = append(granted.Operations, op)
			}
		}
		if len(granted.Operations) > 0 {
			g.Granted = &granted
		}
		if len(perCall.Operations) > 0 {
			g.PerCall = &perCall
		}
	}
	if p.Tamper != nil {
		p.Tamper(g)
	}
	claims, err = g.Claims()
	if err != nil {
		return nil, false, fmt.Errorf("r3 grant: %w", err)
	}
	return claims, false, nil
}

// serverClient is the person server's client for requests it signs in
// its own right, with its published key (Signature-Key jwks_uri): R3
// document fetches and revocations. It follows no redirect.
func (ps *PersonServer) serverClient() *http.Client {
	ps.r3.mu.Lock()
	defer ps.r3.mu.Unlock()
	if ps.r3.client == nil {
		ps.r3.client = &http.Client{
			Transport: &aauth.SigningTransport{
				Base: ps.resources.tr,
				Keys: aauth.StaticKeys(ps.key.priv, aauth.JWKSURI(ps.URL, dwkPerson, ps.key.kid)),
				Now:  ps.now,
			},
			Timeout:       maxR3Fetch,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return ps.r3.client
}

// fetchR3 GETs an R3 document signed with the person server's key.
func (ps *PersonServer) fetchR3(ctx context.Context, uri string) ([]byte, error) {
	client := ps.serverClient()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r3.MaxDocumentSize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(body) > r3.MaxDocumentSize {
		return nil, fmt.Errorf("larger than %d bytes", r3.MaxDocumentSize)
	}
	return body, nil
}
