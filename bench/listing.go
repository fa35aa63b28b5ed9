package main

// Scenario 4: listing. 100,000 photo rows are inserted into one event through the
// storage layer (storage.Open + CreateEvent + CreatePhotos in batches of 500, as the
// upload path stores them; the blobs they name do not exist, which the list route never
// reads). Then one client asks GET /api/v1/events/{id}/photos for the first page and
// the last page of every sort key, one request at a time, and records p50 and p99.
// A second event of 1,000 photos is read whole (5 pages of 200) to compare with
// PicPeak's unpaginated list of 1,000.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// ListCell is one sort key and page.
type ListCell struct {
	Sort   string `json:"sort"`
	Page   string `json:"page"` // "first", "deep" (by offset) or "cursor" (the same page by next_cursor)
	Offset int    `json:"offset"`
	P50    Stat   `json:"p50_ms"`
	P99    Stat   `json:"p99_ms"`
	query  string
}

// ListResult is scenario 4.
type ListResult struct {
	Photos         int        `json:"photos"`
	Limit          int        `json:"limit"`
	RequestsEach   int        `json:"requests_per_cell_per_round"`
	InsertSeconds  float64    `json:"insert_seconds"`
	Cells          []ListCell `json:"cells"`
	Cursor         bool       `json:"server_offers_cursor"`
	WorstFirstP99  float64    `json:"worst_first_page_p99_ms"`
	WorstDeepP99   float64    `json:"worst_deep_page_p99_ms"` // by cursor when offered, else by offset
	WorstDeepRate  float64    `json:"worst_deep_to_first_p99_ratio"`
	WorstOffsetP99 float64    `json:"worst_offset_deep_page_p99_ms"`
	All1000P50     Stat       `json:"all_1000_p50_ms"`
	All1000P99     Stat       `json:"all_1000_p99_ms"`
	DBMB           float64    `json:"database_mb"`
}

const stemAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// seedPhotos inserts n photos into a new event through the storage layer.
func seedPhotos(ctx context.Context, db *storage.DB, name, slug string, n int, seed uint64) (*storage.Event, []string, error) {
	var stems []string
	ev := &storage.Event{Name: name, Slug: slug, AllowDownloads: true, ProtectionLevel: storage.ProtectionBasic, IsPublished: true}
	if err := db.CreateEvent(ctx, ev, true); err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 42))
	// Upload times: one batch every few seconds over the past weeks, as a photographer's
	// uploads arrive; capture times: a 10-hour event day, in shuffled order.
	clock := time.Date(2026, 5, 12, 20, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return clock }
	day := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	names := rng.Perm(n)
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		clock = clock.Add(time.Duration(3+rng.IntN(30)) * time.Second)
		var photos []*storage.Photo
		for i := lo; i < min(lo+batch, n); i++ {
			stem := make([]byte, 20)
			for k := range stem {
				stem[k] = stemAlphabet[rng.IntN(32)]
			}
			sum := sha256.Sum256(fmt.Appendf(nil, "%s-%d-%d", slug, seed, i))
			w, h := 6000, 4000
			if rng.IntN(4) == 0 {
				w, h = h, w
			}
			captured := day.Add(time.Duration(rng.Int64N(int64(10 * time.Hour))))
			fn := string(stem) + ".jpg"
			if len(stems) < 100 {
				stems = append(stems, string(stem))
			}
			photos = append(photos, &storage.Photo{
				Stem: string(stem), Filename: fn, OriginalName: fmt.Sprintf("DSC_%05d.JPG", names[i]),
				BlobKey: storage.OriginalKey(ev.ID, fn), Format: "jpeg", MediaType: "image", MIMEType: "image/jpeg",
				Size: 6_000_000 + rng.Int64N(6_000_000), SHA256: hex.EncodeToString(sum[:]), Width: &w, Height: &h,
				Orientation: 1, CapturedAt: &captured,
				Camera:      storage.Camera{Make: "SynthCam", Model: "Bench 24MP", ExposureTime: "1/250"},
				Derivatives: storage.DerivativesReady,
			})
		}
		if _, err := db.CreatePhotos(ctx, ev.ID, photos); err != nil {
			return nil, nil, err
		}
	}
	db.Now = time.Now
	return ev, stems, nil
}

