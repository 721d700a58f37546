package psclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aauthgo/aauth/psclient"
	"github.com/aauthgo/aauth/r3"
	"github.com/aauthgo/aauth/wire"
)

func TestDiscoverResource(t *testing.T) {
	var doc map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != psclient.ResourceWellKnownPath {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	defer srv.Close()
	ctx := context.Background()
	doc = map[string]any{
		"issuer": srv.URL, "access_mode": "auth-token", "authorization_endpoint": srv.URL + "/aauth/authorize",
		"r3_vocabularies":    map[string]any{r3.VocabularyMCP: srv.URL + "/mcp", "urn:aauth:vocabulary:openapi-gateway": "x", "urn:aauth:vocabulary:grpc": 7},
		"scope_descriptions": map[string]any{"read": "Read"},
	}
	md, err := psclient.DiscoverResource(ctx, srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if md.Issuer != srv.URL || md.AccessMode != r3.AccessAuthToken || md.AuthorizationEndpoint != srv.URL+"/aauth/authorize" ||
		len(md.Vocabularies) != 1 || md.Vocabularies[r3.VocabularyMCP] != srv.URL+"/mcp" || md.ScopeDescriptions["read"] != "Read" {
		t.Errorf("metadata %+v", md)
	}

	// An authorization endpoint the egress rules refuse is dropped.
	doc["authorization_endpoint"] = "ftp://x.example/authorize"
	if md, err := psclient.DiscoverResource(ctx, srv.Client(), srv.URL); err != nil || md.AuthorizationEndpoint != "" {
		t.Errorf("endpoint %q, %v", md.AuthorizationEndpoint, err)
	}
	// The issuer must be the resource.
	doc["issuer"] = "https://other.example"
	var me *psclient.MetadataError
	if _, err := psclient.DiscoverResource(ctx, srv.Client(), srv.URL); !errors.As(err, &me) || me.Code != psclient.MetadataIssuerMismatch {
		t.Errorf("issuer mismatch: %v", err)
	}
	delete(doc, "issuer")
	if _, err := psclient.DiscoverResource(ctx, srv.Client(), srv.URL); !errors.As(err, &me) || me.Code != psclient.MetadataIssuerMissing {
		t.Errorf("no issuer: %v", err)
	}
	for _, bad := range []string{srv.URL + "/", srv.URL + "/x", "ftp://a.example", "https://A.example"} {
		if _, err := psclient.DiscoverResource(ctx, srv.Client(), bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestAuthorize(t *testing.T) {
	var got map[string]any
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = nil
		_ = json.Unmarshal(b, &got)
		if r.Header.Get("Signature-Key") == "" {
			t.Error("the request is not signed")
		}
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":"invalid_scope","detail":"no such tool"}`))
			return
		}
		_, _ = w.Write([]byte(`{"resource_token":"a.b.c"}`))
	}))
	defer srv.Close()
	ctx := context.Background()
	ops := r3.Tools("search", "send_email")
	rt, err := psclient.Authorize(ctx, psTestClient(wire.ProfileCurrent), psclient.AuthorizeRequest{Endpoint: srv.URL + "/aauth/authorize", Resource: srv.URL, Operations: &ops, Account: "acct"})
	if err != nil || rt != "a.b.c" {
		t.Fatalf("Authorize = %q, %v", rt, err)
	}
	if _, ok := got["scope"]; ok || got["account"] != "acct" {
		t.Errorf("body %v", got)
	}
	r3ops, _ := json.Marshal(got["r3_operations"])
	if set, err := r3.ParseOperationSet(r3ops); err != nil || !set.CoversTool("send_email") || len(set.Operations) != 2 {
		t.Errorf("r3_operations %s: %v", r3ops, err)
	}

	status = http.StatusBadRequest
	_, err = psclient.Authorize(ctx, psTestClient(wire.ProfileCurrent), psclient.AuthorizeRequest{Endpoint: srv.URL + "/aauth/authorize", Scope: "read"})
	var ee *psclient.ExchangeError
	if !errors.As(err, &ee) || ee.StatusCode != 400 || ee.Problem == nil || ee.Problem.Error != "invalid_scope" {
		t.Fatalf("refusal: %v", err)
	}
	if got["scope"] != "read" {
		t.Errorf("body %v", got)
	}
	if _, err := psclient.Authorize(ctx, psTestClient(wire.ProfileCurrent), psclient.AuthorizeRequest{Endpoint: srv.URL}); err == nil {
		t.Error("neither scope nor operations: no error")
	}
	bad := r3.OperationSet{Vocabulary: "urn:aauth:vocabulary:nope", Operations: []r3.Operation{r3.Tool("x")}}
	if _, err := psclient.Authorize(ctx, psTestClient(wire.ProfileCurrent), psclient.AuthorizeRequest{Endpoint: srv.URL, Operations: &bad}); err == nil || !strings.HasPrefix(err.Error(), "aauth: ") {
		t.Errorf("unknown vocabulary: %v", err)
	}
}
