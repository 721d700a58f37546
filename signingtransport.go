package aauth

import (
	"errors"
	"net/http"
	"time"

	"github.com/aauthgo/aauth/internal/egress"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/internal/psmark"
	"github.com/aauthgo/aauth/wire"
)

// SigningTransport is an http.RoundTripper that signs every request with
// key material from Keys and sends it through Base. It answers no AAuth
// challenge: it is the Go form of the JavaScript createSignedFetch. Use
// Transport for the whole flow.
//
// Keys is called once per request, so rotating keys and renewed tokens are
// picked up as they change. The caller's request is never modified: a clone
// is signed and sent.
type SigningTransport struct {
	// Base sends the signed requests; nil means http.DefaultTransport.
	// Requests a server steered (see ErrEgress) have the address they
	// connect to checked when Base is nil or an *http.Transport.
	Base http.RoundTripper

	// Keys supplies the key material for each request. Required.
	Keys KeySource

	// Capabilities, when set, are declared in AAuth-Capabilities on every
	// request, except, in the current profile, on the person-server
	// requests of package psclient, whose body carries them instead.
	Capabilities []wire.Capability

	// Mission, when set, is sent in AAuth-Mission on every request in the
	// seed profile. The current profile has no mission header; the
	// mission travels in person-token requests instead.
	Mission *wire.Mission

	// Profile selects the wire generation.
	Profile wire.Profile

	// Components are covered in addition to the profile's defaults.
	Components []string

	// Now is the clock for the signature's created time; nil means
	// time.Now.
	Now func() time.Time
}

// RoundTrip signs a clone of req and sends it.
func (t *SigningTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Keys == nil {
		closeBody(req)
		return nil, errors.New("aauth: SigningTransport.Keys is nil")
	}
	tab, err := profile.Check(t.Profile)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	km, err := t.Keys.KeyMaterial(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(req.Context())
	// The person-server client marks its requests: a profile that keeps
	// capabilities (and the mission) out of person-server requests gets
	// neither header there.
	sendAgentHeaders := tab.CapabilitiesOnPS || !psmark.Marked(req.Context())
	if len(t.Capabilities) > 0 && sendAgentHeaders {
		r.Header[keyCapabilities] = []string{wire.FormatCapabilities(t.Capabilities)}
	}
	if t.Mission != nil && tab.MissionHeader && sendAgentHeaders {
		r.Header.Set("AAuth-Mission", wire.FormatMission(*t.Mission))
	}
	s := Signer{Profile: t.Profile, ExtraComponents: t.Components, Now: t.Now}
	if err := s.Sign(r, km); err != nil {
		closeBody(req)
		return nil, err
	}
	return sendVia(t.Base, r)
}

// Client returns an *http.Client that signs through t.
func (t *SigningTransport) Client() *http.Client { return &http.Client{Transport: t} }

// keyCapabilities is the net/http form of AAuth-Capabilities, set on every
// request that declares capabilities: the map key Header.Set would
// compute, with an allocation, each time.
var keyCapabilities = http.CanonicalHeaderKey("AAuth-Capabilities")

// sendVia sends req through base (nil: http.DefaultTransport), checking
// the address dialled when a server steered the request (see ErrEgress).
func sendVia(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	return egress.RoundTrip(base, req)
}

// closeBody closes a request body on paths that do not hand the request to
// a RoundTripper, as the RoundTripper contract asks.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
