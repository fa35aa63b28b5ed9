package server

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/server/webhook"
	"github.com/gallerist/gallerist/storage"
)

// CreateWebhookRequest is the body of POST /api/v1/webhooks.
type CreateWebhookRequest struct {
	URL         string   `json:"url" required:"true" format:"uri" example:"https://hooks.example.com/gallerist"`
	Events      []string `json:"events" required:"true" minItems:"1" items.enum:"photo.uploaded,photo.deleted,event.created,event.archived,sync.completed,sync.failed,*" description:"Announcement types to receive; \"*\" for all."`
	Description string   `json:"description,omitempty" maxLength:"500"`
}

// UpdateWebhookRequest is the body of PATCH /api/v1/webhooks/{webhook_id}.
type UpdateWebhookRequest struct {
	WebhookID   int64     `path:"webhook_id" json:"-"`
	URL         *string   `json:"url,omitempty" format:"uri"`
	Events      *[]string `json:"events,omitempty" items.enum:"photo.uploaded,photo.deleted,event.created,event.archived,sync.completed,sync.failed,*"`
	Description *string   `json:"description,omitempty" maxLength:"500"`
	Enabled     *bool     `json:"enabled,omitempty" description:"true re-enables a receiver that was disabled (by 410 Gone or repeated failures) and clears its failure count."`
}

// WebhookPathRequest names a webhook receiver.
type WebhookPathRequest struct {
	WebhookID int64 `path:"webhook_id" minimum:"1"`
}

// DeliveryPathRequest names a delivery of a receiver.
type DeliveryPathRequest struct {
	WebhookID  int64 `path:"webhook_id" minimum:"1"`
	DeliveryID int64 `path:"delivery_id" minimum:"1"`
}

// ListDeliveriesRequest is the query of the deliveries list.
type ListDeliveriesRequest struct {
	WebhookID int64  `path:"webhook_id" minimum:"1"`
	Status    string `query:"status" enum:"pending,succeeded,failed"`
	Limit     int    `query:"limit" default:"50" minimum:"1" maximum:"200"`
	Offset    int    `query:"offset" default:"0" minimum:"0"`
}

// WebhookResponse describes a receiver (never its secret).
type WebhookResponse struct {
	ID                  int64      `json:"id" required:"true"`
	URL                 string     `json:"url" required:"true"`
	Description         string     `json:"description" required:"true"`
	Events              []string   `json:"events" required:"true"`
	Enabled             bool       `json:"enabled" required:"true"`
	DisabledReason      string     `json:"disabled_reason,omitempty" description:"Why the receiver was switched off: 410 Gone, repeated failures, or an admin."`
	DisabledAt          *time.Time `json:"disabled_at,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures" required:"true"`
	CreatedAt           time.Time  `json:"created_at" required:"true"`
	UpdatedAt           time.Time  `json:"updated_at" required:"true"`
}

// CreatedWebhookResponse is a new receiver with its signing secret, shown this once.
type CreatedWebhookResponse struct {
	WebhookResponse
	Secret string `json:"secret" required:"true" description:"whsec_...: verifies webhook-signature. Shown only now."`
}

// RotateSecretResponse is a receiver's new secret, shown this once.
type RotateSecretResponse struct {
	Secret                   string    `json:"secret" required:"true"`
	PreviousSecretValidUntil time.Time `json:"previous_secret_valid_until" required:"true" description:"Until then deliveries carry signatures with both secrets."`
}

// WebhookListResponse lists receivers.
type WebhookListResponse struct {
	Items []WebhookResponse `json:"items" required:"true"`
	Total int               `json:"total" required:"true"`
}

