package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server/ingest"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

type fixture struct {
	in    *ingest.Ingester
	db    *storage.DB
	blobs *blob.Local
	event *storage.Event
	tmp   string
}

func newFixture(t *testing.T, photoCap *int) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := storage.Open(ctx, storage.Config{Path: filepath.Join(dir, "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	os.MkdirAll(tmp, 0o750)
	e := &storage.Event{Slug: "e", Name: "E", AllowDownloads: true, PhotoCap: photoCap}
	if err := db.CreateEvent(ctx, e, false); err != nil {
		t.Fatal(err)
	}
	return &fixture{
		in: &ingest.Ingester{DB: db, Blobs: blobs, TempDir: tmp, Media: media.DefaultConfig(), Grace: time.Hour},
		db: db, blobs: blobs, event: e, tmp: tmp,
	}
}

var limits = ingest.Limits{AllowedExtensions: map[string]bool{"jpg": true, "png": true}, MaxImageBytes: 1 << 20, MaxVideoBytes: 1 << 20}

func (f *fixture) stage(t *testing.T, name string, data []byte) (*ingest.Staged, *ingest.Rejection) {
	t.Helper()
	st, rej, err := f.in.Stage(context.Background(), f.event.ID, name, bytes.NewReader(data), limits)
	if err != nil {
		t.Fatalf("stage %s: %v", name, err)
	}
	return st, rej
}

func tempFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	return len(entries)
}

func TestStageRejectsEachRuleAndKeepsNoTempFile(t *testing.T) {
	f := newFixture(t, nil)
	big := append(mediatest.JPEG(64, 64, 1, nil), make([]byte, 2<<20)...) // a JPEG with 2 MB after EOI
	corrupt := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x42}, 600)...)
	cases := []struct {
		name string
		data []byte
		code string
	}{
		{"notes.jpg", []byte("just some text, not a photo at all ........................................"), "file_type_not_allowed"},
		{"anim.gif", mediatest.GIF(32, 32, 1), "file_type_not_allowed"}, // gif is not in this test's allowed list
		{"big.jpg", big, "file_too_large"},
		{"broken.jpg", corrupt, "unreadable_media"},
		{"bomb.png", mediatest.BombPNG(60000, 60000), "image_too_large"},
		{"empty.jpg", nil, "unreadable_media"},
	}
	for _, c := range cases {
		st, rej := f.stage(t, c.name, c.data)
		if st != nil || rej == nil || rej.Code != c.code {
			t.Errorf("%s: staged=%v rejection=%+v, want %s", c.name, st != nil, rej, c.code)
		}
	}
	if n := tempFiles(t, f.tmp); n != 0 {
		t.Fatalf("%d temporary files left by rejections", n)
	}
}

