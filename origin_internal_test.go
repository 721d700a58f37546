package aauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aauthgo/aauth/psclient"
)

// originsAgent is a Transport whose Base answers in process with answer,
// and whose table of origins holds at most max.
func originsAgent(t *testing.T, max int, answer func(r *http.Request) *http.Response) *Transport {
	tr := &Transport{
		Base: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			resp := answer(r)
			resp.Request = r
			if resp.Body == nil {
				resp.Body = http.NoBody
			}
			return resp, nil
		}),
		Keys:       StaticKeys(benchKey, JWT(benchToken)),
		maxOrigins: max,
	}
	return tr
}

func doGet(t *testing.T, c *http.Client, u string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil && !isRedirectLimit(err) {
		t.Fatalf("GET %s: %v", u, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

func isRedirectLimit(err error) bool {
	var ue *url.Error
	return errors.As(err, &ue) && ue.Err != nil && ue.Err.Error() == "stopped after 10 redirects"
}

// The table of origins keeps its bound however many origins teach the
// Transport something (here, components to cover).
func TestOriginTableBounded(t *testing.T) {
	tr := originsAgent(t, 64, func(r *http.Request) *http.Response {
		return &http.Response{StatusCode: 401, Header: http.Header{"Signature-Error": {`error=invalid_input, required_input=("x-a" "x-b")`}}}
	})
	c := tr.Client()
	for i := 0; i < 1000; i++ {
		doGet(t, c, fmt.Sprintf("https://r%d.example/", i))
	}
	if n := tr.origins.Len(); n > 64 {
		t.Fatalf("%d origins kept, bound 64", n)
	}
}

// Origins reached by redirects take at most a quarter of the table and do
// not evict the origins the caller calls: what those learnt stays.
func TestRedirectOriginsOnProbation(t *testing.T) {
	var mu sync.Mutex
	next := 0
	tr := originsAgent(t, 64, func(r *http.Request) *http.Response {
		if r.URL.Host == "caller.localhost" {
			if strings.Contains(r.Header.Get("Signature-Input"), `"x-a"`) {
				return &http.Response{StatusCode: 200, Header: http.Header{}}
			}
			return &http.Response{StatusCode: 401, Header: http.Header{"Signature-Error": {`error=invalid_input, required_input=("x-a")`}}}
		}
		mu.Lock()
		next++
		n := next
		mu.Unlock()
		return &http.Response{StatusCode: 302, Header: http.Header{"Location": {fmt.Sprintf("https://h%d.localhost/", n)}}}
	})
	c := tr.Client()
	req, _ := http.NewRequest("GET", "https://caller.localhost/", nil)
	req.Header.Set("X-A", "1")
	resp, err := c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("caller's request: %v, %v", resp, err)
	}
	callerState, _ := tr.origins.Get(originKey{true, "caller.localhost"}, false)
	for i := 0; i < 200; i++ {
		doGet(t, c, "https://start.localhost/")
	}
	if st, ok := tr.origins.Get(originKey{true, "caller.localhost"}, false); !ok || st != callerState {
		t.Fatal("the caller's origin was evicted by 1,800 redirect-reached origins")
	}
	if prob, _ := tr.origins.Segments(); prob > 16 {
		t.Fatalf("%d origins on probation, bound 16", prob)
	}
	if n := tr.origins.Len(); n > 64 {
		t.Fatalf("%d origins kept, bound 64", n)
	}
}

// Two spellings of one origin share its state.
func TestOriginSpellings(t *testing.T) {
	tr := originsAgent(t, 0, func(r *http.Request) *http.Response { return &http.Response{StatusCode: 200, Header: http.Header{}} })
	tr.init()
	var states []*originState
	for _, u := range []string{"https://example.com/", "https://EXAMPLE.com:443/x", "HTTPS://Example.Com/"} {
		pu, _ := url.Parse(u)
		st, err := tr.origin(pu, true)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	for i, st := range states {
		if st != states[0] || st.name != "https://example.com" {
			t.Errorf("spelling %d: state %p %q, want %p", i, st, st.name, states[0])
		}
	}
	if n := tr.origins.Len(); n != 1 {
		t.Errorf("%d states for one origin", n)
	}
}

// blockingCache holds up one lookup of key after reading it, until
// released: the moment a request has read a token and not yet kept it.
type blockingCache struct {
	MemoryCache
	key     string
	read    chan struct{}
	release chan struct{}
	held    atomic.Bool
}

func (c *blockingCache) Token(ctx context.Context, key string) (*psclient.Token, error) {
	tok, err := c.MemoryCache.Token(ctx, key)
	if key == c.key && c.held.CompareAndSwap(false, true) {
		close(c.read)
		<-c.release
	}
	return tok, err
}

// A token forgotten while another request was reading it from the cache is
// not kept for the origin by that request: the state changed under it, so
// it reads the cache again.
func TestForgottenWhileReadNotKept(t *testing.T) {
	ctx := context.Background()
	c := &blockingCache{read: make(chan struct{}), release: make(chan struct{})}
	tr := &Transport{Keys: StaticKeys(benchKey, JWT(benchToken)), PersonServer: "https://ps.example", Tokens: c}
	tr.init()
	u, _ := url.Parse("https://resource.example/")
	o, _ := tr.origin(u, true)
	jkt, _ := tr.signerThumbprint(benchKey)
	keys := tr.keysFor(o, tr.PersonServer, jkt, "")
	c.key = keys.auth
	const refused = "eyJhbGciOiJFZERTQSJ9.eyJyZWZ1c2VkIjp0cnVlfQ.c2ln"
	c.MemoryCache.SetToken(ctx, keys.auth, &psclient.Token{Value: refused, Expiry: time.Now().Add(time.Hour)})

	r1 := &run{t: tr, ctx: ctx, origin: o.name, o: o, ps: tr.PersonServer, jkt: jkt, km: KeyMaterial{Signer: benchKey, Key: JWT(benchToken)}}
	got := make(chan credential)
	go func() { got <- r1.pick() }()
	<-c.read // r1 has read the token and not kept it yet
	r2 := &run{t: tr, ctx: ctx, origin: o.name, o: o, ps: tr.PersonServer, jkt: jkt}
	r2.forget(credential{kind: credAuth, token: refused, key: keys.auth})
	close(c.release)
	if cred := <-got; cred.token == refused {
		t.Fatal("the request presents the token forgotten while it read the cache")
	}
	if p := o.cred.Load(); p != nil && p.token == refused {
		t.Fatal("the origin keeps the forgotten token")
	}
}
