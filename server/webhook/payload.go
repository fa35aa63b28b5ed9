package webhook

import (
	"time"

	"github.com/gallerist/gallerist/storage"
)

// Announcement types.
const (
	TypePhotoUploaded = "photo.uploaded"
	TypePhotoDeleted  = "photo.deleted"
	TypeEventCreated  = "event.created"
	TypeEventArchived = "event.archived"
	TypeTest          = "webhook.test"
	TypeSyncCompleted = "sync.completed"
	TypeSyncFailed    = "sync.failed"
)

// Types lists the announcement types a receiver may subscribe to ("*" takes all).
var Types = []string{TypePhotoUploaded, TypePhotoDeleted, TypeEventCreated, TypeEventArchived, TypeSyncCompleted, TypeSyncFailed}

// Photo sources of photo.uploaded.
const (
	SourceMultipart = "multipart"
	SourceChunked   = "chunked"
)

// EventData describes the event (gallery) an announcement is about.
type EventData struct {
	ID   int64   `json:"id" required:"true"`
	Slug string  `json:"slug" required:"true"`
	Name string  `json:"name" required:"true"`
	Date *string `json:"date" format:"date"`
}

// PhotoData describes the photo an announcement is about.
type PhotoData struct {
	ID           int64   `json:"id" required:"true"`
	Filename     string  `json:"filename" required:"true" description:"The name the client uploaded."`
	URL          string  `json:"url" required:"true"`
	ThumbnailURL string  `json:"thumbnail_url" required:"true"`
	MediaType    string  `json:"media_type" required:"true" enum:"image,video"`
	MIMEType     string  `json:"mime_type" required:"true"`
	Size         int64   `json:"size" required:"true"`
	SHA256       string  `json:"sha256" required:"true"`
	Width        *int    `json:"width"`
	Height       *int    `json:"height"`
	CapturedAt   *string `json:"captured_at" format:"date-time"`
	Source       string  `json:"source,omitempty" enum:"multipart,chunked" description:"photo.uploaded only: how the file arrived."`
}

// PhotoEventData is the data of photo.uploaded and photo.deleted.
type PhotoEventData struct {
	Event EventData `json:"event" required:"true"`
	Photo PhotoData `json:"photo" required:"true"`
}

// EventOnlyData is the data of event.created and event.archived.
type EventOnlyData struct {
	Event EventData `json:"event" required:"true"`
}

// TestData is the data of webhook.test.
type TestData struct {
	Message string `json:"message" required:"true"`
}

// SyncFailure is one photo a connector sync could not push.
type SyncFailure struct {
	PhotoID int64  `json:"photo_id" required:"true"`
	Error   string `json:"error" required:"true"`
}

// SyncData describes a finished connector sync.
type SyncData struct {
	ID          int64         `json:"id" required:"true"`
	LinkID      int64         `json:"link_id" required:"true"`
	ConnectorID int64         `json:"connector_id" required:"true"`
	Platform    string        `json:"platform" required:"true" enum:"buildpass,procore,brilliant_directories"`
	EventID     int64         `json:"event_id" required:"true"`
	Kind        string        `json:"kind" required:"true" enum:"sync,archive"`
	Status      string        `json:"status" required:"true" enum:"succeeded,partial,failed"`
	Added       int           `json:"added" required:"true"`
	Skipped     int           `json:"skipped" required:"true"`
	Failed      int           `json:"failed" required:"true"`
	Removed     int           `json:"removed" required:"true"`
	Failures    []SyncFailure `json:"failures" required:"true"`
	Error       string        `json:"error,omitempty" description:"sync.failed: why the sync stopped."`
}

// SyncEventData is the data of sync.completed and sync.failed.
type SyncEventData struct {
	Sync SyncData `json:"sync" required:"true"`
}

// SyncCompletedPayload is the body of a sync.completed delivery (status succeeded or partial).
type SyncCompletedPayload struct {
	ID        string        `json:"id" required:"true"`
	Type      string        `json:"type" required:"true" const:"sync.completed"`
	CreatedAt time.Time     `json:"created_at" required:"true"`
	Data      SyncEventData `json:"data" required:"true"`
}

// SyncFailedPayload is the body of a sync.failed delivery.
type SyncFailedPayload struct {
	ID        string        `json:"id" required:"true"`
	Type      string        `json:"type" required:"true" const:"sync.failed"`
	CreatedAt time.Time     `json:"created_at" required:"true"`
	Data      SyncEventData `json:"data" required:"true"`
}

