package media

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Bytes of memory per pixel that decoding and resizing take, by format.
// They cover the decoded image plus imaging's intermediate buffer (about
// 1.4 bytes per source pixel at 2048 px). Measured with image/jpeg +
// imaging Linear: 172 MB peak RSS for 45 MP (media-perf.md §4).
const (
	costPerPixelJPEG = 4  // YCbCr 1.5–3 B/px; progressive adds coefficients
	costPerPixelPNG  = 8  // RGBA, or RGBA64 for 16-bit PNGs
	costPerPixelGIF  = 4  // paletted frame, then a canvas for partial frames
	costPerPixelWebP = 4  // YCbCr with alpha
	costPerPixelHEIC = 12 // WebAssembly memory: YCbCr and RGBA, then the Go copy
	costMinImage     = 16 << 20
	// Video work is mostly in the ffmpeg process: 95 MB peak RSS for a
	// 1080p H.264 frame, 220 MB for 4K HEVC (media-perf.md §7).
	costPerPixelVideo = 20
	costMinVideo      = 64 << 20
)

// DecodeCost estimates the bytes of memory that making the derivatives of
// this file takes: its pixels times a per-format factor, at least 16 MiB for
// an image and 64 MiB plus 20 bytes per pixel for a video (ffmpeg's own
// memory). Use it as the cost for Limiter.Acquire.
func DecodeCost(info Info) int64 {
	px := int64(max(info.Width, 0)) * int64(max(info.Height, 0))
	switch info.Format {
	case FormatPNG:
		return max(costMinImage, px*costPerPixelPNG)
	case FormatGIF:
		return max(costMinImage, px*costPerPixelGIF)
	case FormatWebP:
		return max(costMinImage, px*costPerPixelWebP)
	case FormatHEIC, FormatHEIF:
		return max(costMinImage, px*costPerPixelHEIC)
	}
	if info.Format.Kind() == KindVideo {
		return costMinVideo + px*costPerPixelVideo
	}
	return max(costMinImage, px*costPerPixelJPEG)
}

// Limiter admits memory-heavy media work within a budget of bytes, so that
// concurrent decodes cannot exhaust memory: a weighted semaphore where each
// job weighs its DecodeCost. Waiters are served in order (a large job at the
// head is not starved by small ones behind it). It is safe for concurrent use.
type Limiter struct {
	budget int64
	sem    *semaphore.Weighted
	inUse  atomic.Int64
}

// NewLimiter returns a Limiter with a budget of budgetBytes; a budget below 1
// is taken as 1, which runs every job alone.
func NewLimiter(budgetBytes int64) *Limiter {
	budgetBytes = max(budgetBytes, 1)
	return &Limiter{budget: budgetBytes, sem: semaphore.NewWeighted(budgetBytes)}
}

// Acquire waits until cost bytes of the budget are free, or ctx is done, and
// returns the function that gives them back; call it exactly once (more
// calls do nothing). A cost above the whole budget is clamped to the budget,
// so such a job runs alone rather than never; a cost below 1 counts as 1.
// On error, nothing is held and release is a no-op.
func (l *Limiter) Acquire(ctx context.Context, cost int64) (release func(), err error) {
	cost = min(max(cost, 1), l.budget)
	if err := l.sem.Acquire(ctx, cost); err != nil {
		return func() {}, fmt.Errorf("media limiter: wait for %d bytes: %w", cost, err)
	}
	l.inUse.Add(cost)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.inUse.Add(-cost)
			l.sem.Release(cost)
		})
	}, nil
}

// InUse returns the bytes of the budget held now, for metrics.
func (l *Limiter) InUse() int64 { return l.inUse.Load() }

// Budget returns the total budget in bytes.
func (l *Limiter) Budget() int64 { return l.budget }