// timeGET times one GET, reading the whole body.
func timeGET(hc *http.Client, url, token string) (time.Duration, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return d, err
}

// benchListing measures the list route on a running server whose data folder holds the
// events made by seedPhotos. For each sort: the first page, the last page by offset,
// and, when the server offers keyset pagination, the same last page reached by the
// next_cursor of the page before it.
func benchListing(ctx context.Context, a *api, bigID int64, total int, smallID int64, perCell, rounds int, logf func(string, ...any)) (*ListResult, error) {
	const limit = 50
	res := &ListResult{Photos: total, Limit: limit, RequestsEach: perCell, All1000P50: Stat{Unit: "ms"}, All1000P99: Stat{Unit: "ms"}}
	hc := a.hc
	sorts := storage.PhotoSortKeys()
	var cells []*ListCell
	bySort := map[string][]*ListCell{}
	for _, s := range sorts {
		base := fmt.Sprintf("/api/v1/events/%d/photos?limit=%d&sort=%s", bigID, limit, s)
		first := &ListCell{Sort: s, Page: "first", query: base + "&offset=0"}
		deep := &ListCell{Sort: s, Page: "deep", Offset: total - limit, query: fmt.Sprintf("%s&offset=%d", base, total-limit)}
		bySort[s] = []*ListCell{first, deep}
		var prev struct {
			NextCursor string `json:"next_cursor"`
		}
		if err := a.do(ctx, "GET", fmt.Sprintf("%s&offset=%d", base, total-2*limit), nil, "", &prev); err != nil {
			return nil, err
		}
		if prev.NextCursor != "" {
			res.Cursor = true
			c := &ListCell{Sort: s, Page: "cursor", Offset: total - limit, query: base + "&cursor=" + url.QueryEscape(prev.NextCursor)}
			bySort[s] = append(bySort[s], c)
		}
		cells = append(cells, bySort[s]...)
	}
	for _, c := range cells {
		c.P50, c.P99 = Stat{Unit: "ms"}, Stat{Unit: "ms"}
		// Warm-up: every query once (page cache, plans).
		if _, err := timeGET(hc, a.base+c.query, a.token); err != nil {
			return nil, err
		}
	}
	for r := range rounds {
		for _, c := range cells {
			lat := make([]time.Duration, 0, perCell)
			for range perCell {
				d, err := timeGET(hc, a.base+c.query, a.token)
				if err != nil {
					return nil, err
				}
				lat = append(lat, d)
			}
			slices.Sort(lat)
			c.P50.add(ms(percentile(lat, 50)))
			c.P99.add(ms(percentile(lat, 99)))
		}
		// 1,000 photos, whole, in pages of 200 (the route's maximum).
		var all []time.Duration
		for range perCell / 2 {
			t0 := time.Now()
			for off := 0; off < 1000; off += 200 {
				if _, err := timeGET(hc, fmt.Sprintf("%s/api/v1/events/%d/photos?limit=200&offset=%d&sort=position_asc", a.base, smallID, off), a.token); err != nil {
					return nil, err
				}
			}
			all = append(all, time.Since(t0))
		}
		slices.Sort(all)
		res.All1000P50.add(ms(percentile(all, 50)))
		res.All1000P99.add(ms(percentile(all, 99)))
		logf("listing round %d done (load %s)", r+1, loadAvg())
	}
	for _, s := range sorts {
		cs := bySort[s]
		f, d := cs[0], cs[1]
		deep := d
		if len(cs) > 2 {
			deep = cs[2]
		}
		for _, c := range cs {
			res.Cells = append(res.Cells, *c)
		}
		res.WorstFirstP99 = max(res.WorstFirstP99, f.P99.Median)
		res.WorstOffsetP99 = max(res.WorstOffsetP99, d.P99.Median)
		res.WorstDeepP99 = max(res.WorstDeepP99, deep.P99.Median)
		res.WorstDeepRate = max(res.WorstDeepRate, deep.P99.Median/f.P99.Median)
	}
	return res, nil
}

// listingData is what prepareListing made.
type listingData struct {
	big, small           *storage.Event
	bigStems, smallStems []string
	insertS              float64
	n                    int
}

