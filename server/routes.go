package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// route is one endpoint: the single place where its path, scope, types, answers and
// handler are declared. The same table registers the Echo routes and builds openapi.json,
// so no endpoint exists without documentation or a scope.
type route struct {
	Method  string
	Path    string // Echo form: /api/v1/events/:id
	Scope   Scope  // required scope; ScopePublic for open routes
	ID      string // OpenAPI operationId
	Summary string
	Tag     string
	// Request and Response are prototypes of the types the handler binds and answers;
	// nil when there is no body.
	Request  any
	Response any
	Status   int    // success status
	Produces string // content type of a non-JSON success body (files, archives)
	Errors   []string
	Handler  func(*Server, echo.Context) error
	Hidden   bool // not in the OpenAPI document
	// Guest routes also accept a guest of the gallery named by :slug (a gallery token or
	// cookie, or the share key of a gallery without a password) instead of an API token.
	Guest bool
}

// authErrors are the codes every scoped route can answer.
var authErrors = []string{"missing_token", "invalid_token", "token_revoked", "token_expired", "insufficient_scope", "csrf_failed"}

// routes is the route table.
func routes() []route {
	return []route{
		// System
		{Method: http.MethodGet, Path: "/healthz", Scope: ScopePublic, ID: "healthz", Summary: "Liveness: 200 while the process runs", Tag: "System",
			Response: new(HealthResponse), Status: 200, Handler: (*Server).healthz},
		{Method: http.MethodGet, Path: "/readyz", Scope: ScopePublic, ID: "readyz", Summary: "Readiness: 200 once the database and data folder are usable", Tag: "System",
			Response: new(HealthResponse), Status: 200, Errors: []string{"unavailable"}, Handler: (*Server).readyz},
		{Method: http.MethodGet, Path: "/metrics", Scope: ScopePublic, ID: "metrics", Summary: "Prometheus metrics", Tag: "System",
			Status: 200, Produces: "text/plain", Handler: (*Server).serveMetrics},
		{Method: http.MethodGet, Path: "/api/openapi.json", Scope: ScopePublic, ID: "openapi", Summary: "This OpenAPI document", Tag: "System",
			Status: 200, Produces: "application/json", Handler: (*Server).serveOpenAPI},
		{Method: http.MethodGet, Path: "/api/docs", Scope: ScopePublic, ID: "apiDocs", Summary: "Interactive API reference", Tag: "System",
			Status: 200, Produces: "text/html", Handler: (*Server).serveAPIDocs, Hidden: true},
		{Method: http.MethodGet, Path: "/api/v1/settings", Scope: ScopeAdmin, ID: "getSettings", Summary: "Upload settings in force", Tag: "Settings",
			Response: new(SettingsResponse), Status: 200, Handler: (*Server).getSettings},
		{Method: http.MethodPatch, Path: "/api/v1/settings", Scope: ScopeAdmin, ID: "updateSettings", Summary: "Change upload settings", Tag: "Settings",
			Request: new(UpdateSettingsRequest), Response: new(SettingsResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter"}, Handler: (*Server).updateSettings},

		// Web sessions (server/session.go): the browser UI signs in with a cookie.
		{Method: http.MethodPost, Path: "/api/v1/session", Scope: ScopePublic, ID: "login", Summary: "Sign in to the web UI (sets the gallerist_session cookie)", Tag: "Sessions",
			Request: new(LoginRequest), Response: new(SessionResponse), Status: 200, Errors: []string{"invalid_request", "invalid_credentials", "too_many_attempts", "csrf_failed"}, Handler: (*Server).login},
		{Method: http.MethodGet, Path: "/api/v1/session", Scope: ScopePublic, ID: "getSession", Summary: "The signed-in admin and the CSRF token of the session cookie", Tag: "Sessions",
			Response: new(SessionResponse), Status: 200, Errors: []string{"session_required"}, Handler: (*Server).getSession},
		{Method: http.MethodDelete, Path: "/api/v1/session", Scope: ScopePublic, ID: "logout", Summary: "Sign out (needs X-CSRF-Token)", Tag: "Sessions",
			Status: 204, Errors: []string{"csrf_failed"}, Handler: (*Server).logout},
		{Method: http.MethodPost, Path: "/api/v1/setup", Scope: ScopePublic, ID: "setup", Summary: "Create the first admin account and sign in (only while none exists)", Tag: "Sessions",
			Request: new(LoginRequest), Response: new(SessionResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter", "setup_done", "csrf_failed"}, Handler: (*Server).setup},

		// Tokens
		{Method: http.MethodGet, Path: "/api/v1/tokens", Scope: ScopeAdmin, ID: "listTokens", Summary: "List API tokens", Tag: "Tokens",
			Response: new(TokenListResponse), Status: 200, Handler: (*Server).listTokens},
		{Method: http.MethodPost, Path: "/api/v1/tokens", Scope: ScopeAdmin, ID: "createToken", Summary: "Create an API token (the secret is shown once)", Tag: "Tokens",
			Request: new(CreateTokenRequest), Response: new(CreatedTokenResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter"}, Handler: (*Server).createToken},
		{Method: http.MethodDelete, Path: "/api/v1/tokens/:token_id", Scope: ScopeAdmin, ID: "revokeToken", Summary: "Revoke an API token", Tag: "Tokens",
			Request: new(TokenPathRequest), Status: 204, Errors: []string{"invalid_parameter", "token_not_found"}, Handler: (*Server).revokeToken},

		// Browser UI (server/pages.go): HTML pages and their static files, not in the
		// OpenAPI document. Admin pages check the web session themselves and send the
		// browser to /login without one; the gallery page asks for the password.
		{Method: http.MethodGet, Path: "/", Scope: ScopePublic, ID: "pageRoot", Summary: "Redirect to /admin", Tag: "UI", Status: 303, Hidden: true, Handler: (*Server).rootPage},
		{Method: http.MethodGet, Path: "/static/*", Scope: ScopePublic, ID: "pageStatic", Summary: "UI static files", Tag: "UI", Status: 200, Hidden: true, Handler: (*Server).serveStatic},
		{Method: http.MethodHead, Path: "/static/*", Scope: ScopePublic, ID: "pageStaticHead", Summary: "UI static files", Tag: "UI", Status: 200, Hidden: true, Handler: (*Server).serveStatic},
		{Method: http.MethodGet, Path: "/login", Scope: ScopePublic, ID: "pageLogin", Summary: "Sign-in page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).loginPage},
		{Method: http.MethodGet, Path: "/setup", Scope: ScopePublic, ID: "pageSetup", Summary: "First-run page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).setupPage},
		{Method: http.MethodGet, Path: "/admin", Scope: ScopePublic, ID: "pageEvents", Summary: "Events page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).adminEventsPage},
		{Method: http.MethodGet, Path: "/admin/events/:id", Scope: ScopePublic, ID: "pageEvent", Summary: "Event page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).adminEventPage},
		{Method: http.MethodGet, Path: "/admin/events/:id/edit", Scope: ScopePublic, ID: "pageEventEdit", Summary: "Event settings page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).adminEditPage},
		{Method: http.MethodGet, Path: "/admin/settings", Scope: ScopePublic, ID: "pageSettings", Summary: "Settings page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).adminSettingsPage},
		{Method: http.MethodGet, Path: "/g/:slug", Scope: ScopePublic, ID: "pageGallery", Summary: "Guest gallery page", Tag: "UI", Status: 200, Produces: "text/html", Hidden: true, Handler: (*Server).galleryPage},

		// Connectors
		{Method: http.MethodPost, Path: "/api/v1/connectors", Scope: ScopeConnectorsManage, ID: "createConnector", Summary: "Add a connector target: a platform account and destination (credentials are stored encrypted, never returned)", Tag: "Connectors",
			Request: new(CreateConnectorRequest), Response: new(ConnectorResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter", "connector_key_missing"}, Handler: (*Server).createConnector},
		{Method: http.MethodGet, Path: "/api/v1/connectors", Scope: ScopeConnectorsManage, ID: "listConnectors", Summary: "List connector targets", Tag: "Connectors",
			Response: new(ConnectorListResponse), Status: 200, Handler: (*Server).listConnectors},
		{Method: http.MethodGet, Path: "/api/v1/connectors/:connector_id", Scope: ScopeConnectorsManage, ID: "getConnector", Summary: "Get a connector target", Tag: "Connectors",
			Request: new(ConnectorPathRequest), Response: new(ConnectorResponse), Status: 200, Errors: []string{"invalid_parameter", "connector_not_found"}, Handler: (*Server).getConnector},
		{Method: http.MethodPatch, Path: "/api/v1/connectors/:connector_id", Scope: ScopeConnectorsManage, ID: "updateConnector", Summary: "Change a connector's name, destination or credentials", Tag: "Connectors",
			Request: new(UpdateConnectorRequest), Response: new(ConnectorResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "connector_not_found", "connector_key_missing", "connector_in_use"}, Handler: (*Server).updateConnector},
		{Method: http.MethodDelete, Path: "/api/v1/connectors/:connector_id", Scope: ScopeConnectorsManage, ID: "deleteConnector", Summary: "Delete a connector no event is linked to", Tag: "Connectors",
			Request: new(ConnectorPathRequest), Status: 204, Errors: []string{"invalid_parameter", "connector_not_found", "connector_in_use"}, Handler: (*Server).deleteConnector},
		{Method: http.MethodPost, Path: "/api/v1/connectors/:connector_id/test", Scope: ScopeConnectorsManage, ID: "testConnector", Summary: "Check the credentials and destination with the platform", Tag: "Connectors",
			Request: new(ConnectorPathRequest), Response: new(ConnectorTestResponse), Status: 200, Errors: []string{"invalid_parameter", "connector_not_found", "connector_check_failed", "connector_key_missing"}, Handler: (*Server).testConnector},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/connectors", Scope: ScopeConnectorsManage, ID: "createLink", Summary: "Link an event to a connector", Tag: "Connectors",
			Request: new(CreateLinkRequest), Response: new(LinkResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "connector_not_found", "link_exists", "event_archived"}, Handler: (*Server).createLink},
		{Method: http.MethodGet, Path: "/api/v1/events/:id/connectors", Scope: ScopeConnectorsManage, ID: "listLinks", Summary: "An event's connector links", Tag: "Connectors",
			Request: new(EventPathRequest), Response: new(LinkListResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).listLinks},
		{Method: http.MethodPatch, Path: "/api/v1/events/:id/connectors/:link_id", Scope: ScopeConnectorsManage, ID: "updateLink", Summary: "Turn automatic syncs of a link on or off", Tag: "Connectors",
			Request: new(UpdateLinkRequest), Response: new(LinkResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "link_not_found"}, Handler: (*Server).updateLink},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/connectors/:link_id/archive", Scope: ScopeConnectorsManage, ID: "archiveLink", Summary: "Remove from the platform everything the link made (also done when the event is archived)", Tag: "Connectors",
			Request: new(LinkPathRequest), Response: new(SyncResponse), Status: 202, Errors: []string{"invalid_parameter", "event_not_found", "link_not_found"}, Handler: (*Server).archiveLink},
		{Method: http.MethodDelete, Path: "/api/v1/events/:id/connectors/:link_id", Scope: ScopeConnectorsManage, ID: "deleteLink", Summary: "Forget an archived link (or, with keep_remote=true, one whose photos stay on the platform)", Tag: "Connectors",
			Request: new(LinkPathRequest), Status: 204, Errors: []string{"invalid_parameter", "event_not_found", "link_not_found", "link_active"}, Handler: (*Server).deleteLink},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/syncs", Scope: ScopeConnectorsManage, ID: "startSyncs", Summary: "Sync the event to its connectors (joins a sync already waiting)", Tag: "Connectors",
			Request: new(StartSyncRequest), Response: new(SyncListResponse), Status: 202, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "link_not_found", "link_archived", "no_links", "event_archived"}, Handler: (*Server).startSyncs},
		{Method: http.MethodGet, Path: "/api/v1/events/:id/syncs", Scope: ScopeConnectorsManage, ID: "listSyncs", Summary: "The event's syncs, newest first, with counts and per-photo failures", Tag: "Connectors",
			Request: new(ListSyncsRequest), Response: new(SyncListResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).listSyncs},
		{Method: http.MethodGet, Path: "/connector-media/:token/:name", Scope: ScopePublic, ID: "connectorMedia", Summary: "A photo served to a platform that fetches it by URL (Brilliant Directories); the token is unguessable and revoked with the photo", Tag: "Connectors",
			Request: new(ConnectorMediaRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"file_not_found", "variant_not_ready"}, Handler: (*Server).serveConnectorMedia},

		// Webhooks
		{Method: http.MethodPost, Path: "/api/v1/webhooks", Scope: ScopeWebhooksManage, ID: "createWebhook", Summary: "Add a webhook receiver (the secret is shown once)", Tag: "Webhooks",
			Request: new(CreateWebhookRequest), Response: new(CreatedWebhookResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter", "url_not_allowed"}, Handler: (*Server).createWebhook},
		{Method: http.MethodGet, Path: "/api/v1/webhooks", Scope: ScopeWebhooksManage, ID: "listWebhooks", Summary: "List webhook receivers", Tag: "Webhooks",
			Response: new(WebhookListResponse), Status: 200, Handler: (*Server).listWebhooks},
		{Method: http.MethodGet, Path: "/api/v1/webhooks/:webhook_id", Scope: ScopeWebhooksManage, ID: "getWebhook", Summary: "Get a webhook receiver", Tag: "Webhooks",
			Request: new(WebhookPathRequest), Response: new(WebhookResponse), Status: 200, Errors: []string{"invalid_parameter", "webhook_not_found"}, Handler: (*Server).getWebhook},
		{Method: http.MethodPatch, Path: "/api/v1/webhooks/:webhook_id", Scope: ScopeWebhooksManage, ID: "updateWebhook", Summary: "Change a receiver's URL, events, description or enable it again", Tag: "Webhooks",
			Request: new(UpdateWebhookRequest), Response: new(WebhookResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "webhook_not_found", "url_not_allowed"}, Handler: (*Server).updateWebhook},
		{Method: http.MethodDelete, Path: "/api/v1/webhooks/:webhook_id", Scope: ScopeWebhooksManage, ID: "deleteWebhook", Summary: "Delete a webhook receiver and its deliveries", Tag: "Webhooks",
			Request: new(WebhookPathRequest), Status: 204, Errors: []string{"invalid_parameter", "webhook_not_found"}, Handler: (*Server).deleteWebhook},
		{Method: http.MethodPost, Path: "/api/v1/webhooks/:webhook_id/rotate-secret", Scope: ScopeWebhooksManage, ID: "rotateWebhookSecret", Summary: "New signing secret; the old one signs too for a grace period", Tag: "Webhooks",
			Request: new(WebhookPathRequest), Response: new(RotateSecretResponse), Status: 200, Errors: []string{"invalid_parameter", "webhook_not_found"}, Handler: (*Server).rotateWebhookSecret},
		{Method: http.MethodPost, Path: "/api/v1/webhooks/:webhook_id/test", Scope: ScopeWebhooksManage, ID: "testWebhook", Summary: "Send a webhook.test announcement to this receiver", Tag: "Webhooks",
			Request: new(WebhookPathRequest), Response: new(DeliveryResponse), Status: 202, Errors: []string{"invalid_parameter", "webhook_not_found", "webhook_disabled"}, Handler: (*Server).testWebhook},
		{Method: http.MethodGet, Path: "/api/v1/webhooks/:webhook_id/deliveries", Scope: ScopeWebhooksManage, ID: "listDeliveries", Summary: "A receiver's deliveries, newest first", Tag: "Webhooks",
			Request: new(ListDeliveriesRequest), Response: new(DeliveryListResponse), Status: 200, Errors: []string{"invalid_parameter", "webhook_not_found"}, Handler: (*Server).listDeliveries},
		{Method: http.MethodGet, Path: "/api/v1/webhooks/:webhook_id/deliveries/:delivery_id", Scope: ScopeWebhooksManage, ID: "getDelivery", Summary: "One delivery with every attempt and its payload", Tag: "Webhooks",
			Request: new(DeliveryPathRequest), Response: new(DeliveryResponse), Status: 200, Errors: []string{"invalid_parameter", "webhook_not_found", "delivery_not_found"}, Handler: (*Server).getDelivery},
		{Method: http.MethodPost, Path: "/api/v1/webhooks/:webhook_id/deliveries/:delivery_id/redeliver", Scope: ScopeWebhooksManage, ID: "redeliverWebhook", Summary: "Send a delivery again (same webhook-id)", Tag: "Webhooks",
			Request: new(DeliveryPathRequest), Response: new(DeliveryResponse), Status: 202, Errors: []string{"invalid_parameter", "webhook_not_found", "delivery_not_found", "webhook_disabled"}, Handler: (*Server).redeliverWebhook},
		{Method: http.MethodPost, Path: "/api/v1/webhooks/:webhook_id/deliveries/redeliver-failed", Scope: ScopeWebhooksManage, ID: "redeliverFailedWebhooks", Summary: "Send every failed delivery of a receiver again", Tag: "Webhooks",
			Request: new(WebhookPathRequest), Response: new(RedeliverFailedResponse), Status: 202, Errors: []string{"invalid_parameter", "webhook_not_found", "webhook_disabled"}, Handler: (*Server).redeliverFailed},

		// Events
		{Method: http.MethodPost, Path: "/api/v1/events", Scope: ScopeEventsWrite, ID: "createEvent", Summary: "Create an event", Tag: "Events",
			Request: new(CreateEventRequest), Response: new(EventResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter", "slug_taken"}, Handler: (*Server).createEvent},
		{Method: http.MethodGet, Path: "/api/v1/events", Scope: ScopeEventsRead, ID: "listEvents", Summary: "List events", Tag: "Events",
			Request: new(ListEventsRequest), Response: new(EventListResponse), Status: 200, Errors: []string{"invalid_parameter"}, Handler: (*Server).listEvents},
		{Method: http.MethodGet, Path: "/api/v1/events/:id", Scope: ScopeEventsRead, ID: "getEvent", Summary: "Get an event with its counters", Tag: "Events",
			Request: new(EventPathRequest), Response: new(EventResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).getEvent},
		{Method: http.MethodPatch, Path: "/api/v1/events/:id", Scope: ScopeEventsWrite, ID: "updateEvent", Summary: "Change an event", Tag: "Events",
			Request: new(UpdateEventRequest), Response: new(EventResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "slug_taken"}, Handler: (*Server).updateEvent},
		{Method: http.MethodDelete, Path: "/api/v1/events/:id", Scope: ScopeEventsWrite, ID: "deleteEvent", Summary: "Delete an event with all its photos and files", Tag: "Events",
			Request: new(EventPathRequest), Status: 204, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).deleteEvent},
		{Method: http.MethodGet, Path: "/api/v1/events/:id/share-link", Scope: ScopeEventsRead, ID: "getShareLink", Summary: "The event's guest link", Tag: "Events",
			Request: new(EventPathRequest), Response: new(ShareLinkResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).getShareLink},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/share-link/rotate", Scope: ScopeEventsWrite, ID: "rotateShareLink", Summary: "A new guest link; every earlier guest session ends", Tag: "Events",
			Request: new(EventPathRequest), Response: new(ShareLinkResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).rotateShareLink},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/archive", Scope: ScopeEventsWrite, ID: "archiveEvent", Summary: "Archive an event (closed to guests and uploads)", Tag: "Events",
			Request: new(EventPathRequest), Response: new(EventResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).archiveEvent},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/restore", Scope: ScopeEventsWrite, ID: "restoreEvent", Summary: "Restore an archived event", Tag: "Events",
			Request: new(EventPathRequest), Response: new(EventResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).restoreEvent},
		{Method: http.MethodGet, Path: "/api/v1/events/:id/categories", Scope: ScopeEventsRead, ID: "listCategories", Summary: "List an event's categories", Tag: "Events",
			Request: new(EventPathRequest), Response: new(CategoryListResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).listCategories},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/categories", Scope: ScopeEventsWrite, ID: "createCategory", Summary: "Add a category to an event", Tag: "Events",
			Request: new(CreateCategoryRequest), Response: new(CategoryResponse), Status: 201, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "category_exists"}, Handler: (*Server).createCategory},
		{Method: http.MethodPatch, Path: "/api/v1/events/:id/categories/:category_id", Scope: ScopeEventsWrite, ID: "updateCategory", Summary: "Rename or move a category", Tag: "Events",
			Request: new(UpdateCategoryRequest), Response: new(CategoryResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "category_not_found", "category_exists"}, Handler: (*Server).updateCategory},
		{Method: http.MethodDelete, Path: "/api/v1/events/:id/categories/:category_id", Scope: ScopeEventsWrite, ID: "deleteCategory", Summary: "Delete a category (its photos stay, uncategorised)", Tag: "Events",
			Request: new(CategoryPathRequest), Status: 204, Errors: []string{"invalid_parameter", "event_not_found", "category_not_found"}, Handler: (*Server).deleteCategory},

		// Photos
		{Method: http.MethodPost, Path: "/api/v1/events/:id/photos", Scope: ScopePhotosWrite, ID: "uploadPhotos", Summary: "Upload a batch of photos (multipart, < 100 MB)", Tag: "Photos",
			Request: new(UploadPhotosRequest), Response: new(UploadPhotosResponse), Status: 201,
			Errors:  []string{"invalid_parameter", "event_not_found", "event_archived", "category_not_found", "photo_cap_exceeded", "too_many_files", "no_files", "batch_too_large", "unsupported_media_type", "invalid_request", "client_closed_request"},
			Handler: (*Server).uploadPhotos},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/uploads", Scope: ScopePhotosWrite, ID: "createUpload", Summary: "Open a resumable chunked upload (large files, videos)", Tag: "Uploads",
			Request: new(CreateUploadRequest), Response: new(UploadResponse), Status: 201,
			Errors: []string{"invalid_request", "invalid_parameter", "event_not_found", "event_archived", "file_too_large", "photo_cap_exceeded"}, Handler: (*Server).createUpload},
		{Method: http.MethodGet, Path: "/api/v1/uploads/:upload_id", Scope: ScopePhotosWrite, ID: "getUpload", Summary: "Status of an upload, with the chunks received (to resume)", Tag: "Uploads",
			Request: new(UploadPathRequest), Response: new(UploadResponse), Status: 200, Errors: []string{"upload_not_found", "upload_expired"}, Handler: (*Server).getUpload},
		{Method: http.MethodPut, Path: "/api/v1/uploads/:upload_id/chunks/:index", Scope: ScopePhotosWrite, ID: "putChunk", Summary: "Send one chunk (raw bytes, any content type); idempotent", Tag: "Uploads",
			Request: new(PutChunkRequest), Response: new(ChunkResponse), Status: 200,
			Errors:  []string{"upload_not_found", "upload_expired", "upload_closed", "upload_in_progress", "chunk_out_of_range", "chunk_size_mismatch", "length_required", "checksum_mismatch", "invalid_parameter", "client_closed_request"},
			Handler: (*Server).putChunk},
		{Method: http.MethodPost, Path: "/api/v1/uploads/:upload_id/complete", Scope: ScopePhotosWrite, ID: "completeUpload", Summary: "Assemble the chunks and store the file; repeatable", Tag: "Uploads",
			Request: new(UploadPathRequest), Response: new(PhotoResponse), Status: 201,
			Errors: []string{"upload_not_found", "upload_expired", "upload_closed", "upload_in_progress", "missing_chunks", "checksum_mismatch", "duplicate",
				"photo_cap_exceeded", "event_archived", "file_too_large", "file_type_not_allowed", "unreadable_media", "image_too_large"},
			Handler: (*Server).completeUpload},
		{Method: http.MethodDelete, Path: "/api/v1/uploads/:upload_id", Scope: ScopePhotosWrite, ID: "deleteUpload", Summary: "Abort an upload and remove its chunks", Tag: "Uploads",
			Request: new(UploadPathRequest), Status: 204, Errors: []string{"upload_not_found", "upload_expired", "upload_in_progress"}, Handler: (*Server).deleteUpload},
		{Method: http.MethodGet, Path: "/api/v1/events/:id/photos", Scope: ScopePhotosRead, ID: "listPhotos", Summary: "List an event's photos", Tag: "Photos",
			Request: new(ListPhotosRequest), Response: new(PhotoListResponse), Status: 200, Errors: []string{"invalid_parameter", "event_not_found", "category_not_found"}, Handler: (*Server).listPhotos},
		{Method: http.MethodPost, Path: "/api/v1/events/:id/photos/reorder", Scope: ScopePhotosWrite, ID: "reorderPhotos", Summary: "Set the manual order (sort=position_asc)", Tag: "Photos",
			Request: new(ReorderPhotosRequest), Response: new(ReorderPhotosResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "event_not_found"}, Handler: (*Server).reorderPhotos},
		{Method: http.MethodGet, Path: "/api/v1/events/:id/photos/download", Scope: ScopePhotosRead, ID: "downloadPhotosZip", Summary: "Download originals as a streamed ZIP", Tag: "Photos",
			Request: new(DownloadZipRequest), Status: 200, Produces: "application/zip", Errors: []string{"invalid_parameter", "event_not_found"}, Handler: (*Server).downloadZip},
		{Method: http.MethodGet, Path: "/api/v1/photos/:photo_id", Scope: ScopePhotosRead, ID: "getPhoto", Summary: "Get a photo's full metadata", Tag: "Photos",
			Request: new(PhotoPathRequest), Response: new(PhotoResponse), Status: 200, Errors: []string{"invalid_parameter", "photo_not_found"}, Handler: (*Server).getPhoto},
		{Method: http.MethodPatch, Path: "/api/v1/photos/:photo_id", Scope: ScopePhotosWrite, ID: "updatePhoto", Summary: "Hide or unhide, set the category or the position", Tag: "Photos",
			Request: new(UpdatePhotoRequest), Response: new(PhotoResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter", "photo_not_found", "category_not_found"}, Handler: (*Server).updatePhoto},
		{Method: http.MethodDelete, Path: "/api/v1/photos/:photo_id", Scope: ScopePhotosWrite, ID: "deletePhoto", Summary: "Delete a photo with every file of it", Tag: "Photos",
			Request: new(PhotoPathRequest), Status: 204, Errors: []string{"invalid_parameter", "photo_not_found"}, Handler: (*Server).deletePhoto},
		{Method: http.MethodPost, Path: "/api/v1/photos/bulk-delete", Scope: ScopePhotosWrite, ID: "bulkDeletePhotos", Summary: "Delete many photos", Tag: "Photos",
			Request: new(BulkDeleteRequest), Response: new(BulkDeleteResponse), Status: 200, Errors: []string{"invalid_request", "invalid_parameter"}, Handler: (*Server).bulkDeletePhotos},
		{Method: http.MethodPost, Path: "/api/v1/photos/repair-dimensions", Scope: ScopePhotosWrite, ID: "repairDimensions", Summary: "Re-read dimensions of photos that lack them", Tag: "Photos",
			Response: new(RepairDimensionsResponse), Status: 200, Handler: (*Server).repairDimensions},
		{Method: http.MethodPost, Path: "/api/v1/photos/:photo_id/variants", Scope: ScopePhotosWrite, ID: "retryVariants", Summary: "Make the thumbnail and display copy again (after a failure, or once ffmpeg is installed)", Tag: "Photos",
			Request: new(PhotoPathRequest), Response: new(PhotoResponse), Status: 202, Errors: []string{"invalid_parameter", "photo_not_found"}, Handler: (*Server).retryVariants},
		{Method: http.MethodGet, Path: "/api/v1/photos/:photo_id/download", Scope: ScopePhotosRead, ID: "downloadPhoto", Summary: "Download the original file", Tag: "Photos",
			Request: new(PhotoPathRequest), Status: 200, Produces: "application/octet-stream", Errors: []string{"invalid_parameter", "photo_not_found", "file_not_found", "range_not_satisfiable", "precondition_failed"}, Handler: (*Server).downloadPhoto},

		// Guests (gallery token or cookie; share key for galleries without a password; or an API token with photos.read)
		{Method: http.MethodPost, Path: "/api/gallery/:slug/auth", Scope: ScopePublic, ID: "authGallery", Summary: "Open a guest session with the gallery password (or share key)", Tag: "Guests",
			Request: new(GalleryAuthRequest), Response: new(GalleryAuthResponse), Status: 200, Errors: []string{"invalid_request", "invalid_password", "too_many_attempts", "gallery_expired"}, Handler: (*Server).authGallery},
		{Method: http.MethodPost, Path: "/api/gallery/:slug/logout", Scope: ScopePublic, ID: "logoutGallery", Summary: "End the guest session of this browser (clears the cookie)", Tag: "Guests",
			Request: new(GalleryPathRequest), Status: 204, Handler: (*Server).logoutGallery},
		{Method: http.MethodGet, Path: "/api/gallery/:slug", Scope: ScopePhotosRead, Guest: true, ID: "getGallery", Summary: "What a guest may know of the gallery", Tag: "Guests",
			Request: new(GalleryPathRequest), Response: new(GalleryResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired"}, Handler: (*Server).getGallery},
		{Method: http.MethodGet, Path: "/api/gallery/:slug/photos", Scope: ScopePhotosRead, Guest: true, ID: "listGalleryPhotos", Summary: "The gallery's visible photos", Tag: "Guests",
			Request: new(ListGalleryPhotosRequest), Response: new(GalleryPhotoListResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "category_not_found"}, Handler: (*Server).listGalleryPhotos},
		{Method: http.MethodGet, Path: "/api/gallery/:slug/photo/:photo_id", Scope: ScopePhotosRead, Guest: true, ID: "serveGalleryPhoto", Summary: "The image to view (display copy, or watermarked at enhanced/maximum protection; videos with Range)", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "file_not_found", "variant_not_ready", "range_not_satisfiable", "precondition_failed"}, Handler: (*Server).serveGalleryPhoto},
		{Method: http.MethodHead, Path: "/api/gallery/:slug/photo/:photo_id", Scope: ScopePhotosRead, Guest: true, ID: "headGalleryPhoto", Summary: "Headers of the image to view (display copy, or watermarked at enhanced/maximum protection; videos with Range)", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "file_not_found", "variant_not_ready", "range_not_satisfiable", "precondition_failed"}, Handler: (*Server).serveGalleryPhoto},
		{Method: http.MethodGet, Path: "/api/gallery/:slug/photos/:photo_id/download", Scope: ScopePhotosRead, Guest: true, ID: "downloadGalleryPhoto", Summary: "Download an original (when the gallery allows it)", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Status: 200, Produces: "application/octet-stream", Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "file_not_found", "download_not_allowed", "range_not_satisfiable", "precondition_failed"}, Handler: (*Server).downloadGalleryPhoto},
		{Method: http.MethodGet, Path: "/api/gallery/:slug/download", Scope: ScopePhotosRead, Guest: true, ID: "downloadGalleryZip", Summary: "Download the gallery or a selection as a ZIP (when allowed)", Tag: "Guests",
			Request: new(GalleryZipRequest), Status: 200, Produces: "application/zip", Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "download_not_allowed"}, Handler: (*Server).downloadGalleryZip},
		{Method: http.MethodPut, Path: "/api/gallery/:slug/photos/:photo_id/like", Scope: ScopePhotosRead, Guest: true, ID: "likePhoto", Summary: "Like a photo (once per guest)", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Response: new(GuestFeedbackResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "feedback_disabled", "guest_session_required"}, Handler: (*Server).likePhoto},
		{Method: http.MethodDelete, Path: "/api/gallery/:slug/photos/:photo_id/like", Scope: ScopePhotosRead, Guest: true, ID: "unlikePhoto", Summary: "Take a like back", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Response: new(GuestFeedbackResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "feedback_disabled", "guest_session_required"}, Handler: (*Server).unlikePhoto},
		{Method: http.MethodPut, Path: "/api/gallery/:slug/photos/:photo_id/rating", Scope: ScopePhotosRead, Guest: true, ID: "ratePhoto", Summary: "Rate a photo 1-5 (one rating per guest)", Tag: "Guests",
			Request: new(RatingRequest), Response: new(GuestFeedbackResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_request", "invalid_parameter", "photo_not_found", "feedback_disabled", "guest_session_required"}, Handler: (*Server).ratePhoto},
		{Method: http.MethodDelete, Path: "/api/gallery/:slug/photos/:photo_id/rating", Scope: ScopePhotosRead, Guest: true, ID: "unratePhoto", Summary: "Take a rating back", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Response: new(GuestFeedbackResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "feedback_disabled", "guest_session_required"}, Handler: (*Server).unratePhoto},
		{Method: http.MethodGet, Path: "/api/gallery/:slug/photos/:photo_id/comments", Scope: ScopePhotosRead, Guest: true, ID: "listComments", Summary: "A photo's comments, oldest first", Tag: "Guests",
			Request: new(GalleryPhotoPathRequest), Response: new(CommentListResponse), Status: 200, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_parameter", "photo_not_found", "feedback_disabled"}, Handler: (*Server).listComments},
		{Method: http.MethodPost, Path: "/api/gallery/:slug/photos/:photo_id/comments", Scope: ScopePhotosRead, Guest: true, ID: "addComment", Summary: "Comment on a photo", Tag: "Guests",
			Request: new(CommentRequest), Response: new(CommentResponse), Status: 201, Errors: []string{"gallery_auth_required", "gallery_not_found", "gallery_expired", "invalid_request", "invalid_parameter", "photo_not_found", "feedback_disabled", "guest_session_required"}, Handler: (*Server).addComment},

		// Files (seed 003, "Photo + thumbnail serving")
		{Method: http.MethodGet, Path: "/photos/:slug/:filename", Scope: ScopePhotosRead, Guest: true, ID: "servePhoto", Summary: "The full-size file", Tag: "Files",
			Request: new(FilePathRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"file_not_found", "range_not_satisfiable", "precondition_failed", "gallery_auth_required", "gallery_not_found", "gallery_expired", "download_not_allowed"}, Handler: (*Server).servePhoto},
		{Method: http.MethodHead, Path: "/photos/:slug/:filename", Scope: ScopePhotosRead, Guest: true, ID: "headPhoto", Summary: "Headers of the full-size file", Tag: "Files",
			Request: new(FilePathRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"file_not_found", "range_not_satisfiable", "precondition_failed", "gallery_auth_required", "gallery_not_found", "gallery_expired", "download_not_allowed"}, Handler: (*Server).servePhoto},
		{Method: http.MethodGet, Path: "/thumbnails/:slug/:filename", Scope: ScopePhotosRead, Guest: true, ID: "serveThumbnail", Summary: "The grid thumbnail (JPEG, about 400 px)", Tag: "Files",
			Request: new(FilePathRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"file_not_found", "variant_not_ready", "range_not_satisfiable", "precondition_failed", "gallery_auth_required", "gallery_not_found", "gallery_expired"}, Handler: (*Server).serveThumbnail},
		{Method: http.MethodHead, Path: "/thumbnails/:slug/:filename", Scope: ScopePhotosRead, Guest: true, ID: "headThumbnail", Summary: "Headers of the grid thumbnail", Tag: "Files",
			Request: new(FilePathRequest), Status: 200, Produces: "image/jpeg", Errors: []string{"file_not_found", "variant_not_ready", "range_not_satisfiable", "precondition_failed", "gallery_auth_required", "gallery_not_found", "gallery_expired"}, Handler: (*Server).serveThumbnail},
	}
}

// register adds every route of the table to e, behind its scope check.
func (s *Server) register(e *echo.Echo) {
	for _, r := range routes() {
		h := r.Handler
		e.Add(r.Method, r.Path, func(c echo.Context) error { return h(s, c) }, s.requireScope(r.Scope, r.Guest))
	}
}

// newEcho builds the Echo instance: global middleware, the route table and the error
// renderer.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.ipExtractor()
	e.Use(requestID, s.accessLog, s.recoverPanics, securityHeaders)
	s.loadPageSet()
	s.register(e)
	return e
}

// RouteInfo is the public description of one route, for tests and tools.
type RouteInfo struct {
	Method string
	Path   string // Echo form
	Scope  Scope
	Errors []string
	Guest  bool // also open to a guest of the :slug gallery
	Hidden bool // not in the OpenAPI document (HTML pages, the docs page)
}

// RouteTable lists every route of the table.
func RouteTable() []RouteInfo {
	var out []RouteInfo
	for _, r := range routes() {
		out = append(out, RouteInfo{Method: r.Method, Path: r.Path, Scope: r.Scope, Errors: append([]string{}, r.Errors...), Guest: r.Guest, Hidden: r.Hidden})
	}
	return out
}

// EchoRoutes lists the routes Echo actually serves ("METHOD path"), to compare with the
// table.
func (s *Server) EchoRoutes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
