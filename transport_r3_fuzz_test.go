package aauth

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/aauthgo/aauth/r3"
)

// FuzzClassifyRequest: the Transport reads which operation a request
// invokes from a copy of its body (GetBody), never from the body the
// caller handed it, and agrees with r3's classifier; a body it cannot
// read is of unknown operations, never taken for another call.
func FuzzClassifyRequest(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"a"}}}`), "application/json")
	f.Add([]byte(`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}]`), "application/json; charset=utf-8")
	f.Add([]byte(`{"method":"tools/call","params":{"name":"a","Name":"b"}}`), "application/json")
	f.Add([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), "text/plain")
	f.Add([]byte(``), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		req, err := http.NewRequest(http.MethodPost, "https://r.example/mcp", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Content-Type", contentType)
		r := &run{req: req}
		r.classify()
		got, err := io.ReadAll(req.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("the caller's body was consumed: %q", got)
		}
		if len(body) == 0 {
			if r.r3.unknown || len(r.r3.ops) != 0 {
				t.Fatalf("an empty body classified %+v", r.r3)
			}
			return
		}
		want, err := r3.ClassifyMCP(body)
		if err != nil {
			if !r.r3.unknown {
				t.Fatalf("a body r3 refuses was classified %+v", r.r3)
			}
			return
		}
		if r.r3.unknown {
			return // not application/json: left to the resource
		}
		ops := want.Operations()
		if len(ops) != len(r.r3.ops) {
			t.Fatalf("ops %v, r3 says %v", r.r3.ops, ops)
		}
		for i := range ops {
			if ops[i].Tool != r.r3.ops[i].Tool {
				t.Fatalf("ops %v, r3 says %v", r.r3.ops, ops)
			}
		}
		if r.r3.single != (!want.Batch && len(want.Messages) == 1 && len(ops) == 1) {
			t.Fatalf("single %v for %+v", r.r3.single, want)
		}
	})
}
