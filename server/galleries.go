package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
)

// GalleryAuthRequest is the body of POST /api/gallery/{slug}/auth.
type GalleryAuthRequest struct {
	Slug     string `path:"slug" json:"-"`
	Password string `json:"password,omitempty" description:"The gallery password (galleries with a password)."`
	Key      string `json:"key,omitempty" description:"The share link's key (galleries without a password)."`
}

// GalleryAuthResponse is a guest session of one gallery.
type GalleryAuthResponse struct {
	Token     string          `json:"token" required:"true" description:"Send as Authorization: Bearer on gallery routes; the HttpOnly cookie carries the same session for browsers."`
	ExpiresAt time.Time       `json:"expires_at" required:"true"`
	Gallery   GalleryResponse `json:"gallery" required:"true"`
}

// GalleryPathRequest names a gallery.
type GalleryPathRequest struct {
	Slug string `path:"slug"`
}

// GalleryResponse is what a guest may know of a gallery.
type GalleryResponse struct {
	Slug            string             `json:"slug" required:"true"`
	Name            string             `json:"name" required:"true"`
	Date            *string            `json:"date" format:"date"`
	CoverURL        *string            `json:"cover_url" description:"Thumbnail of the first photo in the manual order."`
	PhotoCount      int                `json:"photo_count" required:"true" description:"Visible photos (hidden ones are not counted)."`
	Categories      []CategoryResponse `json:"categories" required:"true"`
	AllowDownloads  bool               `json:"allow_downloads" required:"true"`
	FeedbackEnabled bool               `json:"feedback_enabled" required:"true"`
	ProtectionLevel string             `json:"protection_level" required:"true" enum:"basic,standard,enhanced,maximum"`
	ExpiresAt       *time.Time         `json:"expires_at"`
}

// ListGalleryPhotosRequest is the query of GET /api/gallery/{slug}/photos.
type ListGalleryPhotosRequest struct {
	Slug       string `path:"slug"`
	Limit      int    `query:"limit" default:"50" minimum:"1" maximum:"200"`
	Offset     int    `query:"offset" default:"0" minimum:"0"`
	CategoryID string `query:"category_id"`
	MediaType  string `query:"media_type" enum:"image,video"`
	Sort       string `query:"sort" default:"position_asc" enum:"upload_date_asc,upload_date_desc,capture_date_asc,capture_date_desc,filename_asc,filename_desc,size_asc,size_desc,rating_asc,rating_desc,position_asc,position_desc"`
	Cursor     string `query:"cursor" description:"The next_cursor of the previous page; offset is then ignored."`
}

// GalleryPhoto is a photo as a guest sees it.
type GalleryPhoto struct {
	ID           int64              `json:"id" required:"true"`
	Filename     string             `json:"filename" required:"true"`
	URL          string             `json:"url" required:"true" description:"The image to show (display copy, or the watermarked variant at enhanced/maximum protection; the video itself for videos)."`
	ThumbnailURL string             `json:"thumbnail_url" required:"true"`
	DownloadURL  *string            `json:"download_url" description:"The original as an attachment, when the gallery allows downloads."`
	Width        *int               `json:"width"`
	Height       *int               `json:"height"`
	MediaType    string             `json:"media_type" required:"true" enum:"image,video"`
	CapturedAt   *string            `json:"captured_at" format:"date-time"`
	CategoryID   *int64             `json:"category_id"`
	Feedback     *FeedbackAggregate `json:"feedback,omitempty" description:"When the gallery takes feedback."`
}

// GalleryPhotoListResponse is a page of a gallery's visible photos.
type GalleryPhotoListResponse struct {
	Items      []GalleryPhoto `json:"items" required:"true"`
	Total      int            `json:"total" required:"true"`
	Limit      int            `json:"limit" required:"true"`
	Offset     int            `json:"offset" required:"true"`
	NextCursor string         `json:"next_cursor,omitempty" description:"Pass as cursor to get the next page (infinite scroll); absent on the last page."`
}

// GalleryPhotoPathRequest names a photo of a gallery.
type GalleryPhotoPathRequest struct {
	Slug    string `path:"slug"`
	PhotoID int64  `path:"photo_id" minimum:"1"`
}

// GalleryZipRequest is the query of a guest ZIP download.
type GalleryZipRequest struct {
	Slug string `path:"slug"`
	IDs  string `query:"ids" description:"Comma-separated photo ids; every visible photo when absent."`
}

// RatingRequest is a guest's rating.
type RatingRequest struct {
	Slug    string `path:"slug" json:"-"`
	PhotoID int64  `path:"photo_id" json:"-"`
	Rating  int    `json:"rating" required:"true" minimum:"1" maximum:"5"`
}

