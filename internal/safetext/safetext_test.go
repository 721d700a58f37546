package safetext

import (
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
)

func TestWrapKeepsOnePrefix(t *testing.T) {
	inner := errors.New("aauth: agentprovider.Keys has no Issuer")
	err := Wrap("key material", inner)
	if got, want := err.Error(), "aauth: key material: agentprovider.Keys has no Issuer"; got != want {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("Wrap does not unwrap to its cause")
	}
	// Prefixes inside a wrapped message go too: a *url.Error quoting a
	// RoundTripper's error.
	ue := &url.Error{Op: "Get", URL: "https://ps.example/x", Err: errors.New("aauth: refused egress")}
	if got := Wrap("polling", ue).Error(); strings.Count(got, "aauth:") != 1 {
		t.Errorf("Wrap of a url.Error = %q", got)
	}
	if !errors.Is(Wrap("a", Wrap("b", io.EOF)), io.EOF) {
		t.Error("nested Wrap loses the cause")
	}
}

func TestWithCause(t *testing.T) {
	sentinel := errors.New("aauth: interaction not started")
	cause := errors.New("aauth: browser: aauth: gone")
	err := WithCause(sentinel, cause)
	if got, want := err.Error(), "aauth: interaction not started: browser: gone"; got != want {
		t.Errorf("WithCause = %q, want %q", got, want)
	}
	if !errors.Is(err, sentinel) || !errors.Is(err, cause) {
		t.Error("WithCause matches neither sentinel nor cause")
	}
}

func TestCleanAndRedact(t *testing.T) {
	if got := Clean(" a\r\nb\u2028c\x00 ", 64); got != "a  b c" {
		t.Errorf("Clean = %q", got)
	}
	if got := Clean("ééé", 3); got != "é…" {
		t.Errorf("Clean cut = %q", got)
	}
	if got := Redact("short"); got != "[5 bytes]" {
		t.Errorf("Redact(short) = %q", got)
	}
	if got := Redact("eyJhbGciOiJFZERTQSJ9.payload.sig"); got != "eyJhbG…[32 bytes]" {
		t.Errorf("Redact = %q", got)
	}
}
