//go:build !race

package aauth_test

// See race_test.go.
const warmRequestsPerGoroutine = 150
