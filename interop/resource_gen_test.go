package interop

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/aauthgo/aauth/agentprovider"
	"github.com/aauthgo/aauth/wire"
)

// The resource table: requests an AAuth agent signs with httpsig 2.2.0
// (the jwt scheme, the current generation), presenting real agent, person
// and auth tokens whose issuers serve their keys, for a resource.Resource
// to verify over the network.

// resourcePerRun is how many requests the resource table has.
const resourcePerRun = 240

// The hosts the agent signs for: the resource answers to all of them
// (Resource.Authorities), the way a resource reached under several names
// does. Ports are never the other scheme's default, which only a TLS
// listener could tell apart (the signer suite covers that).
var resourceHosts = []string{
	"resource.example", "Resource.Example", "api.example.com", "API.EXAMPLE.COM", "localhost",
	"127.0.0.1", "[::1]", "Bücher.Example",
}

// tokenKind is the kind of token a generated request presents.
type tokenKind string

const (
	kindAgent  tokenKind = "agent"
	kindPerson tokenKind = "person"
	kindAuth   tokenKind = "auth"
)

// resourceSpec is one generated request of the resource table.
type resourceSpec struct {
	*reqSpec
	kind tokenKind
}

// tokenMint mints the tokens of the table: an agent provider (the
// library's AgentTokenIssuer) and a person server, each on an httptest
// server serving its metadata and JWK Set.
type tokenMint struct {
	ap     *agentprovider.Issuer
	apSrv  *httptest.Server
	psURL  string
	psSrv  *httptest.Server
	psKey  ed25519.PrivateKey
	psKid  string
	rsURL  string // the resource's identifier, the aud of person and auth tokens
	byKind map[string]string
}

func newTokenMint(t testing.TB, rsURL string) *tokenMint {
	t.Helper()
	m := &tokenMint{rsURL: rsURL, psKey: ed25519.NewKeyFromSeed(seedBytes("person server")), psKid: "ps-1", byKind: map[string]string{}}
	// The issuer's URL is set before its handler is made, which reads it.
	m.apSrv = httptest.NewUnstartedServer(nil)
	m.ap = &agentprovider.Issuer{Issuer: "http://" + m.apSrv.Listener.Addr().String(), Key: issuerKey.signer, Now: clock}
	m.apSrv.Config.Handler = m.ap.Handler()
	m.apSrv.Start()
	t.Cleanup(m.apSrv.Close)
	m.psSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/aauth-person.json":
			_ = json.NewEncoder(w).Encode(map[string]any{
				"issuer": m.psURL, "jwks_uri": m.psURL + "/jwks",
				"auth_token_endpoint": m.psURL + "/token", "person_token_endpoint": m.psURL + "/person",
			})
		case "/jwks":
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
				"kty": "OKP", "crv": "Ed25519", "alg": "Ed25519", "use": "sig", "kid": m.psKid,
				"x": b64url.EncodeToString(m.psKey.Public().(ed25519.PublicKey)),
			}}})
		default:
			http.NotFound(w, r)
		}
	}))
	m.psURL = m.psSrv.URL
	t.Cleanup(m.psSrv.Close)
	return m
}

// token returns the token of kind for key, minting it once.
func (m *tokenMint) token(t testing.TB, kind tokenKind, key testKey) string {
	t.Helper()
	id := string(kind) + "/" + key.name
	if tok, ok := m.byKind[id]; ok {
		return tok
	}
	var tok string
	switch kind {
	case kindAgent:
		var err error
		tok, _, err = m.ap.Issue(context.Background(), agentprovider.TokenRequest{
			Subject: "aauth:interop-" + key.name + "@agent.example", Key: key.signer.Public(), PersonServer: m.psURL,
		})
		if err != nil {
			t.Fatal(err)
		}
	case kindPerson, kindAuth:
		claims := map[string]any{
			"iss": m.psURL, "dwk": "aauth-person.json", "aud": m.rsURL, "sub": "directed-" + key.name,
			"jti": "jti-" + id, "iat": created.Unix() - 60, "exp": created.Unix() + 1800,
			"cnf": map[string]any{"jwk": key.jwkMembers(false, true)},
		}
		typ := "aa-person+jwt"
		if kind == kindAuth {
			typ = "aa-auth+jwt"
			claims["ps"], claims["scope"] = m.psURL, "read write"
		}
		tok = mintWithKid(t, m.psKey, m.psKid, typ, claims)
	}
	m.byKind[id] = tok
	return tok
}

