package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gallerist/gallerist/server/queue"
	"github.com/gallerist/gallerist/storage"
)

// JobKind is the queue kind of the job that sends one delivery.
const JobKind = "webhook.deliver"

// DefaultSchedule is the wait before each retry: the first within a minute, the last a
// day later, about 31 hours in all.
var DefaultSchedule = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// maxResponseKept caps the receiver's answer kept with an attempt.
const maxResponseKept = 2048

// Deliverer sends deliveries. Its fields are set once by the server.
type Deliverer struct {
	DB       *storage.DB
	Guard    *Guard
	Timeout  time.Duration
	Schedule []time.Duration // waits before retries; len+1 tries in all
	Log      *slog.Logger
	Version  string
	client   *http.Client
}

// MaxAttempts is how many tries a delivery gets.
func (d *Deliverer) MaxAttempts() int { return len(d.Schedule) + 1 }

func (d *Deliverer) httpClient() *http.Client {
	if d.client == nil {
		d.client = &http.Client{
			Timeout: d.Timeout,
			Transport: &http.Transport{
				Proxy:                 nil, // never through an environment proxy: the guard must see the real peer
				DialContext:           d.Guard.DialContext,
				TLSHandshakeTimeout:   d.Timeout,
				ResponseHeaderTimeout: d.Timeout,
				MaxIdleConnsPerHost:   4,
				IdleConnTimeout:       time.Minute,
			},
			// A receiver's redirect is an answer, not an instruction: following it would
			// let a receiver point us at an address the guard refused.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return d.client
}

// HandleJob is the queue handler of JobKind: one try of one delivery.
func (d *Deliverer) HandleJob(ctx context.Context, job *storage.Job) error {
	var p storage.DeliveryJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return queue.Permanent(fmt.Errorf("decode job payload: %w", err))
	}
	del, err := d.DB.FindWebhookDelivery(ctx, p.DeliveryID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // the endpoint was deleted with its deliveries
	}
	if err != nil {
		return err
	}
	if del.Status == storage.DeliverySucceeded {
		return nil
	}
	ep, err := d.DB.FindWebhookEndpoint(ctx, del.EndpointID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := time.Now()
	attempt := storage.WebhookAttempt{AttemptedAt: now}
	if !ep.Enabled {
		attempt.Error = "not sent: the endpoint is disabled (" + ep.DisabledReason + ")"
		return d.DB.RecordWebhookAttempt(ctx, del.ID, attempt, storage.DeliveryOutcome{Status: storage.DeliveryFailed})
	}
	code, body, sendErr := d.send(ctx, ep, del, now)
	attempt.LatencyMS = time.Since(now).Milliseconds()
	attempt.ResponseBody = body
	if code != 0 {
		attempt.StatusCode = &code
	}
	if sendErr != nil {
		attempt.Error = sendErr.Error()
	}
	var o storage.DeliveryOutcome
	switch {
	case sendErr == nil && code >= 200 && code < 300:
		o.Status = storage.DeliverySucceeded
	case code == http.StatusGone:
		o.Status = storage.DeliveryFailed
		o.DisableEndpoint = "the receiver answered 410 Gone"
	case job.Attempts < job.MaxAttempts:
		// The job's own number of tries decides (it was fixed when the delivery was
		// queued); the schedule in force now gives the wait, its last step repeating
		// if the schedule became shorter.
		wait := 30 * time.Second
		if len(d.Schedule) > 0 {
			wait = d.Schedule[min(job.Attempts-1, len(d.Schedule)-1)]
		}
		next := now.Add(wait)
		o.Status, o.NextAttemptAt = storage.DeliveryPending, &next
		if err := d.DB.RecordWebhookAttempt(ctx, del.ID, attempt, o); err != nil {
			return err
		}
		return queue.RetryAfter(fmt.Errorf("delivery %d to endpoint %d: %s", del.ID, ep.ID, describe(code, sendErr)), wait)
	default:
		o.Status = storage.DeliveryFailed
		// Every try of this delivery failed and nothing succeeded in between: the
		// receiver keeps failing, so it is switched off and flagged until an admin
		// enables it again.
		if ep.ConsecutiveFailures+1 >= d.MaxAttempts() {
			o.DisableEndpoint = fmt.Sprintf("every attempt failed for %d attempts in a row (last: %s)", ep.ConsecutiveFailures+1, describe(code, sendErr))
		}
	}
	if err := d.DB.RecordWebhookAttempt(ctx, del.ID, attempt, o); err != nil {
		return err
	}
	if o.DisableEndpoint != "" {
		d.Log.Warn("webhook endpoint disabled", "endpoint_id", ep.ID, "reason", o.DisableEndpoint)
	}
	return nil
}

func describe(code int, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("HTTP %d", code)
}

// send makes one signed POST and returns the status, the start of the answer and any
// transport error.
func (d *Deliverer) send(ctx context.Context, ep *storage.WebhookEndpoint, del *storage.WebhookDelivery, now time.Time) (int, string, error) {
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != "" && ep.PreviousSecretUntil != nil && now.Before(*ep.PreviousSecretUntil) {
		secrets = append(secrets, ep.PreviousSecret)
	}
	headers, err := Headers(del.EventID, now, []byte(del.Body), secrets...)
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, strings.NewReader(del.Body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gallerist-Webhooks/"+d.Version)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := d.httpClient().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseKept))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	return resp.StatusCode, strings.ToValidUTF8(string(b), string(utf8.RuneError)), nil
}
