package resource

// parseSignatureKey reads a Signature-Key value: its label, its scheme
// and, for jwt, the token. Every agent in practice sends exactly
// `sig=jwt;jwt="<compact JWS>"`; that form is read here directly, which
// saves the general RFC 9651 parser's allocations on every request. Any
// other form, valid or not, goes to the general parser, so the two can
// only differ if this one accepts something the other reads differently,
// which FuzzSignatureKeyFastPath checks never happens.
func parseSignatureKey(v string) (label, scheme, token string, params map[string]string, err error) {
	if l, tok, ok := fastSignatureKey(v); ok {
		return l, schemeJWT, tok, nil, nil
	}
	return parseSignatureKeySlow(v)
}

// fastSignatureKey recognises `<key>=jwt;jwt="<chars>"` with no white
// space, a lower-case RFC 9651 key and a String of printable ASCII
// without escapes.
func fastSignatureKey(v string) (label, token string, ok bool) {
	i := 0
	if len(v) > maxSignatureKeyLen || i >= len(v) || !(isLCAlpha(v[i]) || v[i] == '*') {
		return "", "", false
	}
	for i < len(v) && isKeyChar(v[i]) {
		i++
	}
	label = v[:i]
	const mid = `=jwt;jwt="`
	if len(v)-i < len(mid)+2 || v[i:i+len(mid)] != mid || v[len(v)-1] != '"' {
		return "", "", false
	}
	token = v[i+len(mid) : len(v)-1]
	if token == "" {
		return "", "", false
	}
	for j := 0; j < len(token); j++ {
		if !plainStringChar[token[j]] {
			return "", "", false
		}
	}
	return label, token, true
}

// maxSignatureKeyLen is the library's cap on a Signature-Key value; longer
// ones go to the general parser, which refuses them.
const maxSignatureKeyLen = 16 << 10

func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }

// isKeyChar is RFC 9651 key's later characters: lcalpha, DIGIT, "_", "-",
// ".", "*".
func isKeyChar(c byte) bool {
	return isLCAlpha(c) || ('0' <= c && c <= '9') || c == '_' || c == '-' || c == '.' || c == '*'
}

// plainStringChar marks the characters an RFC 9651 String holds without
// an escape: printable ASCII but '"' and '\\'.
var plainStringChar = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
