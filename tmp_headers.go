package aauth

import (
	"context"
	"crypto"
)

// Temporary stand-in until keys.go lands.
func StaticKeys(s crypto.Signer, k SignatureKey) KeySource {
	return KeySourceFunc(func(context.Context) (KeyMaterial, error) { return KeyMaterial{Signer: s, Key: k}, nil })
}
