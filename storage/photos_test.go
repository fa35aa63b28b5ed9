package storage_test

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

func TestCreatePhotosStoresAndCounts(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "e")
	c := &storage.Category{EventID: e.ID, Name: "C", Slug: "c"}
	if err := db.CreateCategory(ctx, c); err != nil {
		t.Fatal(err)
	}

	captured := time.Date(2025, 6, 14, 15, 30, 0, 250000000, time.FixedZone("", 2*3600))
	full := newPhoto(e.ID, "IMG_0001.JPG", "first")
	full.CategoryID = &c.ID
	full.Width, full.Height = ptr(4000), ptr(3000)
	full.Orientation = 6
	full.CapturedAt = &captured
	full.Camera = storage.Camera{Make: "Canon", Model: "R5", Lens: "RF 50mm", FNumber: ptr(1.8), ExposureTime: "1/200",
		ISO: ptr(400), FocalLength: ptr(50.0)}
	video := newPhoto(e.ID, "clip.mp4", "second clip")
	video.Format, video.MediaType, video.MIMEType, video.Duration = "mp4", "video", "video/mp4", ptr(12.5)
	video.IsHidden = true
	third := newPhoto(e.ID, "c.jpg", "third!")

	// An intent for each blob, and one for a blob no row adopts.
	for _, p := range []*storage.Photo{full, video, third} {
		if err := db.AddBlobIntents(ctx, t0.Add(time.Hour), p.BlobKey); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddBlobIntents(ctx, t0.Add(time.Hour), "originals/orphan.jpg"); err != nil {
		t.Fatal(err)
	}

	res, err := db.CreatePhotos(ctx, e.ID, []*storage.Photo{full, video, third}, "thumbnail", "webhook.deliver")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for i, r := range res {
		if r.Photo == nil || r.DuplicateOf != 0 {
			t.Fatalf("result %d = %+v", i, r)
		}
		p := r.Photo
		if p.ID == 0 || p.EventID != e.ID || p.Position != int64(i+1) || p.Derivatives != storage.DerivativesPending ||
			!p.CreatedAt.Equal(t0) || !p.UpdatedAt.Equal(t0) {
			t.Errorf("result %d: id %d event %d position %d derivatives %q created %v", i, p.ID, p.EventID, p.Position, p.Derivatives, p.CreatedAt)
		}
		stored, err := db.FindPhotoByID(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertPhotoEqual(t, stored, p)
	}
	if res[0].Photo.ID >= res[1].Photo.ID || res[1].Photo.ID >= res[2].Photo.ID {
		t.Errorf("ids not increasing: %v", []int64{res[0].Photo.ID, res[1].Photo.ID, res[2].Photo.ID})
	}

	// FindPhotoByStem and FindPhotoIDBySHA256 find the same rows.
	gotP, gotE, err := db.FindPhotoByStem(ctx, "e", video.Stem)
	if err != nil || gotP.ID != video.ID || gotE.ID != e.ID {
		t.Fatalf("FindPhotoByStem = %+v, %+v, %v", gotP, gotE, err)
	}
	_, _, err = db.FindPhotoByStem(ctx, "e", "nope")
	assertErrorIs(t, err, storage.ErrNotFound)
	_, _, err = db.FindPhotoByStem(ctx, "nope", video.Stem)
	assertErrorIs(t, err, storage.ErrNotFound)
	if id, err := db.FindPhotoIDBySHA256(ctx, e.ID, third.SHA256); err != nil || id != third.ID {
		t.Fatalf("FindPhotoIDBySHA256 = %d, %v; want %d", id, err, third.ID)
	}
	_, err = db.FindPhotoIDBySHA256(ctx, e.ID, "0000")
	assertErrorIs(t, err, storage.ErrNotFound)

	ev := mustFindEvent(t, db, e.ID)
	if wantSize := full.Size + video.Size + third.Size; ev.PhotoCount != 3 || ev.TotalSize != wantSize {
		t.Fatalf("event counters = %d photos, %d bytes; want 3, %d", ev.PhotoCount, ev.TotalSize, wantSize)
	}
	if cats, err := db.FindCategories(ctx, e.ID); err != nil || cats[0].PhotoCount != 1 {
		t.Fatalf("category photo count = %+v, %v", cats, err)
	}

	// The intents of the adopted blobs are gone; the orphan's stays.
	due, err := db.DueBlobGC(ctx, t0.Add(2*time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(due, []string{"originals/orphan.jpg"}) {
		t.Fatalf("DueBlobGC after adoption = %v", due)
	}
	if n, err := db.PendingBlobGC(ctx); err != nil || n != 1 {
		t.Fatalf("PendingBlobGC = %d, %v; want 1", n, err)
	}

	// One job per photo per kind, carrying the photo id.
	jobs, err := db.FindJobs(ctx, storage.JobQueued, 100)
	if err != nil {
		t.Fatal(err)
	}
	type kindPhoto struct {
		kind string
		id   int64
	}
	var gotJobs []kindPhoto
	for _, j := range jobs {
		var payload storage.PhotoJob
		if err := json.Unmarshal(j.Payload, &payload); err != nil {
			t.Fatalf("job %d payload %s: %v", j.ID, j.Payload, err)
		}
		if !j.RunAt.Equal(t0) || j.Attempts != 0 || j.MaxAttempts != storage.DefaultJobMaxAttempts {
			t.Errorf("job %d = %+v", j.ID, j)
		}
		gotJobs = append(gotJobs, kindPhoto{j.Kind, payload.PhotoID})
	}
	var wantJobs []kindPhoto
	for _, p := range []*storage.Photo{full, video, third} {
		wantJobs = append(wantJobs, kindPhoto{"thumbnail", p.ID}, kindPhoto{"webhook.deliver", p.ID})
	}
	if !slices.Equal(gotJobs, wantJobs) {
		t.Fatalf("jobs = %v, want %v", gotJobs, wantJobs)
	}

	// A later batch continues the positions; no kinds, no jobs.
	clock.Advance(time.Minute)
	more := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "d.jpg", "d"), newPhoto(e.ID, "e.jpg", "e"))
	if more[0].Position != 4 || more[1].Position != 5 {
		t.Fatalf("positions of the second batch = %d, %d; want 4, 5", more[0].Position, more[1].Position)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM jobs`); n != 6 {
		t.Fatalf("%d jobs after a batch without kinds, want 6", n)
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 5 {
		t.Fatalf("photo count = %d, want 5", ev.PhotoCount)
	}
	keys, err := db.PhotoBlobKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{full.BlobKey, video.BlobKey, third.BlobKey, more[0].BlobKey, more[1].BlobKey}; !slices.Equal(keys, want) {
		t.Fatalf("PhotoBlobKeys = %v, want %v", keys, want)
	}
}

func TestCreatePhotosDuplicates(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	first := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "same bytes"))[0]

	batch := []*storage.Photo{
		newPhoto(e.ID, "copy-of-a.jpg", "same bytes"), // already in the event
		newPhoto(e.ID, "b.jpg", "b"),
		newPhoto(e.ID, "b-again.jpg", "b"), // repeats an earlier photo of this batch
		newPhoto(e.ID, "c.jpg", "c"),
	}
	res, err := db.CreatePhotos(ctx, e.ID, batch, "thumbnail")
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Photo != nil || res[0].DuplicateOf != first.ID {
		t.Errorf("result 0 = %+v, want duplicate of %d", res[0], first.ID)
	}
	if res[1].Photo == nil || res[1].DuplicateOf != 0 || res[1].Photo.Position != 2 {
		t.Errorf("result 1 = %+v", res[1])
	}
	if res[2].Photo != nil || res[2].DuplicateOf != -1 {
		t.Errorf("result 2 = %+v, want duplicate within the batch (-1)", res[2])
	}
	if res[3].Photo == nil || res[3].Photo.Position != 3 {
		t.Errorf("result 3 = %+v", res[3])
	}
	cID := batch[3].ID
	ev := mustFindEvent(t, db, e.ID)
	if ev.PhotoCount != 3 || ev.TotalSize != int64(len("same bytes")+len("b")+len("c")) {
		t.Fatalf("counters = %d, %d", ev.PhotoCount, ev.TotalSize)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM photos WHERE event_id = ?`, e.ID); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM jobs`); n != 2 {
		t.Fatalf("%d jobs, want 2 (one per stored photo)", n)
	}

	// The same bytes in another event are a new photo there.
	res, err = db.CreatePhotos(ctx, other.ID, []*storage.Photo{newPhoto(other.ID, "a.jpg", "same bytes")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Photo == nil || res[0].Photo.EventID != other.ID || res[0].Photo.Position != 1 {
		t.Fatalf("same bytes in another event = %+v", res[0])
	}
	if got := mustFindEvent(t, db, other.ID); got.PhotoCount != 1 {
		t.Fatalf("other event count = %d", got.PhotoCount)
	}

	// A batch of only duplicates stores nothing and succeeds.
	res, err = db.CreatePhotos(ctx, e.ID, []*storage.Photo{newPhoto(e.ID, "x.jpg", "c")})
	if err != nil || res[0].Photo != nil || res[0].DuplicateOf != cID {
		t.Fatalf("only duplicates = %+v, %v; want duplicate of %d", res, err, cID)
	}
	if got := mustFindEvent(t, db, e.ID); got.PhotoCount != 3 {
		t.Fatalf("count after a batch of duplicates = %d, want 3", got.PhotoCount)
	}
}

func TestCreatePhotosPhotoCap(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := &storage.Event{Slug: "capped", Name: "Capped", PhotoCap: ptr(4)}
	if err := db.CreateEvent(ctx, e, false); err != nil {
		t.Fatal(err)
	}
	existing := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"))[0]

	over := []*storage.Photo{newPhoto(e.ID, "b.jpg", "b"), newPhoto(e.ID, "c.jpg", "c"), newPhoto(e.ID, "d.jpg", "d"), newPhoto(e.ID, "e.jpg", "e")}
	for _, p := range over {
		if err := db.AddBlobIntents(ctx, t0, p.BlobKey); err != nil {
			t.Fatal(err)
		}
	}
	_, err := db.CreatePhotos(ctx, e.ID, over, "thumbnail")
	assertErrorIs(t, err, storage.ErrPhotoCapReached)

	// Nothing of the batch was stored: no rows, same counters, no jobs, intents kept.
	ev := mustFindEvent(t, db, e.ID)
	if ev.PhotoCount != 1 || ev.TotalSize != 1 {
		t.Fatalf("counters after refused batch = %d, %d; want 1, 1", ev.PhotoCount, ev.TotalSize)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM photos`); n != 1 {
		t.Fatalf("%d photo rows after refused batch, want 1", n)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM jobs`); n != 0 {
		t.Fatalf("%d jobs after refused batch", n)
	}
	if n, _ := db.PendingBlobGC(ctx); n != len(over) {
		t.Fatalf("PendingBlobGC = %d, want %d (intents kept)", n, len(over))
	}

	// Three new photos and a duplicate exactly fill the cap: duplicates take no place.
	fill := []*storage.Photo{newPhoto(e.ID, "b.jpg", "b"), newPhoto(e.ID, "a-again.jpg", "a"), newPhoto(e.ID, "c.jpg", "c"), newPhoto(e.ID, "d.jpg", "d")}
	res, err := db.CreatePhotos(ctx, e.ID, fill)
	if err != nil {
		t.Fatalf("batch that exactly fills the cap: %v", err)
	}
	if res[1].DuplicateOf != existing.ID {
		t.Fatalf("duplicate result = %+v", res[1])
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 4 {
		t.Fatalf("photo count = %d, want 4", ev.PhotoCount)
	}

	// Full: one more is refused, a batch of only duplicates is still fine.
	_, err = db.CreatePhotos(ctx, e.ID, []*storage.Photo{newPhoto(e.ID, "z.jpg", "z")})
	assertErrorIs(t, err, storage.ErrPhotoCapReached)
	if _, err := db.CreatePhotos(ctx, e.ID, []*storage.Photo{newPhoto(e.ID, "b2.jpg", "b")}); err != nil {
		t.Fatalf("duplicates at the cap: %v", err)
	}

	// Lifting the cap lets photos in again.
	if _, err := db.UpdateEvent(ctx, e.ID, storage.EventUpdate{PhotoCap: storage.Nullable[int]{Set: true}}); err != nil {
		t.Fatal(err)
	}
	mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "z.jpg", "z"))
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 5 {
		t.Fatalf("photo count without cap = %d, want 5", ev.PhotoCount)
	}
}

func TestCreatePhotosRefusedEvents(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "archived")
	if _, err := db.SetEventArchived(ctx, e.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := db.CreatePhotos(ctx, e.ID, []*storage.Photo{newPhoto(e.ID, "a.jpg", "a")}, "thumbnail")
	assertErrorIs(t, err, storage.ErrEventArchived)
	_, err = db.CreatePhotos(ctx, 9999, []*storage.Photo{newPhoto(9999, "a.jpg", "a")}, "thumbnail")
	assertErrorIs(t, err, storage.ErrNotFound)
	if n := mustCount(t, db, `SELECT COUNT(*) FROM photos`) + mustCount(t, db, `SELECT COUNT(*) FROM jobs`); n != 0 {
		t.Fatalf("%d rows written by refused batches", n)
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 0 {
		t.Fatalf("archived event count = %d", ev.PhotoCount)
	}
	// Restored, it takes photos again.
	if _, err := db.SetEventArchived(ctx, e.ID, false); err != nil {
		t.Fatal(err)
	}
	mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"))
}

func TestCapturedAtKeepsOffset(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	cest := time.FixedZone("", 2*3600)
	at := time.Date(2025, 6, 14, 18, 45, 10, 123456789, cest)
	p := newPhoto(e.ID, "a.jpg", "a")
	p.CapturedAt = &at
	mustCreatePhotos(t, db, e.ID, p)

	got, err := db.FindPhotoByID(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CapturedAt == nil || !got.CapturedAt.Equal(at) {
		t.Fatalf("CapturedAt = %v, want %v", got.CapturedAt, at)
	}
	if _, off := got.CapturedAt.Zone(); off != 2*3600 {
		t.Fatalf("CapturedAt offset = %d s, want 7200", off)
	}
	if got.CapturedAt.Hour() != 18 {
		t.Fatalf("CapturedAt wall clock = %v, want 18:45 local", got.CapturedAt)
	}
}

// sortFixture is an event whose photos tie on every sort key, so the tie-break shows.
func sortFixture(t *testing.T, db *storage.DB) (*storage.Event, []*storage.Photo) {
	t.Helper()
	ctx := context.Background()
	clock := useClock(db)
	e := mustCreateEvent(t, db, "sorted")
	noise := mustCreateEvent(t, db, "noise")
	mustCreatePhotos(t, db, noise.ID, newPhoto(noise.ID, "noise.jpg", "noise"))

	cest := time.FixedZone("", 2*3600)
	at := func(h, m int) *time.Time { v := time.Date(2025, 6, 14, h, m, 0, 0, time.UTC); return &v }
	inCEST := func(h, m int) *time.Time { v := time.Date(2025, 6, 14, h, m, 0, 0, cest); return &v }

	// Batch 1 at t0: three photos share created_at.
	b1 := []*storage.Photo{
		newPhoto(e.ID, "IMG_0002.jpg", "1111"),
		newPhoto(e.ID, "img_0002.JPG", "2222"), // same name ignoring case
		newPhoto(e.ID, "beach.jpg", "333"),
	}
	b1[0].CapturedAt = at(10, 0)
	b1[1].CapturedAt = inCEST(12, 0) // the same instant as b1[0], written in +02:00
	// b1[2] has no capture time: it sorts by its upload time t0 (12:00Z).
	mustCreatePhotos(t, db, e.ID, b1...)
	// Batch 2 at t0+1m.
	clock.Advance(time.Minute)
	b2 := []*storage.Photo{
		newPhoto(e.ID, "zebra.jpg", "4444"),
		newPhoto(e.ID, "Beach.jpg", "55"),
		newPhoto(e.ID, "apple.jpg", "666666"),
	}
	b2[0].CapturedAt = at(12, 0)      // ties with b1[2]'s fallback
	b2[1].CapturedAt = inCEST(11, 30) // 09:30Z: before the 10:00Z pair, though its wall clock is later
	// b2[2] has no capture time: t0+1m.
	mustCreatePhotos(t, db, e.ID, b2...)
	// Batch 3 at t0+2m.
	clock.Advance(time.Minute)
	b3 := []*storage.Photo{newPhoto(e.ID, "zebra.JPG", "77"), newPhoto(e.ID, "middle.jpg", "8888")}
	b3[1].CapturedAt = at(9, 0)
	mustCreatePhotos(t, db, e.ID, b3...)

	all := append(append(append([]*storage.Photo{}, b1...), b2...), b3...)
	// Ratings: two ties at 4.5, the rest at 0; positions: two photos share position 2.
	for _, r := range []struct {
		p   *storage.Photo
		avg float64
	}{{all[0], 4.5}, {all[3], 4.5}, {all[5], 3}, {all[7], 5}} {
		mustExec(t, db, `UPDATE photos SET rating_avg = ?, rating_count = 2, rating_sum = ? WHERE id = ?`, r.avg, int(r.avg*2), r.p.ID)
	}
	if _, err := db.UpdatePhoto(ctx, all[6].ID, storage.PhotoUpdate{Position: ptr(int64(2))}); err != nil {
		t.Fatal(err)
	}
	var stored []*storage.Photo
	for _, p := range all {
		got, err := db.FindPhotoByID(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, got)
	}
	return e, stored
}

// sortKeys says how each API sort key orders photos, independently of the SQL.
var sortKeys = map[string]func(a, b *storage.Photo) int{
	"upload_date": func(a, b *storage.Photo) int { return a.CreatedAt.Compare(b.CreatedAt) },
	"capture_date": func(a, b *storage.Photo) int {
		at := func(p *storage.Photo) time.Time {
			if p.CapturedAt != nil {
				return *p.CapturedAt
			}
			return p.CreatedAt
		}
		return at(a).Compare(at(b))
	},
	"filename": func(a, b *storage.Photo) int {
		return strings.Compare(strings.ToLower(a.OriginalName), strings.ToLower(b.OriginalName))
	},
	"size":     func(a, b *storage.Photo) int { return cmp.Compare(a.Size, b.Size) },
	"rating":   func(a, b *storage.Photo) int { return cmp.Compare(a.RatingAvg, b.RatingAvg) },
	"position": func(a, b *storage.Photo) int { return cmp.Compare(a.Position, b.Position) },
}

// expectedOrder sorts photos by sort (key_asc or key_desc) with ties broken by id in the
// same direction.
func expectedOrder(t *testing.T, photos []*storage.Photo, sort string) []int64 {
	t.Helper()
	key, desc := strings.CutSuffix(sort, "_desc")
	key = strings.TrimSuffix(key, "_asc")
	less, ok := sortKeys[key]
	if !ok {
		t.Fatalf("no reference order for sort %q", sort)
	}
	sorted := slices.Clone(photos)
	slices.SortFunc(sorted, func(a, b *storage.Photo) int {
		c := less(a, b)
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		if desc {
			c = -c
		}
		return c
	})
	return photoIDs(sorted)
}

func TestFindPhotosSortOrders(t *testing.T) {
	db := mustOpenDB(t)
	e, photos := sortFixture(t, db)

	if len(storage.PhotoSortKeys()) != 2*len(sortKeys) {
		t.Fatalf("PhotoSortKeys() = %v; the test knows %d keys", storage.PhotoSortKeys(), len(sortKeys))
	}
	// The fixture must tie on every key, or the id tie-break goes untested.
	for key, compare := range sortKeys {
		tied := false
		for i := range photos {
			for j := i + 1; j < len(photos); j++ {
				tied = tied || compare(photos[i], photos[j]) == 0
			}
		}
		if !tied {
			t.Fatalf("fixture has no tie on %s", key)
		}
	}

	for _, sort := range storage.PhotoSortKeys() {
		want := expectedOrder(t, photos, sort)
		got, total := mustFindPhotoIDs(t, db, storage.PhotoFilter{EventID: e.ID, Sort: sort})
		if !slices.Equal(got, want) || total != len(photos) {
			t.Errorf("%s: got %v (total %d), want %v (total %d)", sort, got, total, want, len(photos))
		}
		// Paging through in every page size gives the same sequence, without overlap or gap.
		for limit := 1; limit <= 4; limit++ {
			var paged []int64
			for offset := 0; offset < len(photos)+limit; offset += limit {
				page, total := mustFindPhotoIDs(t, db, storage.PhotoFilter{EventID: e.ID, Sort: sort, Limit: limit, Offset: offset})
				if total != len(photos) {
					t.Fatalf("%s limit %d offset %d: total %d", sort, limit, offset, total)
				}
				if len(page) > limit {
					t.Fatalf("%s limit %d: page of %d", sort, limit, len(page))
				}
				paged = append(paged, page...)
			}
			if !slices.Equal(paged, want) {
				t.Errorf("%s in pages of %d: %v, want %v", sort, limit, paged, want)
			}
		}
	}

	// The capture order is by instant, not wall clock: 11:30+02:00 comes before 10:00Z.
	got, _ := mustFindPhotoIDs(t, db, storage.PhotoFilter{EventID: e.ID, Sort: "capture_date_asc"})
	if want := []int64{photos[7].ID, photos[4].ID, photos[0].ID, photos[1].ID}; !slices.Equal(got[:4], want) {
		t.Errorf("capture_date_asc starts %v, want %v", got[:4], want)
	}
	// The default is upload_date_desc.
	def, _ := mustFindPhotoIDs(t, db, storage.PhotoFilter{EventID: e.ID})
	if want := expectedOrder(t, photos, "upload_date_desc"); !slices.Equal(def, want) {
		t.Errorf("default order %v, want %v", def, want)
	}
}

func TestFindPhotosRejectsUnknownSort(t *testing.T) {
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	for _, sort := range []string{"size", "bogus_asc", "size_up", "SIZE_ASC", "_asc", "id_desc", "size_asc; DROP TABLE photos"} {
		_, _, err := db.FindPhotos(context.Background(), storage.PhotoFilter{EventID: e.ID, Sort: sort})
		assertErrorIs(t, err, storage.ErrInvalid)
	}
}

func TestFindPhotosFilters(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	c := &storage.Category{EventID: e.ID, Name: "C", Slug: "c"}
	if err := db.CreateCategory(ctx, c); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, cat bool, hidden bool, video bool) *storage.Photo {
		p := newPhoto(e.ID, name, name)
		if cat {
			p.CategoryID = &c.ID
		}
		p.IsHidden = hidden
		if video {
			p.MediaType, p.Format, p.MIMEType = "video", "mp4", "video/mp4"
		}
		return p
	}
	ps := mustCreatePhotos(t, db, e.ID,
		mk("0", true, false, false),
		mk("1", true, true, false),
		mk("2", false, false, true),
		mk("3", false, true, true),
		mk("4", true, false, true),
	)
	mustCreatePhotos(t, db, other.ID, newPhoto(other.ID, "x", "x"))
	id := func(i ...int) []int64 {
		var out []int64
		for _, j := range i {
			out = append(out, ps[j].ID)
		}
		return out
	}
	video := "video"
	image := "image"
	tests := []struct {
		name      string
		f         storage.PhotoFilter
		want      []int64
		wantTotal int
	}{
		{"event only", storage.PhotoFilter{}, id(0, 1, 2, 3, 4), 5},
		{"category", storage.PhotoFilter{CategoryID: &c.ID}, id(0, 1, 4), 3},
		{"visible", storage.PhotoFilter{IsHidden: ptr(false)}, id(0, 2, 4), 3},
		{"hidden", storage.PhotoFilter{IsHidden: ptr(true)}, id(1, 3), 2},
		{"videos", storage.PhotoFilter{MediaType: &video}, id(2, 3, 4), 3},
		{"images", storage.PhotoFilter{MediaType: &image}, id(0, 1), 2},
		{"visible videos in category", storage.PhotoFilter{CategoryID: &c.ID, IsHidden: ptr(false), MediaType: &video}, id(4), 1},
		{"ids", storage.PhotoFilter{IDs: id(4, 1, 3)}, id(1, 3, 4), 3},
		{"ids and hidden", storage.PhotoFilter{IDs: id(4, 1, 3), IsHidden: ptr(true)}, id(1, 3), 2},
		{"ids of another event", storage.PhotoFilter{IDs: []int64{ps[0].ID, 9999}}, id(0), 1},
		{"page of a filter", storage.PhotoFilter{MediaType: &video, Limit: 2, Offset: 1}, id(3, 4), 3},
	}
	for _, tt := range tests {
		tt.f.EventID = e.ID
		tt.f.Sort = "position_asc"
		got, total := mustFindPhotoIDs(t, db, tt.f)
		if !slices.Equal(got, tt.want) || total != tt.wantTotal {
			t.Errorf("%s: got %v (total %d), want %v (total %d)", tt.name, got, total, tt.want, tt.wantTotal)
		}
	}
	// An event without photos lists an empty, non-nil slice.
	empty := mustCreateEvent(t, db, "empty")
	photos, total, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: empty.ID})
	if err != nil || photos == nil || len(photos) != 0 || total != 0 {
		t.Fatalf("empty event: %v, %d, %v", photos, total, err)
	}
}

func TestUpdatePhoto(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	c := &storage.Category{EventID: e.ID, Name: "C", Slug: "c"}
	foreign := &storage.Category{EventID: other.ID, Name: "F", Slug: "f"}
	for _, x := range []*storage.Category{c, foreign} {
		if err := db.CreateCategory(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	p := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"))[0]

	now := clock.Advance(time.Minute)
	got, err := db.UpdatePhoto(ctx, p.ID, storage.PhotoUpdate{IsHidden: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.IsHidden || got.CategoryID != nil || got.Position != 1 || !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("after hide: %+v", got)
	}

	got, err = db.UpdatePhoto(ctx, p.ID, storage.PhotoUpdate{CategoryID: storage.Nullable[int64]{Set: true, Value: &c.ID}, Position: ptr(int64(42))})
	if err != nil {
		t.Fatal(err)
	}
	if got.CategoryID == nil || *got.CategoryID != c.ID || got.Position != 42 || !got.IsHidden {
		t.Fatalf("after category and position: %+v", got)
	}

	// A category of another event, or none at all, is refused and changes nothing.
	for _, bad := range []int64{foreign.ID, 9999} {
		_, err = db.UpdatePhoto(ctx, p.ID, storage.PhotoUpdate{IsHidden: ptr(false), CategoryID: storage.Nullable[int64]{Set: true, Value: &bad}})
		assertErrorIs(t, err, storage.ErrInvalid)
	}
	stored, err := db.FindPhotoByID(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.CategoryID == nil || *stored.CategoryID != c.ID || !stored.IsHidden {
		t.Fatalf("refused update changed the photo: %+v", stored)
	}

	got, err = db.UpdatePhoto(ctx, p.ID, storage.PhotoUpdate{CategoryID: storage.Nullable[int64]{Set: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got.CategoryID != nil || got.Position != 42 || !got.IsHidden {
		t.Fatalf("after clearing the category: %+v", got)
	}
	got, err = db.UpdatePhoto(ctx, p.ID, storage.PhotoUpdate{IsHidden: ptr(false)})
	if err != nil || got.IsHidden {
		t.Fatalf("unhide: %+v, %v", got, err)
	}

	_, err = db.UpdatePhoto(ctx, 9999, storage.PhotoUpdate{IsHidden: ptr(true)})
	assertErrorIs(t, err, storage.ErrNotFound)
}

func TestReorderPhotos(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	var ps []*storage.Photo
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		ps = append(ps, newPhoto(e.ID, n, n))
	}
	mustCreatePhotos(t, db, e.ID, ps...)
	foreign := mustCreatePhotos(t, db, other.ID, newPhoto(other.ID, "x", "x"))[0]

	order := func() []int64 {
		t.Helper()
		ids, _ := mustFindPhotoIDs(t, db, storage.PhotoFilter{EventID: e.ID, Sort: "position_asc"})
		return ids
	}
	positions := func() []int64 {
		t.Helper()
		photos, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: "position_asc"})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, p := range photos {
			out = append(out, p.Position)
		}
		return out
	}

	// d, b first; then a, c, e in their previous order.
	if err := db.ReorderPhotos(ctx, e.ID, []int64{ps[3].ID, ps[1].ID}); err != nil {
		t.Fatal(err)
	}
	want := []int64{ps[3].ID, ps[1].ID, ps[0].ID, ps[2].ID, ps[4].ID}
	if got := order(); !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}
	if got := positions(); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("positions = %v, want 1..5", got)
	}

	// The previous order is kept for the unlisted, even when it is not the upload order.
	if err := db.ReorderPhotos(ctx, e.ID, []int64{ps[4].ID}); err != nil {
		t.Fatal(err)
	}
	want = []int64{ps[4].ID, ps[3].ID, ps[1].ID, ps[0].ID, ps[2].ID}
	if got := order(); !slices.Equal(got, want) {
		t.Fatalf("order = %v, want %v", got, want)
	}

	for name, ids := range map[string][]int64{
		"foreign id":  {ps[0].ID, foreign.ID},
		"missing id":  {9999},
		"repeated id": {ps[0].ID, ps[2].ID, ps[0].ID},
	} {
		err := db.ReorderPhotos(ctx, e.ID, ids)
		assertErrorIs(t, err, storage.ErrInvalid)
		if got := order(); !slices.Equal(got, want) {
			t.Fatalf("%s changed the order: %v, want %v", name, got, want)
		}
	}
	err := db.ReorderPhotos(ctx, 9999, nil)
	assertErrorIs(t, err, storage.ErrNotFound)

	// New photos go after the reordered ones.
	added := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "f", "f"))[0]
	if added.Position != 6 {
		t.Fatalf("new photo position = %d, want 6", added.Position)
	}
}

func TestDeletePhotos(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "e")
	other := mustCreateEvent(t, db, "other")
	ps := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a", "aa"), newPhoto(e.ID, "b", "bbb"), newPhoto(e.ID, "c", "cccc"))
	ops := mustCreatePhotos(t, db, other.ID, newPhoto(other.ID, "x", "xxxxx"))

	clock.Advance(time.Minute)
	deleted, err := db.DeletePhotos(ctx, []int64{ps[0].ID, 9999, ops[0].ID, ps[2].ID, ps[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := photoIDs(deleted), []int64{ps[0].ID, ops[0].ID, ps[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("deleted = %v, want %v", got, want)
	}
	for i, p := range deleted {
		want := []*storage.Photo{ps[0], ops[0], ps[2]}[i]
		assertPhotoEqual(t, p, want)
	}
	for _, p := range deleted {
		_, err := db.FindPhotoByID(ctx, p.ID)
		assertErrorIs(t, err, storage.ErrNotFound)
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 1 || ev.TotalSize != 3 || !ev.UpdatedAt.Equal(clock.Now()) {
		t.Fatalf("event counters = %d, %d (updated %v); want 1, 3", ev.PhotoCount, ev.TotalSize, ev.UpdatedAt)
	}
	if ev := mustFindEvent(t, db, other.ID); ev.PhotoCount != 0 || ev.TotalSize != 0 {
		t.Fatalf("other event counters = %d, %d; want 0, 0", ev.PhotoCount, ev.TotalSize)
	}

	var want []string
	for _, p := range deleted {
		want = append(want, p.BlobKeys()...)
	}
	slices.Sort(want)
	due, err := db.DueBlobGC(ctx, clock.Now(), 100)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(due)
	if !slices.Equal(due, want) {
		t.Fatalf("DueBlobGC = %v, want %v", due, want)
	}

	// Deleting nothing is fine.
	if deleted, err := db.DeletePhotos(ctx, []int64{9999}); err != nil || len(deleted) != 0 {
		t.Fatalf("delete missing = %v, %v", deleted, err)
	}
}

func TestPhotoDimensionsAndDerivatives(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	known := newPhoto(e.ID, "known", "known")
	known.Width, known.Height = ptr(10), ptr(20)
	ps := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a", "a"), known, newPhoto(e.ID, "b", "b"))

	missing, err := db.FindPhotosMissingDimensions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := photoIDs(missing), []int64{ps[0].ID, ps[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("missing dimensions = %v, want %v", got, want)
	}
	if err := db.SetPhotoDimensions(ctx, ps[0].ID, 640, 480); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindPhotoByID(ctx, ps[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Width == nil || got.Height == nil || *got.Width != 640 || *got.Height != 480 {
		t.Fatalf("dimensions = %v x %v", got.Width, got.Height)
	}
	missing, err = db.FindPhotosMissingDimensions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := photoIDs(missing), []int64{ps[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("missing dimensions after set = %v, want %v", got, want)
	}

	ok, err := db.SetPhotoDerivatives(ctx, ps[1].ID, storage.DerivativesReady)
	if err != nil || !ok {
		t.Fatalf("SetPhotoDerivatives = %v, %v; want true", ok, err)
	}
	if got, err := db.FindPhotoByID(ctx, ps[1].ID); err != nil || got.Derivatives != storage.DerivativesReady {
		t.Fatalf("derivatives = %+v, %v", got, err)
	}
	if _, err := db.DeletePhotos(ctx, []int64{ps[2].ID}); err != nil {
		t.Fatal(err)
	}
	ok, err = db.SetPhotoDerivatives(ctx, ps[2].ID, storage.DerivativesReady)
	if err != nil || ok {
		t.Fatalf("SetPhotoDerivatives on a deleted photo = %v, %v; want false", ok, err)
	}
}

func TestCreatePhotosNameConflictStoresNothing(t *testing.T) {
	ctx := context.Background()
	db := mustOpenDB(t)
	e := mustCreateEvent(t, db, "e")
	first := mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "a.jpg", "a"))[0]

	// The second photo reuses the first one's stem: the batch fails as a whole.
	ok := newPhoto(e.ID, "b.jpg", "b")
	clash := newPhoto(e.ID, "c.jpg", "c")
	clash.Stem, clash.Filename = first.Stem, first.Filename
	_, err := db.CreatePhotos(ctx, e.ID, []*storage.Photo{ok, clash}, "thumbnail")
	assertErrorIs(t, err, storage.ErrConflict)
	if n := mustCount(t, db, `SELECT COUNT(*) FROM photos`); n != 1 {
		t.Fatalf("%d photo rows after a failed batch, want 1", n)
	}
	if n := mustCount(t, db, `SELECT COUNT(*) FROM jobs`); n != 0 {
		t.Fatalf("%d jobs after a failed batch, want 0", n)
	}
	if ev := mustFindEvent(t, db, e.ID); ev.PhotoCount != 1 || ev.TotalSize != 1 {
		t.Fatalf("counters after a failed batch = %d, %d; want 1, 1", ev.PhotoCount, ev.TotalSize)
	}
}
