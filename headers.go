package aauth

import "net/http"

// Length caps for the standard header values the library parses from a
// server's answer. AAuth's own headers have theirs (challengeMaxLen,
// accessMaxLen). A longer value is treated as malformed: it is never cut
// and parsed, nor parsed whole.
const (
	shortHeaderMaxLen  = 256     // Retry-After, Date, Expires, Age, Content-Type
	cacheControlMaxLen = 1 << 10 // Cache-Control, all field lines together
	locationMaxLen     = 8 << 10 // Location
)

// shortHeader returns the first value of name in h, or "" when it is
// longer than shortHeaderMaxLen.
func shortHeader(h http.Header, name string) string {
	if v := h.Get(name); len(v) <= shortHeaderMaxLen {
		return v
	}
	return ""
}
