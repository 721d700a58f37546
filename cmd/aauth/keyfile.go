package main

import (
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/keys"
)

// maxInputFile bounds the key and token files read; they are a few
// hundred bytes.
const maxInputFile = 64 << 10

// readSmallFile reads a key or token file. Its errors start with what,
// the flag and the value that named the file ("--agent-token @agent.jwt"),
// and never show its content.
func readSmallFile(what, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInputFile+1))
	if err != nil {
		return nil, fileError(what, err)
	}
	if len(data) > maxInputFile {
		clear(data)
		return nil, usagef("%s: larger than %d bytes; is it a key?", what, maxInputFile)
	}
	return data, nil
}

// fileError is a usage error about the file what named: what, then why,
// without the path repeated (an *fs.PathError says "open PATH: …").
func fileError(what string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return usagef("%s: %s", what, trimPrefix(err))
}

// readKeyFile reads the private JWK in the file at path, which what (the
// flag and its value) named.
func readKeyFile(what, path string, p aauth.Profile) (crypto.Signer, error) {
	data, err := readSmallFile(what, path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	key, err := keys.ParsePrivateJWK(data, p)
	if err != nil {
		return nil, usagef("%s: %s", what, trimPrefix(err))
	}
	return key, nil
}

// readPublicKey reads the public key of the JWK in the file at path, which
// may be a private JWK (only its public half is used) or a public one;
// what is the flag and value that named it.
func readPublicKey(what, path string, p aauth.Profile) (crypto.PublicKey, error) {
	data, err := readSmallFile(what, path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	if hasPrivateMember(data) {
		key, err := keys.ParsePrivateJWK(data, p)
		if err != nil {
			return nil, usagef("%s: %v", what, trimPrefix(err))
		}
		return key.Public(), nil
	}
	pub, err := keys.ParsePublicJWK(data, p)
	if err != nil {
		return nil, usagef("%s: %v", what, trimPrefix(err))
	}
	return pub, nil
}

// hasPrivateMember reports whether the JSON object data has a "d" member.
// JWK names are case sensitive, so the object is read as a map rather than
// into a struct, whose field matching would ignore case.
func hasPrivateMember(data []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	_, ok := m["d"]
	return ok
}

// checkServerURL checks a server URL given as name (a flag, or an
// environment variable), so that a mistake is reported against it before
// anything is sent: an absolute https URL, or http on a loopback host, with
// no user info, query or fragment, and, for a URL that becomes a token
// claim (iss, ps), no trailing slash. The library checks again when it uses
// the URL.
func checkServerURL(name, s string, claim bool) error {
	u, err := url.Parse(s)
	switch {
	case err == nil && u.User != nil:
		// Not quoted: the user info may hold a password.
		return usagef("%s must not contain user info", name)
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return usagef("%s %q is not an absolute URL", name, oneLine(s))
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return usagef("%s %q must use https (http only for a loopback host)", name, oneLine(s))
	default:
		return usagef("%s %q must be an https URL", name, oneLine(s))
	}
	switch {
	case u.RawQuery != "" || u.ForceQuery || strings.Contains(s, "#"):
		return usagef("%s %q must not have a query or fragment", name, oneLine(s))
	case claim && strings.HasSuffix(s, "/"):
		return usagef("%s %q must not end with a slash", name, oneLine(s))
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// trimPrefix drops the library's "aauth: " from an error, so that the line
// printed says it once.
func trimPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "aauth: ")
}