// CommentRequest is a guest's comment.
type CommentRequest struct {
	Slug    string `path:"slug" json:"-"`
	PhotoID int64  `path:"photo_id" json:"-"`
	Name    string `json:"name" required:"true" minLength:"1" maxLength:"80"`
	Text    string `json:"text" required:"true" minLength:"1" maxLength:"2000"`
}

// GuestFeedbackResponse is a photo's feedback with this guest's own part.
type GuestFeedbackResponse struct {
	FeedbackAggregate
	Liked    bool `json:"liked" required:"true"`
	MyRating int  `json:"my_rating" required:"true" description:"0 when this guest has not rated the photo."`
}

// CommentResponse is one comment.
type CommentResponse struct {
	ID        int64     `json:"id" required:"true"`
	Name      string    `json:"name" required:"true"`
	Text      string    `json:"text" required:"true"`
	CreatedAt time.Time `json:"created_at" required:"true"`
}

// CommentListResponse is a page of comments, oldest first.
type CommentListResponse struct {
	Items  []CommentResponse `json:"items" required:"true"`
	Total  int               `json:"total" required:"true"`
	Limit  int               `json:"limit" required:"true"`
	Offset int               `json:"offset" required:"true"`
}

// guestSession is the default lifetime of a gallery token.
const guestSession = 30 * 24 * time.Hour

// galleryEvent returns the gallery of a guest route: the guest's own, or for an API
// token the event of the :slug (which must exist).
func (s *Server) galleryEvent(c echo.Context) (*storage.Event, *principal, error) {
	p, _ := c.Get(principalKey).(*principal)
	if p != nil && p.Event != nil {
		return p.Event, p, nil
	}
	e, err := s.db.FindEventBySlug(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return nil, p, notFound(err, "gallery_not_found", "no gallery %q", c.Param("slug"))
	}
	return e, p, nil
}

func isGuest(p *principal) bool { return p != nil && p.Guest != nil }

func (s *Server) authGallery(c echo.Context) error {
	slug := c.Param("slug")
	client := c.RealIP()
	wait, forgive := s.attempts.reserve(client, slug)
	if wait > 0 {
		return retryAfter(c, wait)
	}
	counted := true // a wrong password stays counted; anything else is forgiven
	defer func() {
		if !counted {
			forgive()
		}
	}()
	var req GalleryAuthRequest
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &req); err != nil {
			return err
		}
	}
	wrong := func(msg string) error {
		return apiError("invalid_password", "%s", msg)
	}
	e, err := s.db.FindEventBySlug(c.Request().Context(), slug)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (e.IsArchived || !e.IsPublished)) {
		CheckPassword(dummyHash, req.Password) // as slow as a real check
		return wrong("wrong password or share link")
	}
	if err != nil {
		counted = false
		return err
	}
	if e.PasswordHash != "" {
		// A share link never replaces a password.
		if !CheckPassword(e.PasswordHash, req.Password) {
			return wrong("wrong password or share link")
		}
	} else if subtle.ConstantTimeCompare([]byte(req.Key), []byte(e.ShareKey)) != 1 {
		CheckPassword(dummyHash, req.Password) // as slow as a real check
		return wrong("wrong password or share link")
	}
	counted = false // the right password or key
	if err := galleryOpen(e); err != nil {
		return err
	}
	token, expires, err := s.startGuestSession(c, e, slug)
	if err != nil {
		return err
	}
	g, err := s.galleryResponse(c, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, GalleryAuthResponse{Token: token, ExpiresAt: expires.UTC(), Gallery: g})
}

func (s *Server) logoutGallery(c echo.Context) error {
	s.setGuestCookie(c, c.Param("slug"), "", time.Time{}, true)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) galleryResponse(c echo.Context, e *storage.Event) (GalleryResponse, error) {
	ctx := c.Request().Context()
	hidden := false
	_, visible, err := s.db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, IsHidden: &hidden, Limit: 1})
	if err != nil {
		return GalleryResponse{}, err
	}
	cover, _, err := s.db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, IsHidden: &hidden, Sort: "position_asc", Limit: 1})
	if err != nil {
		return GalleryResponse{}, err
	}
	cats, err := s.db.FindCategoriesVisible(ctx, e.ID)
	if err != nil {
		return GalleryResponse{}, err
	}
	g := GalleryResponse{Slug: e.Slug, Name: e.Name, Date: e.Date, PhotoCount: visible, Categories: []CategoryResponse{},
		AllowDownloads: e.AllowDownloads, FeedbackEnabled: e.FeedbackEnabled, ProtectionLevel: e.ProtectionLevel, ExpiresAt: e.ExpiresAt}
	if len(cover) > 0 {
		u := thumbURL(e.Slug, cover[0])
		g.CoverURL = &u
	}
	for _, cat := range cats {
		g.Categories = append(g.Categories, categoryResponse(cat))
	}
	return g, nil
}

