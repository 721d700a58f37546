package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// useResolver makes the checks and the library's own dialer resolve names
// with f, for the test: the checks call it with network "ip", the dialer
// (through a Go resolver talking to an in-process DNS server) with "ip4"
// and "ip6", keeping the addresses of that family.
func useResolver(t *testing.T, f func(ctx context.Context, network, host string) ([]netip.Addr, error)) {
	t.Cleanup(SetResolverForTest(f))
	old := dialResolver
	dialResolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveDNS(server, f)
		return client, nil
	}}
	t.Cleanup(func() { dialResolver = old })
}

// serveDNS answers the one query the Go resolver sends on c (a stream:
// length-prefixed messages) from f: A and AAAA questions get f's
// addresses of their family; an error of f is NXDOMAIN.
func serveDNS(c net.Conn, f func(ctx context.Context, network, host string) ([]netip.Addr, error)) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return
	}
	query := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, query); err != nil {
		return
	}
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return
	}
	q, err := p.Question()
	if err != nil {
		return
	}
	network := "ip4"
	if q.Type == dnsmessage.TypeAAAA {
		network = "ip6"
	}
	addrs, lookupErr := f(context.Background(), network, strings.TrimSuffix(q.Name.String(), "."))
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
	if lookupErr != nil {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), rh)
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return
	}
	rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			if b.AResource(rr, dnsmessage.AResource{A: a.As4()}) != nil {
				return
			}
		case q.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
			if b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()}) != nil {
				return
			}
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return
	}
	binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
	c.Write(msg)
}

// rebinding is a DNS that answers one name with a public address the first
// time it is asked for IPv4 addresses and with loopback afterwards, the
// answer a rebinding attacker gives the check and then the dialer.
type rebinding struct {
	host  string
	mu    sync.Mutex
	asked int
}

func (r *rebinding) lookup(_ context.Context, network, host string) ([]netip.Addr, error) {
	if host != r.host {
		return nil, errors.New("no such host")
	}
	if network == "ip6" {
		return nil, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	if r.asked == 1 {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// internalService is a TLS server on loopback standing for a service the
// agent must not be steered to; it counts the requests that reach it.
func internalService(t *testing.T) (srv *httptest.Server, hits *atomic.Int32, port string) {
	hits = new(atomic.Int32)
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("internal secrets"))
	}))
	t.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	return srv, hits, port
}

// trusting is a TLS configuration that accepts srv's certificate for any
// name.
func trusting(srv *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: pool, ServerName: "example.com"}
}