// DeliveryResponse describes one announcement on its way to one receiver.
type DeliveryResponse struct {
	ID             int64             `json:"id" required:"true"`
	WebhookID      int64             `json:"webhook_id" required:"true"`
	MessageID      string            `json:"message_id" required:"true" description:"The webhook-id header and the payload's id."`
	Type           string            `json:"type" required:"true"`
	Status         string            `json:"status" required:"true" enum:"pending,succeeded,failed"`
	Attempts       int               `json:"attempts" required:"true"`
	LastStatusCode *int              `json:"last_status_code"`
	LastError      string            `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time        `json:"next_attempt_at,omitempty"`
	CreatedAt      time.Time         `json:"created_at" required:"true"`
	UpdatedAt      time.Time         `json:"updated_at" required:"true"`
	AttemptLog     []AttemptResponse `json:"attempt_log,omitempty" description:"Every try, oldest first (on GET of one delivery)."`
	Payload        any               `json:"payload,omitempty" description:"The body sent (on GET of one delivery)."`
}

// AttemptResponse is one HTTP try of a delivery.
type AttemptResponse struct {
	AttemptedAt  time.Time `json:"attempted_at" required:"true"`
	StatusCode   *int      `json:"status_code"`
	LatencyMS    int64     `json:"latency_ms" required:"true"`
	Error        string    `json:"error,omitempty"`
	ResponseBody string    `json:"response_body,omitempty" description:"The receiver's answer, first 2 KB."`
}

// DeliveryListResponse is a page of deliveries, newest first.
type DeliveryListResponse struct {
	Items  []DeliveryResponse `json:"items" required:"true"`
	Total  int                `json:"total" required:"true"`
	Limit  int                `json:"limit" required:"true"`
	Offset int                `json:"offset" required:"true"`
}

func webhookResponse(w *storage.WebhookEndpoint) WebhookResponse {
	return WebhookResponse{ID: w.ID, URL: w.URL, Description: w.Description, Events: w.Events, Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, DisabledAt: w.DisabledAt, ConsecutiveFailures: w.ConsecutiveFailures,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

func deliveryResponse(d *storage.WebhookDelivery) DeliveryResponse {
	return DeliveryResponse{ID: d.ID, WebhookID: d.EndpointID, MessageID: d.EventID, Type: d.EventType, Status: d.Status,
		Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: d.LastError, NextAttemptAt: d.NextAttemptAt,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func validateEvents(events []string) ([]string, error) {
	var out []string
	for _, e := range events {
		e = strings.TrimSpace(e)
		if e != "*" && !slices.Contains(webhook.Types, e) {
			return nil, invalidParam("events", "%q is not an announcement type (%s, or *)", e, strings.Join(webhook.Types, ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, invalidParam("events", "list at least one announcement type, or *")
	}
	return out, nil
}

func (s *Server) checkWebhookURL(c echo.Context, raw string) error {
	if len(raw) > 2048 {
		return invalidParam("url", "must be at most 2048 characters")
	}
	if err := s.guard.CheckURL(c.Request().Context(), raw); err != nil {
		return apiError("url_not_allowed", "%s", strings.TrimPrefix(err.Error(), webhook.ErrURLNotAllowed.Error()+": ")).
			withDetails("url", raw).withCause(err)
	}
	return nil
}

func (s *Server) createWebhook(c echo.Context) error {
	var req CreateWebhookRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := s.checkWebhookURL(c, strings.TrimSpace(req.URL)); err != nil {
		return err
	}
	events, err := validateEvents(req.Events)
	if err != nil {
		return err
	}
	if len(req.Description) > 500 {
		return invalidParam("description", "must be at most 500 characters")
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	w := &storage.WebhookEndpoint{URL: strings.TrimSpace(req.URL), Description: req.Description, Events: events, Secret: secret}
	if err := s.db.CreateWebhookEndpoint(c.Request().Context(), w); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, CreatedWebhookResponse{WebhookResponse: webhookResponse(w), Secret: secret})
}

func (s *Server) listWebhooks(c echo.Context) error {
	list, err := s.db.FindWebhookEndpoints(c.Request().Context())
	if err != nil {
		return err
	}
	out := WebhookListResponse{Items: []WebhookResponse{}, Total: len(list)}
	for _, w := range list {
		out.Items = append(out.Items, webhookResponse(w))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) findWebhook(c echo.Context) (*storage.WebhookEndpoint, error) {
	id, err := pathID(c, "webhook_id")
	if err != nil {
		return nil, err
	}
	w, err := s.db.FindWebhookEndpoint(c.Request().Context(), id)
	if err != nil {
		return nil, notFound(err, "webhook_not_found", "no webhook %d", id)
	}
	return w, nil
}

func (s *Server) getWebhook(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, webhookResponse(w))
}

func (s *Server) updateWebhook(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	var req UpdateWebhookRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	u := storage.WebhookEndpointUpdate{Description: req.Description, Enabled: req.Enabled}
	if req.URL != nil {
		v := strings.TrimSpace(*req.URL)
		if err := s.checkWebhookURL(c, v); err != nil {
			return err
		}
		u.URL = &v
	}
	if req.Events != nil {
		events, err := validateEvents(*req.Events)
		if err != nil {
			return err
		}
		u.Events = &events
	}
	if req.Description != nil && len(*req.Description) > 500 {
		return invalidParam("description", "must be at most 500 characters")
	}
	updated, err := s.db.UpdateWebhookEndpoint(c.Request().Context(), w.ID, u)
	if err != nil {
		return notFound(err, "webhook_not_found", "no webhook %d", w.ID)
	}
	return c.JSON(http.StatusOK, webhookResponse(updated))
}

func (s *Server) deleteWebhook(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	if err := s.db.DeleteWebhookEndpoint(c.Request().Context(), w.ID); err != nil {
		return notFound(err, "webhook_not_found", "no webhook %d", w.ID)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) rotateWebhookSecret(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	until := time.Now().Add(s.cfg.WebhookSecretGrace).UTC()
	if err := s.db.RotateWebhookSecret(c.Request().Context(), w.ID, secret, until); err != nil {
		return notFound(err, "webhook_not_found", "no webhook %d", w.ID)
	}
	return c.JSON(http.StatusOK, RotateSecretResponse{Secret: secret, PreviousSecretValidUntil: until})
}

func (s *Server) testWebhook(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	id, err := s.db.SendWebhookTest(c.Request().Context(), w.ID, storage.Announcement{Type: webhook.TypeTest,
		Data: webhook.TestData{Message: "A test from Gallerist: this receiver is set up."}})
	if errors.Is(err, storage.ErrConflict) {
		return apiError("webhook_disabled", "webhook %d is disabled (%s); enable it first", w.ID, w.DisabledReason)
	}
	if err != nil {
		return notFound(err, "webhook_not_found", "no webhook %d", w.ID)
	}
	s.queue.Notify()
	d, err := s.db.FindWebhookDelivery(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, deliveryResponse(d))
}

func (s *Server) listDeliveries(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	limit, offset, err := pageParams(c)
	if err != nil {
		return err
	}
	var status *string
	if v := c.QueryParam("status"); v != "" {
		if v != storage.DeliveryPending && v != storage.DeliverySucceeded && v != storage.DeliveryFailed {
			return invalidParam("status", "must be pending, succeeded or failed")
		}
		status = &v
	}
	list, total, err := s.db.FindWebhookDeliveries(c.Request().Context(), w.ID, status, limit, offset)
	if err != nil {
		return err
	}
	out := DeliveryListResponse{Items: []DeliveryResponse{}, Total: total, Limit: limit, Offset: offset}
	for _, d := range list {
		out.Items = append(out.Items, deliveryResponse(d))
	}
	return c.JSON(http.StatusOK, out)
}

// findDelivery loads the :delivery_id of the :webhook_id receiver.
func (s *Server) findDelivery(c echo.Context) (*storage.WebhookDelivery, error) {
	w, err := s.findWebhook(c)
	if err != nil {
		return nil, err
	}
	id, err := pathID(c, "delivery_id")
	if err != nil {
		return nil, err
	}
	d, err := s.db.FindWebhookDelivery(c.Request().Context(), id)
	if err != nil {
		return nil, notFound(err, "delivery_not_found", "no delivery %d", id)
	}
	if d.EndpointID != w.ID {
		return nil, apiError("delivery_not_found", "webhook %d has no delivery %d", w.ID, id)
	}
	return d, nil
}

func (s *Server) getDelivery(c echo.Context) error {
	d, err := s.findDelivery(c)
	if err != nil {
		return err
	}
	attempts, err := s.db.FindWebhookAttempts(c.Request().Context(), d.ID)
	if err != nil {
		return err
	}
	out := deliveryResponse(d)
	out.AttemptLog = []AttemptResponse{}
	for _, a := range attempts {
		out.AttemptLog = append(out.AttemptLog, AttemptResponse{AttemptedAt: a.AttemptedAt, StatusCode: a.StatusCode,
			LatencyMS: a.LatencyMS, Error: a.Error, ResponseBody: a.ResponseBody})
	}
	out.Payload = rawJSON(d.Body)
	return c.JSON(http.StatusOK, out)
}

func (s *Server) redeliverWebhook(c echo.Context) error {
	d, err := s.findDelivery(c)
	if err != nil {
		return err
	}
	if w, err := s.db.FindWebhookEndpoint(c.Request().Context(), d.EndpointID); err == nil && !w.Enabled {
		return apiError("webhook_disabled", "webhook %d is disabled (%s); enable it first", w.ID, w.DisabledReason)
	}
	if err := s.db.RedeliverWebhook(c.Request().Context(), d.ID); err != nil {
		return notFound(err, "delivery_not_found", "no delivery %d", d.ID)
	}
	s.queue.Notify()
	d, err = s.db.FindWebhookDelivery(c.Request().Context(), d.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, deliveryResponse(d))
}

// rawJSON embeds stored JSON as is.
type rawJSON string

// MarshalJSON implements json.Marshaler.
func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// RedeliverFailedResponse tells how many deliveries were sent again.
type RedeliverFailedResponse struct {
	Redelivered int `json:"redelivered" required:"true"`
}

// redeliverFailed sends every failed delivery of a receiver again (after it was fixed
// and enabled again), so that nothing it missed stays missed.
func (s *Server) redeliverFailed(c echo.Context) error {
	w, err := s.findWebhook(c)
	if err != nil {
		return err
	}
	if !w.Enabled {
		return apiError("webhook_disabled", "webhook %d is disabled (%s); enable it first", w.ID, w.DisabledReason)
	}
	n, err := s.db.RedeliverFailedWebhooks(c.Request().Context(), w.ID)
	if err != nil {
		return err
	}
	s.queue.Notify()
	return c.JSON(http.StatusAccepted, RedeliverFailedResponse{Redelivered: n})
}
