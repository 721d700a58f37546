package psclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/httpx"
	"github.com/aauthgo/aauth/internal/jsonx"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/r3"
)

// This file is the agent's side of two things a resource offers before any
// challenge: its metadata (AAuth -11, Resource Metadata, and R3's
// r3_vocabularies), from which an agent plans, and its authorization
// endpoint, where an agent asks for the operations it means to call
// before calling them.

// ResourceWellKnownPath is the path, under a resource's identifier, of its
// metadata document.
const ResourceWellKnownPath = "/.well-known/aauth-resource.json"

// ResourceMetadata is what an agent reads in a resource's metadata
// document ({resource}/.well-known/aauth-resource.json) to plan its first
// call. Members of the wrong type are ignored, as the metadata is
// advisory: the resource's challenges decide.
type ResourceMetadata struct {
	// Issuer is the resource's identifier; DiscoverResource checks it
	// equals the URL the document was fetched for.
	Issuer string

	// AccessMode is access_mode: agent-token, person-token,
	// session-token, auth-token or per-call (R3). An unknown value is
	// kept here, and means no declaration.
	AccessMode r3.AccessMode

	// AuthorizationEndpoint is authorization_endpoint: where an agent
	// presenting a person token asks for a scope, or R3 operations, up
	// front (see Authorize). Empty when the resource has none.
	AuthorizationEndpoint string

	// Vocabularies is r3_vocabularies: the R3 vocabularies the resource
	// describes its operations in, each with its discovery endpoint (for
	// MCP, the MCP server's URL). Nil when the resource does not use R3.
	Vocabularies r3.Vocabularies

	// ScopeDescriptions is scope_descriptions.
	ScopeDescriptions map[string]string

	// Raw holds every member as encoding/json decoded it (numbers as
	// json.Number).
	Raw map[string]any
}

// DiscoverResource fetches the metadata document of the resource whose
// identifier is resource (scheme://host[:port], https or loopback http)
// with client, and checks that its issuer is resource, byte for byte.
// An authorization_endpoint that is not https (or loopback http), or that
// leads to a private network the resource is not on, is dropped.
func DiscoverResource(ctx context.Context, client *http.Client, resource string) (*ResourceMetadata, error) {
	if client == nil {
		return nil, errors.New("aauth: resource metadata discovery needs an *http.Client")
	}
	if !ResourceIdentifier(resource) {
		return nil, fmt.Errorf("aauth: %q is not a resource identifier", safetext.Clean(resource, 256))
	}
	if err := egress.CheckSecureURL(ctx, resource); err != nil {
		return nil, fmt.Errorf("aauth: resource URL: %w", err)
	}
	docURL := resource + ResourceWellKnownPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return nil, fmt.Errorf("aauth: resource metadata request: %w", err)
	}
	resp, err := client.Do(req)
	observed(ctx, ObservedMetadata, http.MethodGet, docURL, resp, err)
	if err != nil {
		return nil, safetext.Wrap("fetching resource metadata", safetext.ShortURLError(err))
	}
	if resp.StatusCode != http.StatusOK {
		httpx.DrainClose(resp)
		return nil, &MetadataError{Code: MetadataFetchFailed, URL: docURL, StatusCode: resp.StatusCode}
	}
	body, err := httpx.ReadBody(resp)
	if err != nil {
		return nil, &MetadataError{Code: MetadataInvalid, URL: docURL, Err: err}
	}
	md, err := parseResourceMetadata(body)
	if err != nil {
		return nil, &MetadataError{Code: MetadataInvalid, URL: docURL, Err: err}
	}
	switch {
	case md.Issuer == "":
		return nil, &MetadataError{Code: MetadataIssuerMissing, URL: docURL, Field: "issuer"}
	case md.Issuer != resource:
		return nil, &MetadataError{Code: MetadataIssuerMismatch, URL: docURL, Field: "issuer", Value: md.Issuer}
	}
	if ep := md.AuthorizationEndpoint; ep != "" {
		u, err := url.Parse(ep)
		base, _ := url.Parse(resource)
		if err != nil || len(ep) > httpx.LocationMaxLen || egress.CheckSecureURL(ctx, ep) != nil || egress.CheckHost(ctx, base, u) != nil {
			md.AuthorizationEndpoint = ""
		}
	}
	return md, nil
}

