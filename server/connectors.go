package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/server/connector"
	"github.com/gallerist/gallerist/storage"
)

// CreateConnectorRequest is the body of POST /api/v1/connectors.
type CreateConnectorRequest struct {
	Platform    string                `json:"platform" required:"true" enum:"buildpass,procore,brilliant_directories"`
	Name        string                `json:"name" required:"true" minLength:"1" maxLength:"200"`
	Config      connector.Config      `json:"config" required:"true"`
	Credentials connector.Credentials `json:"credentials" required:"true" description:"Stored encrypted, never returned: client_id + client_secret (BuildPass, Procore; Procore also refresh_token for authorization-code apps), api_key (Brilliant Directories)."`
}

// UpdateConnectorRequest is the body of PATCH /api/v1/connectors/{connector_id}. The
// credentials given replace only those fields.
type UpdateConnectorRequest struct {
	ConnectorID int64                  `path:"connector_id" json:"-"`
	Name        *string                `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Config      *connector.Config      `json:"config,omitempty" description:"The whole destination, replacing the previous one."`
	Credentials *connector.Credentials `json:"credentials,omitempty" description:"Only the fields given are replaced."`
}

// ConnectorPathRequest names a connector target.
type ConnectorPathRequest struct {
	ConnectorID int64 `path:"connector_id" minimum:"1"`
}

// ConnectorResponse describes a target: its destination, never its secrets.
type ConnectorResponse struct {
	ID             int64            `json:"id" required:"true"`
	Platform       string           `json:"platform" required:"true" enum:"buildpass,procore,brilliant_directories"`
	Name           string           `json:"name" required:"true"`
	Config         connector.Config `json:"config" required:"true"`
	CredentialsSet []string         `json:"credentials_set" required:"true" description:"Names of the credential fields that are stored (their values are never returned)."`
	Status         string           `json:"status" required:"true" enum:"ok,error" description:"error when the platform refused the credentials or needs a new authorization; last_error says why."`
	LastError      string           `json:"last_error,omitempty"`
	CreatedAt      time.Time        `json:"created_at" required:"true"`
	UpdatedAt      time.Time        `json:"updated_at" required:"true"`
}

// ConnectorListResponse lists targets.
type ConnectorListResponse struct {
	Items []ConnectorResponse `json:"items" required:"true"`
	Total int                 `json:"total" required:"true"`
}

// ConnectorTestResponse is the outcome of a connector test.
type ConnectorTestResponse struct {
	OK      bool   `json:"ok" required:"true"`
	Message string `json:"message" required:"true"`
}

// CreateLinkRequest is the body of POST /api/v1/events/{id}/connectors.
type CreateLinkRequest struct {
	EventID     int64 `path:"id" json:"-"`
	ConnectorID int64 `json:"connector_id" required:"true" minimum:"1"`
	AutoSync    bool  `json:"auto_sync,omitempty" description:"Sync by itself after uploads to the event settle (GALLERIST_CONNECTOR_AUTO_SYNC_DELAY)."`
}

// UpdateLinkRequest is the body of PATCH /api/v1/events/{id}/connectors/{link_id}.
type UpdateLinkRequest struct {
	EventID  int64 `path:"id" json:"-"`
	LinkID   int64 `path:"link_id" json:"-"`
	AutoSync *bool `json:"auto_sync,omitempty"`
}

// LinkPathRequest names a link of an event.
type LinkPathRequest struct {
	EventID    int64 `path:"id" minimum:"1"`
	LinkID     int64 `path:"link_id" minimum:"1"`
	KeepRemote bool  `query:"keep_remote" description:"DELETE only: forget a link that is not archived, leaving its photos on the platform."`
}

// LinkResponse describes an event's link to a connector.
type LinkResponse struct {
	ID            int64      `json:"id" required:"true"`
	EventID       int64      `json:"event_id" required:"true"`
	ConnectorID   int64      `json:"connector_id" required:"true"`
	Platform      string     `json:"platform" required:"true"`
	AutoSync      bool       `json:"auto_sync" required:"true"`
	State         string     `json:"state" required:"true" enum:"active,error,archiving,archived"`
	ContainerName string     `json:"container_name" required:"true" description:"The folder, album or post the photos go to."`
	ContainerID   string     `json:"container_id,omitempty" description:"The platform's id of it, once made."`
	LastError     string     `json:"last_error,omitempty"`
	LastSyncedAt  *time.Time `json:"last_synced_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at" required:"true"`
}

// LinkListResponse lists an event's links.
type LinkListResponse struct {
	Items []LinkResponse `json:"items" required:"true"`
}

// StartSyncRequest is the body of POST /api/v1/events/{id}/syncs.
type StartSyncRequest struct {
	EventID int64  `path:"id" json:"-"`
	LinkID  *int64 `json:"link_id,omitempty" description:"Sync this link only; every active link of the event otherwise."`
}

// ListSyncsRequest is the query of GET /api/v1/events/{id}/syncs.
type ListSyncsRequest struct {
	EventID int64 `path:"id" minimum:"1"`
	Limit   int   `query:"limit" default:"50" minimum:"1" maximum:"200"`
}

// SyncCounts are the photo tallies of a sync.
type SyncCounts struct {
	Added   int `json:"added" required:"true" description:"Photos this sync put on the platform."`
	Skipped int `json:"skipped" required:"true" description:"Photos already there, left untouched."`
	Failed  int `json:"failed" required:"true" description:"Photos the platform refused; listed in failures and tried again by the next sync."`
	Removed int `json:"removed" required:"true" description:"Photos taken off the platform (hidden or deleted here, or the link archived)."`
}

// SyncFailureResponse is one photo a sync could not push.
type SyncFailureResponse struct {
	PhotoID int64  `json:"photo_id" required:"true"`
	Error   string `json:"error" required:"true"`
}

// SyncResponse describes one sync (or archive) of a link.
type SyncResponse struct {
	ID         int64                 `json:"id" required:"true"`
	LinkID     int64                 `json:"link_id" required:"true"`
	Kind       string                `json:"kind" required:"true" enum:"sync,archive"`
	Trigger    string                `json:"trigger" required:"true" enum:"manual,auto,archive"`
	Status     string                `json:"status" required:"true" enum:"queued,running,succeeded,partial,failed"`
	Counts     SyncCounts            `json:"counts" required:"true"`
	Failures   []SyncFailureResponse `json:"failures" required:"true"`
	Warnings   []string              `json:"warnings" required:"true"`
	Error      string                `json:"error,omitempty"`
	CreatedAt  time.Time             `json:"created_at" required:"true"`
	StartedAt  *time.Time            `json:"started_at,omitempty"`
	FinishedAt *time.Time            `json:"finished_at,omitempty"`
}

// SyncListResponse lists syncs, newest first.
type SyncListResponse struct {
	Items []SyncResponse `json:"items" required:"true"`
}

// ConnectorMediaRequest names a photo served to a platform that fetches it.
type ConnectorMediaRequest struct {
	Token string `path:"token"`
	Name  string `path:"name" description:"A file name ending in .jpg or .png (the platform needs the extension)."`
}

func connectorResponse(t *storage.ConnectorTarget, cred connector.Credentials) ConnectorResponse {
	var cfg connector.Config
	_ = json.Unmarshal(t.Config, &cfg)
	set := []string{}
	for _, f := range []struct{ name, v string }{{"client_id", cred.ClientID}, {"client_secret", cred.ClientSecret},
		{"refresh_token", cred.RefreshToken}, {"api_key", cred.APIKey}} {
		if f.v != "" {
			set = append(set, f.name)
		}
	}
	return ConnectorResponse{ID: t.ID, Platform: t.Platform, Name: t.Name, Config: cfg, CredentialsSet: set, Status: t.Status,
		LastError: t.LastError, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func linkResponse(l *storage.ConnectorLink, platform string) LinkResponse {
	return LinkResponse{ID: l.ID, EventID: l.EventID, ConnectorID: l.TargetID, Platform: platform, AutoSync: l.AutoSync, State: l.State,
		ContainerName: l.ContainerName, ContainerID: l.ContainerID, LastError: l.LastError, LastSyncedAt: l.LastSyncedAt, CreatedAt: l.CreatedAt}
}

func syncResponse(s *storage.ConnectorSync) SyncResponse {
	out := SyncResponse{ID: s.ID, LinkID: s.LinkID, Kind: s.Kind, Trigger: s.Trigger, Status: s.Status,
		Counts:   SyncCounts{Added: s.Added, Skipped: s.Skipped, Failed: s.Failed, Removed: s.Removed},
		Failures: []SyncFailureResponse{}, Warnings: s.Warnings, Error: s.Error, CreatedAt: s.CreatedAt, StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	for _, f := range s.Failures {
		out.Failures = append(out.Failures, SyncFailureResponse{PhotoID: f.PhotoID, Error: f.Error})
	}
	return out
}

// requireConnectorKey refuses connector changes when credentials cannot be sealed.
func (s *Server) requireConnectorKey() error {
	if !s.sealer.Enabled() {
		return apiError("connector_key_missing", "set GALLERIST_CONNECTOR_KEY (openssl rand -hex 32) to store connector credentials")
	}
	return nil
}

func (s *Server) createConnector(c echo.Context) error {
	var req CreateConnectorRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := s.requireConnectorKey(); err != nil {
		return err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 200 {
		return invalidParam("name", "must be 1 to 200 characters")
	}
	check := req.Config // defaults fill the copy; the target keeps what the client gave
	if err := connector.Validate(req.Platform, &check, req.Credentials); err != nil {
		return apiError("invalid_parameter", "%s", err.Error()).withDetails("parameter", "config")
	}
	cfg, err := json.Marshal(req.Config)
	if err != nil {
		return err
	}
	sealed, err := s.sealer.Seal(req.Credentials)
	if err != nil {
		return err
	}
	t := &storage.ConnectorTarget{Platform: req.Platform, Name: req.Name, Config: cfg, Secrets: sealed}
	if err := s.db.CreateConnectorTarget(c.Request().Context(), t); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, connectorResponse(t, req.Credentials))
}

func (s *Server) listConnectors(c echo.Context) error {
	list, err := s.db.ListConnectorTargets(c.Request().Context())
	if err != nil {
		return err
	}
	out := ConnectorListResponse{Items: []ConnectorResponse{}, Total: len(list)}
	for _, t := range list {
		cred, _ := s.sealer.Open(t.Secrets)
		out.Items = append(out.Items, connectorResponse(t, cred))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) findConnector(c echo.Context) (*storage.ConnectorTarget, error) {
	id, err := pathID(c, "connector_id")
	if err != nil {
		return nil, err
	}
	t, err := s.db.FindConnectorTarget(c.Request().Context(), id)
	if err != nil {
		return nil, notFound(err, "connector_not_found", "no connector %d", id)
	}
	return t, nil
}

func (s *Server) getConnector(c echo.Context) error {
	t, err := s.findConnector(c)
	if err != nil {
		return err
	}
	cred, _ := s.sealer.Open(t.Secrets)
	return c.JSON(http.StatusOK, connectorResponse(t, cred))
}

func (s *Server) updateConnector(c echo.Context) error {
	t, err := s.findConnector(c)
	if err != nil {
		return err
	}
	var req UpdateConnectorRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if err := s.requireConnectorKey(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cred, err := s.sealer.Open(t.Secrets)
	switch {
	case err != nil && req.Credentials == nil:
		return apiError("connector_key_missing", "the stored credentials cannot be opened with GALLERIST_CONNECTOR_KEY; send every credential again").withCause(err)
	case err != nil:
		cred = *req.Credentials // the key changed: the credentials sent replace the lost ones
	case req.Credentials != nil:
		cred = cred.Merge(*req.Credentials)
	}
	var old connector.Config
	if err := json.Unmarshal(t.Config, &old); err != nil {
		return err
	}
	cfg := old
	if req.Config != nil {
		cfg = *req.Config
	}
	if req.Name != nil {
		name := strings.TrimSpace(*req.Name)
		if name == "" || len(name) > 200 {
			return invalidParam("name", "must be 1 to 200 characters")
		}
		t.Name = name
	}
	check := cfg
	if err := connector.Validate(t.Platform, &check, cred); err != nil {
		return apiError("invalid_parameter", "%s", err.Error()).withDetails("parameter", "config")
	}
	// Links keep the folder or album they made: a different account or project would
	// leave them pointing at the old one.
	if before, after := connector.WithDefaults(t.Platform, old), check; before.Destination() != after.Destination() {
		if n, err := s.db.CountActiveLinks(ctx, t.ID); err != nil {
			return err
		} else if n > 0 {
			return apiError("connector_in_use", "%d events are linked to this destination; archive or unlink them before moving the connector to another one", n)
		}
	}
	if t.Config, err = json.Marshal(cfg); err != nil {
		return err
	}
	if req.Credentials != nil {
		if t.Secrets, err = s.sealer.Seal(cred); err != nil {
			return err
		}
	}
	if err := s.db.UpdateConnectorTarget(ctx, t, req.Credentials != nil); err != nil {
		return err
	}
	s.connectors.Forget(t.ID)
	return c.JSON(http.StatusOK, connectorResponse(t, cred))
}

func (s *Server) deleteConnector(c echo.Context) error {
	t, err := s.findConnector(c)
	if err != nil {
		return err
	}
	if err := s.db.DeleteConnectorTarget(c.Request().Context(), t.ID); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return apiError("connector_in_use", "the connector is linked to events; archive or unlink them first").withCause(err)
		}
		return notFound(err, "connector_not_found", "no connector %d", t.ID)
	}
	s.connectors.Forget(t.ID)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) testConnector(c echo.Context) error {
	t, err := s.findConnector(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
	defer cancel()
	if err := s.connectors.Check(ctx, t); err != nil {
		_ = s.db.SetConnectorTargetStatus(c.Request().Context(), t.ID, "error", err.Error())
		return apiError("connector_check_failed", "%s", err.Error()).withCause(err)
	}
	if t.Status != "ok" {
		_ = s.db.SetConnectorTargetStatus(c.Request().Context(), t.ID, "ok", "")
	}
	return c.JSON(http.StatusOK, ConnectorTestResponse{OK: true, Message: "the credentials work and the destination exists"})
}

func (s *Server) createLink(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	var req CreateLinkRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	t, err := s.db.FindConnectorTarget(ctx, req.ConnectorID)
	if err != nil {
		return notFound(err, "connector_not_found", "no connector %d", req.ConnectorID)
	}
	if e.IsArchived {
		return apiError("event_archived", "the event is archived; restore it before linking it")
	}
	raw := make([]byte, 6)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	// A unique marker in the name lets a lost create be found again, and keeps two
	// events of the same name (or two Gallerist servers) apart.
	name := e.Name
	if e.Date != nil {
		name += " – " + *e.Date
	}
	l := &storage.ConnectorLink{TargetID: t.ID, EventID: e.ID, AutoSync: req.AutoSync,
		ExternalSourceID: fmt.Sprintf("gallerist:%s:event:%d", hex.EncodeToString(raw), e.ID),
		ContainerName:    fmt.Sprintf("%s (G%d-%s)", name, e.ID, hex.EncodeToString(raw[:2]))}
	if err := s.db.CreateConnectorLink(ctx, l); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return apiError("link_exists", "the event is already linked to connector %d", t.ID).withCause(err)
		}
		return err
	}
	return c.JSON(http.StatusCreated, linkResponse(l, t.Platform))
}

func (s *Server) listLinks(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	links, err := s.db.ListConnectorLinks(ctx, e.ID)
	if err != nil {
		return err
	}
	out := LinkListResponse{Items: []LinkResponse{}}
	for _, l := range links {
		platform := ""
		if t, err := s.db.FindConnectorTarget(ctx, l.TargetID); err == nil {
			platform = t.Platform
		}
		out.Items = append(out.Items, linkResponse(l, platform))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) findLink(c echo.Context) (*storage.ConnectorLink, *storage.ConnectorTarget, error) {
	e, err := s.findEvent(c)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathID(c, "link_id")
	if err != nil {
		return nil, nil, err
	}
	ctx := c.Request().Context()
	l, err := s.db.FindConnectorLink(ctx, id)
	if err == nil && l.EventID != e.ID {
		err = storage.ErrNotFound
	}
	if err != nil {
		return nil, nil, notFound(err, "link_not_found", "event %d has no link %d", e.ID, id)
	}
	t, err := s.db.FindConnectorTarget(ctx, l.TargetID)
	if err != nil {
		return nil, nil, err
	}
	return l, t, nil
}

func (s *Server) updateLink(c echo.Context) error {
	l, t, err := s.findLink(c)
	if err != nil {
		return err
	}
	var req UpdateLinkRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.AutoSync != nil {
		if err := s.db.SetLinkAutoSync(c.Request().Context(), l.ID, *req.AutoSync); err != nil {
			return err
		}
		l.AutoSync = *req.AutoSync
	}
	return c.JSON(http.StatusOK, linkResponse(l, t.Platform))
}

func (s *Server) archiveLink(c echo.Context) error {
	l, _, err := s.findLink(c)
	if err != nil {
		return err
	}
	sync, err := s.db.ArchiveConnectorLink(c.Request().Context(), l.ID, connector.JobKind)
	if err != nil {
		return err
	}
	s.queue.Notify()
	return c.JSON(http.StatusAccepted, syncResponse(sync))
}

func (s *Server) deleteLink(c echo.Context) error {
	l, _, err := s.findLink(c)
	if err != nil {
		return err
	}
	keep := c.QueryParam("keep_remote")
	if keep != "" && keep != "true" && keep != "false" {
		return invalidParam("keep_remote", "must be true or false")
	}
	if l.State != storage.LinkArchived && keep != "true" {
		return apiError("link_active", "the link's photos are still on the platform: archive the link first, or pass keep_remote=true to leave them there")
	}
	if err := s.db.DeleteConnectorLink(c.Request().Context(), l.ID); err != nil {
		return notFound(err, "link_not_found", "no link %d", l.ID)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) startSyncs(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	var req StartSyncRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if e.IsArchived {
		return apiError("event_archived", "the event is archived; its links were archived with it")
	}
	ctx := c.Request().Context()
	links, err := s.db.ListConnectorLinks(ctx, e.ID)
	if err != nil {
		return err
	}
	out := SyncListResponse{Items: []SyncResponse{}}
	for _, l := range links {
		if req.LinkID != nil && l.ID != *req.LinkID {
			continue
		}
		if l.State == storage.LinkArchived || l.State == storage.LinkArchiving {
			if req.LinkID != nil {
				return apiError("link_archived", "link %d is archived; link the event again to sync it", l.ID)
			}
			continue
		}
		sync, _, err := s.db.RequestConnectorSync(ctx, l.ID, "sync", "manual", connector.JobKind, time.Now())
		if errors.Is(err, storage.ErrLinkArchived) {
			if req.LinkID != nil {
				return apiError("link_archived", "link %d is archived or being archived", l.ID).withCause(err)
			}
			continue
		}
		if err != nil {
			return err
		}
		out.Items = append(out.Items, syncResponse(sync))
	}
	if req.LinkID != nil && len(out.Items) == 0 {
		return apiError("link_not_found", "event %d has no link %d", e.ID, *req.LinkID)
	}
	if len(out.Items) == 0 {
		return apiError("no_links", "the event is not linked to any connector; POST /api/v1/events/%d/connectors first", e.ID)
	}
	s.queue.Notify()
	return c.JSON(http.StatusAccepted, out)
}

func (s *Server) listSyncs(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	list, err := s.db.ListConnectorSyncs(c.Request().Context(), e.ID, limit)
	if err != nil {
		return err
	}
	out := SyncListResponse{Items: []SyncResponse{}}
	for _, sy := range list {
		out.Items = append(out.Items, syncResponse(sy))
	}
	return c.JSON(http.StatusOK, out)
}

// serveConnectorMedia serves a photo to a platform that fetches it by URL (Brilliant
// Directories): the token is unguessable, and stops working once the photo is removed
// from the link or the link is archived.
func (s *Server) serveConnectorMedia(c echo.Context) error {
	ctx := c.Request().Context()
	token := c.Param("token")
	if len(token) > 64 || token == "" {
		return apiError("file_not_found", "no such file")
	}
	it, l, err := s.db.FindConnectorMedia(ctx, token)
	if err != nil {
		return notFound(err, "file_not_found", "no such file")
	}
	if it.State == "removed" || it.State == "removing" || l.State == storage.LinkArchived || l.State == storage.LinkArchiving {
		return apiError("file_not_found", "no such file")
	}
	p, err := s.db.FindPhotoByID(ctx, it.PhotoID)
	if err != nil || p.IsHidden || p.EventID != l.EventID {
		return apiError("file_not_found", "no such file")
	}
	key, ctype := p.BlobKey, p.MIMEType
	if p.Format != "jpeg" && p.Format != "png" {
		if err := s.variants.Ensure(ctx, p); err != nil {
			return apiError("variant_not_ready", "the JPEG copy of this photo could not be made").withCause(err)
		}
		key, ctype = p.DisplayKey(), "image/jpeg"
	}
	return s.serveBlob(c, key, ctype, p.SHA256, time.Hour, "")
}

// connectorMediaURL is the public URL of a media token ("" without GALLERIST_BASE_URL).
func (s *Server) connectorMediaURL(token, name string) string {
	if s.cfg.BaseURL == "" {
		return ""
	}
	return strings.TrimSuffix(s.cfg.BaseURL, "/") + "/connector-media/" + token + "/" + url.PathEscape(name)
}
