package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/unicode/norm"

	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// CreateEventRequest is the body of POST /api/v1/events.
type CreateEventRequest struct {
	Name            string     `json:"name" required:"true" minLength:"1" maxLength:"200" example:"Anna & Ben's wedding"`
	Date            *string    `json:"date,omitempty" format:"date" description:"Calendar date of the event, YYYY-MM-DD."`
	Slug            *string    `json:"slug,omitempty" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" maxLength:"80" description:"URL name of the gallery; derived from the name when absent."`
	Password        *string    `json:"password,omitempty" maxLength:"200" description:"Gallery password for guests; stored as a hash."`
	ExpiresAt       *time.Time `json:"expires_at,omitempty" description:"When the gallery closes to guests."`
	PhotoCap        *int       `json:"photo_cap,omitempty" minimum:"1" description:"Most photos the event may hold; uploads past it are refused."`
	AllowDownloads  *bool      `json:"allow_downloads,omitempty" default:"true"`
	ProtectionLevel *string    `json:"protection_level,omitempty" enum:"basic,standard,enhanced,maximum" default:"basic"`
	IsPublished     *bool      `json:"is_published,omitempty" default:"true"`
	FeedbackEnabled *bool      `json:"feedback_enabled,omitempty" default:"false"`
	WatermarkText   *string    `json:"watermark_text,omitempty" maxLength:"100"`
}

// UpdateEventRequest is the body of PATCH /api/v1/events/{id}: any subset of the create
// fields; null clears date, password, expires_at and photo_cap.
type UpdateEventRequest struct {
	ID              int64     `path:"id" json:"-"`
	Name            *string   `json:"name,omitempty" minLength:"1" maxLength:"200"`
	Date            OptString `json:"date,omitempty" format:"date"`
	Slug            *string   `json:"slug,omitempty" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" maxLength:"80"`
	Password        OptString `json:"password,omitempty"`
	ExpiresAt       OptTime   `json:"expires_at,omitempty"`
	PhotoCap        OptInt    `json:"photo_cap,omitempty" minimum:"1"`
	AllowDownloads  *bool     `json:"allow_downloads,omitempty"`
	ProtectionLevel *string   `json:"protection_level,omitempty" enum:"basic,standard,enhanced,maximum"`
	IsPublished     *bool     `json:"is_published,omitempty"`
	FeedbackEnabled *bool     `json:"feedback_enabled,omitempty"`
	WatermarkText   *string   `json:"watermark_text,omitempty" maxLength:"100"`
}

// EventPathRequest names an event in the path.
type EventPathRequest struct {
	ID int64 `path:"id" minimum:"1"`
}

// ListEventsRequest is the query of GET /api/v1/events.
type ListEventsRequest struct {
	IsArchived *bool `query:"is_archived" description:"Only archived (true) or only active (false) events."`
	Limit      int   `query:"limit" default:"50" minimum:"1" maximum:"200"`
	Offset     int   `query:"offset" default:"0" minimum:"0"`
}

// EventResponse is an event as the API shows it.
type EventResponse struct {
	ID              int64      `json:"id" required:"true"`
	Slug            string     `json:"slug" required:"true"`
	Name            string     `json:"name" required:"true"`
	Date            *string    `json:"date" format:"date"`
	HasPassword     bool       `json:"has_password" required:"true"`
	ExpiresAt       *time.Time `json:"expires_at"`
	PhotoCap        *int       `json:"photo_cap"`
	AllowDownloads  bool       `json:"allow_downloads" required:"true"`
	ProtectionLevel string     `json:"protection_level" required:"true" enum:"basic,standard,enhanced,maximum"`
	IsArchived      bool       `json:"is_archived" required:"true"`
	ArchivedAt      *time.Time `json:"archived_at"`
	PhotoCount      int        `json:"photo_count" required:"true"`
	TotalSize       int64      `json:"total_size" required:"true" description:"Bytes of the originals."`
	TotalDownloads  int64      `json:"total_downloads" required:"true"`
	ShareURL        string     `json:"share_url" required:"true" description:"The guest link. Without a password it carries the share key (?key=), which opens the gallery alone."`
	IsPublished     bool       `json:"is_published" required:"true" description:"Unpublished galleries are closed to guests."`
	FeedbackEnabled bool       `json:"feedback_enabled" required:"true" description:"Guests may like, rate and comment."`
	WatermarkText   string     `json:"watermark_text" required:"true" description:"Text of the watermark at enhanced/maximum protection; empty means the event's name."`
	CreatedAt       time.Time  `json:"created_at" required:"true"`
	UpdatedAt       time.Time  `json:"updated_at" required:"true"`
}

