package aauth

import (
	"context"
	"crypto"
	"strings"
)

// Temporary stand-ins until challenge.go lands.

func FormatCapabilities(c []Capability) string {
	s := make([]string, len(c))
	for i, v := range c {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func FormatMission(m Mission) string {
	return `approver="` + m.Approver + `"; s256="` + m.S256 + `"`
}

func StaticKeys(s crypto.Signer, k SignatureKey) KeySource {
	return KeySourceFunc(func(context.Context) (KeyMaterial, error) { return KeyMaterial{Signer: s, Key: k}, nil })
}
