package webhook_test

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gallerist/gallerist/server/webhook"
)

// TestSignaturesVerifyWithTheStandardWebhooksLibrary checks our signing against the
// reference Go library of the Standard Webhooks project, the one receivers use: a
// delivery verifies with the current secret and, during a rotation, with the previous
// one; a changed body, another secret or an old timestamp do not.
func TestSignaturesVerifyWithTheStandardWebhooksLibrary(t *testing.T) {
	current, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	previous, _ := webhook.NewSecret()
	other, _ := webhook.NewSecret()
	body := []byte(`{"id":"msg_1","type":"photo.uploaded","created_at":"2026-05-12T15:23:11Z","data":{}}`)
	now := time.Now()
	h, err := webhook.Headers("msg_1", now, body, current, previous)
	if err != nil {
		t.Fatal(err)
	}
	headers := http.Header{}
	for k, v := range h {
		headers.Set(k, v)
	}
	verify := func(secret string, payload []byte, hdr http.Header) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatalf("library refuses our secret %q: %v", secret[:10], err)
		}
		return wh.Verify(payload, hdr)
	}
	if err := verify(current, body, headers); err != nil {
		t.Fatalf("current secret: %v", err)
	}
	if err := verify(previous, body, headers); err != nil {
		t.Fatalf("previous secret during the grace period: %v", err)
	}
	if err := verify(other, body, headers); err == nil {
		t.Fatal("a signature verified with an unrelated secret")
	}
	if err := verify(current, append([]byte(nil), append(body[:len(body)-1], ' ', '}')...), headers); err == nil {
		t.Fatal("a changed body verified")
	}
	old, _ := webhook.Headers("msg_1", now.Add(-time.Hour), body, current)
	oldHeaders := http.Header{}
	for k, v := range old {
		oldHeaders.Set(k, v)
	}
	if err := verify(current, body, oldHeaders); err == nil {
		t.Fatal("an hour-old timestamp verified (replays must be refused)")
	}
}