// prepareListing makes a data folder with the two events. The first 100 photos of each
// get a thumbnail file (a real 400 px JPEG), so guests can be served from both.
func prepareListing(ctx context.Context, dataDir string, n int, thumb []byte, logf func(string, ...any)) (*listingData, error) {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, err
	}
	db, err := storage.Open(ctx, storage.Config{Path: filepath.Join(dataDir, "gallerist.db")})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	d := listingData{n: n}
	t0 := time.Now()
	if d.big, d.bigStems, err = seedPhotos(ctx, db, "Listing 100k", "listing-"+strings.ToLower(fmt.Sprint(n)), n, 1); err != nil {
		return nil, err
	}
	d.insertS = time.Since(t0).Seconds()
	logf("listing: %d rows inserted through storage.CreatePhotos in %.1fs", n, d.insertS)
	if d.small, d.smallStems, err = seedPhotos(ctx, db, "Listing 1000", "listing-1000", 1000, 2); err != nil {
		return nil, err
	}
	for _, ev := range []struct {
		id    int64
		stems []string
	}{{d.big.ID, d.bigStems}, {d.small.ID, d.smallStems}} {
		dir := filepath.Join(dataDir, "blobs", "thumbs", fmt.Sprint(ev.id))
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		for _, s := range ev.stems {
			if err := os.WriteFile(filepath.Join(dir, s+".jpg"), thumb, 0o600); err != nil {
				return nil, err
			}
		}
	}
	return &d, nil
}

// ScaleServeResult is guest thumbnail serving from a small and a large event.
type ScaleServeResult struct {
	SmallPhotos int     `json:"small_event_photos"`
	LargePhotos int     `json:"large_event_photos"`
	Conns       int     `json:"connections"`
	SmallRPS    float64 `json:"small_event_rps"`
	LargeRPS    float64 `json:"large_event_rps"`
	SmallP50    float64 `json:"small_event_p50_ms"`
	LargeP50    float64 `json:"large_event_p50_ms"`
	LargeP99    float64 `json:"large_event_p99_ms"`
	Timeouts    int     `json:"timeouts_over_30s"`
}

// benchScaleServe serves guest thumbnails from the 1,000- and the 100,000-photo events
// with wrk: the same files, only the size of the event differs.
func benchScaleServe(ctx context.Context, a *api, d *listingData, tmp string, conns int, dur time.Duration, logf func(string, ...any)) (*ScaleServeResult, error) {
	res := &ScaleServeResult{SmallPhotos: 1000, LargePhotos: d.n, Conns: conns}
	run := func(ev *storage.Event, stems []string) (wrkResult, error) {
		cookie, err := guestCookie(ctx, a, eventAnswer{ID: ev.ID, Slug: ev.Slug})
		if err != nil {
			return wrkResult{}, err
		}
		var paths []string
		for _, s := range stems {
			paths = append(paths, "/thumbnails/"+ev.Slug+"/"+s+".jpg")
		}
		script := filepath.Join(tmp, "scale-"+ev.Slug+".lua")
		if err := wrkScript(script, paths); err != nil {
			return wrkResult{}, err
		}
		// A 30 s timeout: at 100,000 photos single requests take seconds, which is the
		// finding, not a failure of the run.
		r, err := runWrk(a.base, script, cookie, conns, 2, dur, 30*time.Second)
		if err == nil && (r.Non2xx > 0 || r.Errors != "" && r.Timeouts == 0) {
			err = fmt.Errorf("wrk on %s: %d non-2xx, %s", ev.Slug, r.Non2xx, r.Errors)
		}
		return r, err
	}
	s, err := run(d.small, d.smallStems)
	if err != nil {
		return nil, err
	}
	l, err := run(d.big, d.bigStems)
	if err != nil {
		return nil, err
	}
	res.SmallRPS, res.SmallP50, res.LargeRPS, res.LargeP50, res.LargeP99 = s.RPS, s.P50, l.RPS, l.P50, l.P99
	res.Timeouts = s.Timeouts + l.Timeouts
	logf("guest thumbnails: %.0f req/s in a 1,000-photo event, %.0f req/s in a %d-photo event", s.RPS, l.RPS, res.LargePhotos)
	return res, nil
}
