package server_test

// Webhooks over real HTTP: real receivers on loopback (httptest servers in this process),
// a real server on a real SQLite file, its queue workers delivering. No mocks.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server"
)

// ---------------------------------------------------------------------------------------
// Receivers

// whHit is one request a receiver got.
type whHit struct {
	Path   string
	Header http.Header
	Body   []byte
	At     time.Time
}

// ID is the webhook-id header.
func (h whHit) ID() string { return h.Header.Get("webhook-id") }

// whReceiver is a loopback HTTP receiver that records every request. answer decides the
// status and body; nth counts the requests with the same webhook-id, this one included.
type whReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []whHit
	perID  map[string]int
	answer func(h whHit, nth int) (int, string)
	header http.Header // added to every answer
}

func newWHReceiver(t testing.TB, answer func(h whHit, nth int) (int, string)) *whReceiver {
	t.Helper()
	r := &whReceiver{perID: map[string]int{}, answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// newWHReceiverOn starts a receiver on a listener the test opened itself.
func newWHReceiverOn(t testing.TB, l net.Listener, answer func(h whHit, nth int) (int, string)) *whReceiver {
	t.Helper()
	r := &whReceiver{perID: map[string]int{}, answer: answer}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.Server.Listener.Close()
	r.Server.Listener = l
	r.Server.Start()
	t.Cleanup(r.Close)
	return r
}

func (r *whReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	h := whHit{Path: req.URL.Path, Header: req.Header.Clone(), Body: body, At: time.Now()}
	r.mu.Lock()
	r.hits = append(r.hits, h)
	r.perID[h.ID()]++
	nth, answer := r.perID[h.ID()], r.answer
	for k, v := range r.header {
		w.Header()[k] = v
	}
	r.mu.Unlock()
	status, text := http.StatusOK, "ok"
	if answer != nil {
		status, text = answer(h, nth)
	}
	w.WriteHeader(status)
	io.WriteString(w, text)
}

func (r *whReceiver) setAnswer(fn func(h whHit, nth int) (int, string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = fn
}

func (r *whReceiver) setHeader(k, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.header == nil {
		r.header = http.Header{}
	}
	r.header.Set(k, v)
}

func (r *whReceiver) all() []whHit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hits)
}

func (r *whReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hits)
}

// ofType returns the hits whose payload has the type.
func (r *whReceiver) ofType(t testing.TB, typ string) []whHit {
	t.Helper()
	var out []whHit
	for _, h := range r.all() {
		if whParse(t, h.Body).Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// types counts the hits per payload type.
func (r *whReceiver) types(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, h := range r.all() {
		out[whParse(t, h.Body).Type]++
	}
	return out
}

// ---------------------------------------------------------------------------------------
// Payloads

type whPayload struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      struct {
		Event   *whEventData `json:"event"`
		Photo   *whPhotoData `json:"photo"`
		Message string       `json:"message"`
	} `json:"data"`
}

type whEventData struct {
	ID   int64   `json:"id"`
	Slug string  `json:"slug"`
	Name string  `json:"name"`
	Date *string `json:"date"`
}

type whPhotoData struct {
	ID           int64   `json:"id"`
	Filename     string  `json:"filename"`
	URL          string  `json:"url"`
	ThumbnailURL string  `json:"thumbnail_url"`
	MediaType    string  `json:"media_type"`
	MIMEType     string  `json:"mime_type"`
	Size         int64   `json:"size"`
	SHA256       string  `json:"sha256"`
	Width        *int    `json:"width"`
	Height       *int    `json:"height"`
	CapturedAt   *string `json:"captured_at"`
	Source       string  `json:"source"`
}

func whParse(t testing.TB, body []byte) whPayload {
	t.Helper()
	var p whPayload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("webhook body is not JSON: %v\n%s", err, body)
	}
	return p
}

// whKeys returns the keys of a JSON object.
func whKeys(t testing.TB, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	return m
}

func whHasKeys(t testing.TB, what string, m map[string]json.RawMessage, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q (has %v)", what, k, whSortedKeys(m))
		}
	}
}

func whSortedKeys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// whCheckEnvelope checks the envelope of a hit: exactly {id, type, created_at, data}, id
// equal to the webhook-id header, a recent created_at, the JSON content type.
func whCheckEnvelope(t testing.TB, h whHit, wantType string) whPayload {
	t.Helper()
	env := whKeys(t, h.Body)
	if got := whSortedKeys(env); !slices.Equal(got, []string{"created_at", "data", "id", "type"}) {
		t.Errorf("envelope keys = %v, want [created_at data id type]", got)
	}
	p := whParse(t, h.Body)
	if p.Type != wantType {
		t.Errorf("type = %q, want %q", p.Type, wantType)
	}
	if p.ID == "" || p.ID != h.ID() {
		t.Errorf("payload id %q != webhook-id header %q", p.ID, h.ID())
	}
	if time.Since(p.CreatedAt).Abs() > time.Minute {
		t.Errorf("created_at = %v, not recent", p.CreatedAt)
	}
	if ct := h.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if ua := h.Header.Get("User-Agent"); !strings.HasPrefix(ua, "Gallerist-Webhooks/") {
		t.Errorf("User-Agent = %q", ua)
	}
	return p
}

// whCheckEventData compares data.event with the event.
func whCheckEventData(t testing.TB, h whHit, ev server.EventResponse) {
	t.Helper()
	data := whKeys(t, whKeys(t, h.Body)["data"])
	whHasKeys(t, "data.event", whKeys(t, data["event"]), "id", "slug", "name", "date")
	got := whParse(t, h.Body).Data.Event
	if got == nil {
		t.Fatalf("no data.event in %s", h.Body)
	}
	if got.ID != ev.ID || got.Slug != ev.Slug || got.Name != ev.Name || fmt.Sprint(whDeref(got.Date)) != fmt.Sprint(whDeref(ev.Date)) {
		t.Errorf("data.event = %+v (date %v), want id %d slug %q name %q date %v", got, whDeref(got.Date), ev.ID, ev.Slug, ev.Name, whDeref(ev.Date))
	}
}

// whCheckPhotoData compares data.photo with the photo as the API shows it.
func whCheckPhotoData(t testing.TB, h whHit, p server.PhotoResponse, source string) {
	t.Helper()
	data := whKeys(t, whKeys(t, h.Body)["data"])
	whHasKeys(t, "data", data, "event", "photo")
	keys := []string{"id", "filename", "url", "thumbnail_url", "media_type", "mime_type", "size", "sha256", "width", "height", "captured_at"}
	if source != "" {
		keys = append(keys, "source")
	}
	whHasKeys(t, "data.photo", whKeys(t, data["photo"]), keys...)
	got := whParse(t, h.Body).Data.Photo
	if got == nil {
		t.Fatalf("no data.photo in %s", h.Body)
	}
	if got.ID != p.ID || got.Filename != p.Filename || got.URL != p.URL || got.ThumbnailURL != p.ThumbnailURL ||
		got.MediaType != p.MediaType || got.MIMEType != p.MIMEType || got.Size != p.Size || got.SHA256 != p.SHA256 ||
		fmt.Sprint(whDeref(got.Width)) != fmt.Sprint(whDeref(p.Width)) || fmt.Sprint(whDeref(got.Height)) != fmt.Sprint(whDeref(p.Height)) ||
		fmt.Sprint(whDeref(got.CapturedAt)) != fmt.Sprint(whDeref(p.CapturedAt)) {
		t.Errorf("data.photo = %+v\nwant the photo as the API shows it: %+v", got, p)
	}
	if got.Source != source {
		t.Errorf("data.photo.source = %q, want %q", got.Source, source)
	}
}

func whDeref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ---------------------------------------------------------------------------------------
// Signatures, written from the Standard Webhooks text, never with package webhook.

