package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aauthgo/aauth/resource"
)

// TestResourceAcceptsJSSigned is issue 12's interop table: httpsig 2.2.0
// signs a few hundred generated requests presenting agent, person and auth
// tokens from real issuers; each is sent over TCP, as fetch would send it,
// to a resource.Resource in front of a handler, which must serve every one
// with the right caller. Every third one is then tampered with in each way
// that applies, and every copy must be refused with 401 and a
// Signature-Error; every request with a method that changes something is
// sent again as it was, and must be refused as a replay.
func TestResourceAcceptsJSSigned(t *testing.T) {
	needNode(t)
	rs := &resource.Resource{Now: clock}
	srv := httptest.NewServer(rs.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := resource.FromContext(r.Context())
		if !ok {
			http.Error(w, "no caller", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Kind", string(c.Kind))
		w.Header().Set("X-Thumbprint", c.Thumbprint)
		w.Header().Set("X-Body-Len", strconv.Itoa(len(body)))
		w.Header().Set("X-Spec", r.Header.Get("X-Spec"))
	})))
	defer srv.Close()
	rs.Issuer = srv.URL
	m := newTokenMint(t, srv.URL)
	specs := resourceSpecs(t, m, resourcePerRun)

	msgs := make([]any, len(specs))
	for i, s := range specs {
		msgs[i] = s.signMsg(i)
	}
	answers := js(t, msgs)
	for _, a := range answers {
		if a.OK && !slices.Contains(rs.Authorities, a.Host) {
			rs.Authorities = append(rs.Authorities, a.Host)
		}
	}

	bad := &mismatches{t: t, what: "httpsig " + pinned["current"] + " → resource"}
	client := &rawClient{addr: srv.Listener.Addr().String()}
	defer client.close()
	served, refused, replays, byKind, codes := 0, 0, 0, map[tokenKind]int{}, map[string]int{}
	seen := map[string]bool{}
	for i, s := range specs {
		a := answers[i]
		if !a.OK {
			bad.add("%v: httpsig cannot sign it: %s", s, a.Error)
			continue
		}
		w := wireFromJS(s.reqSpec, a)
		resp, err := client.do(w)
		if err != nil {
			bad.add("%v: %v", s, err)
			continue
		}
		switch {
		case resp.StatusCode != http.StatusOK:
			bad.add("%v: status %d, Signature-Error %q\n    sent %s %s host=%s headers=%q", s, resp.StatusCode, resp.Header.Get("Signature-Error"), w.method, w.target(), w.authority, w.headers)
			continue
		case resp.Header.Get("X-Spec") != strconv.Itoa(i) || resp.Header.Get("X-Kind") != string(s.kind) ||
			resp.Header.Get("X-Thumbprint") != s.key.thumbprint() || resp.Header.Get("X-Body-Len") != strconv.Itoa(len(w.body)):
			bad.add("%v: the handler saw spec %s kind %s thumbprint %s body %s bytes", s, resp.Header.Get("X-Spec"),
				resp.Header.Get("X-Kind"), resp.Header.Get("X-Thumbprint"), resp.Header.Get("X-Body-Len"))
			continue
		}
		served++
		byKind[s.kind]++

		sig, _ := headerValue(w.headers, "signature")
		if !safeMethod(w.method) && !seen[sig] {
			seen[sig] = true
			resp, err := client.do(w)
			switch {
			case err != nil:
				bad.add("%v: replay: %v", s, err)
			case resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Signature-Error"), "error=invalid_signature"):
				bad.add("%v: the replayed request got %d %q", s, resp.StatusCode, resp.Header.Get("Signature-Error"))
			default:
				replays++
			}
		}

		if s.n%tamperEvery != 0 {
			continue
		}
		for _, tp := range tampers {
			tw := w.clone()
			if !tp.apply(s.reqSpec, &tw) {
				continue
			}
			resp, err := client.do(tw)
			switch {
			case err != nil:
				bad.add("%v: tampered %s: %v", s, tp.name, err)
			case resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Signature-Error") == "":
				bad.add("%v: tampered %s: status %d, Signature-Error %q", s, tp.name, resp.StatusCode, resp.Header.Get("Signature-Error"))
			default:
				refused++
				code, _, _ := strings.Cut(strings.TrimPrefix(resp.Header.Get("Signature-Error"), "error="), ",")
				codes[tp.name+" → "+code]++
			}
		}
	}
	bad.report(len(specs))
	list := make([]string, 0, len(codes))
	for c, n := range codes {
		list = append(list, fmt.Sprintf("%s %d", c, n))
	}
	slices.Sort(list)
	t.Logf("the resource served %d of %d requests signed by httpsig %s (agent %d, person %d, auth %d) over %d host names; refused %d tampered copies (%s) and %d replays",
		served, len(specs), pinned["current"], byKind[kindAgent], byKind[kindPerson], byKind[kindAuth], len(rs.Authorities), refused, strings.Join(list, ", "), replays)
	if served < len(specs)*9/10 || refused == 0 || replays == 0 {
		t.Errorf("too little was checked: %d served, %d tampered copies refused, %d replays", served, refused, replays)
	}
}

func safeMethod(m string) bool {
	switch strings.ToUpper(m) {
	case "GET", "HEAD", "OPTIONS", "":
		return true
	}
	return false
}

// rawClient sends wire requests over one keep-alive TCP connection, as
// written (method and Host as fetch sends them), and reads the answers.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) do(w wireReq) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.try(w)
		if err == nil || attempt > 0 {
			return resp, err
		}
		c.close() // the server may have closed an idle connection
	}
}

func (c *rawClient) try(w wireReq) (*http.Response, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return nil, err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", w.method, w.target(), w.authority)
	for _, h := range w.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if w.body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(w.body))
	}
	b.WriteString("\r\n")
	b.Write(w.body)
	if _, err := c.conn.Write(b.Bytes()); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, &http.Request{Method: strings.ToUpper(w.method)})
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		c.close()
	}
	return resp, err
}
