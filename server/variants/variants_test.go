package variants_test

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server/ingest"
	"github.com/gallerist/gallerist/server/variants"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

type fixture struct {
	db    *storage.DB
	blobs *blob.Local
	in    *ingest.Ingester
	maker *variants.Maker
	made  *atomic.Int32
	event int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := storage.Open(context.Background(), storage.Config{Path: filepath.Join(dir, "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, _ := blob.NewLocal(filepath.Join(dir, "blobs"))
	tmp := filepath.Join(dir, "tmp")
	os.MkdirAll(tmp, 0o750)
	e := &storage.Event{Slug: "v", Name: "V", AllowDownloads: true}
	if err := db.CreateEvent(context.Background(), e, false); err != nil {
		t.Fatal(err)
	}
	made := &atomic.Int32{}
	return &fixture{
		db: db, blobs: blobs, made: made, event: e.ID,
		in: &ingest.Ingester{DB: db, Blobs: blobs, TempDir: tmp, Media: media.DefaultConfig(), Grace: time.Hour},
		maker: &variants.Maker{DB: db, Blobs: blobs, TempDir: tmp, Media: media.DefaultConfig(), Limiter: media.NewLimiter(256 << 20),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Observe: func(time.Duration) { made.Add(1) }},
	}
}

func (f *fixture) store(t *testing.T, data []byte) *storage.Photo {
	t.Helper()
	limits := ingest.Limits{AllowedExtensions: map[string]bool{"jpg": true}, MaxImageBytes: 50 << 20}
	st, rej, err := f.in.Stage(context.Background(), f.event, "x.jpg", bytes.NewReader(data), limits)
	if err != nil || rej != nil {
		t.Fatalf("stage: %v %+v", err, rej)
	}
	res, err := f.in.Commit(context.Background(), f.event, []*ingest.Staged{st}, nil, storage.CreatePhotosOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Photo
}

func readJPEG(t *testing.T, f *fixture, key string) (int, int) {
	t.Helper()
	r, _, err := f.blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	cfg, err := jpeg.DecodeConfig(r)
	if err != nil {
		t.Fatalf("%s is not a JPEG: %v", key, err)
	}
	return cfg.Width, cfg.Height
}

// TestEnsureMakesOnceForConcurrentCallers: many requests for a thumbnail that does not
// exist yet cause one piece of work.
func TestEnsureMakesOnceForConcurrentCallers(t *testing.T) {
	f := newFixture(t)
	p := f.store(t, mediatest.JPEG(3000, 2000, 1, &mediatest.EXIF{Orientation: 6}))
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp := *p
			errs <- f.maker.Ensure(context.Background(), &cp)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.made.Load(); n != 1 {
		t.Fatalf("made variants %d times for 10 concurrent callers, want 1", n)
	}
	// Orientation 6 turns 3000x2000 into a portrait: display 1365x2048, thumb 267x400.
	if w, h := readJPEG(t, f, p.DisplayKey()); h != 2048 || w < 1360 || w > 1370 {
		t.Fatalf("display %dx%d", w, h)
	}
	if w, h := readJPEG(t, f, p.ThumbKey()); h != 400 || w < 264 || w > 270 {
		t.Fatalf("thumb %dx%d", w, h)
	}
	stored, _ := f.db.FindPhotoByID(context.Background(), p.ID)
	if stored.Derivatives != storage.DerivativesReady {
		t.Fatalf("status %q", stored.Derivatives)
	}
	// Ready and present: nothing is made again.
	if err := f.maker.Ensure(context.Background(), stored); err != nil || f.made.Load() != 1 {
		t.Fatalf("second Ensure: %v, made %d", err, f.made.Load())
	}
}

// TestUndecodableFileIsMarkedFailed: a file whose header reads but whose pixels do not
// is failed for good, not retried forever.
func TestUndecodableFileIsMarkedFailed(t *testing.T) {
	f := newFixture(t)
	good := mediatest.JPEG(200, 100, 2, nil)
	p := f.store(t, good)
	// Replace the original with a JPEG whose scan data is cut short after the header.
	path, _ := f.blobs.Path(p.BlobKey)
	if err := os.WriteFile(path, good[:len(good)/3], 0o640); err != nil {
		t.Fatal(err)
	}
	err := f.maker.Ensure(context.Background(), p)
	if !errors.Is(err, variants.ErrFailed) {
		t.Fatalf("Ensure on a broken file: %v, want ErrFailed", err)
	}
	stored, _ := f.db.FindPhotoByID(context.Background(), p.ID)
	if stored.Derivatives != storage.DerivativesFailed {
		t.Fatalf("status %q, want failed", stored.Derivatives)
	}
}

// TestJobForDeletedPhotoIsANoOp: the job of a photo deleted before it ran succeeds
// without work.
func TestJobForDeletedPhotoIsANoOp(t *testing.T) {
	f := newFixture(t)
	p := f.store(t, mediatest.JPEG(100, 100, 3, nil))
	if _, err := f.db.DeletePhotos(context.Background(), []int64{p.ID}); err != nil {
		t.Fatal(err)
	}
	job := &storage.Job{Kind: variants.JobKind, Payload: []byte(`{"photo_id":` + itoa(p.ID) + `}`)}
	if err := f.maker.HandleJob(context.Background(), job); err != nil {
		t.Fatalf("job for a deleted photo: %v", err)
	}
	if f.made.Load() != 0 {
		t.Fatal("variants made for a deleted photo")
	}
}

func itoa(n int64) string {
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