// whSign is base64(HMAC-SHA256(key, "id.timestamp.body")) with "v1," in front, the key
// being the base64-decoded secret after "whsec_".
func whSign(t testing.TB, secret, id, timestamp string, body []byte) string {
	t.Helper()
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks whsec_", secret)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("secret %q is not base64: %v", secret, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// whSignatures lists the space-separated signatures of a hit.
func whSignatures(h whHit) []string { return strings.Fields(h.Header.Get("webhook-signature")) }

// whVerify reports whether one of the hit's signatures is the secret's signature of the
// (possibly altered) id, timestamp and body.
func whVerify(t testing.TB, secret, id, timestamp string, body []byte, h whHit) bool {
	t.Helper()
	want, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(whSign(t, secret, id, timestamp, body), "v1,"))
	for _, s := range whSignatures(h) {
		v, ok := strings.CutPrefix(s, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(v)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// whVerifyHit verifies a hit as received.
func whVerifyHit(t testing.TB, secret string, h whHit) bool {
	t.Helper()
	return whVerify(t, secret, h.ID(), h.Header.Get("webhook-timestamp"), h.Body, h)
}

// whCheckTimestamp requires webhook-timestamp to be Unix seconds within 5 minutes of now.
func whCheckTimestamp(t testing.TB, h whHit) {
	t.Helper()
	sec, err := strconv.ParseInt(h.Header.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		t.Fatalf("webhook-timestamp %q is not Unix seconds", h.Header.Get("webhook-timestamp"))
	}
	if d := time.Since(time.Unix(sec, 0)); d.Abs() > 5*time.Minute {
		t.Fatalf("webhook-timestamp is %v away from now", d)
	}
}

// ---------------------------------------------------------------------------------------
// Management API helpers

// whConfig lets webhooks reach loopback receivers and retries fast.
func whConfig(schedule ...time.Duration) func(*server.Config) {
	if len(schedule) == 0 {
		schedule = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	}
	return func(c *server.Config) {
		c.WebhookAllowedHosts = []string{"127.0.0.1"}
		c.WebhookRetrySchedule = schedule
		c.WebhookTimeout = 5 * time.Second
	}
}

func whCreate(t testing.TB, ts *testServer, url string, events ...string) server.CreatedWebhookResponse {
	t.Helper()
	resp, b := ts.do(t, http.MethodPost, "/api/v1/webhooks", ts.Admin, map[string]any{"url": url, "events": events})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create webhook %s: %d %s", url, resp.StatusCode, b)
	}
	return decode[server.CreatedWebhookResponse](t, b)
}

func whGet(t testing.TB, ts *testServer, id int64) server.WebhookResponse {
	t.Helper()
	return getJSON[server.WebhookResponse](t, ts, fmt.Sprintf("/api/v1/webhooks/%d", id))
}

func whDeliveries(t testing.TB, ts *testServer, id int64, query string) server.DeliveryListResponse {
	t.Helper()
	return getJSON[server.DeliveryListResponse](t, ts, fmt.Sprintf("/api/v1/webhooks/%d/deliveries?%s", id, query))
}

func whDelivery(t testing.TB, ts *testServer, webhookID, deliveryID int64) server.DeliveryResponse {
	t.Helper()
	return getJSON[server.DeliveryResponse](t, ts, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d", webhookID, deliveryID))
}

// whSettle waits until no delivery of the webhooks is pending: every announcement made so
// far has reached its receiver or failed for good.
func whSettle(t testing.TB, ts *testServer, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		waitFor(t, fmt.Sprintf("webhook %d to have no pending delivery", id), func() bool {
			return whDeliveries(t, ts, id, "status=pending&limit=1").Total == 0
		})
	}
}

// whOnlyDelivery returns the single delivery of a webhook.
func whOnlyDelivery(t testing.TB, ts *testServer, id int64) server.DeliveryResponse {
	t.Helper()
	list := whDeliveries(t, ts, id, "")
	if list.Total != 1 || len(list.Items) != 1 {
		t.Fatalf("webhook %d has %d deliveries, want 1: %+v", id, list.Total, list.Items)
	}
	return list.Items[0]
}

// whWaitDelivery polls one delivery until cond holds.
func whWaitDelivery(t testing.TB, ts *testServer, webhookID, deliveryID int64, what string, cond func(server.DeliveryResponse) bool) server.DeliveryResponse {
	t.Helper()
	var d server.DeliveryResponse
	waitFor(t, fmt.Sprintf("delivery %d: %s", deliveryID, what), func() bool {
		d = whDelivery(t, ts, webhookID, deliveryID)
		return cond(d)
	})
	return d
}

func whStatusCodes(d server.DeliveryResponse) []int {
	var out []int
	for _, a := range d.AttemptLog {
		if a.StatusCode == nil {
			out = append(out, 0)
		} else {
			out = append(out, *a.StatusCode)
		}
	}
	return out
}

// whChunked uploads data through a chunked upload session and returns the completion.
func whChunked(t testing.TB, ts *testServer, eventID int64, name string, data []byte) (*http.Response, []byte) {
	t.Helper()
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/uploads", eventID), ts.Admin,
		map[string]any{"filename": name, "size": len(data), "mime_type": "image/jpeg"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("open upload: %d %s", resp.StatusCode, b)
	}
	u := decode[server.UploadResponse](t, b)
	for i := 0; i < u.ChunkCount; i++ {
		end := min(int64(i+1)*u.ChunkSize, int64(len(data)))
		resp, b := ts.raw(t, http.MethodPut, fmt.Sprintf("/api/v1/uploads/%s/chunks/%d", u.UploadID, i), ts.Admin,
			data[int64(i)*u.ChunkSize:end], map[string]string{"Content-Type": "application/octet-stream"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chunk %d: %d %s", i, resp.StatusCode, b)
		}
	}
	return ts.raw(t, http.MethodPost, fmt.Sprintf("/api/v1/uploads/%s/complete", u.UploadID), ts.Admin, nil, nil)
}

// ---------------------------------------------------------------------------------------
// 1. Every announcement fires exactly where it should

func TestWebhookEventsFireExactlyWhereTheyShould(t *testing.T) {
	ts := newTestServer(t, whConfig(), func(c *server.Config) { c.ChunkSizeMB = 1 })
	all := newWHReceiver(t, nil)
	deletions := newWHReceiver(t, nil)
	wAll := whCreate(t, ts, all.URL+"/all", "*")
	wDel := whCreate(t, ts, deletions.URL+"/deleted", "photo.deleted")

	want := map[string]int{}
	check := func(step string) {
		t.Helper()
		whSettle(t, ts, wAll.ID, wDel.ID)
		got := all.types(t)
		if !maps.Equal(got, want) {
			t.Fatalf("after %s: the * receiver got %v, want %v", step, got, want)
		}
		// One request per announcement: nothing was retried or duplicated.
		seen := map[string]bool{}
		for _, h := range all.all() {
			if seen[h.ID()] {
				t.Fatalf("after %s: webhook-id %s arrived twice at a receiver answering 200", step, h.ID())
			}
			seen[h.ID()] = true
		}
		if got := deletions.types(t); len(got) > 1 || got["photo.deleted"] != want["photo.deleted"] {
			t.Fatalf("after %s: the photo.deleted receiver got %v, want only %d photo.deleted", step, got, want["photo.deleted"])
		}
		total := 0
		for _, n := range want {
			total += n
		}
		if n := whDeliveries(t, ts, wAll.ID, "limit=1").Total; n != total {
			t.Fatalf("after %s: %d deliveries listed for the * receiver, want %d", step, n, total)
		}
		if n := whDeliveries(t, ts, wDel.ID, "status=succeeded&limit=1").Total; n != want["photo.deleted"] {
			t.Fatalf("after %s: %d succeeded deliveries for the photo.deleted receiver, want %d", step, n, want["photo.deleted"])
		}
	}

	// Creating an event: one event.created.
	ev := ts.createEvent(t, map[string]any{"name": "Hooked wedding", "date": "2026-05-12"})
	want["event.created"] = 1
	check("create event")
	created := all.ofType(t, "event.created")[0]
	whCheckEnvelope(t, created, "event.created")
	whCheckEventData(t, created, ev)
	if _, ok := whKeys(t, whKeys(t, created.Body)["data"])["photo"]; ok {
		t.Errorf("event.created carries a photo: %s", created.Body)
	}

	// A multipart upload of 3: three photo.uploaded, source multipart.
	exif := &mediatest.EXIF{DateTimeOriginal: "2026:05:12 15:23:11", OffsetTimeOriginal: "+02:00"}
	files := []uploadFile{
		{"first.jpg", mediatest.JPEG(64, 48, 101, exif)},
		{"second.jpg", mediatest.JPEG(80, 60, 102, nil)},
		{"third.jpg", mediatest.JPEG(48, 64, 103, nil)},
	}
	up := ts.uploadOK(t, ev.ID, files, nil)
	if len(up.Uploaded) != 3 {
		t.Fatalf("uploaded %d of 3: %+v", len(up.Uploaded), up.Skipped)
	}
	want["photo.uploaded"] = 3
	check("multipart upload of 3")
	byPhoto := map[int64]whHit{}
	for _, h := range all.ofType(t, "photo.uploaded") {
		byPhoto[whParse(t, h.Body).Data.Photo.ID] = h
	}
	photos := map[int64]server.PhotoResponse{}
	for _, u := range up.Uploaded {
		h, ok := byPhoto[u.ID]
		if !ok {
			t.Fatalf("no photo.uploaded for photo %d", u.ID)
		}
		p := ts.getPhoto(t, u.ID)
		photos[u.ID] = p
		whCheckEnvelope(t, h, "photo.uploaded")
		whCheckEventData(t, h, ev)
		whCheckPhotoData(t, h, p, "multipart")
	}
	if got := whParse(t, byPhoto[up.Uploaded[0].ID].Body).Data.Photo.CapturedAt; got == nil || *got != "2026-05-12T15:23:11+02:00" {
		t.Errorf("captured_at of the EXIF photo = %v, want 2026-05-12T15:23:11+02:00", whDeref(got))
	}

	// A chunked upload (2 chunks): one photo.uploaded, source chunked.
	big := padTo(t, mediatest.JPEG(120, 90, 104, nil), 1_300_000, 7)
	resp, b := whChunked(t, ts, ev.ID, "big.jpg", big)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("complete chunked upload: %d %s", resp.StatusCode, b)
	}
	chunked := decode[server.PhotoResponse](t, b)
	want["photo.uploaded"] = 4
	check("chunked upload")
	var chunkedHit *whHit
	for _, h := range all.ofType(t, "photo.uploaded") {
		if whParse(t, h.Body).Data.Photo.ID == chunked.ID {
			chunkedHit = &h
		}
	}
	if chunkedHit == nil {
		t.Fatalf("no photo.uploaded for the chunked photo %d", chunked.ID)
	}
	photos[chunked.ID] = ts.getPhoto(t, chunked.ID)
	whCheckEnvelope(t, *chunkedHit, "photo.uploaded")
	whCheckEventData(t, *chunkedHit, ev)
	whCheckPhotoData(t, *chunkedHit, photos[chunked.ID], "chunked")

	// Duplicates, multipart and chunked: no photo.uploaded.
	dup := ts.uploadOK(t, ev.ID, []uploadFile{{"again.jpg", files[1].Data}}, nil)
	if len(dup.Uploaded) != 0 || len(dup.Skipped) != 1 || dup.Skipped[0].Code != "duplicate" {
		t.Fatalf("duplicate multipart upload: %+v", dup)
	}
	resp, b = whChunked(t, ts, ev.ID, "again-big.jpg", big)
	wantError(t, resp, b, http.StatusConflict, "duplicate")
	check("duplicate uploads")

	// DELETE of one photo: one photo.deleted, to both receivers.
	gone := up.Uploaded[0].ID
	resp, b = ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/photos/%d", gone), ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete photo: %d %s", resp.StatusCode, b)
	}
	want["photo.deleted"] = 1
	check("delete one photo")
	del := deletions.ofType(t, "photo.deleted")[0]
	whCheckEnvelope(t, del, "photo.deleted")
	whCheckEventData(t, del, ev)
	whCheckPhotoData(t, del, photos[gone], "")

	// Bulk delete of 2 (with a repeated id and an unknown one): two photo.deleted.
	bulk := []int64{up.Uploaded[1].ID, up.Uploaded[2].ID}
	resp, b = ts.do(t, http.MethodPost, "/api/v1/photos/bulk-delete", ts.Admin,
		map[string]any{"photo_ids": []int64{bulk[0], bulk[1], bulk[0], 999_999}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk delete: %d %s", resp.StatusCode, b)
	}
	if out := decode[server.BulkDeleteResponse](t, b); out.Deleted != 2 {
		t.Fatalf("bulk delete: %+v", out)
	}
	want["photo.deleted"] = 3
	check("bulk delete of 2")
	deletedIDs := map[int64]int{}
	for _, h := range deletions.ofType(t, "photo.deleted") {
		deletedIDs[whParse(t, h.Body).Data.Photo.ID]++
	}
	for _, id := range append([]int64{gone}, bulk...) {
		if deletedIDs[id] != 1 {
			t.Fatalf("photo.deleted for photo %d arrived %d times, want once (%v)", id, deletedIDs[id], deletedIDs)
		}
	}
	for _, h := range deletions.ofType(t, "photo.deleted") {
		id := whParse(t, h.Body).Data.Photo.ID
		whCheckPhotoData(t, h, photos[id], "")
	}

	// Archive (the event still holds the chunked photo): one event.archived, no photo.deleted.
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/archive", ev.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("archive: %d %s", resp.StatusCode, b)
	}
	want["event.archived"] = 1
	check("archive")
	archived := all.ofType(t, "event.archived")[0]
	whCheckEnvelope(t, archived, "event.archived")
	whCheckEventData(t, archived, ev)

	// Archiving again and restoring announce nothing.
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/archive", ev.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("archive again: %d %s", resp.StatusCode, b)
	}
	check("archive again")
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/events/%d/restore", ev.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("restore: %d %s", resp.StatusCode, b)
	}
	check("restore")

	// Deleting the event (with its chunked photo) announces nothing at all: no
	// photo.deleted for the photos that go with it, and there is no event-level type for
	// a deletion.
	resp, b = ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/events/%d", ev.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete event: %d %s", resp.StatusCode, b)
	}
	check("delete event")
	t.Logf("delivered to *: %v; to photo.deleted only: %v", all.types(t), deletions.types(t))
}

