package webhook_test

// Unit tests of one delivery attempt (Deliverer.HandleJob) over a real SQLite database
// and real loopback receivers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gallerist/gallerist/server/webhook"
	"github.com/gallerist/gallerist/storage"
)

type hit struct {
	header http.Header
	body   []byte
}

// receiver is a loopback HTTP server that records every request and answers with fn.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newReceiver(t *testing.T, fn func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{r.Header.Clone(), b})
		rc.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.hits)
}

func (rc *receiver) hit(i int) hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.hits[i]
}

type fixture struct {
	db *storage.DB
	d  *webhook.Deliverer
	ep *storage.WebhookEndpoint
}

func newFixture(t *testing.T, url string, timeout time.Duration, schedule ...time.Duration) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, storage.Config{Path: filepath.Join(t.TempDir(), "gallerist.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g, err := webhook.NewGuard([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	d := &webhook.Deliverer{DB: db, Guard: g, Timeout: timeout, Schedule: schedule,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "9.9.9-test"}
	db.SetAnnouncer(webhook.Announcer{}, webhook.JobKind, d.MaxAttempts())
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	ep := &storage.WebhookEndpoint{URL: url, Events: []string{"*"}, Secret: secret}
	if err := db.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, d: d, ep: ep}
}

// announce makes one webhook.test delivery for the endpoint and returns its id.
func (f *fixture) announce(t *testing.T) int64 {
	t.Helper()
	id, err := f.db.SendWebhookTest(context.Background(), f.ep.ID, storage.Announcement{Type: webhook.TypeTest,
		Data: webhook.TestData{Message: "unit test"}})
	if err != nil || id == 0 {
		t.Fatalf("send test: id %d, %v", id, err)
	}
	return id
}

// try runs attempt number n of the delivery, as the queue would.
func (f *fixture) try(t *testing.T, deliveryID int64, n int) error {
	t.Helper()
	payload, _ := json.Marshal(storage.DeliveryJob{DeliveryID: deliveryID})
	return f.d.HandleJob(context.Background(), &storage.Job{Kind: webhook.JobKind, Payload: payload, Attempts: n, MaxAttempts: f.d.MaxAttempts()})
}

func (f *fixture) delivery(t *testing.T, id int64) (*storage.WebhookDelivery, []storage.WebhookAttempt) {
	t.Helper()
	d, err := f.db.FindWebhookDelivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.db.FindWebhookAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d, a
}