// steered asks Target about target, named by a public server, and returns
// a request for it under the rule Target chose.
func steered(t *testing.T, target string) *http.Request {
	t.Helper()
	from, _ := url.Parse("https://public.example/start")
	to, _ := url.Parse(target)
	ctx, err := Target(context.Background(), from, to)
	if err != nil {
		t.Fatalf("Target refused %s: %v", target, err)
	}
	if !PublicOnly(ctx) {
		t.Fatalf("Target left %s free to reach private addresses", target)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// The check resolves the name to a public address, the dialer to loopback:
// the connection is refused, and nothing reaches the internal service.
func TestRoundTripRebinding(t *testing.T) {
	srv, hits, port := internalService(t)
	for _, tc := range []struct {
		name string
		base func(dns *rebinding) http.RoundTripper
	}{
		{"library dialer, Base nil", func(*rebinding) http.RoundTripper { return nil }},
		{"library dialer, Base an http.Transport", func(*rebinding) http.RoundTripper {
			return &http.Transport{TLSClientConfig: trusting(srv)}
		}},
		{"caller's dialer", func(dns *rebinding) http.RoundTripper {
			return &http.Transport{TLSClientConfig: trusting(srv), DialContext: dnsDialer(dns.lookup)}
		}},
		{"caller's TLS dialer", func(dns *rebinding) http.RoundTripper {
			dial := dnsDialer(dns.lookup)
			return &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return tls.Client(c, trusting(srv)), nil
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns := &rebinding{host: "rebind.example"}
			useResolver(t, dns.lookup)
			base := tc.base(dns)
			req := steered(t, "https://rebind.example:"+port+"/admin")
			resp, err := RoundTrip(base, req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("status %d: the request reached the internal service", resp.StatusCode)
			}
			if !errors.Is(err, ErrEgress) {
				t.Fatalf("error %v, want ErrEgress", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "127.0.0.1") || strings.Count(msg, "aauth:") != 1 || strings.Contains(msg, "dial tcp") {
				t.Errorf("message %q", msg)
			}
			if dns.asked < 2 {
				t.Errorf("the dialer did not resolve the name (%d lookups)", dns.asked)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("%d requests reached the internal service", n)
			}
			if tr, ok := base.(*http.Transport); ok {
				tr.CloseIdleConnections()
			}
		})
	}
}

// dnsDialer is a caller's dialer that resolves names with lookup.
func dnsDialer(lookup func(context.Context, string, string) ([]netip.Addr, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err != nil {
			addrs, err := lookup(ctx, "ip4", host)
			if err != nil || len(addrs) == 0 {
				return nil, errors.New("no such host")
			}
			host = addrs[0].String()
		}
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(host, port))
	}
}

// A connection the caller's own request opened to an internal address is
// not reused by a request a server steered to the same name.
func TestRoundTripPoolSeparated(t *testing.T) {
	srv, hits, port := internalService(t)
	// The caller's dialer: the name is the internal service (its own
	// configuration, say /etc/hosts).
	base := &http.Transport{TLSClientConfig: trusting(srv), DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, strings.Replace(addr, "svc.example", "127.0.0.1", 1))
	}}
	defer base.CloseIdleConnections()
	t.Cleanup(SetResolverForTest(TableResolver(map[string]string{"svc.example": "93.184.216.34", "public.example": "93.184.216.35"})))

	own, _ := http.NewRequest(http.MethodGet, "https://svc.example:"+port+"/", nil)
	resp, err := RoundTrip(base, own)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the connection goes back to base's pool
	if hits.Load() != 1 {
		t.Fatalf("the caller's own request did not arrive")
	}

	resp, err = RoundTrip(base, steered(t, "https://svc.example:"+port+"/admin"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("a steered request reused the caller's connection to an internal address")
	}
	if !errors.Is(err, ErrEgress) || hits.Load() != 1 {
		t.Fatalf("error %v, %d hits; want ErrEgress and no new hit", err, hits.Load())
	}
}

// Requests that are not PublicOnly go through base itself, and so do
// PublicOnly ones when base is not an *http.Transport.
func TestRoundTripUnguarded(t *testing.T) {
	var n atomic.Int32
	rt := roundTripperFunc(func(*http.Request) (*http.Response, error) {
		n.Add(1)
		return nil, errors.New("sent")
	})
	t.Cleanup(SetResolverForTest(TableResolver(map[string]string{"svc.example": "93.184.216.34", "public.example": "93.184.216.35"})))
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "https://svc.example/", nil),
		steered(t, "https://svc.example/"),
	} {
		req.RequestURI = ""
		RoundTrip(rt, req)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests reached the custom RoundTripper, want 2", n.Load())
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Target's rules: today's checks, and the mark for the dialer.
func TestTargetRule(t *testing.T) {
	fakeDNS(t, map[string]string{
		"ps.example":       "93.184.216.34",
		"other.example":    "93.184.216.35",
		"internal.example": "10.1.2.3",
		"ps.corp":          "192.168.1.10",
	})
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	bg := context.Background()
	for _, c := range []struct {
		ctx             context.Context
		trusted, target string
		ok, publicOnly  bool
	}{
		{bg, "https://ps.example", "https://ps.example/token", true, false},
		{bg, "https://ps.example", "https://other.example/token", true, true},
		{bg, "https://ps.example", "https://internal.example/token", false, false},
		{bg, "https://ps.corp", "https://internal.example/token", true, false},
		{bg, "https://ps.corp", "https://other.example/token", true, false},
		// Reached under PublicOnly: the rule carries on, on the same host
		// and beyond, and a private trusted host no longer relaxes it.
		{WithPublicOnly(bg, true), "https://other.example", "https://other.example/next", true, true},
		{WithPublicOnly(bg, true), "https://ps.corp", "https://internal.example/", false, false},
		{WithPublicOnly(bg, true), "https://ps.corp", "https://other.example/", true, true},
		// Relaxed egress: anything, and no mark.
		{WithInsecure(WithPublicOnly(bg, true)), "https://ps.example", "https://internal.example/", true, false},
		// The caller's own server drops an inherited mark.
		{Trusted(WithPublicOnly(bg, true)), "https://ps.corp", "https://internal.example/", true, false},
	} {
		ctx, err := Target(c.ctx, u(c.trusted), u(c.target))
		if (err == nil) != c.ok || err == nil && PublicOnly(ctx) != c.publicOnly {
			t.Errorf("%s → %s: error %v, PublicOnly %v; want ok=%v, PublicOnly %v", c.trusted, c.target, err, err == nil && PublicOnly(ctx), c.ok, c.publicOnly)
		}
		if err != nil && !errors.Is(err, ErrEgress) {
			t.Errorf("%s → %s: %v is not ErrEgress", c.trusted, c.target, err)
		}
	}
}

// The cost RoundTrip adds to a request no server steered (the warm path of
// every Transport request): a context lookup. Compare the two
// sub-benchmarks.
func BenchmarkRoundTripNotSteered(b *testing.B) {
	resp := &http.Response{StatusCode: 200}
	rt := roundTripperFunc(func(*http.Request) (*http.Response, error) { return resp, nil })
	type k struct{ int }
	ctx := context.Background()
	for i := range 4 { // a caller's context carries a few values
		ctx = context.WithValue(ctx, k{i}, i)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://resource.example/", nil)
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			rt.RoundTrip(req)
		}
	})
	b.Run("egress.RoundTrip", func(b *testing.B) {
		for b.Loop() {
			RoundTrip(rt, req)
		}
	})
}
