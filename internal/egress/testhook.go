package egress

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// SetResolverForTest makes the egress checks, and the library's guarded
// dialer (see RoundTrip), resolve host names with f, for the tests of the
// packages that use them; the returned function restores the resolvers.
// The checks call f with network "ip"; the dialer asks for each address
// family apart, with "ip4" and "ip6", and keeps the addresses of that
// family. Tests that use it must not run in parallel with others.
func SetResolverForTest(f func(ctx context.Context, network, host string) ([]netip.Addr, error)) (restore func()) {
	oldLookup, oldDial := lookupNetIP, dialResolver
	lookupNetIP = f
	dialResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go serveDNS(server, f)
		return client, nil
	}}
	return func() { lookupNetIP, dialResolver = oldLookup, oldDial }
}

// TableResolver returns a resolver for SetResolverForTest that answers
// each host of table with its one address, and fails for any other host.
func TableResolver(table map[string]string) func(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	}
}

// serveDNS answers the one query the Go resolver sends on c (a stream:
// length-prefixed messages) from f: A and AAAA questions get f's
// addresses of their family, any other name error is NXDOMAIN.
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
	host := strings.TrimSuffix(q.Name.String(), ".")
	addrs, lookupErr := f(context.Background(), network, host)
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
	if lookupErr != nil {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 2, 514), rh)
	b.EnableCompression()
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