// ---------------------------------------------------------------------------------------
// 2. Signatures

func TestWebhookSignaturesVerifyIndependently(t *testing.T) {
	ts := newTestServer(t, whConfig())
	rc := newWHReceiver(t, nil)
	w := whCreate(t, ts, rc.URL+"/sig", "*")
	ev := ts.createEvent(t, map[string]any{"name": "Signed"})
	ts.uploadOne(t, ev.ID, "sig.jpg", smallJPEG(7))
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("test: %d %s", resp.StatusCode, b)
	}
	whSettle(t, ts, w.ID)
	hits := rc.all()
	if len(hits) != 3 {
		t.Fatalf("got %d deliveries, want 3 (event.created, photo.uploaded, webhook.test)", len(hits))
	}
	other := whCreate(t, ts, rc.URL+"/other", "photo.deleted").Secret
	for _, h := range hits {
		typ := whParse(t, h.Body).Type
		if h.ID() == "" || h.Header.Get("webhook-timestamp") == "" || h.Header.Get("webhook-signature") == "" {
			t.Fatalf("%s: missing Standard Webhooks headers: %v", typ, h.Header)
		}
		whCheckTimestamp(t, h)
		if sigs := whSignatures(h); len(sigs) != 1 || !strings.HasPrefix(sigs[0], "v1,") {
			t.Fatalf("%s: webhook-signature = %q, want one v1 signature", typ, h.Header.Get("webhook-signature"))
		}
		if !whVerifyHit(t, w.Secret, h) {
			t.Fatalf("%s: the signature does not verify with the receiver's secret", typ)
		}
		tampered := bytes.Replace(h.Body, []byte(`"type":"`), []byte(`"type": "`), 1)
		if bytes.Equal(tampered, h.Body) {
			tampered = append(slices.Clone(h.Body), ' ')
		}
		if whVerify(t, w.Secret, h.ID(), h.Header.Get("webhook-timestamp"), tampered, h) {
			t.Fatalf("%s: a tampered body verifies", typ)
		}
		if whVerify(t, w.Secret, h.ID()+"x", h.Header.Get("webhook-timestamp"), h.Body, h) {
			t.Fatalf("%s: another webhook-id verifies", typ)
		}
		sec, _ := strconv.ParseInt(h.Header.Get("webhook-timestamp"), 10, 64)
		if whVerify(t, w.Secret, h.ID(), strconv.FormatInt(sec+1, 10), h.Body, h) {
			t.Fatalf("%s: another timestamp verifies", typ)
		}
		if whVerifyHit(t, other, h) {
			t.Fatalf("%s: another receiver's secret verifies", typ)
		}
	}
}

