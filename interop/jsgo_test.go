package interop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aauthgo/aauth"
	"github.com/aauthgo/aauth/internal/sigverify"
	"github.com/aauthgo/aauth/wire"
)

// verifyOptions is how a server of generation s.gen verifies s: at the
// fixed clock, with the current generation's alg rules and, there, a
// content-digest required on every body (as a person server does).
func verifyOptions(s *reqSpec) sigverify.Options {
	return sigverify.Options{
		Label:         s.label,
		Now:           clock,
		RequireAlg:    s.gen == aauth.ProfileCurrent,
		RequireDigest: s.gen == aauth.ProfileCurrent,
	}
}

// goVerify hands w to our verifier as a Go server receives it.
func goVerify(s *reqSpec, w wireReq) (*sigverify.Result, error) {
	req, err := w.serverRequest()
	if err != nil {
		return nil, err
	}
	return sigverify.Verify(req, verifyOptions(s))
}

// checkResult compares what the verifier reports with what was signed.
func checkResult(s *reqSpec, res *sigverify.Result) error {
	scheme := s.scheme
	if scheme == wire.SchemeJKTJWT && s.gen == aauth.ProfileSeed {
		scheme = wire.SchemeJWT // sent as the jwt scheme, as @aauth/mcp-agent does
	}
	var problems []string
	if res.Scheme != scheme {
		problems = append(problems, fmt.Sprintf("scheme %q, want %q", res.Scheme, scheme))
	}
	if res.Token != s.token {
		problems = append(problems, "the token differs")
	}
	if want := orDefault(s.label, wire.DefaultLabel); res.Label != want {
		problems = append(problems, fmt.Sprintf("label %q, want %q", res.Label, want))
	}
	if tp := s.key.thumbprint(); res.Thumbprint != tp {
		problems = append(problems, fmt.Sprintf("thumbprint %s, want %s", res.Thumbprint, tp))
	}
	if !res.Created.Equal(created) {
		problems = append(problems, fmt.Sprintf("created %v, want %v", res.Created, created))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// goRejects checks that our verifier refuses a tampered request with a
// typed error, and returns its code.
func goRejects(s *reqSpec, w wireReq) (code string, err error) {
	res, err := goVerify(s, w)
	if err == nil {
		return "", fmt.Errorf("accepted (label %s)", res.Label)
	}
	var ve *sigverify.Error
	if !errors.As(err, &ve) {
		return "", fmt.Errorf("rejected with an untyped error: %v", err)
	}
	return ve.Code, nil
}

// TestJSSignedVerifiedByGo has httpsig sign the generated requests (fetch
// with dryRun), rebuilds each as a Go server receives it, and has our
// verifier accept every one. httpsig's own verifier must accept them too
// (a check on the rebuilding). A sample is tampered with, and both
// verifiers must reject every tampered copy.
func TestJSSignedVerifiedByGo(t *testing.T) {
	needNode(t)
	for _, gen := range generations {
		t.Run(gen.String(), func(t *testing.T) {
			t.Parallel()
			specs, signed := jsSigned(t, gen)
			requireDigest := gen == aauth.ProfileCurrent
			bad := &mismatches{t: t, what: "httpsig " + pinned[gen.String()] + " → Go"}

			type check struct {
				spec   *reqSpec
				tamper string
				wire   wireReq
			}
			var checks []check
			var msgs []any
			accepted, excused, goRejected := 0, excuses{}, map[string]int{}
			for i, s := range specs {
				a := signed[i]
				if !a.OK {
					bad.add("%v: httpsig cannot sign it: %s", s, a.Error)
					continue
				}
				w := wireFromJS(s, a)
				checks = append(checks, check{s, "", w})
				msgs = append(msgs, w.verifyMsg(len(msgs), gen, requireDigest))
				switch why, err := goAccepts(s, w); {
				case err != nil:
					bad.add("%v: %v\n    sent %s %s host=%s headers=%q", s, err, w.method, w.target(), w.authority, w.headers)
				case why != "":
					excused[why]++
				default:
					accepted++
				}
				if s.n%tamperEvery != 0 {
					continue
				}
				for _, tp := range tampers {
					tw := w.clone()
					if !tp.apply(s, &tw) {
						continue
					}
					checks = append(checks, check{s, tp.name, tw})
					msgs = append(msgs, tw.verifyMsg(len(msgs), gen, requireDigest))
					code, err := goRejects(s, tw)
					if err != nil {
						bad.add("%v: tampered %s: %v", s, tp.name, err)
						continue
					}
					goRejected[code]++
				}
			}
			// httpsig's verifier on the same requests.
			answers := js(t, msgs)
			jsRejected := 0
			for i, c := range checks {
				switch a := answers[i]; {
				case c.tamper == "" && !a.OK:
					bad.add("%v: httpsig rejects its own request as rebuilt here: %s", c.spec, a.Error)
				case c.tamper != "" && a.OK:
					bad.add("%v: httpsig accepted its request with a tampered %s", c.spec, c.tamper)
				case c.tamper != "":
					jsRejected++
				}
			}
			bad.report(len(checks))
			codes := make([]string, 0, len(goRejected))
			for code, n := range goRejected {
				codes = append(codes, fmt.Sprintf("%s %d", code, n))
			}
			slices.Sort(codes)
			t.Logf("our verifier accepted %d of %d requests signed by httpsig %s; known limits met (verifierDerivesLikeFetch): %v; tampered copies rejected by ours (%s) and by httpsig (%d)",
				accepted, len(specs), pinned[gen.String()], excused, strings.Join(codes, ", "), jsRejected)
		})
	}
}
