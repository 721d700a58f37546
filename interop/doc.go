// Package interop holds the cross-implementation tests of aauth against the
// JavaScript reference signer, @hellocoop/httpsig: 1.7.1 for the seed
// generation and 2.2.0 for the current one, pinned in package.json and
// package-lock.json next to this file.
//
// Everything is in the _test.go files; the package has no API and nothing
// imports it. The tests need node and npm on the PATH. On first use they
// install the pinned packages into node_modules (git-ignored) with npm ci.
// Without node and npm they skip, unless AAUTH_INTEROP=required, under
// which a skip is a failure.
package interop
