package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/keys"
)

// jwkMembers decodes a JWK's members.
func jwkMembers(t *testing.T, data string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("not a JWK: %v", err)
	}
	return m
}

func TestKeygen(t *testing.T) {
	// To stdout: a private JWK with alg and kid, the thumbprint.
	r := runCmd(t, "", "keygen")
	if r.code != 0 || r.stderr != "" || !strings.HasSuffix(r.stdout, "}\n") {
		t.Fatalf("keygen:\n%s", r)
	}
	key, err := keys.ParsePrivateJWK([]byte(r.stdout), aauth.ProfileCurrent)
	if err != nil {
		t.Fatal(err)
	}
	m := jwkMembers(t, r.stdout)
	tp, _ := keys.Thumbprint(key.Public())
	if m["kty"] != "OKP" || m["crv"] != "Ed25519" || m["alg"] != "Ed25519" || m["kid"] != tp {
		t.Errorf("JWK members %v, want alg Ed25519 and kid %s", m, tp)
	}
	if again := runCmd(t, "", "keygen"); again.stdout == r.stdout {
		t.Error("two keygens gave the same key")
	}

	// To a file: mode 0600, the public JWK on stdout.
	file := filepath.Join(t.TempDir(), "agent.jwk")
	r = runCmd(t, "", "keygen", "-o", file)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("keygen -o:\n%s", r)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	key, err = keys.ReadFile(file, aauth.ProfileCurrent)
	if err != nil {
		t.Fatal(err)
	}
	pub := jwkMembers(t, r.stdout)
	tp, _ = keys.Thumbprint(key.Public())
	if _, ok := pub["d"]; ok || pub["kid"] != tp {
		t.Errorf("stdout %q is not the public JWK of the key written", r.stdout)
	}

	// An existing file is kept unless -f.
	before, _ := os.ReadFile(file)
	if r := runCmd(t, "", "keygen", "-o", file); r.code != exitUsage {
		t.Fatalf("keygen over an existing file:\n%s", r)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("the existing key was replaced without -f")
	}
	if r := runCmd(t, "", "keygen", "-o", file, "-f"); r.code != 0 {
		t.Fatalf("keygen -f:\n%s", r)
	}
	if after, _ := os.ReadFile(file); string(after) == string(before) {
		t.Error("-f did not replace the key")
	}

	// A missing directory is bad usage, said of -o, and the temporary
	// file keygen writes first is never named.
	r = runCmd(t, "", "keygen", "-o", filepath.Join(t.TempDir(), "no", "such", "dir", "k.jwk"))
	if r.code != exitUsage {
		t.Fatalf("keygen into a missing directory:\n%s", r)
	}
	if line := wantOneErrorLine(t, r); !strings.Contains(line, "aauth: -o ") || !strings.Contains(line, "does not exist") || strings.Contains(line, ".tmp-") {
		t.Errorf("error line %q", line)
	}
}