// EventListResponse is a page of events.
type EventListResponse struct {
	Items  []EventResponse `json:"items" required:"true"`
	Total  int             `json:"total" required:"true"`
	Limit  int             `json:"limit" required:"true"`
	Offset int             `json:"offset" required:"true"`
}

// CreateCategoryRequest is the body of POST /api/v1/events/{id}/categories.
type CreateCategoryRequest struct {
	ID   int64   `path:"id" json:"-"`
	Name string  `json:"name" required:"true" minLength:"1" maxLength:"100" example:"Ceremony"`
	Slug *string `json:"slug,omitempty" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" maxLength:"80"`
}

// UpdateCategoryRequest is the body of PATCH /api/v1/events/{id}/categories/{category_id}.
type UpdateCategoryRequest struct {
	ID         int64   `path:"id" json:"-"`
	CategoryID string  `path:"category_id" json:"-" description:"Category id or slug."`
	Name       *string `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Slug       *string `json:"slug,omitempty" pattern:"^[a-z0-9]+(-[a-z0-9]+)*$" maxLength:"80"`
	Position   *int    `json:"position,omitempty"`
}

// CategoryPathRequest names a category of an event.
type CategoryPathRequest struct {
	ID         int64  `path:"id" minimum:"1"`
	CategoryID string `path:"category_id" description:"Category id or slug."`
}

// CategoryResponse is a category as the API shows it.
type CategoryResponse struct {
	ID         int64     `json:"id" required:"true"`
	EventID    int64     `json:"event_id" required:"true"`
	Name       string    `json:"name" required:"true"`
	Slug       string    `json:"slug" required:"true"`
	Position   int       `json:"position" required:"true"`
	PhotoCount int       `json:"photo_count" required:"true"`
	CreatedAt  time.Time `json:"created_at" required:"true"`
}

// CategoryListResponse lists an event's categories.
type CategoryListResponse struct {
	Items []CategoryResponse `json:"items" required:"true"`
	Total int                `json:"total" required:"true"`
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var protectionLevels = []string{storage.ProtectionBasic, storage.ProtectionStandard, storage.ProtectionEnhanced, storage.ProtectionMaximum}

// Slugify makes a URL name from a display name: accents dropped, lower case, words
// joined with '-'.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(unicode.ToLower(r))
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	s := strings.TrimSuffix(b.String(), "-")
	if len(s) > 60 {
		s = strings.TrimSuffix(s[:60], "-")
	}
	if s == "" {
		s = "event"
	}
	return s
}

func validateSlug(name, s string) error {
	if len(s) > 80 || !slugPattern.MatchString(s) {
		return invalidParam(name, "must be lower-case letters and digits joined by '-', at most 80 characters")
	}
	return nil
}

func validateDate(d string) error {
	if _, err := time.Parse("2006-01-02", d); err != nil {
		return invalidParam("date", "must be a date like 2026-05-12")
	}
	return nil
}

func validateName(field, n string, maxLen int) (string, error) {
	n = strings.TrimSpace(n)
	if n == "" || utf8.RuneCountInString(n) > maxLen {
		return "", invalidParam(field, "must be 1 to %d characters", maxLen)
	}
	return n, nil
}

func (s *Server) eventResponse(c echo.Context, e *storage.Event) EventResponse {
	return EventResponse{
		ID: e.ID, Slug: e.Slug, Name: e.Name, Date: e.Date, HasPassword: e.PasswordHash != "",
		ExpiresAt: e.ExpiresAt, PhotoCap: e.PhotoCap, AllowDownloads: e.AllowDownloads, ProtectionLevel: e.ProtectionLevel,
		IsArchived: e.IsArchived, ArchivedAt: e.ArchivedAt, PhotoCount: e.PhotoCount, TotalSize: e.TotalSize,
		TotalDownloads: e.TotalDownloads, ShareURL: s.shareURL(c, e), IsPublished: e.IsPublished,
		FeedbackEnabled: e.FeedbackEnabled, WatermarkText: e.WatermarkText,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
}

func (s *Server) createEvent(c echo.Context) error {
	var req CreateEventRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name, err := validateName("name", req.Name, 200)
	if err != nil {
		return err
	}
	e := &storage.Event{Name: name, AllowDownloads: true, ProtectionLevel: storage.ProtectionBasic, IsPublished: true}
	if req.IsPublished != nil {
		e.IsPublished = *req.IsPublished
	}
	if req.FeedbackEnabled != nil {
		e.FeedbackEnabled = *req.FeedbackEnabled
	}
	if req.WatermarkText != nil {
		if utf8.RuneCountInString(*req.WatermarkText) > 100 {
			return invalidParam("watermark_text", "must be at most 100 characters")
		}
		e.WatermarkText = strings.TrimSpace(*req.WatermarkText)
	}
	uniqueSlug := req.Slug == nil
	if req.Slug != nil {
		if err := validateSlug("slug", *req.Slug); err != nil {
			return err
		}
		e.Slug = *req.Slug
	} else {
		e.Slug = Slugify(name)
	}
	if req.Date != nil {
		if err := validateDate(*req.Date); err != nil {
			return err
		}
		e.Date = req.Date
	}
	if req.Password != nil && *req.Password != "" {
		if e.PasswordHash, err = HashPassword(*req.Password); err != nil {
			return err
		}
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		e.ExpiresAt = &t
	}
	if req.PhotoCap != nil {
		if *req.PhotoCap < 1 {
			return invalidParam("photo_cap", "must be at least 1")
		}
		e.PhotoCap = req.PhotoCap
	}
	if req.AllowDownloads != nil {
		e.AllowDownloads = *req.AllowDownloads
	}
	if req.ProtectionLevel != nil {
		if !contains(protectionLevels, *req.ProtectionLevel) {
			return invalidParam("protection_level", "must be one of %s", strings.Join(protectionLevels, ", "))
		}
		e.ProtectionLevel = *req.ProtectionLevel
	}
	if err := s.db.CreateEvent(c.Request().Context(), e, uniqueSlug); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return apiError("slug_taken", "another event uses the slug %q", e.Slug).withDetails("slug", e.Slug)
		}
		return err
	}
	stored, err := s.db.FindEventByID(c.Request().Context(), e.ID)
	if err != nil {
		return err
	}
	s.queue.Notify()
	return c.JSON(http.StatusCreated, s.eventResponse(c, stored))
}

func (s *Server) listEvents(c echo.Context) error {
	archived, err := queryBool(c, "is_archived")
	if err != nil {
		return err
	}
	limit, offset, err := pageParams(c)
	if err != nil {
		return err
	}
	events, total, err := s.db.FindEvents(c.Request().Context(), storage.EventFilter{IsArchived: archived, Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	out := EventListResponse{Items: []EventResponse{}, Total: total, Limit: limit, Offset: offset}
	for _, e := range events {
		out.Items = append(out.Items, s.eventResponse(c, e))
	}
	return c.JSON(http.StatusOK, out)
}

// findEvent loads the event named by the :id path parameter.
func (s *Server) findEvent(c echo.Context) (*storage.Event, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, err
	}
	e, err := s.db.FindEventByID(c.Request().Context(), id)
	if err != nil {
		return nil, notFound(err, "event_not_found", "no event %d", id)
	}
	return e, nil
}

func (s *Server) getEvent(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.eventResponse(c, e))
}

func (s *Server) updateEvent(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	var req UpdateEventRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	var u storage.EventUpdate
	if req.Name != nil {
		n, err := validateName("name", *req.Name, 200)
		if err != nil {
			return err
		}
		u.Name = &n
	}
	if req.Slug != nil {
		if err := validateSlug("slug", *req.Slug); err != nil {
			return err
		}
		u.Slug = req.Slug
	}
	if req.Date.Set {
		u.Date.Set = true
		if !req.Date.Null && req.Date.Value != "" {
			if err := validateDate(req.Date.Value); err != nil {
				return err
			}
			u.Date.Value = &req.Date.Value
		}
	}
	if req.Password.Set {
		hash := ""
		if !req.Password.Null && req.Password.Value != "" {
			if hash, err = HashPassword(req.Password.Value); err != nil {
				return err
			}
		}
		u.PasswordHash = &hash
	}
	if req.ExpiresAt.Set {
		u.ExpiresAt.Set = true
		if !req.ExpiresAt.Null {
			t := req.ExpiresAt.Value.UTC()
			u.ExpiresAt.Value = &t
		}
	}
	if req.PhotoCap.Set {
		u.PhotoCap.Set = true
		if !req.PhotoCap.Null {
			if req.PhotoCap.Value < 1 || req.PhotoCap.Value > 1<<31-1 {
				return invalidParam("photo_cap", "must be at least 1 (null removes the cap)")
			}
			v := int(req.PhotoCap.Value)
			u.PhotoCap.Value = &v
		}
	}
	u.AllowDownloads = req.AllowDownloads
	u.IsPublished, u.FeedbackEnabled = req.IsPublished, req.FeedbackEnabled
	if req.WatermarkText != nil {
		if utf8.RuneCountInString(*req.WatermarkText) > 100 {
			return invalidParam("watermark_text", "must be at most 100 characters")
		}
		w := strings.TrimSpace(*req.WatermarkText)
		u.WatermarkText = &w
	}
	if req.ProtectionLevel != nil {
		if !contains(protectionLevels, *req.ProtectionLevel) {
			return invalidParam("protection_level", "must be one of %s", strings.Join(protectionLevels, ", "))
		}
		u.ProtectionLevel = req.ProtectionLevel
	}
	updated, err := s.db.UpdateEvent(c.Request().Context(), e.ID, u)
	if errors.Is(err, storage.ErrConflict) {
		return apiError("slug_taken", "another event uses the slug %q", *req.Slug).withDetails("slug", *req.Slug)
	}
	if err != nil {
		return notFound(err, "event_not_found", "no event %d", e.ID)
	}
	return c.JSON(http.StatusOK, s.eventResponse(c, updated))
}

func (s *Server) deleteEvent(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	keys, err := s.db.DeleteEvent(c.Request().Context(), e.ID)
	if err != nil {
		return notFound(err, "event_not_found", "no event %d", e.ID)
	}
	s.removeBlobs(c.Request().Context(), keys)
	s.removePrefix(c.Request().Context(), fmt.Sprintf("protected/%d/", e.ID))
	return c.NoContent(http.StatusNoContent)
}

// removePrefix deletes every blob under a prefix (the protected variants of a deleted
// photo or event), best effort.
func (s *Server) removePrefix(ctx context.Context, prefix string) {
	ctx = context.WithoutCancel(ctx)
	var keys []string
	_ = s.blobs.Walk(ctx, prefix, func(i blob.Info) error { keys = append(keys, i.Key); return nil })
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			s.log.Warn("remove variant", "key", k, "error", err)
		}
	}
}

// removeBlobs deletes blobs whose rows are gone, then their GC ledger entries. A failure
// leaves the entry for the janitor.
func (s *Server) removeBlobs(ctx context.Context, keys []string) {
	ctx = context.WithoutCancel(ctx)
	var gone []string
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			s.log.Warn("remove blob; the janitor will retry", "key", k, "error", err)
			continue
		}
		gone = append(gone, k)
	}
	if err := s.db.RemoveBlobGC(ctx, gone...); err != nil {
		s.log.Warn("forget removed blobs", "error", err)
	}
}

func (s *Server) archiveEvent(c echo.Context) error { return s.setArchived(c, true) }
func (s *Server) restoreEvent(c echo.Context) error { return s.setArchived(c, false) }

func (s *Server) setArchived(c echo.Context, archived bool) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	e, err := s.db.SetEventArchived(c.Request().Context(), id, archived)
	if err != nil {
		return notFound(err, "event_not_found", "no event %d", id)
	}
	s.queue.Notify()
	return c.JSON(http.StatusOK, s.eventResponse(c, e))
}

func categoryResponse(cat *storage.Category) CategoryResponse {
	return CategoryResponse{ID: cat.ID, EventID: cat.EventID, Name: cat.Name, Slug: cat.Slug, Position: cat.Position,
		PhotoCount: cat.PhotoCount, CreatedAt: cat.CreatedAt}
}

func (s *Server) listCategories(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	cats, err := s.db.FindCategories(c.Request().Context(), e.ID)
	if err != nil {
		return err
	}
	out := CategoryListResponse{Items: []CategoryResponse{}, Total: len(cats)}
	for _, cat := range cats {
		out.Items = append(out.Items, categoryResponse(cat))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createCategory(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	var req CreateCategoryRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name, err := validateName("name", req.Name, 100)
	if err != nil {
		return err
	}
	slug := Slugify(name)
	if isAllDigits(slug) {
		slug = "category-" + slug // "2024" must not read as an id
	}
	if req.Slug != nil {
		if err := validateSlug("slug", *req.Slug); err != nil {
			return err
		}
		slug = *req.Slug
	}
	if isAllDigits(slug) {
		// category_id accepts an id or a slug, so a slug must not look like an id.
		return invalidParam("slug", "must contain a letter")
	}
	cat := &storage.Category{EventID: e.ID, Name: name, Slug: slug}
	if err := s.db.CreateCategory(c.Request().Context(), cat); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return apiError("category_exists", "the event already has a category %q", slug).withDetails("slug", slug)
		}
		return notFound(err, "event_not_found", "no event %d", e.ID)
	}
	return c.JSON(http.StatusCreated, categoryResponse(cat))
}

func isAllDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// findCategory resolves the :category_id path parameter (id or slug) in event e.
func (s *Server) findCategory(c echo.Context, e *storage.Event, ref string) (*storage.Category, error) {
	cat, err := s.db.FindCategory(c.Request().Context(), e.ID, ref)
	if err != nil {
		return nil, notFound(err, "category_not_found", "event %d has no category %q", e.ID, ref)
	}
	return cat, nil
}

func (s *Server) updateCategory(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	cat, err := s.findCategory(c, e, c.Param("category_id"))
	if err != nil {
		return err
	}
	var req UpdateCategoryRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Name != nil {
		n, err := validateName("name", *req.Name, 100)
		if err != nil {
			return err
		}
		req.Name = &n
	}
	if req.Slug != nil {
		if err := validateSlug("slug", *req.Slug); err != nil {
			return err
		}
		if isAllDigits(*req.Slug) {
			return invalidParam("slug", "must contain a letter")
		}
	}
	updated, err := s.db.UpdateCategory(c.Request().Context(), e.ID, cat.ID, req.Name, req.Slug, req.Position)
	if errors.Is(err, storage.ErrConflict) {
		return apiError("category_exists", "the event already has a category %q", *req.Slug)
	}
	if err != nil {
		return notFound(err, "category_not_found", "no category %d", cat.ID)
	}
	return c.JSON(http.StatusOK, categoryResponse(updated))
}

func (s *Server) deleteCategory(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	cat, err := s.findCategory(c, e, c.Param("category_id"))
	if err != nil {
		return err
	}
	if err := s.db.DeleteCategory(c.Request().Context(), e.ID, cat.ID); err != nil {
		return notFound(err, "category_not_found", "no category %d", cat.ID)
	}
	return c.NoContent(http.StatusNoContent)
}

// ShareLinkResponse is an event's guest link.
type ShareLinkResponse struct {
	URL         string `json:"url" required:"true"`
	Key         string `json:"key" required:"true" description:"The share key. It opens a gallery without a password; a gallery with one always asks for it."`
	HasPassword bool   `json:"has_password" required:"true"`
}

// shareURL is the absolute guest link of an event.
func (s *Server) shareURL(c echo.Context, e *storage.Event) string {
	u := s.publicBaseURL(c) + "/g/" + e.Slug
	if e.PasswordHash == "" {
		u += "?key=" + e.ShareKey
	}
	return u
}

func (s *Server) getShareLink(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ShareLinkResponse{URL: s.shareURL(c, e), Key: e.ShareKey, HasPassword: e.PasswordHash != ""})
}

// rotateShareLink gives the event a new share key; every earlier guest session ends.
func (s *Server) rotateShareLink(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	e, err := s.db.RotateShareKey(c.Request().Context(), id)
	if err != nil {
		return notFound(err, "event_not_found", "no event %d", id)
	}
	return c.JSON(http.StatusOK, ShareLinkResponse{URL: s.shareURL(c, e), Key: e.ShareKey, HasPassword: e.PasswordHash != ""})
}