func TestStageAndCommit(t *testing.T) {
	f := newFixture(t, nil)
	data := mediatest.JPEG(400, 300, 5, &mediatest.EXIF{Orientation: 6, DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00", Make: "Canon", Model: "EOS R5"})
	st, rej := f.stage(t, "../../etc/DSC_0001.jpg", data)
	if rej != nil {
		t.Fatalf("rejected: %+v", rej)
	}
	if st.OriginalName != "DSC_0001.jpg" || st.Size != int64(len(data)) || st.Info.Width != 300 || st.Info.Height != 400 {
		t.Fatalf("staged %+v", st)
	}
	results, err := f.in.Commit(context.Background(), f.event.ID, []*ingest.Staged{st}, nil, storage.CreatePhotosOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := results[0].Photo
	if p == nil || p.Camera.Make != "Canon" || p.CapturedAt.Format(time.RFC3339) != "2026-05-12T15:23:11+02:00" {
		t.Fatalf("photo %+v", p)
	}
	r, _, err := f.blobs.Open(context.Background(), p.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(r)
	r.Close()
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatal("stored bytes differ from the upload")
	}
	if n, _ := f.db.PendingBlobGC(context.Background()); n != 0 {
		t.Fatalf("%d GC entries left after a clean commit", n)
	}
	if n := tempFiles(t, f.tmp); n != 0 {
		t.Fatalf("%d temporary files left after commit", n)
	}
	// The same bytes again are a duplicate, named with the first photo's id.
	_, rej = f.stage(t, "again.jpg", data)
	if rej == nil || rej.Code != "duplicate" || rej.PhotoID != p.ID {
		t.Fatalf("duplicate: %+v", rej)
	}
}

// TestCrashBetweenBlobsAndRows stops the commit at its worst moment (blobs in place, rows
// not yet written) as a killed process would, and checks the ledger lets the janitor find
// every orphan once the grace period has passed, and none before.
func TestCrashBetweenBlobsAndRows(t *testing.T) {
	f := newFixture(t, nil)
	var staged []*ingest.Staged
	for i := int64(0); i < 3; i++ {
		st, rej := f.stage(t, "p.jpg", mediatest.JPEG(80, 60, 100+i, nil))
		if rej != nil {
			t.Fatal(rej)
		}
		staged = append(staged, st)
	}
	type crash struct{}
	f.in.Hold = func() { panic(crash{}) }
	func() {
		defer func() {
			if _, ok := recover().(crash); !ok {
				t.Fatal("commit did not reach the hold point")
			}
		}()
		f.in.Commit(context.Background(), f.event.ID, staged, nil, storage.CreatePhotosOptions{})
	}()
	var keys []string
	f.blobs.Walk(context.Background(), "originals/", func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 3 {
		t.Fatalf("%d blobs in place at the crash, want 3", len(keys))
	}
	if _, total, _ := f.db.FindPhotos(context.Background(), storage.PhotoFilter{EventID: f.event.ID}); total != 0 {
		t.Fatalf("%d rows after the crash, want 0", total)
	}
	due, _ := f.db.DueBlobGC(context.Background(), time.Now(), 10)
	if len(due) != 0 {
		t.Fatalf("orphans due before the grace period: %v", due)
	}
	due, _ = f.db.DueBlobGC(context.Background(), time.Now().Add(2*time.Hour), 10)
	if len(due) != 3 {
		t.Fatalf("janitor would find %d of 3 orphans", len(due))
	}
}

func TestFailedCommitLeavesNothing(t *testing.T) {
	one := 1
	f := newFixture(t, &one)
	var staged []*ingest.Staged
	for i := int64(0); i < 2; i++ {
		st, _ := f.stage(t, "p.jpg", mediatest.JPEG(80, 60, 200+i, nil))
		staged = append(staged, st)
	}
	_, err := f.in.Commit(context.Background(), f.event.ID, staged, nil, storage.CreatePhotosOptions{})
	if !errors.Is(err, storage.ErrPhotoCapReached) {
		t.Fatalf("commit over the cap: %v", err)
	}
	n := 0
	f.blobs.Walk(context.Background(), "", func(blob.Info) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left by a refused commit", n)
	}
	if g, _ := f.db.PendingBlobGC(context.Background()); g != 0 {
		t.Fatalf("%d GC entries left by a refused commit", g)
	}
	if tempFiles(t, f.tmp) != 0 {
		t.Fatal("temporary files left by a refused commit")
	}
}

func TestCleanName(t *testing.T) {
	cases := map[string]string{
		"DSC_0001.JPG":             "DSC_0001.JPG",
		"../../etc/passwd":         "passwd",
		`C:\Users\anna\IMG_1.heic`: "IMG_1.heic",
		"a\x00b\nc.jpg":            "abc.jpg",
		"":                         "upload.jpg",
		"..":                       "upload.jpg",
		"Hochzeit Müller.jpg":      "Hochzeit Müller.jpg",
	}
	for in, want := range cases {
		if got := ingest.CleanName(in, media.FormatJPEG); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