// PhotoUploadedPayload is the body of a photo.uploaded delivery.
type PhotoUploadedPayload struct {
	ID        string         `json:"id" required:"true" description:"The announcement id, equal to the webhook-id header; the same on every retry."`
	Type      string         `json:"type" required:"true" const:"photo.uploaded"`
	CreatedAt time.Time      `json:"created_at" required:"true"`
	Data      PhotoEventData `json:"data" required:"true"`
}

// PhotoDeletedPayload is the body of a photo.deleted delivery.
type PhotoDeletedPayload struct {
	ID        string         `json:"id" required:"true"`
	Type      string         `json:"type" required:"true" const:"photo.deleted"`
	CreatedAt time.Time      `json:"created_at" required:"true"`
	Data      PhotoEventData `json:"data" required:"true"`
}

// EventCreatedPayload is the body of an event.created delivery.
type EventCreatedPayload struct {
	ID        string        `json:"id" required:"true"`
	Type      string        `json:"type" required:"true" const:"event.created"`
	CreatedAt time.Time     `json:"created_at" required:"true"`
	Data      EventOnlyData `json:"data" required:"true"`
}

// EventArchivedPayload is the body of an event.archived delivery.
type EventArchivedPayload struct {
	ID        string        `json:"id" required:"true"`
	Type      string        `json:"type" required:"true" const:"event.archived"`
	CreatedAt time.Time     `json:"created_at" required:"true"`
	Data      EventOnlyData `json:"data" required:"true"`
}

// TestPayload is the body of a webhook.test delivery.
type TestPayload struct {
	ID        string    `json:"id" required:"true"`
	Type      string    `json:"type" required:"true" const:"webhook.test"`
	CreatedAt time.Time `json:"created_at" required:"true"`
	Data      TestData  `json:"data" required:"true"`
}

// Announcer gives storage the payload of each change (storage.Announcer).
type Announcer struct{}

func eventData(e *storage.Event) EventData {
	return EventData{ID: e.ID, Slug: e.Slug, Name: e.Name, Date: e.Date}
}

func photoData(e *storage.Event, p *storage.Photo, source string) PhotoData {
	d := PhotoData{ID: p.ID, Filename: p.OriginalName, URL: "/photos/" + e.Slug + "/" + p.Filename,
		ThumbnailURL: "/thumbnails/" + e.Slug + "/" + p.Stem + ".jpg", MediaType: p.MediaType, MIMEType: p.MIMEType,
		Size: p.Size, SHA256: p.SHA256, Width: p.Width, Height: p.Height, Source: source}
	if p.CapturedAt != nil {
		s := p.CapturedAt.Format(time.RFC3339)
		d.CapturedAt = &s
	}
	return d
}

// PhotoUploaded implements storage.Announcer.
func (Announcer) PhotoUploaded(e *storage.Event, p *storage.Photo, source string) *storage.Announcement {
	return &storage.Announcement{Type: TypePhotoUploaded, Data: PhotoEventData{Event: eventData(e), Photo: photoData(e, p, source)}}
}

// PhotoDeleted implements storage.Announcer.
func (Announcer) PhotoDeleted(e *storage.Event, p *storage.Photo) *storage.Announcement {
	return &storage.Announcement{Type: TypePhotoDeleted, Data: PhotoEventData{Event: eventData(e), Photo: photoData(e, p, "")}}
}

// EventCreated implements storage.Announcer.
func (Announcer) EventCreated(e *storage.Event) *storage.Announcement {
	return &storage.Announcement{Type: TypeEventCreated, Data: EventOnlyData{Event: eventData(e)}}
}

// EventArchived implements storage.Announcer.
func (Announcer) EventArchived(e *storage.Event) *storage.Announcement {
	return &storage.Announcement{Type: TypeEventArchived, Data: EventOnlyData{Event: eventData(e)}}
}

// DeliveryHeaders are the Standard Webhooks headers every delivery carries.
type DeliveryHeaders struct {
	WebhookID        string `header:"webhook-id" json:"-" required:"true" description:"The announcement id; the same on every retry of it."`
	WebhookTimestamp string `header:"webhook-timestamp" json:"-" required:"true" description:"Unix seconds when this attempt was signed; reject old ones to stop replays."`
	WebhookSignature string `header:"webhook-signature" json:"-" required:"true" description:"Space-separated v1,<base64 HMAC-SHA256 of id.timestamp.body> signatures, one per valid secret."`
}
