package sigverify

import "crypto"

// JWK holds the members of a JSON Web Key that matter for a signing key,
// already decoded from JSON by the caller.
type JWK struct {
	Kty, Crv, X, Y, Alg string
	// Private is set when the JWK holds private key material (d, or
	// another private member), which a public key never may.
	Private bool
}

// KeyFromJWK turns j into an ed25519.PublicKey or a P-256
// *ecdsa.PublicKey under the rules Verify applies to the key in
// Signature-Key. With requireAlg (the current generation) alg must be
// present and fully specified (Ed25519 or ES256; EdDSA is refused);
// without it alg may be absent, and EdDSA is read as Ed25519. where names
// the key in error details, such as "cnf.jwk". Errors are *Error with
// CodeInvalidKey (malformed, private, or alg disagreeing with the key
// type) or CodeUnsupportedAlgorithm (another key type, curve or alg).
//
// It lets a caller that has decoded a JWT's claims anyway take the key
// from them and check the signature with VerifyWithKey, instead of having
// Verify decode the JWT a second time.
func KeyFromJWK(j JWK, requireAlg bool, where string) (crypto.PublicKey, error) {
	return publicKeyFromJWK(jwkFields{kty: j.Kty, crv: j.Crv, x: j.X, y: j.Y, alg: j.Alg, private: j.Private}, requireAlg, where)
}
