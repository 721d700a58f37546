package resource

import (
	"crypto/rand"
	"strings"
)

// crockford is the alphabet of interaction codes (AAuth -11, Interaction
// Code Format).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewInteractionCode returns a fresh interaction code: 10 Crockford
// base32 symbols (50 random bits, above the draft's 40), shown grouped as
// XXXXX-XXXXX.
func NewInteractionCode() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // does not fail on the platforms Go supports
	out := make([]byte, 0, 11)
	for i, v := range b {
		if i == 5 {
			out = append(out, '-')
		}
		out = append(out, crockford[v&31])
	}
	return string(out)
}

// SameInteractionCode compares two interaction codes as the draft says:
// hyphens ignored, case ignored, I and L read as 1 and O as 0.
func SameInteractionCode(a, b string) bool {
	na, nb := normalizeCode(a), normalizeCode(b)
	return na != "" && na == nb
}

func normalizeCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch c {
		case '-':
			continue
		case 'I', 'L':
			c = '1'
		case 'O':
			c = '0'
		}
		b.WriteRune(c)
	}
	return b.String()
}
