package storage_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// queryPlan runs EXPLAIN QUERY PLAN on q and returns the detail lines.
func queryPlan(t *testing.T, db *storage.DB, q storage.RecordedQuery) []string {
	t.Helper()
	_, w := db.Pools()
	rows, err := w.Query("EXPLAIN QUERY PLAN "+q.SQL, q.Args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q.SQL, err)
	}
	defer rows.Close()
	var details []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		details = append(details, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return details
}

// fullScan matches a plan step that reads a whole table: "SCAN p" or "SCAN photos" with
// no index. "SCAN e USING INDEX ..." walks an index in order and is allowed where the
// query really lists every row.
var fullScan = regexp.MustCompile(`^SCAN (\w+)$|^SCAN (\w+) (?:USING ROWID|$)`)

// recordPlans runs fn against a read pool that records its SQL and returns the plan of
// each query fn ran.
func recordPlans(t *testing.T, db *storage.DB, path string, fn func()) map[string][]string {
	t.Helper()
	queries := storage.RecordQueries(t, db, path)
	fn()
	plans := map[string][]string{}
	for _, q := range queries() {
		plans[q.SQL] = queryPlan(t, db, q)
		t.Logf("plan %q", plans[q.SQL])
	}
	if len(plans) == 0 {
		t.Fatal("no query was recorded")
	}
	return plans
}

func TestFullScanPattern(t *testing.T) {
	for step, want := range map[string]bool{
		"SCAN p":                               true,
		"SCAN photos":                          true,
		"SCAN jobs":                            true,
		"SCAN e USING INDEX events_by_created": false,
		"SCAN e USING COVERING INDEX events_by_id":         false,
		"SEARCH p USING INDEX photos_by_size (event_id=?)": false,
		"SCAN CONSTANT ROW":                                false,
	} {
		if got := fullScan.MatchString(step); got != want {
			t.Errorf("fullScan(%q) = %v, want %v", step, got, want)
		}
	}
}

func TestPhotoListQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	// Enough rows in a few events that a scan and a search are different choices.
	for i := range 3 {
		e := mustCreateEvent(t, db, string(rune('a'+i)))
		var ps []*storage.Photo
		for j := range 40 {
			ps = append(ps, newPhoto(e.ID, "p.jpg", e.Slug+string(rune('a'+j))))
		}
		mustCreatePhotos(t, db, e.ID, ps...)
	}

	sortIndex := map[string]string{
		"upload_date":  "photos_by_upload",
		"capture_date": "photos_by_capture",
		"filename":     "photos_by_name",
		"size":         "photos_by_size",
		"rating":       "photos_by_rating",
		"position":     "photos_by_position",
	}
	for _, sort := range storage.PhotoSortKeys() {
		plans := recordPlans(t, db, path, func() {
			if _, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: 1, Sort: sort, Limit: 10, Offset: 10}); err != nil {
				t.Fatal(err)
			}
		})
		key := strings.TrimSuffix(strings.TrimSuffix(sort, "_asc"), "_desc")
		sawList := false
		for q, plan := range plans {
			for _, step := range plan {
				if fullScan.MatchString(step) {
					t.Errorf("%s: full table scan %q in the plan of\n%s\nplan: %q", sort, step, q, plan)
				}
			}
			if !strings.Contains(q, "ORDER BY") {
				continue
			}
			sawList = true
			// The list query reads the sort key's index in order: no sorting step.
			joined := strings.Join(plan, "\n")
			if !strings.Contains(joined, "USING INDEX "+sortIndex[key]+" (event_id=?)") {
				t.Errorf("%s: list query does not search %s by event: %q", sort, sortIndex[key], plan)
			}
			if strings.Contains(joined, "TEMP B-TREE") {
				t.Errorf("%s: list query sorts in a temp b-tree: %q", sort, plan)
			}
		}
		if !sawList {
			t.Errorf("%s: the list query was not recorded: %v", sort, plans)
		}
	}
}

func TestEventListQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	for i := range 30 {
		e := mustCreateEvent(t, db, "e"+string(rune('a'+i)))
		mustCreatePhotos(t, db, e.ID, newPhoto(e.ID, "p.jpg", e.Slug))
	}
	for name, f := range map[string]storage.EventFilter{
		"archived": {IsArchived: ptr(true), Limit: 10},
		"active":   {IsArchived: ptr(false), Limit: 10},
		"all":      {Limit: 10},
	} {
		plans := recordPlans(t, db, path, func() {
			if _, _, err := db.FindEvents(ctx, f); err != nil {
				t.Fatal(err)
			}
		})
		for q, plan := range plans {
			for _, step := range plan {
				if fullScan.MatchString(step) {
					t.Errorf("%s: full table scan %q in the plan of\n%s\nplan: %q", name, step, q, plan)
				}
			}
			if strings.Contains(q, "ORDER BY") && strings.Contains(strings.Join(plan, "\n"), "TEMP B-TREE") {
				t.Errorf("%s: event list sorts in a temp b-tree: %q", name, plan)
			}
		}
	}
}

func TestQueueAndJanitorQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	clock := useClock(db)
	e := mustCreateEvent(t, db, "e")
	var ps []*storage.Photo
	for j := range 30 {
		ps = append(ps, newPhoto(e.ID, "p.jpg", string(rune('a'+j))))
	}
	mustCreatePhotos(t, db, e.ID, ps...)
	for i := range 30 {
		if _, err := db.EnqueueJob(ctx, "thumbnail", storage.PhotoJob{PhotoID: int64(i)}, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.AddBlobIntents(ctx, t0, "originals/x/"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	plans := recordPlans(t, db, path, func() {
		if _, err := db.ClaimJob(ctx, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DueBlobGC(ctx, clock.Now(), 10); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindJobs(ctx, storage.JobQueued, 10); err != nil {
			t.Fatal(err)
		}
	})
	for q, plan := range plans {
		for _, step := range plan {
			if fullScan.MatchString(step) {
				t.Errorf("full table scan %q in the plan of\n%s\nplan: %q", step, q, plan)
			}
		}
	}
}

// TestKeysetPageUsesTheSortIndexRange: a page after a cursor starts inside the sort
// index (a range on event and sort key), so a deep page costs what the first does.
func TestKeysetPageUsesTheSortIndexRange(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	e := mustCreateEvent(t, db, "k")
	var ps []*storage.Photo
	for j := range 60 {
		ps = append(ps, newPhoto(e.ID, "p.jpg", "k"+string(rune('a'+j))))
	}
	mustCreatePhotos(t, db, e.ID, ps...)
	for _, sort := range storage.PhotoSortKeys() {
		first, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: sort, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		after := storage.CursorAfter(sort, first[len(first)-1])
		plans := recordPlans(t, db, path, func() {
			if _, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: sort, Limit: 5, After: &after}); err != nil {
				t.Fatal(err)
			}
		})
		for q, plan := range plans {
			if !strings.Contains(q, "ORDER BY") {
				continue
			}
			joined := strings.Join(plan, "\n")
			if !strings.Contains(joined, "(event_id=? AND ") || strings.Contains(joined, "TEMP B-TREE") {
				t.Errorf("%s: the keyset page does not seek into the sort index: %q", sort, plan)
			}
		}
	}
}

// TestKeysetPagesWalkTies pages through photos whose sort values tie (one upload time,
// one rating, a few sizes) by cursor, and checks the pages add up to the whole list in
// order, and that the rows tied with the cursor are found by a seek on the sort value
// and id rather than by walking every tied row.
func TestKeysetPagesWalkTies(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDBPath(t)
	e := mustCreateEvent(t, db, "ties")
	var ps []*storage.Photo
	for j := range 30 {
		// Sizes 1..3 and names a..e repeat, so those sorts tie too.
		ps = append(ps, newPhoto(e.ID, string(rune('a'+j%5))+".jpg", strings.Repeat("x", 1+j%3)+string(rune('A'+j))))
	}
	mustCreatePhotos(t, db, e.ID, ps...)
	for _, sort := range storage.PhotoSortKeys() {
		all, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: sort})
		if err != nil {
			t.Fatal(err)
		}
		var walked []*storage.Photo
		page, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: sort, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for len(page) > 0 && len(walked) <= len(all) {
			walked = append(walked, page...)
			after := storage.CursorAfter(sort, page[len(page)-1])
			if page, _, err = db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: sort, Limit: 7, After: &after}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := photoIDs(walked), photoIDs(all); !slicesEqual(got, want) {
			t.Errorf("%s: pages by cursor = %v, want %v", sort, got, want)
		}
	}

	// The page after the 3rd of 30 photos with one rating: the tied rows come from a seek.
	first, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: "rating_asc", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	after := storage.CursorAfter("rating_asc", first[2])
	plans := recordPlans(t, db, path, func() {
		if _, _, err := db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: "rating_asc", Limit: 3, After: &after}); err != nil {
			t.Fatal(err)
		}
	})
	seek := false
	for _, plan := range plans {
		if strings.Contains(strings.Join(plan, "\n"), "(event_id=? AND rating_avg=? AND id>?)") {
			seek = true
		}
	}
	if !seek {
		t.Errorf("no query seeks the tied rows by (event_id, rating_avg, id): %v", plans)
	}
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
