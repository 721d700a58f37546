package aauth

import "time"

// SetRelayTimeoutForTest sets the bound on an interaction relay request,
// so that tests of a person server that never answers run in
// milliseconds, and returns a function restoring it.
func SetRelayTimeoutForTest(d time.Duration) (restore func()) {
	old := relayTimeout
	relayTimeout = d
	return func() { relayTimeout = old }
}
