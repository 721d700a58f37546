package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/aauthgo/aauth"
)

// Our Signer against the JavaScript reference, @hellocoop/httpsig 2.2.0,
// signing the same GET (same key, same agent token, same URL, same
// created) in one run. bench-sign.mjs times httpsig in a node process that
// stays up for the whole benchmark; the Go side alternates its own timed
// runs with the script's, so that both see the same machine load, and
// reports x-js, httpsig's time per signature over ours.
//
// Our side of an operation is what an agent does per request: build the
// http.Request (parsing the URL, as fetch does) and Sign it.

const benchURL = "https://resource.example/api/data?x=1"

// benchChunk is how many signatures each side makes before the other goes.
const benchChunk = 200

type benchConfig struct {
	URL          string         `json:"url"`
	Key          map[string]any `json:"key"`
	SignatureKey map[string]any `json:"signature_key"`
	NowMS        int64          `json:"now_ms"`
	CryptoKey    bool           `json:"crypto_key"`
	Warmup       *int           `json:"warmup,omitempty"` // nil: the script's default
}

type benchAnswer struct {
	OK      bool        `json:"ok"`
	Error   string      `json:"error"`
	Version string      `json:"version"`
	Headers [][2]string `json:"headers"`
	N       int         `json:"n"`
	NS      int64       `json:"ns"`
}

// jsSigner is a running bench-sign.mjs --serve.
type jsSigner struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	in     io.WriteCloser
	out    *bufio.Scanner
	enc    *json.Encoder
	ready  benchAnswer // the answer to the set-up: version and headers
}

func (j *jsSigner) ask(msg any) (benchAnswer, error) {
	if err := j.enc.Encode(msg); err != nil {
		return benchAnswer{}, fmt.Errorf("writing to bench-sign.mjs: %v", err)
	}
	if !j.out.Scan() {
		return benchAnswer{}, fmt.Errorf("bench-sign.mjs stopped: %v", j.out.Err())
	}
	var a benchAnswer
	if err := json.Unmarshal(j.out.Bytes(), &a); err != nil {
		return benchAnswer{}, fmt.Errorf("bench-sign.mjs answer %q: %v", truncate(j.out.Text(), 200), err)
	}
	if !a.OK {
		return benchAnswer{}, fmt.Errorf("bench-sign.mjs: %s", a.Error)
	}
	return a, nil
}

// sign has httpsig sign the request n times and returns the total time.
func (j *jsSigner) sign(tb testing.TB, n int) time.Duration {
	a, err := j.ask(map[string]int{"n": n})
	if err != nil {
		tb.Fatal(err)
	}
	if a.N != n {
		tb.Fatalf("bench-sign.mjs signed %d times, asked %d", a.N, n)
	}
	return time.Duration(a.NS)
}

func (j *jsSigner) close() {
	j.in.Close()
	done := make(chan struct{})
	go func() { j.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		j.cancel()
		<-done
	}
	j.cancel()
}

// benchKey and benchMaterial are the agent the two sides sign as.
func benchKey() testKey { return agentKeys[0] } // Ed25519

func benchMaterial() aauth.KeyMaterial {
	k := benchKey()
	return aauth.KeyMaterial{Signer: k.signer, Key: aauth.JWT(agentToken(aauth.ProfileCurrent, k))}
}

// startJSSigner starts bench-sign.mjs with the benchmark's request and
// checks that httpsig's signature is ours, byte for byte.
func startJSSigner(tb testing.TB, cryptoKey bool, warmup *int) *jsSigner {
	tb.Helper()
	needNode(tb)
	km := benchMaterial()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nodePath, "bench-sign.mjs", "--serve")
	cmd.WaitDelay = 5 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("starting node: %v", err)
	}
	j := &jsSigner{cmd: cmd, cancel: cancel, in: in, out: bufio.NewScanner(out), enc: json.NewEncoder(in)}
	j.out.Buffer(make([]byte, 0, 64<<10), 1<<20)
	tb.Cleanup(j.close)
	j.ready, err = j.ask(benchConfig{
		URL:          benchURL,
		Key:          benchKey().jwkMembers(true, true),
		SignatureKey: map[string]any{"type": "jwt", "jwt": km.Key.Token},
		NowMS:        nowMS,
		CryptoKey:    cryptoKey,
		Warmup:       warmup,
	})
	if err != nil {
		tb.Fatal(err)
	}
	if j.ready.Version != pinned["current"] {
		tb.Fatalf("bench-sign.mjs runs httpsig %s, want %s", j.ready.Version, pinned["current"])
	}

	req := signGoBench(tb, km)
	for _, name := range []string{"Signature-Key", "Signature-Input", "Signature"} {
		theirs, _ := headerValue(j.ready.Headers, name)
		if ours := req.Header.Get(name); ours != theirs {
			tb.Fatalf("%s differs:\nours:    %s\nhttpsig: %s", name, ours, theirs)
		}
	}
	return j
}

var benchSigner = &aauth.Signer{Now: clock}

// signGoBench is one operation of our side.
func signGoBench(tb testing.TB, km aauth.KeyMaterial) *http.Request {
	req, err := http.NewRequest("GET", benchURL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := benchSigner.Sign(req, km); err != nil {
		tb.Fatal(err)
	}
	return req
}

// The script runs, and httpsig's signature of the benchmark request is
// ours, in both ways of passing the key.
func TestBenchSignScript(t *testing.T) {
	for _, cryptoKey := range []bool{false, true} {
		none := 0
		j := startJSSigner(t, cryptoKey, &none)
		if d := j.sign(t, 10); d <= 0 {
			t.Errorf("crypto_key=%v: 10 signatures took %v", cryptoKey, d)
		}
	}
}

func benchVsJS(b *testing.B, cryptoKey bool) {
	j := startJSSigner(b, cryptoKey, nil)
	km := benchMaterial()
	var goT, jsT time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(benchChunk, b.N-done)
		jsT += j.sign(b, n)
		t0 := time.Now()
		for range n {
			signGoBench(b, km)
		}
		goT += time.Since(t0)
		done += n
	}
	b.ReportMetric(float64(jsT)/float64(goT), "x-js")
	b.ReportMetric(float64(goT.Nanoseconds())/float64(b.N), "go-ns/op")
	b.ReportMetric(float64(jsT.Nanoseconds())/float64(b.N), "js-ns/op")
}

// BenchmarkSignVsJS: httpsig given the private JWK, as its README shows;
// fetch imports it into WebCrypto on every call.
func BenchmarkSignVsJS(b *testing.B) { benchVsJS(b, false) }

// BenchmarkSignVsJSCryptoKey: httpsig given a CryptoKey imported once
// (signingCryptoKey), its fastest way to sign.
func BenchmarkSignVsJSCryptoKey(b *testing.B) { benchVsJS(b, true) }
