package aauth

import (
	"fmt"
	"testing"

	"github.com/aauthgo/aauth/r3"
)

// The budgets and resource metadata a Transport keeps are bounded without
// a cliff: one origin more than the bound evicts one origin, not all, and
// origins reached through redirects (on probation) cannot evict the
// caller's own.
func TestTransportR3TablesEvictOne(t *testing.T) {
	var tr Transport
	metadata, budgets := tr.r3.tables()
	for i := 0; i <= maxBudgetOrigins; i++ {
		budgets.Put(fmt.Sprintf("https://r%d.example", i), r3.Budget{Remaining: int64(i)}, true)
	}
	if n := budgets.Len(); n != maxBudgetOrigins {
		t.Fatalf("%d budgets kept, want %d", n, maxBudgetOrigins)
	}
	if b, ok := budgets.Get(fmt.Sprintf("https://r%d.example", maxBudgetOrigins), true); !ok || b.Remaining != maxBudgetOrigins {
		t.Errorf("the newest budget is gone: %+v %v", b, ok)
	}
	metadata.Put("https://mine.example", resourceMetadataEntry{}, true)
	for i := 0; i < 4*maxResourceMetadata; i++ {
		metadata.Put(fmt.Sprintf("https://redirected%d.example", i), resourceMetadataEntry{}, false)
	}
	if _, ok := metadata.Get("https://mine.example", true); !ok {
		t.Error("a flood of redirected-to origins evicted the caller's resource metadata")
	}
	if n := metadata.Len(); n > maxResourceMetadata {
		t.Errorf("%d metadata entries kept, bound %d", n, maxResourceMetadata)
	}
}
