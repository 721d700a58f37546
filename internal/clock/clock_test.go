package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSystemSleepReturnsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	err := System.Sleep(ctx, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Sleep took %v after cancel", el)
	}
}

func TestSystemSleep(t *testing.T) {
	if err := System.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := System.Sleep(context.Background(), -time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := System.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("done context: err = %v", err)
	}
}

func TestFake(t *testing.T) {
	t0 := time.Unix(1730217600, 0)
	f := NewFake(t0)
	if err := f.Sleep(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Second)
	if got := f.Now().Sub(t0); got != 6*time.Second {
		t.Fatalf("elapsed %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.OnSleep = func(time.Duration) { cancel() }
	if err := f.Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if err := f.Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("done context: err = %v", err)
	}
	if got := f.Sleeps(); len(got) != 2 || got[0] != 5*time.Second || got[1] != time.Minute {
		t.Fatalf("sleeps %v", got)
	}
	if f.Slept() != 65*time.Second {
		t.Fatalf("slept %v", f.Slept())
	}
}
