package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aauthgo/aauth/keys"
)

const keygenHelp = `Usage: aauth keygen [-o FILE] [-f]

Generate a new Ed25519 signing key and write it as a private JWK, with
alg "Ed25519" and kid, its RFC 7638 thumbprint.

  -o FILE   write the key to FILE, readable by you only (mode 0600), and
            print its public JWK on stdout; without -o the private JWK
            is printed on stdout
  -f        replace FILE if it exists

Example:
  aauth keygen -o agent.jwk
`

// keygen runs "aauth keygen".
func (e *env) keygen(ctx context.Context, args []string) error {
	fs := newFlagSet("keygen")
	out := fs.String("o", "", "")
	force := fs.Bool("f", false, "")
	if err := e.parseOptions(fs, keygenHelp, args); err != nil {
		return err
	}
	key, err := keys.Generate()
	if err != nil {
		return err
	}
	defer clear(key)

	if *out == "" {
		jwk, err := keys.MarshalPrivateJWK(key)
		if err != nil {
			return err
		}
		defer clear(jwk)
		_, err = fmt.Fprintf(e.stdout, "%s\n", jwk)
		return err
	}
	if !*force {
		// Replacing a key by accident loses an identity; make it explicit.
		if _, err := os.Lstat(*out); err == nil {
			return usagef("%s exists; use -f to replace it", *out)
		}
	}
	if dir := filepath.Dir(*out); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return usagef("-o %s: the directory %s does not exist", *out, dir)
		}
	}
	if err := keys.WriteFile(*out, key); err != nil {
		return fmt.Errorf("-o %s: %s", *out, strings.TrimPrefix(trimPrefix(err), "writing key file "+*out+": "))
	}
	pub, err := keys.MarshalPublicJWK(key.Public())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", pub)
	return err
}
