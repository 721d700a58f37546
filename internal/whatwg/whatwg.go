// Package whatwg computes the parts of a URL that a browser's URL parser
// (the WHATWG URL Standard) would produce, for the @authority and @path
// signature components. Go's net/url keeps what it was given; the AAuth
// reference implementations run on the WHATWG parser, so a signature must be
// computed over the browser's form to verify on their side.
package whatwg

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// pathEncode marks the ASCII bytes of the WHATWG path percent-encode set
// (as Node.js 20 applies it): C0 controls, space, ", #, <, >, ?, `, {, }
// and DEL. Bytes above 0x7E are always encoded.
var pathEncode = func() (t [128]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for _, c := range " \"#<>?`{}\x7f" {
		t[c] = true
	}
	return t
}()

// queryEncode marks the ASCII bytes of the WHATWG special-query
// percent-encode set: C0 controls, space, ", #, <, >, ' and DEL.
var queryEncode = func() (t [128]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for _, c := range " \"#<>'\x7f" {
		t[c] = true
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

// Query returns the WHATWG serialisation of an http(s) URL's query (without
// the "?"): the special-query percent-encode set encoded, existing escapes
// kept, tabs and newlines dropped.
func Query(raw string) string {
	n := 0
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c >= 0x7f || queryEncode[c] {
			n++
		}
	}
	if n == 0 {
		return raw
	}
	return encode(raw, &queryEncode, n)
}

// Path returns the WHATWG serialisation of a special-scheme (http, https)
// URL path given as it appears in the URL text (escapes intact): dot
// segments resolved (including %2e forms), backslashes read as slashes,
// tabs and newlines dropped, the path percent-encode set encoded, existing
// escapes kept byte for byte, and an empty path made "/".
func Path(raw string) string {
	if raw == "" || raw == "/" {
		return "/"
	}
	if clean(raw) {
		return raw
	}
	if strings.ContainsAny(raw, "\t\n\r") {
		// The URL parser drops these before it looks at anything else.
		raw = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(raw)
	}
	var segs []string
	rest := raw
	if rest == "" {
		return "/"
	}
	if rest[0] == '/' || rest[0] == '\\' {
		rest = rest[1:]
	}
	for {
		i := strings.IndexAny(rest, "/\\")
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		last := i < 0
		switch {
		case isDoubleDot(seg):
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			if last {
				segs = append(segs, "")
			}
		case isSingleDot(seg):
			if last {
				segs = append(segs, "")
			}
		default:
			segs = append(segs, encodeSegment(seg))
		}
		if last {
			break
		}
		rest = rest[i+1:]
	}
	var b strings.Builder
	b.Grow(len(raw) + 8)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// clean reports whether raw is already in WHATWG form, the common case, so
// that Path can return it without allocating.
func clean(raw string) bool {
	if raw[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(raw); i++ {
		if i == len(raw) || raw[i] == '/' {
			seg := raw[segStart:i]
			if isSingleDot(seg) || isDoubleDot(seg) {
				return false
			}
			segStart = i + 1
			continue
		}
		if c := raw[i]; c >= 0x7f || pathEncode[c] || c == '\\' || c == '\t' || c == '\n' || c == '\r' {
			return false
		}
	}
	return true
}

func isSingleDot(s string) bool { return s == "." || strings.EqualFold(s, "%2e") }

func isDoubleDot(s string) bool {
	switch len(s) {
	case 2:
		return s == ".."
	case 4:
		return strings.EqualFold(s, ".%2e") || strings.EqualFold(s, "%2e.")
	case 6:
		return strings.EqualFold(s, "%2e%2e")
	}
	return false
}

func encodeSegment(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x7f || pathEncode[c] {
			n++
		}
	}
	if n == 0 {
		return s
	}
	return encode(s, &pathEncode, n)
}

// encode percent-encodes the bytes of s in set (and every byte above 0x7E),
// dropping tabs and newlines as the URL parser does; n is how many bytes
// will be encoded, to size the result.
func encode(s string, set *[128]bool, n int) string {
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\t' || c == '\n' || c == '\r':
		case c >= 0x7f || set[c]:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ErrHost is returned for a host the URL parser would reject.
var ErrHost = errors.New("invalid host")

var profile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.CheckHyphens(false),
	idna.CheckJoiners(true),
	idna.BidiRule(),
	idna.StrictDomainName(false),
	idna.VerifyDNSLength(false),
)

// Authority returns host[:port] as a browser's URL.host gives it for an
// http or https URL: the host lower-cased and, when not ASCII, converted to
// punycode; an IPv6 literal in its canonical bracketed form; the port kept
// only when it is not the scheme's default.
func Authority(scheme, hostport string) (string, error) {
	if inForm(scheme, hostport) {
		return hostport, nil
	}
	return authority(scheme, hostport)
}

// inForm reports whether hostport is already what Authority returns for
// it, the common case, checked in one pass: a host of lower-case letters,
// digits, '-' and '.', and a port, if any, of digits without a leading zero
// that is not the scheme's default.
func inForm(scheme, hostport string) bool {
	colon := -1
	for i := 0; i < len(hostport); i++ {
		switch c := hostport[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.':
		case c == ':' && colon < 0:
			colon = i
		default:
			return false
		}
	}
	if colon < 0 {
		return len(hostport) > 0
	}
	port := hostport[colon+1:]
	if colon == 0 || len(port) == 0 || len(port) > 5 || port[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
		n = n*10 + int(port[i]-'0')
	}
	return n <= 65535 && !(n == 443 && scheme == "https") && !(n == 80 && scheme == "http")
}

func authority(scheme, hostport string) (string, error) {
	host, port := splitHostPort(hostport)
	if host == "" {
		return "", ErrHost
	}
	h, err := Host(host)
	if err != nil {
		return "", err
	}
	if port == "" {
		return h, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", ErrHost
	}
	if (n == 443 && scheme == "https") || (n == 80 && scheme == "http") {
		return h, nil
	}
	if port[0] == '0' || port[0] == '+' {
		port = strconv.Itoa(n)
	}
	if len(hostport) == len(h)+1+len(port) && hostport[:len(h)] == h && hostport[len(h)] == ':' && hostport[len(h)+1:] == port {
		return hostport, nil // already in form: nothing to build
	}
	return h + ":" + port, nil
}

// Host normalises a host as the URL parser does (see Authority).
func Host(host string) (string, error) {
	if host[0] == '[' {
		if host[len(host)-1] != ']' {
			return "", ErrHost
		}
		a, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", ErrHost
		}
		return "[" + a.String() + "]", nil
	}
	ascii := true
	lower := true
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 0x80 || c == '%' {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			lower = false
		}
	}
	if ascii {
		if lower {
			return host, nil
		}
		return strings.ToLower(host), nil
	}
	out, err := profile.ToASCII(host)
	if err != nil {
		return "", ErrHost
	}
	return out, nil
}

func splitHostPort(hp string) (host, port string) {
	if strings.HasPrefix(hp, "[") {
		if i := strings.LastIndexByte(hp, ']'); i >= 0 {
			host = hp[:i+1]
			if rest := hp[i+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
			return host, port
		}
		return hp, ""
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		return hp[:i], hp[i+1:]
	}
	return hp, ""
}