// mintWithKid signs claims as a JWT with alg Ed25519 and a kid.
func mintWithKid(t testing.TB, key crypto.Signer, kid, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, typ)
	_ = h.Set(jws.KeyIDKey, kid)
	tok, err := jws.Sign(payload, jws.WithKey(jwa.EdDSAEd25519(), key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// resourceSpecs generates the table, the same every run. Method, key
// type and token kind cycle so that every combination occurs; the rest is
// drawn at random. Each request carries X-Spec: its number (not covered),
// so that the handler's answer can be matched to it.
func resourceSpecs(t testing.TB, m *tokenMint, n int) []*resourceSpec {
	r := rand.New(rand.NewPCG(0x5e50, 12))
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	chance := func(p float64) bool { return r.Float64() < p }
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "post", "patch", "HEAD", "OPTIONS", ""}
	kinds := []tokenKind{kindAgent, kindPerson, kindAuth}

	specs := make([]*resourceSpec, 0, n)
	for i := range n {
		s := &resourceSpec{reqSpec: &reqSpec{n: i, gen: wire.ProfileCurrent, scheme: wire.SchemeJWT}}
		s.method = methods[i%len(methods)]
		s.key = agentKeys[(i/len(methods))%len(agentKeys)]
		s.kind = kinds[(i/(len(methods)*len(agentKeys)))%len(kinds)]
		s.token = m.token(t, s.kind, s.key)

		scheme, port := "https", pick([]string{"", "", ":8443", ":3000"})
		if chance(0.25) {
			scheme, port = "http", pick([]string{"", ":8080"})
		}
		s.url = scheme + "://" + pick(resourceHosts) + port + pick(genPaths) + pick(genQueries)

		bodyOK := !strings.EqualFold(s.method, "GET") && !strings.EqualFold(s.method, "HEAD") && s.method != ""
		if bodyOK && chance(0.75) {
			s.body = genBody(r)
			if chance(0.7) {
				ct := pick(genTypes)
				if !s.body.Text {
					ct = "application/octet-stream"
				}
				s.headers = append(s.headers, [2]string{pick(genTypeNames), ct})
			}
		}
		s.headers = append(s.headers, [2]string{"X-Spec", fmt.Sprint(i)})
		var present []string
		add := func(p float64, name, value string) {
			if chance(p) {
				s.headers = append(s.headers, [2]string{name, value})
				present = append(present, strings.ToLower(name))
			}
		}
		add(0.3, "Prefer", "wait=45")
		add(0.3, "AAuth-Capabilities", "interaction, clarification")
		add(0.3, "X-Request-Id", fmt.Sprintf("%016x", r.Uint64()))
		add(0.2, "Accept", "application/json")
		if chance(0.15) {
			// A session token from an earlier grant, which the agent must
			// cover (the resource, not in session mode, ignores it).
			s.session = true
			s.headers = append(s.headers, [2]string{"Authorization", fmt.Sprintf("AAuth opaque-%x", r.Uint64())})
		}
		if chance(0.4) {
			for _, h := range present {
				if chance(0.5) {
					s.extras = append(s.extras, h)
				}
			}
		}
		if chance(0.1) {
			s.label = pick([]string{"aauth", "req1"})
		}
		specs = append(specs, s)
	}
	return specs
}

// TestResourceGeneratorCoverage checks that the resource table has every
// combination it promises, so that a change to the generator cannot
// quietly drop one. It needs no node.
func TestResourceGeneratorCoverage(t *testing.T) {
	m := newTokenMint(t, "http://127.0.0.1:1")
	seen := map[string]int{}
	for _, s := range resourceSpecs(t, m, resourcePerRun) {
		seen[string(s.kind)+"/"+s.key.name]++
		seen["method "+orDefault(s.method, "(default)")]++
		if s.body != nil {
			seen["body"]++
			if len(s.body.Bytes) == 0 {
				seen["empty body"]++
			}
		}
		if s.session {
			seen["session token"]++
		}
		if s.extras != nil {
			seen["extra components"]++
		}
		if s.label != "" {
			seen["other label"]++
		}
		if strings.HasPrefix(s.url, "http:") {
			seen["http"]++
		}
	}
	want := []string{"body", "empty body", "session token", "extra components", "other label", "http"}
	for _, k := range []tokenKind{kindAgent, kindPerson, kindAuth} {
		for _, key := range agentKeys {
			want = append(want, string(k)+"/"+key.name)
		}
	}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "post", "patch", "HEAD", "OPTIONS", "(default)"} {
		want = append(want, "method "+m)
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("the resource table has no %s", w)
		}
	}
}