func TestWebhookSecretRotationSignsWithBothDuringGrace(t *testing.T) {
	ts := newTestServer(t, whConfig(), func(c *server.Config) { c.WebhookSecretGrace = 3 * time.Second })
	rc := newWHReceiver(t, nil)
	w := whCreate(t, ts, rc.URL+"/rot", "event.created")
	old := w.Secret

	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/rotate-secret", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	rot := decode[server.RotateSecretResponse](t, b)
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == old {
		t.Fatalf("rotated secret %q (old %q)", rot.Secret, old)
	}
	if d := time.Until(rot.PreviousSecretValidUntil); d < 2*time.Second || d > 4*time.Second {
		t.Fatalf("previous_secret_valid_until is %v away, want the 3s grace", d)
	}
	for _, path := range []string{fmt.Sprintf("/api/v1/webhooks/%d", w.ID), "/api/v1/webhooks"} {
		_, raw := ts.do(t, http.MethodGet, path, ts.Admin, nil)
		if bytes.Contains(raw, []byte(rot.Secret)) || bytes.Contains(raw, []byte(old)) {
			t.Fatalf("GET %s shows a secret: %s", path, raw)
		}
	}

	// Within the grace: two signatures, the new and the old.
	ts.createEvent(t, map[string]any{"name": "During grace"})
	whSettle(t, ts, w.ID)
	h := rc.all()[0]
	if sigs := whSignatures(h); len(sigs) != 2 {
		t.Fatalf("during the grace: webhook-signature = %q, want two", h.Header.Get("webhook-signature"))
	}
	if !whVerifyHit(t, rot.Secret, h) || !whVerifyHit(t, old, h) {
		t.Fatalf("during the grace: new verifies %v, old verifies %v; want both", whVerifyHit(t, rot.Secret, h), whVerifyHit(t, old, h))
	}
	if s := whSignatures(h); s[0] != whSign(t, rot.Secret, h.ID(), h.Header.Get("webhook-timestamp"), h.Body) {
		t.Errorf("the first signature should be the new secret's")
	}

	// After the grace: the new one only.
	time.Sleep(time.Until(rot.PreviousSecretValidUntil) + 100*time.Millisecond)
	ts.createEvent(t, map[string]any{"name": "After grace"})
	whSettle(t, ts, w.ID)
	h = rc.all()[1]
	if sigs := whSignatures(h); len(sigs) != 1 || !whVerifyHit(t, rot.Secret, h) || whVerifyHit(t, old, h) {
		t.Fatalf("after the grace: webhook-signature = %q; want the new secret's alone", h.Header.Get("webhook-signature"))
	}

	// Rotating an unknown webhook is 404.
	resp, b = ts.do(t, http.MethodPost, "/api/v1/webhooks/999999/rotate-secret", ts.Admin, nil)
	wantError(t, resp, b, http.StatusNotFound, "webhook_not_found")
}

func TestWebhookSecretRotationWithoutGraceSignsWithTheNewOnly(t *testing.T) {
	ts := newTestServer(t, whConfig(), func(c *server.Config) { c.WebhookSecretGrace = 0 })
	rc := newWHReceiver(t, nil)
	w := whCreate(t, ts, rc.URL+"/rot0", "*")
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/rotate-secret", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %d %s", resp.StatusCode, b)
	}
	rot := decode[server.RotateSecretResponse](t, b)
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("test: %d %s", resp.StatusCode, b)
	}
	whSettle(t, ts, w.ID)
	h := rc.all()[0]
	if sigs := whSignatures(h); len(sigs) != 1 {
		t.Fatalf("without grace: webhook-signature = %q, want one", h.Header.Get("webhook-signature"))
	}
	if !whVerifyHit(t, rot.Secret, h) || whVerifyHit(t, w.Secret, h) {
		t.Fatalf("without grace: new verifies %v, old verifies %v; want only the new", whVerifyHit(t, rot.Secret, h), whVerifyHit(t, w.Secret, h))
	}
}

// ---------------------------------------------------------------------------------------
// 3. Retries, failures, disabling, redelivery, redirects

func TestWebhookRetryAfter500KeepsTheWebhookID(t *testing.T) {
	ts := newTestServer(t, whConfig())
	long := strings.Repeat("0123456789abcdef", 320) // 5120 bytes
	rc := newWHReceiver(t, func(h whHit, nth int) (int, string) {
		if nth == 1 {
			return http.StatusInternalServerError, long
		}
		time.Sleep(30 * time.Millisecond)
		return http.StatusOK, "thanks"
	})
	w := whCreate(t, ts, rc.URL+"/retry", "event.created")
	ts.createEvent(t, map[string]any{"name": "Retried"})
	whSettle(t, ts, w.ID)

	hits := rc.all()
	if len(hits) != 2 {
		t.Fatalf("receiver got %d requests, want 2 (500 then 200)", len(hits))
	}
	if hits[0].ID() == "" || hits[0].ID() != hits[1].ID() {
		t.Fatalf("webhook-id changed between tries: %q then %q", hits[0].ID(), hits[1].ID())
	}
	if !bytes.Equal(hits[0].Body, hits[1].Body) {
		t.Fatalf("the body changed between tries:\n%s\n%s", hits[0].Body, hits[1].Body)
	}
	for _, h := range hits {
		if !whVerifyHit(t, w.Secret, h) {
			t.Fatal("a retry's signature does not verify")
		}
	}
	d := whOnlyDelivery(t, ts, w.ID)
	d = whDelivery(t, ts, w.ID, d.ID)
	if d.Status != "succeeded" || d.Attempts != 2 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.MessageID != hits[0].ID() || d.Type != "event.created" {
		t.Fatalf("delivery = %+v", d)
	}
	if codes := whStatusCodes(d); !slices.Equal(codes, []int{500, 200}) {
		t.Fatalf("attempt_log status codes = %v, want [500 200]", codes)
	}
	if got := d.AttemptLog[0].ResponseBody; got != long[:2048] {
		t.Errorf("first attempt kept %d bytes of a %d-byte answer, want its first 2048", len(got), len(long))
	}
	if got := d.AttemptLog[1].ResponseBody; got != "thanks" {
		t.Errorf("second attempt kept %q", got)
	}
	if d.AttemptLog[1].LatencyMS < 30 || d.AttemptLog[0].LatencyMS < 0 {
		t.Errorf("latencies = %d, %d ms; the second answer took at least 30ms", d.AttemptLog[0].LatencyMS, d.AttemptLog[1].LatencyMS)
	}
	if !d.AttemptLog[0].AttemptedAt.Before(d.AttemptLog[1].AttemptedAt) {
		t.Errorf("attempts are not oldest first: %v", d.AttemptLog)
	}
	var payload, body any
	pj, _ := json.Marshal(d.Payload)
	json.Unmarshal(pj, &payload)
	json.Unmarshal(hits[0].Body, &body)
	if fmt.Sprint(payload) != fmt.Sprint(body) {
		t.Errorf("the delivery's payload differs from what was sent:\n%s\n%s", pj, hits[0].Body)
	}
	if wh := whGet(t, ts, w.ID); !wh.Enabled || wh.ConsecutiveFailures != 0 {
		t.Errorf("after a success the receiver is %+v, want enabled with no failures", wh)
	}
}