func (s *Server) getGallery(c echo.Context) error {
	e, _, err := s.galleryEvent(c)
	if err != nil {
		return err
	}
	g, err := s.galleryResponse(c, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

// originalsAllowed tells whether a guest may have a photo's original bytes.
func originalsAllowed(e *storage.Event) bool { return e.AllowDownloads }

func galleryPhoto(e *storage.Event, p *storage.Photo) GalleryPhoto {
	g := GalleryPhoto{ID: p.ID, Filename: p.OriginalName, URL: fmt.Sprintf("/api/gallery/%s/photo/%d", e.Slug, p.ID),
		ThumbnailURL: thumbURL(e.Slug, p), Width: p.Width, Height: p.Height, MediaType: p.MediaType,
		CapturedAt: formatCaptured(p), CategoryID: p.CategoryID}
	if originalsAllowed(e) {
		u := fmt.Sprintf("/api/gallery/%s/photos/%d/download", e.Slug, p.ID)
		g.DownloadURL = &u
	}
	if e.FeedbackEnabled {
		g.Feedback = &FeedbackAggregate{Likes: p.Likes, AverageRating: p.RatingAvg, Ratings: p.RatingCount, Comments: p.Comments}
	}
	return g
}

func (s *Server) listGalleryPhotos(c echo.Context) error {
	e, _, err := s.galleryEvent(c)
	if err != nil {
		return err
	}
	hidden := false
	f := storage.PhotoFilter{EventID: e.ID, IsHidden: &hidden, Sort: "position_asc"}
	if f.Limit, f.Offset, err = pageParams(c); err != nil {
		return err
	}
	if ref := c.QueryParam("category_id"); ref != "" {
		cat, err := s.findCategory(c, e, ref)
		if err != nil {
			return err
		}
		f.CategoryID = &cat.ID
	}
	if mt := c.QueryParam("media_type"); mt != "" {
		if mt != "image" && mt != "video" {
			return invalidParam("media_type", "must be image or video")
		}
		f.MediaType = &mt
	}
	if v := c.QueryParam("sort"); v != "" {
		if !slices.Contains(storage.PhotoSortKeys(), v) {
			return invalidParam("sort", "must be one of %s", strings.Join(storage.PhotoSortKeys(), ", "))
		}
		f.Sort = v
	}
	if f.After, err = queryCursor(c, f.Sort); err != nil {
		return err
	}
	photos, total, err := s.db.FindPhotos(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := GalleryPhotoListResponse{Items: make([]GalleryPhoto, 0, len(photos)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, p := range photos {
		out.Items = append(out.Items, galleryPhoto(e, p))
	}
	if len(photos) == f.Limit {
		out.NextCursor = encodeCursor(f.Sort, photos[len(photos)-1])
	}
	return c.JSON(http.StatusOK, out)
}

// galleryPhotoOf loads the :photo_id of a gallery; hidden photos do not exist for guests.
func (s *Server) galleryPhotoOf(c echo.Context, e *storage.Event, p *principal) (*storage.Photo, error) {
	id, err := pathID(c, "photo_id")
	if err != nil {
		return nil, err
	}
	ph, err := s.db.FindPhotoByID(c.Request().Context(), id)
	if err != nil || ph.EventID != e.ID || (ph.IsHidden && isGuest(p)) {
		return nil, apiError("photo_not_found", "this gallery has no photo %d", id)
	}
	return ph, nil
}

// feedbackGuest checks that a feedback route is open and returns the guest's id.
func (s *Server) feedbackGuest(c echo.Context) (*storage.Event, *storage.Photo, string, error) {
	e, p, err := s.galleryEvent(c)
	if err != nil {
		return nil, nil, "", err
	}
	ph, err := s.galleryPhotoOf(c, e, p)
	if err != nil {
		return nil, nil, "", err
	}
	if !e.FeedbackEnabled {
		return nil, nil, "", apiError("feedback_disabled", "this gallery does not take likes, ratings or comments")
	}
	if !isGuest(p) || p.Guest.GuestID == "" {
		return nil, nil, "", apiError("guest_session_required", "sign in to the gallery (POST /api/gallery/%s/auth) to give feedback", e.Slug)
	}
	return e, ph, p.Guest.GuestID, nil
}

func (s *Server) feedbackAnswer(c echo.Context, photoID int64, guestID string) error {
	ph, err := s.db.FindPhotoByID(c.Request().Context(), photoID)
	if err != nil {
		return notFound(err, "photo_not_found", "no photo %d", photoID)
	}
	mine, err := s.db.FindGuestFeedback(c.Request().Context(), photoID, guestID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, GuestFeedbackResponse{
		FeedbackAggregate: FeedbackAggregate{Likes: ph.Likes, AverageRating: ph.RatingAvg, Ratings: ph.RatingCount, Comments: ph.Comments},
		Liked:             mine.Liked, MyRating: mine.Rating})
}

func (s *Server) likePhoto(c echo.Context) error   { return s.setLike(c, true) }
func (s *Server) unlikePhoto(c echo.Context) error { return s.setLike(c, false) }

func (s *Server) setLike(c echo.Context, liked bool) error {
	_, ph, guest, err := s.feedbackGuest(c)
	if err != nil {
		return err
	}
	if err := s.db.SetLike(c.Request().Context(), ph.ID, guest, liked); err != nil {
		return err
	}
	return s.feedbackAnswer(c, ph.ID, guest)
}

func (s *Server) ratePhoto(c echo.Context) error {
	_, ph, guest, err := s.feedbackGuest(c)
	if err != nil {
		return err
	}
	var req RatingRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if req.Rating < 1 || req.Rating > 5 {
		return invalidParam("rating", "must be from 1 to 5")
	}
	if err := s.db.SetRating(c.Request().Context(), ph.ID, guest, req.Rating); err != nil {
		return err
	}
	return s.feedbackAnswer(c, ph.ID, guest)
}

func (s *Server) unratePhoto(c echo.Context) error {
	_, ph, guest, err := s.feedbackGuest(c)
	if err != nil {
		return err
	}
	if err := s.db.SetRating(c.Request().Context(), ph.ID, guest, 0); err != nil {
		return err
	}
	return s.feedbackAnswer(c, ph.ID, guest)
}

func (s *Server) listComments(c echo.Context) error {
	e, p, err := s.galleryEvent(c)
	if err != nil {
		return err
	}
	ph, err := s.galleryPhotoOf(c, e, p)
	if err != nil {
		return err
	}
	if !e.FeedbackEnabled && isGuest(p) {
		return apiError("feedback_disabled", "this gallery does not take comments")
	}
	limit, offset, err := pageParams(c)
	if err != nil {
		return err
	}
	list, total, err := s.db.FindComments(c.Request().Context(), ph.ID, limit, offset)
	if err != nil {
		return err
	}
	out := CommentListResponse{Items: []CommentResponse{}, Total: total, Limit: limit, Offset: offset}
	for _, cm := range list {
		out.Items = append(out.Items, CommentResponse{ID: cm.ID, Name: cm.Name, Text: cm.Body, CreatedAt: cm.CreatedAt})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) addComment(c echo.Context) error {
	_, ph, guest, err := s.feedbackGuest(c)
	if err != nil {
		return err
	}
	var req CommentRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name, text := strings.TrimSpace(req.Name), strings.TrimSpace(req.Text)
	if name == "" || utf8.RuneCountInString(name) > 80 {
		return invalidParam("name", "must be 1 to 80 characters")
	}
	if text == "" || utf8.RuneCountInString(text) > 2000 {
		return invalidParam("text", "must be 1 to 2000 characters")
	}
	cm := &storage.Comment{PhotoID: ph.ID, GuestID: guest, Name: name, Body: text}
	if err := s.db.AddComment(c.Request().Context(), cm); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, CommentResponse{ID: cm.ID, Name: cm.Name, Text: cm.Body, CreatedAt: cm.CreatedAt})
}

// startGuestSession signs a new guest token for event e (a new guest id, until the
// session length or the gallery's expiry, whichever comes first) and sets it as the
// gallery's cookie.
func (s *Server) startGuestSession(c echo.Context, e *storage.Event, slug string) (string, time.Time, error) {
	expires := time.Now().Add(guestSession)
	if e.ExpiresAt != nil && e.ExpiresAt.Before(expires) {
		expires = *e.ExpiresAt
	}
	token, err := s.signGuestToken(c, guestClaims{EventID: e.ID, Epoch: e.GuestEpoch, GuestID: newGuestID(), Expires: expires.Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	s.setGuestCookie(c, slug, token, expires, false)
	return token, expires, nil
}
