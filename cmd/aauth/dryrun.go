package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/profile"
	"github.com/aauthgo/aauth/wire"
)

// errDryRun stops a signed request before it is sent.
var errDryRun = errors.New("dry run: not sent")

// dryRun signs req as the first request of the flow would be signed (the
// agent token or bare key, the declared capabilities, the seed profile's
// mission header) and prints it instead of sending it:
//
//	METHOD URL
//	Name: value
//	…
//
//	body
//
// The URL is the one signed and sent (dot segments resolved, the host
// normalised), and a Host line appears only when -H Host set one, so the
// output verifies as it stands.
func (e *env) dryRun(req *http.Request, o *fetchOptions) error {
	var signed *http.Request
	// What the Transport declares: in the current profile it adds budget
	// to the listed capabilities (Transport.Capabilities), and a dry run
	// shows what a fetch sends.
	caps := o.capabilities
	if profile.For(o.profile).BudgetCapability && !slices.Contains(caps, wire.CapabilityBudget) {
		caps = append(slices.Clip(caps), wire.CapabilityBudget)
	}
	st := &aauth.SigningTransport{
		Base: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			signed = r
			return nil, errDryRun
		}),
		Keys:         aauth.StaticKeys(o.signer, o.sigKey),
		Capabilities: caps,
		Mission:      o.mission,
		Profile:      o.profile,
		Now:          e.now,
	}
	if _, err := st.RoundTrip(req); !errors.Is(err, errDryRun) {
		return fmt.Errorf("signing: %s", trimPrefix(err))
	}
	var body []byte
	if signed.Body != nil && signed.Body != http.NoBody {
		b, err := io.ReadAll(signed.Body)
		signed.Body.Close()
		if err != nil {
			return fmt.Errorf("reading the body: %v", err)
		}
		body = b
	}

	// The signer normalised the authority into Host. Without a Host of
	// the caller's, that is the URL's own host; show it there.
	u := *signed.URL
	host := ""
	if o.host == "" {
		u.Host = signed.Host
	} else {
		host = signed.Host
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", signed.Method, &u)
	if host != "" {
		fmt.Fprintf(&b, "Host: %s\n", host)
	}
	writeHeaderLines(&b, signed.Header, func(_, v string) string { return v })
	b.WriteString("\n")
	if _, err := io.WriteString(e.stdout, b.String()); err != nil {
		return err
	}
	_, err := e.stdout.Write(body)
	return err
}

// roundTripperFunc adapts a function to an http.RoundTripper.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