func TestWebhookReceiverDownGetsEverythingOnceBack(t *testing.T) {
	ts := newTestServer(t, whConfig(50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond))

	// Receiver A is down: nothing listens on its port until the test says so.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	wDown := whCreate(t, ts, "http://"+addr+"/down", "event.created")

	// Receiver B answers 503 to its first 5 requests, whatever they are.
	var mu sync.Mutex
	refused := 0
	flaky := newWHReceiver(t, func(h whHit, nth int) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if refused < 5 {
			refused++
			return http.StatusServiceUnavailable, "busy"
		}
		return http.StatusOK, "ok"
	})
	wFlaky := whCreate(t, ts, flaky.URL+"/flaky", "event.created")

	names := map[int64]bool{}
	for i := range 3 {
		names[ts.createEvent(t, map[string]any{"name": fmt.Sprintf("While down %d", i)}).ID] = true
	}
	waitFor(t, "every delivery to the down receiver to have failed once", func() bool {
		list := whDeliveries(t, ts, wDown.ID, "")
		for _, d := range list.Items {
			if d.Attempts < 1 {
				return false
			}
		}
		return list.Total == 3
	})
	for _, d := range whDeliveries(t, ts, wDown.ID, "").Items {
		if d.Status != "pending" || d.LastStatusCode != nil || !strings.Contains(d.LastError, "refused") {
			t.Fatalf("delivery to a closed port: %+v, want pending with a connection error", d)
		}
	}

	// A comes back on the same port.
	var l2 net.Listener
	for i := 0; ; i++ {
		if l2, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if i > 50 {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	back := newWHReceiverOn(t, l2, nil)
	whSettle(t, ts, wDown.ID, wFlaky.ID)

	for name, rc := range map[string]*whReceiver{"down-then-back": back, "503 five times": flaky} {
		got := map[int64]bool{}
		for _, h := range rc.all() {
			got[whParse(t, h.Body).Data.Event.ID] = true
		}
		for id := range names {
			if !got[id] {
				t.Errorf("%s receiver never got event.created of event %d", name, id)
			}
		}
	}
	for _, w := range []int64{wDown.ID, wFlaky.ID} {
		if n := whDeliveries(t, ts, w, "status=succeeded").Total; n != 3 {
			t.Errorf("webhook %d: %d succeeded deliveries, want 3", w, n)
		}
		if wh := whGet(t, ts, w); !wh.Enabled || wh.ConsecutiveFailures != 0 {
			t.Errorf("webhook %d after recovery: %+v", w, wh)
		}
	}
	if len(back.all()) != 3 {
		t.Errorf("the receiver that came back got %d requests, want 3 (one per announcement)", len(back.all()))
	}
	if len(flaky.all()) != 8 {
		t.Errorf("the flaky receiver got %d requests, want 5 refused + 3 accepted", len(flaky.all()))
	}
}

func TestWebhookGoneDisablesTheReceiver(t *testing.T) {
	ts := newTestServer(t, whConfig())
	rc := newWHReceiver(t, func(whHit, int) (int, string) { return http.StatusGone, "no such hook" })
	w := whCreate(t, ts, rc.URL+"/gone", "*")
	ev := ts.createEvent(t, map[string]any{"name": "Gone"})
	whSettle(t, ts, w.ID)

	d := whOnlyDelivery(t, ts, w.ID)
	if d.Status != "failed" || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 410 {
		t.Fatalf("delivery answered 410 = %+v, want failed after one attempt", d)
	}
	wh := whGet(t, ts, w.ID)
	if wh.Enabled || !strings.Contains(wh.DisabledReason, "410") || wh.DisabledAt == nil {
		t.Fatalf("receiver after 410: %+v, want disabled, the reason naming 410", wh)
	}

	// No further requests: what a disabled receiver misses is recorded as failed, not
	// sent, so it can be redelivered once the receiver is enabled again.
	ts.uploadOne(t, ev.ID, "after-gone.jpg", smallJPEG(41))
	ts.createEvent(t, map[string]any{"name": "Gone 2"})
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	wantError(t, resp, b, http.StatusConflict, "webhook_disabled")
	missed := whDeliveries(t, ts, w.ID, "")
	if missed.Total != 3 {
		t.Fatalf("%d deliveries for a disabled receiver, want 3 (the 410 one and two not sent)", missed.Total)
	}
	for _, d := range missed.Items[:2] {
		if d.Status != "failed" || d.Attempts != 0 || !strings.Contains(d.LastError, "not sent") {
			t.Fatalf("delivery while disabled = %+v, want failed, not sent, no attempt", d)
		}
	}
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d/redeliver", w.ID, missed.Items[0].ID), ts.Admin, nil)
	wantError(t, resp, b, http.StatusConflict, "webhook_disabled")
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/redeliver-failed", w.ID), ts.Admin, nil)
	wantError(t, resp, b, http.StatusConflict, "webhook_disabled")
	time.Sleep(1500 * time.Millisecond) // more than a queue poll
	if rc.count() != 1 {
		t.Fatalf("a receiver disabled by 410 got %d requests, want 1", rc.count())
	}

	// Enabled again, it receives.
	rc.setAnswer(nil)
	resp, b = ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), ts.Admin, map[string]any{"enabled": true})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enable: %d %s", resp.StatusCode, b)
	}
	if wh := decode[server.WebhookResponse](t, b); !wh.Enabled || wh.DisabledReason != "" || wh.DisabledAt != nil || wh.ConsecutiveFailures != 0 {
		t.Fatalf("enabled receiver = %+v", wh)
	}
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("test after enabling: %d %s", resp.StatusCode, b)
	}
	whSettle(t, ts, w.ID)
	if got := rc.ofType(t, "webhook.test"); len(got) != 1 {
		t.Fatalf("webhook.test arrived %d times after enabling, want 1", len(got))
	}
	// Everything it missed while disabled arrives on request.
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/redeliver-failed", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted || decode[server.RedeliverFailedResponse](t, b).Redelivered != 3 {
		t.Fatalf("redeliver failed: %d %s", resp.StatusCode, b)
	}
	whSettle(t, ts, w.ID)
	if len(rc.ofType(t, "photo.uploaded")) != 1 || len(rc.ofType(t, "event.created")) < 2 {
		t.Fatalf("missed announcements not delivered after enabling: uploaded %d, created %d",
			len(rc.ofType(t, "photo.uploaded")), len(rc.ofType(t, "event.created")))
	}
}

func TestWebhookFailingEveryAttemptDisablesThenEnableAndRedeliver(t *testing.T) {
	ts := newTestServer(t, whConfig(50*time.Millisecond, 100*time.Millisecond)) // 3 tries
	rc := newWHReceiver(t, func(whHit, int) (int, string) { return http.StatusInternalServerError, "broken" })
	w := whCreate(t, ts, rc.URL+"/broken", "event.created")
	ts.createEvent(t, map[string]any{"name": "Never arrives"})
	whSettle(t, ts, w.ID)

	d := whOnlyDelivery(t, ts, w.ID)
	d = whDelivery(t, ts, w.ID, d.ID)
	if d.Status != "failed" || d.Attempts != 3 || !slices.Equal(whStatusCodes(d), []int{500, 500, 500}) {
		t.Fatalf("delivery = %+v, codes %v; want failed after 3 attempts of 500", d, whStatusCodes(d))
	}
	hits := rc.all()
	if len(hits) != 3 || hits[0].ID() != d.MessageID || hits[1].ID() != d.MessageID || hits[2].ID() != d.MessageID {
		t.Fatalf("receiver got %d requests; want 3 with webhook-id %s", len(hits), d.MessageID)
	}
	wh := whGet(t, ts, w.ID)
	if wh.Enabled || wh.DisabledReason == "" || wh.DisabledAt == nil || wh.ConsecutiveFailures != 3 {
		t.Fatalf("receiver failing every attempt = %+v; want disabled, flagged, 3 failures", wh)
	}
	if !strings.Contains(wh.DisabledReason, "500") {
		t.Errorf("disabled_reason %q does not tell the last failure", wh.DisabledReason)
	}
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	wantError(t, resp, b, http.StatusConflict, "webhook_disabled")

	// Enabled again: the flag and the failure count are cleared.
	rc.setAnswer(nil)
	resp, b = ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), ts.Admin, map[string]any{"enabled": true})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("enable: %d %s", resp.StatusCode, b)
	}
	wh = decode[server.WebhookResponse](t, b)
	if !wh.Enabled || wh.ConsecutiveFailures != 0 || wh.DisabledReason != "" || wh.DisabledAt != nil {
		t.Fatalf("after PATCH enabled=true: %+v", wh)
	}

	// Redelivering the failed delivery sends it again with the same webhook-id.
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d/redeliver", w.ID, d.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("redeliver: %d %s", resp.StatusCode, b)
	}
	if r := decode[server.DeliveryResponse](t, b); r.ID != d.ID || r.MessageID != d.MessageID || r.Status != "pending" {
		t.Fatalf("redeliver answered %+v", r)
	}
	d = whWaitDelivery(t, ts, w.ID, d.ID, "succeeded", func(d server.DeliveryResponse) bool { return d.Status == "succeeded" })
	hits = rc.all()
	if len(hits) != 4 || hits[3].ID() != d.MessageID || !bytes.Equal(hits[3].Body, hits[0].Body) {
		t.Fatalf("after redeliver the receiver has %d requests; want a 4th with webhook-id %s and the same body", len(hits), d.MessageID)
	}
	if !whVerifyHit(t, w.Secret, hits[3]) {
		t.Fatal("the redelivery's signature does not verify")
	}
	if d.Attempts != 4 || !slices.Equal(whStatusCodes(d), []int{500, 500, 500, 200}) {
		t.Fatalf("after redeliver: attempts %d, codes %v", d.Attempts, whStatusCodes(d))
	}
	if wh := whGet(t, ts, w.ID); !wh.Enabled || wh.ConsecutiveFailures != 0 {
		t.Fatalf("after a successful redelivery: %+v", wh)
	}
}

