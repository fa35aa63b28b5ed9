package main

// Webhooks on the built binary: deliveries survive a SIGKILL, and two processes on one
// SQLite database drain one queue with each job run once.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gallerist/gallerist/media/mediatest"
)

// whBody is the part of a webhook payload these tests read.
type whBody struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Event *struct {
			ID int64 `json:"id"`
		} `json:"event"`
		Photo *struct {
			ID     int64  `json:"id"`
			Source string `json:"source"`
		} `json:"photo"`
	} `json:"data"`
}

// createHook creates a webhook through the API and returns its id.
func whCreateHook(t *testing.T, base, token, url string, events ...string) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"url": url, "events": events})
	resp, b := request(t, "POST", base+"/api/v1/webhooks", token, strings.NewReader(string(body)), "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("create webhook: %d %s", resp.StatusCode, b)
	}
	var w struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	json.Unmarshal(b, &w)
	if w.ID == 0 || !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("create webhook answered %s", b)
	}
	return w.ID
}

// openDBReadOnly opens the server's SQLite file for reading beside the running servers.
func whOpenDB(t *testing.T, data string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "gallerist.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func whCount(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestWebhookDeliveriesSurviveSIGKILL: uploads are acknowledged while the receiver
// refuses everything (503), the server is killed with SIGKILL before any delivery got
// through, the receiver is fixed, the server restarts: every acknowledged photo's
// photo.uploaded arrives.
//
// The kill comes once every delivery has been tried (and refused) once, so that no
// delivery is in a worker's hands at that moment: a job in hand at a SIGKILL waits out the
// queue's 5-minute lease (TestWebhookDeliveryInFlightAtSIGKILL shows that case).
func TestWebhookDeliveriesSurviveSIGKILL(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "w", "--scopes", "admin")

	var (
		open     atomic.Bool
		mu       sync.Mutex
		refused  = map[string]bool{}          // webhook-ids answered 503
		received = map[int64]map[string]int{} // photo id → webhook-id → times
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !open.Load() {
			mu.Lock()
			refused[r.Header.Get("webhook-id")] = true
			mu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var p whBody
		if err := json.Unmarshal(b, &p); err != nil || p.ID == "" || p.ID != r.Header.Get("webhook-id") {
			t.Errorf("bad delivery (%v): webhook-id %q, body %s", err, r.Header.Get("webhook-id"), b)
		}
		if p.Type == "photo.uploaded" && p.Data.Photo != nil {
			mu.Lock()
			if received[p.Data.Photo.ID] == nil {
				received[p.Data.Photo.ID] = map[string]int{}
			}
			received[p.Data.Photo.ID][p.ID]++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()

	// The first life retries after 5s: long enough that no retry is in hand at the kill,
	// short enough that the refused first tries come due soon after the restart (the
	// default schedule would wait 30s).
	srv := startServer(t, data, "GALLERIST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1", "GALLERIST_WEBHOOK_RETRY_SCHEDULE=5s,5s,5s,5s,5s,5s")
	whCreateHook(t, srv.URL, token, rcv.URL+"/crash", "photo.uploaded")
	resp, b := request(t, "POST", srv.URL+"/api/v1/events", token, strings.NewReader(`{"name":"Crash hooks"}`), "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	var ev struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(b, &ev)

	const n = 20
	acked := map[int64]bool{}
	for batch := 0; batch < 4; batch++ {
		files := map[string][]byte{}
		for i := 0; i < n/4; i++ {
			seed := int64(batch*100 + i + 1)
			files[fmt.Sprintf("HOOK_%03d.jpg", seed)] = mediatest.JPEG(96, 64, seed, nil)
		}
		body, ct := multipartBody(files)
		resp, b := request(t, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", srv.URL, ev.ID), token, body, ct)
		if resp.StatusCode != 201 {
			t.Fatalf("upload: %d %s", resp.StatusCode, b)
		}
		var up uploadAnswer
		json.Unmarshal(b, &up)
		for _, u := range up.Uploaded {
			acked[u.ID] = true
		}
	}
	if len(acked) != n {
		t.Fatalf("%d photos acknowledged, want %d", len(acked), n)
	}
	// Every delivery tried once and refused; give the workers a moment to record that.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		k := len(refused)
		mu.Unlock()
		if k >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d deliveries were tried before the kill", k, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	mu.Lock()
	t.Logf("before the kill the receiver refused %d deliveries and accepted none", len(refused))
	mu.Unlock()

	open.Store(true)
	start := time.Now()
	srv = startServer(t, data, "GALLERIST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1", "GALLERIST_WEBHOOK_RETRY_SCHEDULE=100ms,200ms,400ms,800ms")
	missing := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		var out []int64
		for id := range acked {
			if len(received[id]) == 0 {
				out = append(out, id)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	deadline = time.Now().Add(45 * time.Second)
	for len(missing()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("45s after the restart, photo.uploaded never arrived for photos %v\nwebhook jobs:\n%s\nserver log:\n%s",
				missing(), whJobs(t, data), whTail(srv.stderr.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	dups := 0
	mu.Lock()
	for id, ids := range received {
		if len(ids) != 1 {
			t.Errorf("photo %d was announced under %d webhook-ids, want one", id, len(ids))
		}
		for _, times := range ids {
			dups += times - 1
		}
	}
	mu.Unlock()
	t.Logf("all %d photo.uploaded delivered %v after the restart (%d duplicate deliveries, allowed by at-least-once)",
		n, time.Since(start).Round(time.Millisecond), dups)
}

// TestWebhookTwoProcessesDrainOneQueueOnce: two servers on one data folder (one SQLite
// file in WAL mode) share the queue; 1,000 event.created announcements reach a receiver
// that always answers 200 quickly, each exactly once, and the jobs table drains.
func TestWebhookTwoProcessesDrainOneQueueOnce(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "w", "--scopes", "admin")
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		events = map[int64]int{}
		ports  = map[int]int{} // the sender's port → requests
		bad    []string
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p whBody
		err := json.Unmarshal(b, &p)
		time.Sleep(time.Millisecond)
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		pn, _ := strconv.Atoi(port)
		mu.Lock()
		ports[pn]++
		if err != nil || p.Type != "event.created" || p.ID != r.Header.Get("webhook-id") || p.Data.Event == nil {
			bad = append(bad, string(b))
		} else {
			counts[p.ID]++
			events[p.Data.Event.ID]++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()

	env := []string{"GALLERIST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1", "GALLERIST_WEBHOOK_RETRY_SCHEDULE=100ms,200ms,400ms", "GALLERIST_LOG_LEVEL=info"}
	a := startServer(t, data, env...)
	b := startServer(t, data, env...)
	if a.URL == b.URL {
		t.Fatalf("both servers listen on %s", a.URL)
	}
	whCreateHook(t, a.URL, token, rcv.URL+"/two", "event.created")

	const total = 1000
	start := time.Now()
	var next atomic.Int64
	var failures atomic.Int64
	var created sync.Map
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				base := a.URL
				if i%2 == 0 {
					base = b.URL
				}
				req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(fmt.Sprintf(`{"name":"Two processes %04d"}`, i)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					t.Errorf("create event %d on %s: %v", i, base, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					failures.Add(1)
					t.Errorf("create event %d on %s: %d %s", i, base, resp.StatusCode, body)
					continue
				}
				var ev struct {
					ID int64 `json:"id"`
				}
				json.Unmarshal(body, &ev)
				created.Store(ev.ID, true)
			}
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d event creations failed", failures.Load())
	}
	t.Logf("created %d events through two processes in %v", total, time.Since(start).Round(time.Millisecond))

	distinct := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(counts)
	}
	deadline := time.Now().Add(60 * time.Second)
	for distinct() < total {
		if time.Now().After(deadline) {
			t.Fatalf("after 60s only %d of %d announcements arrived\nserver A:\n%s\nserver B:\n%s", distinct(), total, whTail(a.stderr.String()), whTail(b.stderr.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d distinct deliveries arrived %v after the start", total, time.Since(start).Round(time.Millisecond))

	// The queue drains: no job left, in either process's view.
	db := whOpenDB(t, data)
	deadline = time.Now().Add(20 * time.Second)
	for whCount(t, db, `SELECT COUNT(*) FROM jobs`) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("jobs left after every delivery arrived: %d", whCount(t, db, `SELECT COUNT(*) FROM jobs`))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range []*instance{a, b} {
		resp, m := request(t, "GET", s.URL+"/metrics", "", nil, "")
		if resp.StatusCode != 200 || !strings.Contains(string(m), "\ngallerist_queue_depth 0\n") || !strings.Contains(string(m), "\ngallerist_queue_dead_jobs 0\n") {
			t.Errorf("%s/metrics: %d, queue_depth / dead_jobs lines: %s", s.URL, resp.StatusCode, whGrep(string(m), "gallerist_queue_"))
		}
	}
	time.Sleep(500 * time.Millisecond) // a late duplicate would show now

	mu.Lock()
	defer mu.Unlock()
	// Both processes sent deliveries: the receiver's peers are sockets of one or the other
	// (the keep-alive connections are still open).
	byProcess := map[string]int{}
	owner := map[int]string{}
	for name, s := range map[string]*instance{"A": a, "B": b} {
		for port := range whSocketPorts(t, s.cmd.Process.Pid) {
			owner[port] = name
		}
	}
	for port, n := range ports {
		byProcess[owner[port]] += n
	}
	t.Logf("requests by sending process: %v (\"\" = connection already closed)", byProcess)
	if byProcess["A"] == 0 || byProcess["B"] == 0 {
		t.Errorf("one process delivered nothing (%v): the test did not prove two processes share the queue", byProcess)
	}
	if len(bad) > 0 {
		t.Fatalf("%d malformed deliveries, first: %s", len(bad), bad[0])
	}
	dups := 0
	for id, n := range counts {
		if n != 1 {
			dups++
			if dups <= 10 {
				t.Errorf("webhook-id %s arrived %d times, want exactly once", id, n)
			}
		}
	}
	if dups > 0 {
		t.Fatalf("%d of %d announcements arrived more than once", dups, total)
	}
	if len(counts) != total {
		t.Fatalf("%d distinct webhook-ids, want %d", len(counts), total)
	}
	n := 0
	created.Range(func(k, _ any) bool {
		n++
		if events[k.(int64)] != 1 {
			t.Errorf("event %d was announced %d times", k, events[k.(int64)])
		}
		return true
	})
	if n != total {
		t.Fatalf("%d events created, want %d", n, total)
	}
	if got := whCount(t, db, `SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'succeeded' AND attempts = 1`); got != total {
		t.Fatalf("%d deliveries succeeded at their first attempt, want %d", got, total)
	}
	if got := whCount(t, db, `SELECT COUNT(*) FROM webhook_attempts`); got != total {
		t.Fatalf("%d attempts recorded, want %d", got, total)
	}
}

// whJobs describes the webhook jobs left in the database.
func whJobs(t *testing.T, data string) string {
	t.Helper()
	rows, err := whOpenDB(t, data).Query(`SELECT id, status, attempts, max_attempts, run_at, COALESCE(lease_until, ''), last_error FROM jobs WHERE kind = 'webhook.deliver' ORDER BY id`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var jobs []string
	for rows.Next() {
		var id, attempts, maxAttempts int64
		var status, runAt, lease, lastErr string
		rows.Scan(&id, &status, &attempts, &maxAttempts, &runAt, &lease, &lastErr)
		jobs = append(jobs, fmt.Sprintf("job %d %s attempts %d/%d run_at %s lease_until %s last_error %q", id, status, attempts, maxAttempts, runAt, lease, lastErr))
	}
	return strings.Join(jobs, "\n")
}

// TestWebhookDeliveryInFlightAtSIGKILL: the server is killed while a delivery is on the
// wire (the receiver has the request and has not answered). After the restart the
// delivery must go out again promptly. The job is still marked running under the dead
// process's 5-minute lease, and nothing takes it back before that lease runs out.
func TestWebhookDeliveryInFlightAtSIGKILL(t *testing.T) {
	data := t.TempDir()
	token := cli(t, data, "", "token", "create", "--name", "w", "--scopes", "admin")
	var (
		mu       sync.Mutex
		inHand   = make(chan struct{}, 1)
		release  = make(chan struct{})
		answered = map[string]int{} // webhook-id → 200 answers
		held     string
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		mu.Lock()
		first := held == ""
		if first {
			held = id
		}
		mu.Unlock()
		if first {
			inHand <- struct{}{}
			<-release // held until the server is dead
			return
		}
		mu.Lock()
		answered[id]++
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer rcv.Close()
	defer close(release)

	srv := startServer(t, data, "GALLERIST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1")
	whCreateHook(t, srv.URL, token, rcv.URL+"/inflight", "event.created")
	resp, b := request(t, "POST", srv.URL+"/api/v1/events", token, strings.NewReader(`{"name":"In flight"}`), "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("create event: %d %s", resp.StatusCode, b)
	}
	select {
	case <-inHand:
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery never reached the receiver")
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	killed := time.Now()

	srv = startServer(t, data, "GALLERIST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1", "GALLERIST_WEBHOOK_RETRY_SCHEDULE=100ms,200ms,400ms")
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := answered[held]
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the kill the delivery that was on the wire has not been sent again; webhook jobs:\n%s",
				time.Since(killed).Round(time.Second), whJobs(t, data))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the in-flight delivery went out again %v after the kill", time.Since(killed).Round(time.Millisecond))
}

// whSocketPorts lists the local TCP ports of a process's sockets (Linux /proc).
func whSocketPorts(t *testing.T, pid int) map[int]bool {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("list sockets of %d: %v", pid, err)
	}
	for _, fd := range fds {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	out := map[int]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			if i := strings.LastIndex(f[1], ":"); i >= 0 {
				if port, err := strconv.ParseInt(f[1][i+1:], 16, 32); err == nil {
					out[int(port)] = true
				}
			}
		}
	}
	return out
}

func whTail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}

func whGrep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
