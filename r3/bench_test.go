package r3

import (
	"encoding/json"
	"testing"
	"time"
)

// A typical tools/call body: a few arguments, one of them a paragraph.
var benchBody = []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"mom@example.com","subject":"Dinner Sunday?","body":"Hi Mom, are you free on Sunday evening? We could try the new place on the corner, they have a terrace and the reviews say the fish is good. Let me know by Friday so I can book a table.","cc":["dad@example.com"],"urgent":false}}}`)

// BenchmarkClassifyMCP is the classification a resource (and a Transport)
// adds to each MCP request.
func BenchmarkClassifyMCP(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		if _, err := ClassifyMCP(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClassifyMCPRatio interleaves the two, one of each per
// iteration, so both see the same machine load, and reports the ratio of
// their total times (classify÷decode) as a metric.
func BenchmarkClassifyMCPRatio(b *testing.B) {
	var tc, td time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := ClassifyMCP(benchBody); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		baselineDecode(b)
		t2 := time.Now()
		tc += t1.Sub(t0)
		td += t2.Sub(t1)
	}
	b.ReportMetric(float64(tc)/float64(td), "classify/decode")
}

func baselineDecode(b *testing.B) {
	var v struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
		Params  struct {
			Name      string         `json:"name"`
			Arguments map[string]any `json:"arguments"`
		} `json:"params"`
	}
	if err := json.Unmarshal(benchBody, &v); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkClassifyMCPBaseline is what the MCP server does with the same
// body anyway: one encoding/json decode into its message type. The ratio
// of the two is the classifier's cost relative to the server's own.
func BenchmarkClassifyMCPBaseline(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	for b.Loop() {
		baselineDecode(b)
	}
}
