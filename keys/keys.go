// Package keys holds the key material of AAuth: it generates Ed25519 keys,
// reads and writes JWKs and key files, and computes RFC 7638 thumbprints.
// Keys are Ed25519 or ECDSA P-256, the algorithms AAuth parties sign with.
package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aauthgo/aauth/internal/jwkx"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/safetext"
	"github.com/aauthgo/aauth/wire"
)

// Generate returns a new Ed25519 private key drawn from crypto/rand.
// Ed25519 is the algorithm every AAuth party must support.
func Generate() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("aauth: generating Ed25519 key: %w", err)
	}
	return priv, nil
}

// jwkKind is a supported key type: Ed25519 or ECDSA P-256.
type jwkKind uint8

const (
	jwkKindEd25519 jwkKind = iota + 1
	jwkKindP256
)

// decodeJWKMembers reads the members of a JWK. JWK member names are case
// sensitive, and encoding/json matches struct fields case-insensitively,
// so the object is read as a map and the names are looked up exactly.
// The JSON decoder's own errors are not wrapped: some quote the offending
// value, and that value may be private key material.
func decodeJWKMembers(data []byte) (jwkx.Members, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return jwkx.Members{}, fmt.Errorf("aauth: JWK is not valid JSON (syntax error at offset %d)", syn.Offset)
		}
		return jwkx.Members{}, errors.New("aauth: JWK is not a JSON object")
	}
	if raw == nil {
		return jwkx.Members{}, errors.New("aauth: JWK is not a JSON object")
	}
	var m jwkx.Members
	for name, dst := range map[string]*string{
		"kty": &m.Kty, "crv": &m.Crv, "x": &m.X, "y": &m.Y, "d": &m.D,
		"alg": &m.Alg, "kid": &m.Kid, "use": &m.Use,
	} {
		v, ok := raw[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return jwkx.Members{}, fmt.Errorf("aauth: JWK member %q is not a string", name)
		}
	}
	return m, nil
}

