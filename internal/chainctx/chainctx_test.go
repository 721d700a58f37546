package chainctx

import (
	"context"
	"sync"
	"testing"
)

func TestWithFrom(t *testing.T) {
	ctx := context.Background()
	if From(ctx) != nil {
		t.Fatal("an upstream in a bare context")
	}
	up := With(ctx, "tok")
	if u := From(up); u == nil || u.Token != "tok" {
		t.Fatalf("From = %v", u)
	}
	if From(With(up, "")) != nil {
		t.Error(`With("") kept the upstream`)
	}
	if From(With(up, "other")) == From(up) {
		t.Error("two served requests share a budget")
	}
}

func TestSpendShared(t *testing.T) {
	u := From(With(context.Background(), "tok"))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if u.Spend(16) {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 16 {
		t.Errorf("%d spends allowed, want 16", ok)
	}
}

func TestParsedOnce(t *testing.T) {
	u := From(With(context.Background(), "tok"))
	n := 0
	for range 3 {
		u.Parsed(func(s string) any { n++; return s + "!" })
	}
	if n != 1 || u.Parsed(nil) != "tok!" {
		t.Errorf("parsed %d times", n)
	}
}

func TestWithValue(t *testing.T) {
	type k struct{}
	type other struct{}
	base := context.WithValue(context.Background(), other{}, "o")
	ctx := WithValue(base, k{}, "v", "tok")
	if ctx.Value(k{}) != "v" || ctx.Value(other{}) != "o" || From(ctx).Token != "tok" {
		t.Errorf("values %v %v %v", ctx.Value(k{}), ctx.Value(other{}), From(ctx))
	}
	if n := testing.AllocsPerRun(100, func() { _ = WithValue(base, k{}, "v", "tok") }); n > 1 {
		t.Errorf("%v allocations", n)
	}
	if From(WithValue(base, k{}, "v", "")) != nil {
		t.Error("an empty token is an upstream")
	}
}
