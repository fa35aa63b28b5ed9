// Package webhook announces changes to receivers over HTTP, never losing one.
//
// Announcements are written by storage in the transaction of the change they announce
// (the outbox), with one delivery and one queue job per subscribed receiver; this package
// gives them their payload shapes (Announcer), signs them per the Standard Webhooks
// scheme (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256>),
// and sends them from the "webhook.deliver" job: POST with a timeout, no redirects, a
// small cap on the response kept, retries on a schedule, 410 Gone disabling the receiver.
// Guard refuses receivers on loopback, private, link-local and metadata addresses, at
// creation and again when each request dials (so DNS rebinding cannot slip through),
// unless the operator allows them.
//
// It must not know about HTTP routing; the server wires the job and the API.
package webhook
