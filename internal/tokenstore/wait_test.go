package tokenstore

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAcquire(t *testing.T) {
	ctx := context.Background()
	// Taken at the third try; waiting is reported once.
	tries, waits := 0, 0
	err := Acquire(ctx, time.Minute, func() (bool, error) { tries++; return tries == 3, nil }, func() { waits++ })
	if err != nil || tries != 3 || waits != 1 {
		t.Fatalf("err %v, %d tries, %d waits", err, tries, waits)
	}
	// Taken at once: no wait reported.
	waits = 0
	if err := Acquire(ctx, 0, func() (bool, error) { return true, nil }, func() { waits++ }); err != nil || waits != 0 {
		t.Fatalf("err %v, %d waits", err, waits)
	}
	// An error of try ends it.
	boom := errors.New("boom")
	if err := Acquire(ctx, time.Minute, func() (bool, error) { return false, boom }, nil); err != boom {
		t.Fatalf("try's error: %v", err)
	}
	// The wait bound.
	if err := Acquire(ctx, 10*time.Millisecond, func() (bool, error) { return false, nil }, nil); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("wait bound: %v", err)
	}
	// The context, before and during the wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Acquire(cctx, time.Minute, func() (bool, error) { t.Fatal("tried with a canceled context"); return false, nil }, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	cctx, cancel = context.WithCancel(ctx)
	if err := Acquire(cctx, time.Minute, func() (bool, error) { return false, nil }, cancel); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled while waiting: %v", err)
	}
}
