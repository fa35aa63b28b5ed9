package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
)

// TestCrashDuringUploads kills the server with SIGKILL while several clients upload
// batches, three times over. After a restart: every photo that was answered as uploaded
// is there with its exact bytes, no row points at missing bytes, and once the janitor has
// run no orphan original or temporary file is left.
func TestCrashDuringUploads(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "crash", "--scopes", "admin")
	env := []string{"GALLERIST_BLOB_GRACE=2s", "GALLERIST_JANITOR_INTERVAL=300ms"}
	srv := startServer(t, data, env...)
	resp, b := request(t, "POST", srv.URL+"/api/v1/events", token, strings.NewReader(`{"name":"Crash site"}`), "")
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	var ev struct {
		ID   int64  `json:"id"`
		Slug string `json:"slug"`
	}
	json.Unmarshal(b, &ev)

	var (
		mu    sync.Mutex
		acked = map[int64]string{} // photo id → sha256 of the bytes sent
		seed  int64
	)
	nextSeed := func() int64 { mu.Lock(); defer mu.Unlock(); seed++; return seed }

	for round := 0; round < 3; round++ {
		if round > 0 {
			srv = startServer(t, data, env...)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 20 * time.Second}
				for !contextDone(ctx) {
					files := map[string][]byte{}
					sums := map[string]string{}
					for i := 0; i < 6; i++ {
						s := nextSeed()
						name := fmt.Sprintf("IMG_%05d.jpg", s)
						files[name] = mediatest.JPEG(240, 160, s, nil)
						sums[name] = sha(files[name])
					}
					body, ct := multipartBody(files)
					req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", srv.URL, ev.ID), body)
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", ct)
					resp, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					var up uploadAnswer
					err = json.NewDecoder(resp.Body).Decode(&up)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 201 {
						continue // cut off mid-answer: nothing was promised
					}
					mu.Lock()
					for _, u := range up.Uploaded {
						acked[u.ID] = sums[u.Filename]
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(400+rand.IntN(600)) * time.Millisecond)
		srv.cmd.Process.Signal(syscall.SIGKILL)
		<-srv.done
		cancel()
		wg.Wait()
	}
	if len(acked) == 0 {
		t.Fatal("no upload was acknowledged before the kills; the test proves nothing")
	}

	srv = startServer(t, data, env...)
	type photo struct {
		ID         int64  `json:"id"`
		SHA256     string `json:"sha256"`
		StoredName string `json:"stored_name"`
		URL        string `json:"url"`
	}
	var photos []photo
	for offset := 0; ; offset += 200 {
		resp, b := request(t, "GET", fmt.Sprintf("%s/api/v1/events/%d/photos?limit=200&offset=%d&sort=upload_date_asc", srv.URL, ev.ID, offset), token, nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("list: %d %s", resp.StatusCode, b)
		}
		var page struct {
			Items []photo `json:"items"`
			Total int     `json:"total"`
		}
		json.Unmarshal(b, &page)
		photos = append(photos, page.Items...)
		if len(page.Items) < 200 {
			break
		}
	}
	stored := map[int64]photo{}
	for _, p := range photos {
		stored[p.ID] = p
		// No row points at missing or different bytes.
		resp, b := request(t, "GET", srv.URL+p.URL, token, nil, "")
		if resp.StatusCode != 200 || sha(b) != p.SHA256 {
			t.Errorf("photo %d: GET original = %d, bytes intact = %v", p.ID, resp.StatusCode, sha(b) == p.SHA256)
		}
	}
	for id, sum := range acked {
		p, ok := stored[id]
		if !ok {
			t.Errorf("photo %d was answered as uploaded but is gone", id)
			continue
		}
		if p.SHA256 != sum {
			t.Errorf("photo %d holds other bytes than were uploaded", id)
		}
	}
	resp, b = request(t, "GET", fmt.Sprintf("%s/api/v1/events/%d", srv.URL, ev.ID), token, nil, "")
	var evNow struct {
		PhotoCount int `json:"photo_count"`
	}
	json.Unmarshal(b, &evNow)
	if evNow.PhotoCount != len(photos) {
		t.Errorf("event photo_count = %d, but it lists %d photos", evNow.PhotoCount, len(photos))
	}

	// Orphans: after the grace period the janitor leaves exactly the originals of rows.
	want := map[string]bool{}
	for _, p := range photos {
		want[p.StoredName] = true
	}
	deadline := time.Now().Add(20 * time.Second)
	for first := true; ; first = false {
		orphans, missing := compareOriginals(t, filepath.Join(data, "blobs", "originals", fmt.Sprint(ev.ID)), want)
		temps := countFiles(t, filepath.Join(data, "tmp")) + countFiles(t, filepath.Join(data, "blobs", ".tmp"))
		if len(missing) > 0 {
			t.Fatalf("rows without bytes: %v", missing)
		}
		if first {
			t.Logf("right after restart: %d orphan originals, %d temporary files", len(orphans), temps)
		}
		if len(orphans) == 0 && temps == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the janitor: %d orphan originals %v, %d temporary files", len(orphans), orphans, temps)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d photos acknowledged across 3 kills, %d stored, no orphans", len(acked), len(photos))
}

func compareOriginals(t *testing.T, dir string, want map[string]bool) (orphans, missing []string) {
	t.Helper()
	have := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		have[e.Name()] = true
		if !want[e.Name()] {
			orphans = append(orphans, e.Name())
		}
	}
	for name := range want {
		if !have[name] {
			missing = append(missing, name)
		}
	}
	return orphans, missing
}
