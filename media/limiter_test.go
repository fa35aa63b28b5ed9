package media_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media"
)

// acquireAsync starts an Acquire and reports on the returned channel when it
// is done.
func acquireAsync(ctx context.Context, l *media.Limiter, cost int64) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		release, err := l.Acquire(ctx, cost)
		ch <- acquired{release, err}
	}()
	return ch
}

type acquired struct {
	release func()
	err     error
}

func mustAcquire(t *testing.T, l *media.Limiter, cost int64) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	release, err := l.Acquire(ctx, cost)
	if err != nil {
		t.Fatalf("Acquire(%d): %v", cost, err)
	}
	return release
}

func TestLimiterBlocksUntilReleased(t *testing.T) {
	l := media.NewLimiter(100)
	first := mustAcquire(t, l, 60)
	if l.InUse() != 60 {
		t.Fatalf("InUse = %d, want 60", l.InUse())
	}
	waiting := acquireAsync(context.Background(), l, 50)
	select {
	case <-waiting:
		t.Fatal("Acquire(50) succeeded with 60 of 100 held")
	case <-time.After(50 * time.Millisecond):
	}
	first()
	select {
	case a := <-waiting:
		if a.err != nil {
			t.Fatal(a.err)
		}
		if l.InUse() != 50 {
			t.Errorf("InUse = %d, want 50", l.InUse())
		}
		a.release()
	case <-time.After(time.Second):
		t.Fatal("Acquire(50) still blocked after the release")
	}
	if l.InUse() != 0 {
		t.Errorf("InUse = %d after all releases, want 0", l.InUse())
	}
}

func TestLimiterClampsOversizedJobs(t *testing.T) {
	l := media.NewLimiter(100)
	huge := mustAcquire(t, l, 1<<40) // would never fit: runs alone instead
	if l.InUse() != 100 {
		t.Fatalf("InUse = %d, want the whole budget 100", l.InUse())
	}
	waiting := acquireAsync(context.Background(), l, 1)
	select {
	case <-waiting:
		t.Fatal("a second job ran beside the oversized one")
	case <-time.After(50 * time.Millisecond):
	}
	huge()
	a := <-waiting
	if a.err != nil {
		t.Fatal(a.err)
	}
	a.release()
}

func TestLimiterHonoursContext(t *testing.T) {
	l := media.NewLimiter(100)
	held := mustAcquire(t, l, 100)
	ctx, cancel := context.WithCancel(context.Background())
	waiting := acquireAsync(ctx, l, 10)
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case a := <-waiting:
		if !errors.Is(a.err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", a.err)
		}
		a.release() // a no-op, and must not panic or free anything
	case <-time.After(time.Second):
		t.Fatal("Acquire ignored the cancelled context")
	}
	if l.InUse() != 100 {
		t.Errorf("InUse = %d after a cancelled wait, want 100", l.InUse())
	}
	held()
	held() // a second call does nothing
	if l.InUse() != 0 {
		t.Errorf("InUse = %d, want 0", l.InUse())
	}
	mustAcquire(t, l, 100)() // nothing leaked: the whole budget is free
}

func TestLimiterNeverExceedsBudget(t *testing.T) {
	const budget = 1000
	l := media.NewLimiter(budget)
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cost := int64(100 + (i*137)%600)
			release, err := l.Acquire(context.Background(), cost)
			if err != nil {
				t.Error(err)
				return
			}
			now := inUse.Add(cost)
			for {
				p := peak.Load()
				if now <= p || peak.CompareAndSwap(p, now) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inUse.Add(-cost)
			release()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > budget || p == 0 {
		t.Fatalf("peak concurrent cost %d, want within (0, %d]", p, budget)
	}
	if l.InUse() != 0 {
		t.Fatalf("InUse = %d at the end, want 0", l.InUse())
	}
}

func TestDecodeCost(t *testing.T) {
	jpeg24 := media.DecodeCost(media.Info{Format: media.FormatJPEG, Width: 6000, Height: 4000})
	if jpeg24 < 6000*4000*3 || jpeg24 > 6000*4000*8 {
		t.Errorf("24 MP JPEG costs %d bytes, want 3-8 bytes per pixel", jpeg24)
	}
	if png := media.DecodeCost(media.Info{Format: media.FormatPNG, Width: 6000, Height: 4000}); png <= jpeg24 {
		t.Errorf("PNG (%d) should cost more than JPEG (%d): it may be 16-bit RGBA", png, jpeg24)
	}
	if heic := media.DecodeCost(media.Info{Format: media.FormatHEIC, Width: 4032, Height: 3024}); heic <= 4032*3024*4 {
		t.Errorf("12 MP HEIC costs %d, want more than its RGBA size", heic)
	}
	if tiny := media.DecodeCost(media.Info{Format: media.FormatGIF, Width: 1, Height: 1}); tiny < 1<<20 {
		t.Errorf("1 px GIF costs %d, want a sane minimum", tiny)
	}
	if v := media.DecodeCost(media.Info{Format: media.FormatMP4}); v < 64<<20 {
		t.Errorf("video with unknown size costs %d, want at least 64 MiB for ffmpeg", v)
	}
	if v4k := media.DecodeCost(media.Info{Format: media.FormatMOV, Width: 3840, Height: 2160}); v4k <= media.DecodeCost(media.Info{Format: media.FormatMOV, Width: 1920, Height: 1080}) {
		t.Errorf("4K video should cost more than 1080p")
	}
}
