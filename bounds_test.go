package aauth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aauthgo/aauth"
)

// The findings of issue 11 about bounds and the warm path, each as a test
// that failed on the code before the fix.

// Finding: MemoryCache held at most 4,096 tokens and then discarded all of
// them. The default cache holds more than that, and a full cache drops one
// token at a time.
func TestFindingMemoryCacheCliff(t *testing.T) {
	ctx := context.Background()
	var c aauth.MemoryCache
	const n = 4097
	for i := 0; i < n; i++ {
		if err := c.SetToken(ctx, fmt.Sprintf("session https://r%d.example", i), &aauth.Token{Value: fmt.Sprintf("tok%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	missing := 0
	for i := 0; i < n; i++ {
		tok, err := c.Token(ctx, fmt.Sprintf("session https://r%d.example", i))
		if err != nil || tok.Value != fmt.Sprintf("tok%d", i) {
			missing++
		}
	}
	if missing != 0 || c.Len() != n {
		t.Fatalf("after storing %d tokens, %d are missing and the cache holds %d", n, missing, c.Len())
	}
}