// jwkValueForError quotes an input value for an error message, cut so
// that a hostile input cannot fill a log. It is only used for non-secret
// members.
func jwkValueForError(s string) string {
	const limit = 40
	if len(s) > limit {
		return fmt.Sprintf("%q…", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}

// checkJWK decides what kind of key m is and whether its alg and use fit
// AAuth signing under profile p.
func checkJWK(m *jwkx.Members, p wire.Profile) (jwkKind, error) {
	t, err := profile.Check(p)
	if err != nil {
		return 0, err
	}
	var kind jwkKind
	switch m.Kty {
	case "OKP":
		switch m.Crv {
		case "Ed25519":
			kind = jwkKindEd25519
		case "":
			return 0, errors.New("aauth: OKP JWK has no crv (want Ed25519)")
		default:
			return 0, fmt.Errorf("aauth: unsupported OKP curve %s (want Ed25519)", jwkValueForError(m.Crv))
		}
	case "EC":
		switch m.Crv {
		case "P-256":
			kind = jwkKindP256
		case "":
			return 0, errors.New("aauth: EC JWK has no crv (want P-256)")
		default:
			return 0, fmt.Errorf("aauth: unsupported EC curve %s (want P-256)", jwkValueForError(m.Crv))
		}
	case "RSA":
		return 0, errors.New("aauth: RSA keys are not supported (want OKP Ed25519 or EC P-256)")
	case "oct":
		return 0, errors.New("aauth: symmetric (oct) keys are not supported (want OKP Ed25519 or EC P-256)")
	case "":
		return 0, errors.New("aauth: JWK has no kty")
	default:
		return 0, fmt.Errorf("aauth: unsupported key type %s (want OKP Ed25519 or EC P-256)", jwkValueForError(m.Kty))
	}

	if m.Use != "" && m.Use != "sig" {
		return 0, fmt.Errorf("aauth: JWK use is %s, not \"sig\"", jwkValueForError(m.Use))
	}

	// A missing alg is filled in from kty and crv, as @aauth/local-keys does
	// for older keys; a present one must agree with them.
	switch kind {
	case jwkKindEd25519:
		switch m.Alg {
		case "", jwkx.AlgEd25519:
		case jwkx.AlgEdDSA:
			if t.RequireKeyAlg {
				return 0, fmt.Errorf("aauth: JWK alg \"EdDSA\" is not accepted in the %s profile; use the fully-specified \"Ed25519\" (RFC 9864)", t.Name)
			}
		default:
			return 0, fmt.Errorf("aauth: JWK alg %s does not match an OKP Ed25519 key (want \"Ed25519\")", jwkValueForError(m.Alg))
		}
	case jwkKindP256:
		if m.Alg != "" && m.Alg != jwkx.AlgES256 {
			return 0, fmt.Errorf("aauth: JWK alg %s does not match an EC P-256 key (want \"ES256\")", jwkValueForError(m.Alg))
		}
	}
	return kind, nil
}

// decodeJWKCoord decodes a base64url public member that must be exactly n bytes.
func decodeJWKCoord(name, v string, n int) ([]byte, error) {
	if v == "" {
		return nil, fmt.Errorf("aauth: JWK has no %s", name)
	}
	b, err := jwkx.B64.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("aauth: JWK member %s is not base64url without padding", name)
	}
	if len(b) != n {
		return nil, fmt.Errorf("aauth: JWK member %s is %d bytes, want %d", name, len(b), n)
	}
	return b, nil
}

// publicFromMembers builds the public key named by x (and y).
func publicFromMembers(kind jwkKind, m *jwkx.Members) (crypto.PublicKey, error) {
	switch kind {
	case jwkKindEd25519:
		x, err := decodeJWKCoord("x", m.X, ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		return ed25519.PublicKey(x), nil
	case jwkKindP256:
		x, err := decodeJWKCoord("x", m.X, 32)
		if err != nil {
			return nil, err
		}
		y, err := decodeJWKCoord("y", m.Y, 32)
		if err != nil {
			return nil, err
		}
		point := make([]byte, 0, 65)
		point = append(point, 4)
		point = append(point, x...)
		point = append(point, y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, errors.New("aauth: JWK x and y are not a point on P-256")
		}
		return pub, nil
	}
	return nil, errors.New("aauth: unsupported key type")
}

// ParsePrivateJWK parses a private JWK (one with d) into an
// ed25519.PrivateKey or a P-256 *ecdsa.PrivateKey.
//
// The key must be OKP/Ed25519 or EC/P-256. Its alg, when present, must
// agree with kty and crv: "Ed25519" or "ES256". The current profile
// refuses the polymorphic "EdDSA" that the seed profile accepts. A missing
// alg is fine in both profiles: it is implied by the key type. The public
// members must match d; RSA, symmetric (oct), other curves and public-only
// JWKs are refused. Errors never quote d.
func ParsePrivateJWK(data []byte, p wire.Profile) (crypto.Signer, error) {
	m, err := decodeJWKMembers(data)
	if err != nil {
		return nil, err
	}
	kind, err := checkJWK(&m, p)
	if err != nil {
		return nil, err
	}
	if m.D == "" {
		return nil, errors.New("aauth: JWK has no private key (d); want a private JWK")
	}
	pub, err := publicFromMembers(kind, &m)
	if err != nil {
		return nil, err
	}
	d, err := jwkx.B64.DecodeString(m.D)
	if err != nil {
		return nil, errors.New("aauth: JWK member d is not base64url without padding")
	}
	defer clear(d)
	switch kind {
	case jwkKindEd25519:
		if len(d) != ed25519.SeedSize {
			return nil, fmt.Errorf("aauth: JWK member d is %d bytes, want %d", len(d), ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(d)
		if !bytes.Equal(priv[ed25519.SeedSize:], pub.(ed25519.PublicKey)) {
			clear(priv)
			return nil, errors.New("aauth: JWK x does not match d (mismatched key pair)")
		}
		return priv, nil
	case jwkKindP256:
		if len(d) != 32 {
			return nil, fmt.Errorf("aauth: JWK member d is %d bytes, want 32", len(d))
		}
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, errors.New("aauth: JWK member d is not a valid P-256 private key")
		}
		if !priv.PublicKey.Equal(pub) {
			return nil, errors.New("aauth: JWK x and y do not match d (mismatched key pair)")
		}
		return priv, nil
	}
	return nil, errors.New("aauth: unsupported key type")
}

// ParsePublicJWK parses a public JWK into an ed25519.PublicKey or a P-256
// *ecdsa.PublicKey, under the same rules as [ParsePrivateJWK]. A JWK that
// carries a private key (d) is refused, so that a private key is never
// silently treated, and perhaps published, as a public one.
func ParsePublicJWK(data []byte, p wire.Profile) (crypto.PublicKey, error) {
	m, err := decodeJWKMembers(data)
	if err != nil {
		return nil, err
	}
	if m.D != "" {
		return nil, errors.New("aauth: JWK contains a private key (d); want a public JWK")
	}
	kind, err := checkJWK(&m, p)
	if err != nil {
		return nil, err
	}
	return publicFromMembers(kind, &m)
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: the SHA-256 of its
// canonical JWK, base64url without padding. pub must be an
// ed25519.PublicKey or a P-256 *ecdsa.PublicKey; for any crypto.Signer,
// pass s.Public().
func Thumbprint(pub crypto.PublicKey) (string, error) {
	// The canonical JSON is built by hand: the members are fixed, in
	// lexicographic order, and none needs escaping, so this avoids a JSON
	// encoder and allocations on what is a per-request path for verifiers.
	var buf [160]byte
	b := buf[:0]
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", fmt.Errorf("aauth: Ed25519 public key is %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		b = append(b, `{"crv":"Ed25519","kty":"OKP","x":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, k)
		b = append(b, `"}`...)
	case *ecdsa.PublicKey:
		point, err := jwkx.P256Point(k)
		if err != nil {
			return "", err
		}
		b = append(b, `{"crv":"P-256","kty":"EC","x":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, point[1:33])
		b = append(b, `","y":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, point[33:])
		b = append(b, `"}`...)
	default:
		_, err := jwkx.PublicMembers(pub)
		return "", err
	}
	sum := sha256.Sum256(b)
	var out [43]byte // base64url of 32 bytes, unpadded
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:]), nil
}

// MarshalPublicJWK returns the public JWK of pub, an ed25519.PublicKey or a
// P-256 *ecdsa.PublicKey, with kty, crv, x, y (EC only), alg ("Ed25519" or
// "ES256") and kid, the RFC 7638 thumbprint. For a key held elsewhere (an
// HSM, a KMS), pass its Signer's Public().
func MarshalPublicJWK(pub crypto.PublicKey) ([]byte, error) {
	m, err := jwkx.PublicMembers(pub)
	if err != nil {
		return nil, err
	}
	if m.Kid, err = Thumbprint(pub); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// MarshalPrivateJWK returns the private JWK of key, with kty, crv, x, y
// (EC only), d, alg and kid, the RFC 7638 thumbprint. key must be an
// ed25519.PrivateKey or a P-256 *ecdsa.PrivateKey: a key that cannot be
// exported, such as one in an HSM, has no private JWK.
func MarshalPrivateJWK(key crypto.Signer) ([]byte, error) {
	var d []byte
	var pub crypto.PublicKey
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("aauth: Ed25519 private key is %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
		// The public half is stored next to the seed; derive it again so
		// that a corrupted key is not written out as a mismatched JWK.
		derived := ed25519.NewKeyFromSeed(k.Seed())
		defer clear(derived)
		if !bytes.Equal(derived[ed25519.SeedSize:], k[ed25519.SeedSize:]) {
			return nil, errors.New("aauth: Ed25519 private key's public half does not match its seed")
		}
		d = k.Seed()
		pub = ed25519.PublicKey(bytes.Clone(k[ed25519.SeedSize:]))
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, errors.New("aauth: nil ECDSA private key")
		}
		if _, err := jwkx.P256Point(&k.PublicKey); err != nil {
			return nil, err
		}
		if k.D == nil {
			return nil, errors.New("aauth: ECDSA key is not a valid P-256 key")
		}
		var err error
		if d, err = k.Bytes(); err != nil {
			return nil, errors.New("aauth: ECDSA key is not a valid P-256 private key")
		}
		// Bytes does not check that the public point belongs to D;
		// derive it again so a mismatched pair is not written out.
		derived, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil || !derived.PublicKey.Equal(&k.PublicKey) {
			clear(d)
			return nil, errors.New("aauth: ECDSA private key does not match its public key")
		}
		pub = &k.PublicKey
	case nil:
		return nil, errors.New("aauth: no private key")
	default:
		return nil, fmt.Errorf("aauth: cannot export private key of type %T (want ed25519.PrivateKey or P-256 *ecdsa.PrivateKey)", key)
	}
	defer clear(d)
	m, err := jwkx.PublicMembers(pub)
	if err != nil {
		return nil, err
	}
	if m.Kid, err = Thumbprint(pub); err != nil {
		return nil, err
	}
	m.D = jwkx.B64.EncodeToString(d)
	return json.Marshal(m)
}

// maxKeyFileSize bounds what ReadFile reads; a JWK is a few hundred bytes.
const maxKeyFileSize = 64 << 10

// ReadFile reads a private JWK from the file at path and parses it with
// [ParsePrivateJWK]. Key files hold private keys and should be readable by
// their owner only (mode 0600), as [WriteFile] creates them; ReadFile does
// not check the mode.
func ReadFile(path string, p wire.Profile) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("aauth: reading key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("aauth: reading key file: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("aauth: key file %s is larger than %d bytes", path, maxKeyFileSize)
	}
	key, err := ParsePrivateJWK(data, p)
	if err != nil {
		return nil, safetext.Wrap("key file "+path, err)
	}
	return key, nil
}

// WriteFile writes key as a private JWK (see [MarshalPrivateJWK]) to
// the file at path, readable by its owner only (mode 0600). It replaces
// an existing regular file atomically: the key is written to a temporary
// file in the same directory, created with mode 0600, and renamed over
// path, so a reader never sees a partial key and the key is never
// briefly readable by others. It refuses to replace a symbolic link or
// anything else that is not a regular file. The directory must exist.
func WriteFile(path string, key crypto.Signer) error {
	data, err := MarshalPrivateJWK(key)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	defer clear(data)
	// Errors name path, never the temporary file, which the caller knows
	// nothing of.
	fail := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("aauth: writing key file %s: %w", path, err)
	}

	if fi, err := os.Lstat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("aauth: refusing to write key file %s: it exists and is not a regular file (%s)", path, fi.Mode().Type())
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// os.CreateTemp creates the file with mode 0600, so the key is never
	// readable by others, whatever the umask.
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	// Rename replaces a symlink created after the Lstat rather than
	// writing through it.
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	renamed = true
	// Make the rename durable; not every platform can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
