package server_test

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// TestMediaMemoryStaysBounded uploads several 12 MP photos at once to a server with four
// media workers but a decode budget that admits one such photo at a time, and samples
// the heap while their variants are made. The budget, not the worker count, bounds the
// memory: the peak stays near one decode, far below four.
func TestMediaMemoryStaysBounded(t *testing.T) {
	const photos = 4
	peak := measurePeakHeap(t, photos, 64)
	peakUnbounded := measurePeakHeap(t, photos, 4096)
	t.Logf("peak heap with a 64 MB decode budget: %d MB; with 4 GB: %d MB", peak>>20, peakUnbounded>>20)
	// One 12 MP decode and resize needs about 50 MB here; four at once need about 130 MB.
	if peak > 110<<20 {
		t.Fatalf("peak heap %d MB with a 64 MB decode budget; admission is not bounding memory", peak>>20)
	}
}

func measurePeakHeap(t *testing.T, n int, budgetMB int64) uint64 {
	ts := newTestServer(t, func(c *server.Config) { c.MediaWorkers = n; c.MediaMemoryMB = budgetMB })
	ev := ts.createEvent(t, map[string]any{"name": fmt.Sprintf("big %d", budgetMB)})
	var files []uploadFile
	for i := 0; i < n; i++ {
		files = append(files, uploadFile{Name: fmt.Sprintf("big%d.jpg", i), Data: mediatest.JPEG(4000, 3000, int64(1000*budgetMB)+int64(i), nil)})
	}
	runtime.GC()
	old := debug.SetGCPercent(25)
	defer debug.SetGCPercent(old)
	var max atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > max.Load() {
				max.Store(ms.HeapAlloc)
			}
		}
	}()
	resp, b := ts.upload(t, ev.ID, ts.Admin, files, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	up := decode[server.UploadPhotosResponse](t, b)
	for _, u := range up.Uploaded {
		id := u.ID
		waitFor(t, "variants", func() bool {
			_, body := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/photos/%d", id), ts.Admin, nil)
			return decode[server.PhotoResponse](t, body).VariantStatus == "ready"
		})
	}
	close(stop)
	wg.Wait()
	return max.Load()
}