// parseResourceMetadata reads a resource metadata document liberally.
func parseResourceMetadata(body []byte) (*ResourceMetadata, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	md := &ResourceMetadata{Raw: make(map[string]any, len(m))}
	for k, raw := range m {
		md.Raw[k] = jsonx.DecodeAny(raw)
	}
	var mode string
	_ = json.Unmarshal(m["issuer"], &md.Issuer)
	_ = json.Unmarshal(m["authorization_endpoint"], &md.AuthorizationEndpoint)
	if json.Unmarshal(m["access_mode"], &mode) == nil {
		md.AccessMode = r3.AccessMode(mode)
	}
	if raw, ok := m["r3_vocabularies"]; ok {
		md.Vocabularies, _ = r3.ParseVocabularies(raw)
	}
	var desc map[string]string
	if json.Unmarshal(m["scope_descriptions"], &desc) == nil {
		md.ScopeDescriptions = desc
	}
	return md, nil
}

// AuthorizeRequest asks a resource's authorization endpoint for a
// resource token before the first call (AAuth -11, Authorization
// Endpoint; R3 §Authorization Endpoint Extensions).
type AuthorizeRequest struct {
	// Endpoint is the resource's authorization_endpoint. Required.
	Endpoint string

	// Resource is the resource's identifier, whose metadata named
	// Endpoint: an Endpoint on another host is then held to the egress
	// rules of a URL a server chose. Empty means Endpoint was configured
	// by the caller.
	Resource string

	// Scope is the scope asked for; optional when Operations is set.
	Scope string

	// Operations are the R3 operations the agent means to call
	// (r3_operations), such as r3.Tools("search", "fetch"); optional
	// when Scope is set.
	Operations *r3.OperationSet

	// Account names the account at the resource, when the person has
	// several.
	Account string

	// Poll configures the polling of a 202 (a resource that asks the
	// person first).
	Poll PollOptions
}

// Authorize POSTs req to the resource's authorization endpoint with
// client, which must sign with the person token (the resource answers
// 401 requirement=person-token otherwise), and returns the resource token
// it issues, to be exchanged at the person server with the person token
// as presented_token. A 202 is polled to the end. A refusal is an
// *ExchangeError carrying the resource's problem (invalid_scope,
// invalid_request, invalid_account, …).
func Authorize(ctx context.Context, client *http.Client, req AuthorizeRequest) (string, error) {
	if client == nil {
		return "", errors.New("aauth: Authorize needs an *http.Client")
	}
	if err := egress.CheckSecureURL(ctx, req.Endpoint); err != nil {
		return "", fmt.Errorf("aauth: authorization endpoint: %w", err)
	}
	if req.Resource != "" {
		base, err1 := url.Parse(req.Resource)
		ep, err2 := url.Parse(req.Endpoint)
		if err1 != nil || err2 != nil {
			return "", errors.New("aauth: the resource or its authorization endpoint is not a URL")
		}
		var err error
		if ctx, err = egress.Target(ctx, base, ep); err != nil {
			return "", fmt.Errorf("aauth: authorization endpoint: %w", err)
		}
	}
	if req.Scope == "" && req.Operations == nil {
		return "", errors.New("aauth: Authorize needs a scope or operations")
	}
	var o jsonx.Object
	o.Str("scope", req.Scope)
	if req.Operations != nil {
		ops, err := req.Operations.MarshalJSON()
		if err != nil {
			return "", fmt.Errorf("aauth: r3_operations: %w", err)
		}
		o.Raw("r3_operations", ops)
	}
	o.Str("account", req.Account)
	body := o.Bytes()
	tok, err := requestToken(ctx, client, req.Endpoint, "", body, "resource_token", req.Poll, req.Poll.Profile, false)
	if err != nil {
		return "", err
	}
	return tok.Value, nil
}