func TestWebhookRedirectsAreNotFollowed(t *testing.T) {
	ts := newTestServer(t, whConfig(50*time.Millisecond)) // 2 tries
	target := newWHReceiver(t, nil)
	rc := newWHReceiver(t, func(whHit, int) (int, string) { return http.StatusFound, "moved" })
	// The receiver's answer carries a Location to the other loopback receiver.
	rc.setHeader("Location", target.URL+"/stolen")
	w := whCreate(t, ts, rc.URL+"/moving", "event.created")
	ts.createEvent(t, map[string]any{"name": "Redirected"})
	whSettle(t, ts, w.ID)

	d := whOnlyDelivery(t, ts, w.ID)
	d = whDelivery(t, ts, w.ID, d.ID)
	if codes := whStatusCodes(d); !slices.Equal(codes, []int{302, 302}) || d.Status != "failed" {
		t.Fatalf("delivery answered 302: status %s codes %v, want failed after [302 302]", d.Status, codes)
	}
	if rc.count() != 2 {
		t.Fatalf("the redirecting receiver got %d requests, want 2", rc.count())
	}
	if target.count() != 0 {
		t.Fatalf("the redirect target got %d requests; redirects must not be followed", target.count())
	}
}

// TestWebhookLongerRetryScheduleAfterRestartKeepsRetrying: a delivery in the middle of its
// retries when the server restarts with a longer GALLERIST_WEBHOOK_RETRY_SCHEDULE must not
// be left pending for ever. Its job was queued with the old number of tries; the
// deliverer follows the new schedule and asks for a retry the job may no longer have.
func TestWebhookLongerRetryScheduleAfterRestartKeepsRetrying(t *testing.T) {
	ts := newTestServer(t, whConfig(2*time.Second)) // 2 tries, the retry 2s after the first
	rc := newWHReceiver(t, func(whHit, int) (int, string) { return http.StatusInternalServerError, "down" })
	w := whCreate(t, ts, rc.URL+"/sched", "event.created")
	ts.createEvent(t, map[string]any{"name": "Schedule change"})
	waitFor(t, "the first attempt", func() bool { return rc.count() >= 1 })
	d := whOnlyDelivery(t, ts, w.ID)
	if d.Status != "pending" {
		t.Fatalf("after one failed attempt of two: %+v", d)
	}
	ts = restartTestServer(t, ts, whConfig(50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond)) // 4 tries

	deadline := time.Now().Add(15 * time.Second)
	for {
		d = whDelivery(t, ts, w.ID, d.ID)
		if d.Status != "pending" {
			break
		}
		if time.Now().After(deadline) {
			var dead int
			ts.sqlDB(t).QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'webhook.deliver' AND status = 'dead'`).Scan(&dead)
			t.Fatalf("15s after the restart the delivery is still pending (attempts %d, codes %v, next_attempt_at %v) "+
				"and %d webhook job(s) are dead: nothing will ever try it again", d.Attempts, whStatusCodes(d), d.NextAttemptAt, dead)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d.Status != "failed" {
		t.Fatalf("delivery = %+v, want failed (the receiver always answers 500)", d)
	}
}

// ---------------------------------------------------------------------------------------
// 4. Management API

func TestWebhookManagementAPI(t *testing.T) {
	ts := newTestServer(t, whConfig(50*time.Millisecond)) // 2 tries
	rc := newWHReceiver(t, func(h whHit, nth int) (int, string) {
		if whParse(t, h.Body).Type == "event.created" {
			return http.StatusInternalServerError, "no events please"
		}
		return http.StatusOK, "ok"
	})

	// Create: 201 with the secret, shown this once.
	resp, b := ts.do(t, http.MethodPost, "/api/v1/webhooks", ts.Admin, map[string]any{
		"url": rc.URL + "/mgmt", "events": []string{"photo.uploaded", "event.created", "photo.uploaded"}, "description": "CI hook"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	w := decode[server.CreatedWebhookResponse](t, b)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(w.Secret, "whsec_"))
	if !strings.HasPrefix(w.Secret, "whsec_") || err != nil || len(key) < 24 {
		t.Fatalf("secret %q: want whsec_ and base64 of a real key", w.Secret)
	}
	if w.ID <= 0 || w.URL != rc.URL+"/mgmt" || w.Description != "CI hook" || !w.Enabled || w.ConsecutiveFailures != 0 ||
		!slices.Equal(w.Events, []string{"photo.uploaded", "event.created"}) || time.Since(w.CreatedAt).Abs() > time.Minute {
		t.Fatalf("created webhook = %+v", w)
	}

	// Get and list never show it.
	for _, path := range []string{fmt.Sprintf("/api/v1/webhooks/%d", w.ID), "/api/v1/webhooks"} {
		resp, raw := ts.do(t, http.MethodGet, path, ts.Admin, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
		if bytes.Contains(raw, []byte(w.Secret)) || bytes.Contains(raw, []byte(strings.TrimPrefix(w.Secret, "whsec_"))) || bytes.Contains(raw, []byte(`"secret"`)) {
			t.Fatalf("GET %s shows the secret: %s", path, raw)
		}
	}
	got := whGet(t, ts, w.ID)
	if got.ID != w.ID || got.URL != w.URL || got.Description != w.Description || !slices.Equal(got.Events, w.Events) || !got.Enabled {
		t.Fatalf("GET = %+v, want %+v", got, w.WebhookResponse)
	}
	list := getJSON[server.WebhookListResponse](t, ts, "/api/v1/webhooks")
	if list.Total != 1 || len(list.Items) != 1 || list.Items[0].ID != w.ID {
		t.Fatalf("list = %+v", list)
	}

	// Validation.
	bad := []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"url": rc.URL, "events": []string{"photo.uploaded", "photo.exploded"}}, 400, "invalid_parameter"},
		{map[string]any{"url": rc.URL, "events": []string{}}, 400, "invalid_parameter"},
		{map[string]any{"url": rc.URL, "events": []string{" "}}, 400, "invalid_parameter"},
		{map[string]any{"url": rc.URL}, 400, "invalid_parameter"},
		{map[string]any{"url": rc.URL, "events": []string{"*"}, "description": strings.Repeat("d", 501)}, 400, "invalid_parameter"},
		{map[string]any{"url": rc.URL + "/" + strings.Repeat("p", 2048), "events": []string{"*"}}, 400, "invalid_parameter"},
		{map[string]any{"url": "ftp://127.0.0.1/hook", "events": []string{"*"}}, 400, "url_not_allowed"},
		{map[string]any{"url": "file:///etc/passwd", "events": []string{"*"}}, 400, "url_not_allowed"},
		{map[string]any{"url": "127.0.0.1/hook", "events": []string{"*"}}, 400, "url_not_allowed"},
		{map[string]any{"url": "", "events": []string{"*"}}, 400, "url_not_allowed"},
		{map[string]any{"url": strings.Replace(rc.URL, "http://", "http://user:pass@", 1) + "/x", "events": []string{"*"}}, 400, "url_not_allowed"},
		{map[string]any{"url": strings.Replace(rc.URL, "http://", "http://user@", 1) + "/x", "events": []string{"*"}}, 400, "url_not_allowed"},
		{`{"url": "` + rc.URL + `", "events": ["*"]`, 400, "invalid_request"},
		{map[string]any{"url": rc.URL, "events": []string{"*"}, "secret": "whsec_AAAA"}, 400, "invalid_request"},
		{map[string]any{"url": rc.URL, "events": "photo.uploaded"}, 400, "invalid_request"},
		{"", 400, "invalid_request"},
	}
	for _, c := range bad {
		resp, b := ts.do(t, http.MethodPost, "/api/v1/webhooks", ts.Admin, c.body)
		e := wantError(t, resp, b, c.status, c.code)
		if c.code == "invalid_parameter" && e.Details["parameter"] == nil {
			t.Errorf("invalid_parameter without details.parameter: %s", b)
		}
	}
	if n := getJSON[server.WebhookListResponse](t, ts, "/api/v1/webhooks").Total; n != 1 {
		t.Fatalf("refused creations left %d webhooks, want 1", n)
	}

	// Update.
	patch := func(body any) (*http.Response, []byte) {
		return ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), ts.Admin, body)
	}
	resp, b = patch(map[string]any{"description": "renamed", "events": []string{"*"}, "url": rc.URL + "/mgmt2"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, b)
	}
	if p := decode[server.WebhookResponse](t, b); p.Description != "renamed" || !slices.Equal(p.Events, []string{"*"}) || p.URL != rc.URL+"/mgmt2" {
		t.Fatalf("patched = %+v", p)
	}
	for _, c := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"events": []string{"photo.uploaded", "photo.exploded"}}, "invalid_parameter"},
		{map[string]any{"events": []string{}}, "invalid_parameter"},
		{map[string]any{"description": strings.Repeat("d", 501)}, "invalid_parameter"},
		{map[string]any{"url": rc.URL + "/" + strings.Repeat("p", 2048)}, "invalid_parameter"},
		{map[string]any{"url": "ftp://127.0.0.1/hook"}, "url_not_allowed"},
		{map[string]any{"url": ""}, "url_not_allowed"},
		{map[string]any{"url": strings.Replace(rc.URL, "http://", "http://user:pass@", 1) + "/x"}, "url_not_allowed"},
		{map[string]any{"url": "http://10.1.2.3/hook"}, "url_not_allowed"},
		{map[string]any{"secret": "whsec_AAAA"}, "invalid_request"},
	} {
		resp, b := patch(c.body)
		wantError(t, resp, b, http.StatusBadRequest, c.code)
	}
	resp, b = patch(map[string]any{"url": "http://10.1.2.3/hook"})
	wantError(t, resp, b, http.StatusBadRequest, "url_not_allowed")
	resp, b = patch(`{"enabled": "yes"}`)
	wantError(t, resp, b, http.StatusBadRequest, "invalid_request")
	if p := whGet(t, ts, w.ID); p.Description != "renamed" || p.URL != rc.URL+"/mgmt2" || !slices.Equal(p.Events, []string{"*"}) {
		t.Fatalf("refused patches changed the webhook: %+v", p)
	}

	// An admin switch-off and on.
	resp, b = patch(map[string]any{"enabled": false})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("disable: %d %s", resp.StatusCode, b)
	}
	if p := decode[server.WebhookResponse](t, b); p.Enabled || p.DisabledReason == "" || p.DisabledAt == nil {
		t.Fatalf("disabled by an admin = %+v", p)
	}
	resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	wantError(t, resp, b, http.StatusConflict, "webhook_disabled")
	resp, b = patch(map[string]any{"enabled": true})
	if resp.StatusCode != http.StatusOK || !decode[server.WebhookResponse](t, b).Enabled {
		t.Fatalf("enable: %d %s", resp.StatusCode, b)
	}

	// Test: 202 and a webhook.test arrives, three times.
	var tests []server.DeliveryResponse
	for range 3 {
		resp, b = ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("test: %d %s", resp.StatusCode, b)
		}
		d := decode[server.DeliveryResponse](t, b)
		if d.Type != "webhook.test" || d.WebhookID != w.ID || d.MessageID == "" || d.ID <= 0 {
			t.Fatalf("test delivery = %+v", d)
		}
		tests = append(tests, d)
	}
	whSettle(t, ts, w.ID)
	arrived := rc.ofType(t, "webhook.test")
	if len(arrived) != 3 {
		t.Fatalf("%d webhook.test arrived, want 3", len(arrived))
	}
	for i, h := range arrived {
		p := whCheckEnvelope(t, h, "webhook.test")
		if p.Data.Message == "" || h.ID() != tests[i].MessageID || h.Path != "/mgmt2" || !whVerifyHit(t, w.Secret, h) {
			t.Fatalf("webhook.test %d: id %s (want %s), path %s, message %q", i, h.ID(), tests[i].MessageID, h.Path, p.Data.Message)
		}
	}

	// An event.created the receiver refuses: failed after 2 tries.
	ts.createEvent(t, map[string]any{"name": "Refused"})
	whSettle(t, ts, w.ID)

	// Deliveries: newest first, filter, limit/offset.
	all := whDeliveries(t, ts, w.ID, "")
	if all.Total != 4 || len(all.Items) != 4 || all.Limit != 50 || all.Offset != 0 {
		t.Fatalf("deliveries = %+v", all)
	}
	for i := 1; i < len(all.Items); i++ {
		if all.Items[i-1].ID <= all.Items[i].ID {
			t.Fatalf("deliveries not newest first: %d then %d", all.Items[i-1].ID, all.Items[i].ID)
		}
	}
	failedD := all.Items[0]
	if failedD.Type != "event.created" || failedD.Status != "failed" || failedD.Attempts != 2 || failedD.LastStatusCode == nil || *failedD.LastStatusCode != 500 {
		t.Fatalf("newest delivery = %+v, want the failed event.created", failedD)
	}
	for _, c := range []struct {
		query string
		total int
		ids   []int64
	}{
		{"status=succeeded", 3, []int64{tests[2].ID, tests[1].ID, tests[0].ID}},
		{"status=failed", 1, []int64{failedD.ID}},
		{"status=pending", 0, nil},
		{"limit=2", 4, []int64{all.Items[0].ID, all.Items[1].ID}},
		{"limit=2&offset=1", 4, []int64{all.Items[1].ID, all.Items[2].ID}},
		{"offset=3", 4, []int64{all.Items[3].ID}},
		{"offset=10", 4, nil},
		{"status=succeeded&limit=1&offset=1", 3, []int64{tests[1].ID}},
	} {
		page := whDeliveries(t, ts, w.ID, c.query)
		var ids []int64
		for _, d := range page.Items {
			ids = append(ids, d.ID)
		}
		if page.Total != c.total || !slices.Equal(ids, c.ids) {
			t.Errorf("deliveries?%s = total %d ids %v, want total %d ids %v", c.query, page.Total, ids, c.total, c.ids)
		}
	}
	for _, q := range []string{"status=lost", "limit=0", "limit=201", "offset=-1", "limit=x"} {
		resp, b := ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d/deliveries?%s", w.ID, q), ts.Admin, nil)
		wantError(t, resp, b, http.StatusBadRequest, "invalid_parameter")
	}

	// One delivery, with its attempts and payload.
	one := whDelivery(t, ts, w.ID, failedD.ID)
	if len(one.AttemptLog) != 2 || one.Payload == nil || !slices.Equal(whStatusCodes(one), []int{500, 500}) ||
		one.AttemptLog[0].ResponseBody != "no events please" {
		t.Fatalf("GET delivery = %+v", one)
	}
	// The receiver was disabled by that failure (every try failed); enable it again.
	if wh := whGet(t, ts, w.ID); wh.Enabled {
		t.Fatalf("a receiver whose delivery failed every try should be disabled: %+v", wh)
	}

	// Another webhook cannot see this one's deliveries.
	w2 := whCreate(t, ts, rc.URL+"/second", "photo.deleted")
	for _, path := range []string{
		fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d", w2.ID, failedD.ID),
		fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d", w.ID, 999_999),
	} {
		resp, b := ts.do(t, http.MethodGet, path, ts.Admin, nil)
		wantError(t, resp, b, http.StatusNotFound, "delivery_not_found")
		resp, b = ts.do(t, http.MethodPost, path+"/redeliver", ts.Admin, nil)
		wantError(t, resp, b, http.StatusNotFound, "delivery_not_found")
	}
	if n := whDeliveries(t, ts, w2.ID, "").Total; n != 0 {
		t.Fatalf("the second webhook lists %d deliveries, want 0", n)
	}

	// Unknown webhooks and malformed ids.
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/webhooks/999999"},
		{http.MethodPatch, "/api/v1/webhooks/999999"},
		{http.MethodDelete, "/api/v1/webhooks/999999"},
		{http.MethodPost, "/api/v1/webhooks/999999/test"},
		{http.MethodPost, "/api/v1/webhooks/999999/rotate-secret"},
		{http.MethodGet, "/api/v1/webhooks/999999/deliveries"},
		{http.MethodGet, "/api/v1/webhooks/999999/deliveries/1"},
		{http.MethodPost, "/api/v1/webhooks/999999/deliveries/1/redeliver"},
	} {
		var body any
		if c.method == http.MethodPatch {
			body = map[string]any{"description": "x"}
		}
		resp, b := ts.do(t, c.method, c.path, ts.Admin, body)
		wantError(t, resp, b, http.StatusNotFound, "webhook_not_found")
	}
	for _, path := range []string{"/api/v1/webhooks/abc", "/api/v1/webhooks/0", "/api/v1/webhooks/-3"} {
		resp, b := ts.do(t, http.MethodGet, path, ts.Admin, nil)
		wantError(t, resp, b, http.StatusBadRequest, "invalid_parameter")
	}
	resp, b = ts.do(t, http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/abc", w.ID), ts.Admin, nil)
	wantError(t, resp, b, http.StatusBadRequest, "invalid_parameter")

	// Delete: 204, then 404, and its deliveries and attempts are gone.
	resp, b = ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d", w.ID)},
		{http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", w.ID)},
		{http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d/deliveries", w.ID)},
		{http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d", w.ID, failedD.ID)},
		{http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID)},
	} {
		resp, b := ts.do(t, c.method, c.path, ts.Admin, nil)
		wantError(t, resp, b, http.StatusNotFound, "webhook_not_found")
	}
	db := ts.sqlDB(t)
	var deliveries, attempts int
	if err := db.QueryRow(`SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = ?`, w.ID).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM webhook_attempts a WHERE a.delivery_id IN (?, ?, ?, ?)`,
		all.Items[0].ID, all.Items[1].ID, all.Items[2].ID, all.Items[3].ID).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if deliveries != 0 || attempts != 0 {
		t.Fatalf("after deleting the webhook: %d deliveries and %d attempts left", deliveries, attempts)
	}
	list = getJSON[server.WebhookListResponse](t, ts, "/api/v1/webhooks")
	if list.Total != 1 || list.Items[0].ID != w2.ID {
		t.Fatalf("list after delete = %+v", list)
	}
}

func TestWebhookRoutesNeedWebhooksManage(t *testing.T) {
	ts := newTestServer(t, whConfig())
	rc := newWHReceiver(t, nil)
	w := whCreate(t, ts, rc.URL+"/scoped", "*")
	resp, b := ts.do(t, http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("test: %d %s", resp.StatusCode, b)
	}
	d := decode[server.DeliveryResponse](t, b)

	routes := []struct {
		method, path string
		body         any
		okStatus     int
	}{
		{http.MethodGet, "/api/v1/webhooks", nil, 200},
		{http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rc.URL + "/x", "events": []string{"*"}}, 201},
		{http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), nil, 200},
		{http.MethodPatch, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), map[string]any{"description": "scoped"}, 200},
		{http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/test", w.ID), nil, 202},
		{http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d/deliveries", w.ID), nil, 200},
		{http.MethodGet, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d", w.ID, d.ID), nil, 200},
		{http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d/redeliver", w.ID, d.ID), nil, 202},
		{http.MethodPost, fmt.Sprintf("/api/v1/webhooks/%d/rotate-secret", w.ID), nil, 200},
		{http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", w.ID), nil, 204},
	}
	weak := map[string]string{
		"photos.write": ts.token(t, "photos.write"),
		"events.write": ts.token(t, "events.write"),
		"photos.read":  ts.token(t, "photos.read"),
	}
	for _, r := range routes {
		for name, tok := range weak {
			resp, b := ts.do(t, r.method, r.path, tok, r.body)
			e := wantError(t, resp, b, http.StatusForbidden, "insufficient_scope")
			if fmt.Sprint(e.Details["required"]) != "webhooks.manage" {
				t.Errorf("%s %s with %s: details.required = %v", r.method, r.path, name, e.Details["required"])
			}
		}
		resp, b := ts.do(t, r.method, r.path, "", r.body)
		wantError(t, resp, b, http.StatusUnauthorized, "missing_token")
	}
	if got := whGet(t, ts, w.ID); got.Description != "" {
		t.Fatalf("a refused PATCH changed the webhook: %+v", got)
	}
	manage := ts.token(t, "webhooks.manage")
	for _, r := range routes {
		resp, b := ts.do(t, r.method, r.path, manage, r.body)
		if resp.StatusCode != r.okStatus {
			t.Fatalf("%s %s with webhooks.manage: %d %s, want %d", r.method, r.path, resp.StatusCode, b, r.okStatus)
		}
	}
}

// ---------------------------------------------------------------------------------------
// 5. SSRF

var whInternalURLs = []string{
	"http://127.0.0.1:9/x",
	"http://[::1]:9/x",
	"http://[::ffff:127.0.0.1]:9/x",
	"http://10.1.2.3/x",
	"http://169.254.169.254/latest/meta-data",
	"http://localhost:9/x", // a name that resolves to loopback
	"http://0.0.0.0/x",
	"http://192.168.1.1/",
	"http://172.16.5.4/x",
	"http://100.64.1.1/x",
	"http://[fe80::1]/x",
	"http://[fd00:ec2::254]/latest/meta-data",
	"https://127.0.0.1/x",
}

func TestWebhookSSRFRefusedAtCreation(t *testing.T) {
	ts := newTestServer(t) // no GALLERIST_WEBHOOK_ALLOWED_HOSTS
	for _, u := range whInternalURLs {
		resp, b := ts.do(t, http.MethodPost, "/api/v1/webhooks", ts.Admin, map[string]any{"url": u, "events": []string{"*"}})
		e := wantError(t, resp, b, http.StatusBadRequest, "url_not_allowed")
		if fmt.Sprint(e.Details["url"]) != u {
			t.Errorf("%s: details.url = %v", u, e.Details["url"])
		}
	}
	if n := getJSON[server.WebhookListResponse](t, ts, "/api/v1/webhooks").Total; n != 0 {
		t.Fatalf("%d webhooks were created at internal addresses", n)
	}
	// A public address is fine (an IP literal: nothing is resolved, nothing is sent since
	// this server announces nothing).
	pub := whCreate(t, ts, "http://93.184.216.34/hook", "photo.deleted")
	for _, u := range whInternalURLs {
		resp, b := ts.do(t, http.MethodPatch, fmt.Sprintf("/api/v1/webhooks/%d", pub.ID), ts.Admin, map[string]any{"url": u})
		wantError(t, resp, b, http.StatusBadRequest, "url_not_allowed")
	}
	if got := whGet(t, ts, pub.ID); got.URL != "http://93.184.216.34/hook" {
		t.Fatalf("refused patches changed the URL to %s", got.URL)
	}
	resp, b := ts.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/webhooks/%d", pub.ID), ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}

	// Allowing one IP allows that IP only.
	one := newTestServer(t, func(c *server.Config) { c.WebhookAllowedHosts = []string{"127.0.0.1"} })
	whCreate(t, one, "http://127.0.0.1:9/x", "photo.deleted")
	for _, u := range []string{"http://127.0.0.2:9/x", "http://[::1]:9/x", "http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data", "http://192.168.1.1/"} {
		resp, b := one.do(t, http.MethodPost, "/api/v1/webhooks", one.Admin, map[string]any{"url": u, "events": []string{"*"}})
		wantError(t, resp, b, http.StatusBadRequest, "url_not_allowed")
	}
	// A CIDR allows its range.
	cidr := newTestServer(t, func(c *server.Config) { c.WebhookAllowedHosts = []string{"127.0.0.0/8", "10.0.0.0/8"} })
	whCreate(t, cidr, "http://127.0.0.2:9/x", "photo.deleted")
	whCreate(t, cidr, "http://10.1.2.3/x", "photo.deleted")
	resp, b = cidr.do(t, http.MethodPost, "/api/v1/webhooks", cidr.Admin, map[string]any{"url": "http://192.168.1.1/", "events": []string{"*"}})
	wantError(t, resp, b, http.StatusBadRequest, "url_not_allowed")
}

// TestWebhookSSRFCheckedAgainWhenDelivering: a receiver created while its address was
// allowed is refused when the request dials after the operator withdrew the allowance;
// the receiver never gets a request.
func TestWebhookSSRFCheckedAgainWhenDelivering(t *testing.T) {
	ts := newTestServer(t, whConfig())
	rc := newWHReceiver(t, nil)
	w := whCreate(t, ts, rc.URL+"/was-allowed", "event.created")
	ts = restartTestServer(t, ts, func(c *server.Config) {
		c.WebhookRetrySchedule = []time.Duration{50 * time.Millisecond}
		c.WebhookTimeout = 5 * time.Second
	})
	ts.createEvent(t, map[string]any{"name": "After the allowance"})
	whSettle(t, ts, w.ID)
	d := whOnlyDelivery(t, ts, w.ID)
	d = whDelivery(t, ts, w.ID, d.ID)
	if d.Status != "failed" || len(d.AttemptLog) != 2 {
		t.Fatalf("delivery = %+v, want failed after 2 attempts", d)
	}
	for _, a := range d.AttemptLog {
		if a.StatusCode != nil || !strings.Contains(a.Error, "127.0.0.1") || !strings.Contains(a.Error, "not allowed") {
			t.Fatalf("attempt = %+v, want an error naming the refused address", a)
		}
	}
	if rc.count() != 0 {
		t.Fatalf("the receiver got %d requests although its address is no longer allowed", rc.count())
	}
	// And it cannot be created any more.
	resp, b := ts.do(t, http.MethodPost, "/api/v1/webhooks", ts.Admin, map[string]any{"url": rc.URL + "/again", "events": []string{"*"}})
	wantError(t, resp, b, http.StatusBadRequest, "url_not_allowed")
}
