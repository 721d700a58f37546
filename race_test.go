//go:build race

package aauth_test

// The race detector slows every request tenfold; its instrumented locks
// are held long enough that fewer requests show contention.
const warmRequestsPerGoroutine = 40