func (f *fixture) endpoint(t *testing.T) *storage.WebhookEndpoint {
	t.Helper()
	ep, err := f.db.FindWebhookEndpoint(context.Background(), f.ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func TestDeliverSendsASignedPOSTAndRecordsSuccess(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // any 2xx is a success
	})
	f := newFixture(t, rc.URL+"/in?k=v", 5*time.Second, time.Minute)
	id := f.announce(t)
	if err := f.try(t, id, 1); err != nil {
		t.Fatalf("HandleJob: %v", err)
	}
	if rc.count() != 1 {
		t.Fatalf("receiver got %d requests, want 1", rc.count())
	}
	h := rc.hit(0)
	d, attempts := f.delivery(t, id)
	if d.Status != storage.DeliverySucceeded || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 204 {
		t.Fatalf("delivery = %+v", d)
	}
	if len(attempts) != 1 || attempts[0].StatusCode == nil || *attempts[0].StatusCode != 204 || attempts[0].Error != "" {
		t.Fatalf("attempts = %+v", attempts)
	}
	if got := h.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := h.header.Get("User-Agent"); got != "Gallerist-Webhooks/9.9.9-test" {
		t.Errorf("User-Agent = %q", got)
	}
	if h.header.Get("webhook-id") != d.EventID || string(h.body) != d.Body {
		t.Fatalf("webhook-id %q / body %s, want %q / %s", h.header.Get("webhook-id"), h.body, d.EventID, d.Body)
	}
	unix, err := strconv.ParseInt(h.header.Get("webhook-timestamp"), 10, 64)
	if err != nil || time.Since(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		t.Fatalf("webhook-timestamp = %q", h.header.Get("webhook-timestamp"))
	}
	if want := independentSign(t, f.ep.Secret, d.EventID, unix, h.body); h.header.Get("webhook-signature") != want {
		t.Fatalf("webhook-signature = %q, want %q", h.header.Get("webhook-signature"), want)
	}
	var body struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Message string `json:"message"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.body, &body); err != nil || body.ID != d.EventID || body.Type != webhook.TypeTest || body.Data.Message != "unit test" {
		t.Fatalf("body = %s (%v)", h.body, err)
	}
	// Sent again (a duplicate job), a succeeded delivery is not sent twice.
	if err := f.try(t, id, 1); err != nil {
		t.Fatal(err)
	}
	if rc.count() != 1 {
		t.Fatalf("a succeeded delivery was sent again: %d requests", rc.count())
	}
}

func TestDeliverTimeoutIsAFailedAttempt(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the receiver's Close
	f := newFixture(t, rc.URL, 300*time.Millisecond, time.Minute)
	id := f.announce(t)
	start := time.Now()
	err := f.try(t, id, 1)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a timed-out attempt must ask for a retry")
	}
	if took > 5*time.Second {
		t.Fatalf("the attempt took %v; the timeout is 300ms", took)
	}
	d, attempts := f.delivery(t, id)
	if d.Status != storage.DeliveryPending || d.NextAttemptAt == nil || d.NextAttemptAt.Before(time.Now().Add(50*time.Second)) {
		t.Fatalf("delivery = %+v, want pending with the next try a minute later", d)
	}
	if len(attempts) != 1 {
		t.Fatalf("attempts = %+v", attempts)
	}
	a := attempts[0]
	if a.StatusCode != nil || a.Error == "" || a.LatencyMS < 250 || a.LatencyMS > 5000 {
		t.Fatalf("attempt = %+v, want no status, an error and about 300ms of latency", a)
	}
	if !strings.Contains(a.Error, "deadline exceeded") && !strings.Contains(strings.ToLower(a.Error), "timeout") {
		t.Errorf("attempt error %q does not say it timed out", a.Error)
	}
}

func TestDeliverKeepsAtMost2KBOfTheAnswer(t *testing.T) {
	ascii := strings.Repeat("0123456789", 500) // 5000 bytes
	multi := "x" + strings.Repeat("é", 2000)   // 4001 bytes; byte 2048 cuts an é in half
	answers := []string{ascii, multi}
	var n atomic.Int64
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, answers[(n.Add(1)-1)%2])
	})
	f := newFixture(t, rc.URL, 5*time.Second, time.Minute, time.Minute, time.Minute)
	id := f.announce(t)
	for i := 1; i <= 2; i++ {
		if err := f.try(t, id, i); err == nil {
			t.Fatalf("attempt %d answered 500 but no retry was asked", i)
		}
	}
	_, attempts := f.delivery(t, id)
	if len(attempts) != 2 {
		t.Fatalf("attempts = %d", len(attempts))
	}
	if attempts[0].ResponseBody != ascii[:2048] {
		t.Errorf("kept %d bytes of a 5000-byte answer, want its first 2048", len(attempts[0].ResponseBody))
	}
	kept := attempts[1].ResponseBody
	if !utf8.ValidString(kept) || !strings.HasPrefix(multi, strings.TrimRight(kept, "\uFFFD")) || len(kept) > 2048+3 {
		t.Errorf("kept answer is %d bytes, valid UTF-8 %v", len(kept), utf8.ValidString(kept))
	}
	for _, a := range attempts {
		if a.StatusCode == nil || *a.StatusCode != 500 {
			t.Errorf("attempt status = %v, want 500", a.StatusCode)
		}
	}
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	target := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {})
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", code)
			})
			f := newFixture(t, rc.URL, 5*time.Second, time.Minute)
			id := f.announce(t)
			if err := f.try(t, id, 1); err == nil {
				t.Fatalf("a %d answer must be retried", code)
			}
			d, attempts := f.delivery(t, id)
			if d.Status != storage.DeliveryPending || len(attempts) != 1 || attempts[0].StatusCode == nil || *attempts[0].StatusCode != code {
				t.Fatalf("delivery %+v attempts %+v, want pending with one %d attempt", d, attempts, code)
			}
			if rc.count() != 1 {
				t.Fatalf("receiver got %d requests", rc.count())
			}
		})
	}
	if target.count() != 0 {
		t.Fatalf("the redirect target got %d requests; redirects must not be followed", target.count())
	}
}

func TestDeliverLastFailureDisablesTheEndpoint(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	f := newFixture(t, rc.URL, 5*time.Second, time.Millisecond, time.Millisecond) // 3 tries
	id := f.announce(t)
	for i := 1; i <= 2; i++ {
		if err := f.try(t, id, i); err == nil {
			t.Fatalf("try %d: want a retry", i)
		}
		if ep := f.endpoint(t); !ep.Enabled || ep.ConsecutiveFailures != i {
			t.Fatalf("after try %d: endpoint %+v", i, ep)
		}
	}
	if err := f.try(t, id, 3); err != nil {
		t.Fatalf("the last try must end the job, got %v", err)
	}
	d, attempts := f.delivery(t, id)
	if d.Status != storage.DeliveryFailed || d.Attempts != 3 || len(attempts) != 3 {
		t.Fatalf("delivery %+v with %d attempts, want failed after 3", d, len(attempts))
	}
	ep := f.endpoint(t)
	if ep.Enabled || ep.DisabledAt == nil || !strings.Contains(ep.DisabledReason, "502") || ep.ConsecutiveFailures != 3 {
		t.Fatalf("endpoint = %+v, want disabled and flagged with the last failure", ep)
	}
	if rc.count() != 3 {
		t.Fatalf("receiver got %d requests, want 3", rc.count())
	}
}

func TestDeliverGoneDisablesAtOnce(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	f := newFixture(t, rc.URL, 5*time.Second, time.Minute, time.Minute, time.Minute)
	id := f.announce(t)
	if err := f.try(t, id, 1); err != nil {
		t.Fatalf("410 must end the job without retries, got %v", err)
	}
	d, _ := f.delivery(t, id)
	ep := f.endpoint(t)
	if d.Status != storage.DeliveryFailed || ep.Enabled || !strings.Contains(ep.DisabledReason, "410") {
		t.Fatalf("delivery %+v endpoint %+v", d, ep)
	}
	// Another pending delivery is not sent to the disabled endpoint.
	other := mustSendPending(t, f)
	if err := f.try(t, other, 1); err != nil {
		t.Fatal(err)
	}
	if rc.count() != 1 {
		t.Fatalf("a disabled endpoint got %d requests", rc.count())
	}
	d, attempts := f.delivery(t, other)
	if d.Status != storage.DeliveryFailed || len(attempts) != 1 || !strings.Contains(attempts[0].Error, "disabled") {
		t.Fatalf("delivery to a disabled endpoint: %+v %+v", d, attempts)
	}
}

// mustSendPending makes a delivery while the endpoint is enabled, then leaves it pending
// whatever the endpoint's state now (SendWebhookTest refuses disabled endpoints).
func mustSendPending(t *testing.T, f *fixture) int64 {
	t.Helper()
	ctx := context.Background()
	on := true
	if _, err := f.db.UpdateWebhookEndpoint(ctx, f.ep.ID, storage.WebhookEndpointUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	id := f.announce(t)
	off := false
	if _, err := f.db.UpdateWebhookEndpoint(ctx, f.ep.ID, storage.WebhookEndpointUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDeliverToADeletedEndpointIsDropped(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {})
	f := newFixture(t, rc.URL, 5*time.Second, time.Minute)
	id := f.announce(t)
	if err := f.db.DeleteWebhookEndpoint(context.Background(), f.ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.try(t, id, 1); err != nil {
		t.Fatalf("a delivery of a deleted endpoint must end quietly, got %v", err)
	}
	if _, err := f.db.FindWebhookDelivery(context.Background(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the delivery outlived its endpoint: %v", err)
	}
	if rc.count() != 0 {
		t.Fatalf("a deleted endpoint got %d requests", rc.count())
	}
	// A job payload that is not JSON is dropped for good, not retried.
	err := f.d.HandleJob(context.Background(), &storage.Job{Kind: webhook.JobKind, Payload: json.RawMessage(`nope`), Attempts: 1})
	if err == nil {
		t.Fatal("a broken job payload should be an error")
	}
}

func TestDeliverRefusedAddressNeverDialed(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {})
	f := newFixture(t, rc.URL, 5*time.Second, time.Minute)
	g, err := webhook.NewGuard(nil) // nothing allowed: the loopback receiver is refused when dialing
	if err != nil {
		t.Fatal(err)
	}
	f.d.Guard = g
	id := f.announce(t)
	if err := f.try(t, id, 1); err == nil {
		t.Fatal("a refused address must count as a failed attempt")
	}
	_, attempts := f.delivery(t, id)
	if len(attempts) != 1 || attempts[0].StatusCode != nil || !strings.Contains(attempts[0].Error, "127.0.0.1") ||
		!strings.Contains(attempts[0].Error, "not allowed") {
		t.Fatalf("attempts = %+v, want an error naming the refused address", attempts)
	}
	if rc.count() != 0 {
		t.Fatalf("the receiver behind a refused address got %d requests", rc.count())
	}
}
