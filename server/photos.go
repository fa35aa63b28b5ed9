package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/server/ingest"
	"github.com/gallerist/gallerist/server/variants"
	"github.com/gallerist/gallerist/server/webhook"
	"github.com/gallerist/gallerist/storage"
)

// UploadPhotosRequest documents the multipart upload. The handler streams the parts
// itself; this type exists for the OpenAPI document.
type UploadPhotosRequest struct {
	ID         int64                   `path:"id" minimum:"1"`
	Photos     []*multipart.FileHeader `formData:"photos" required:"true" description:"One part per file (repeat the field). JPEG, PNG, GIF, WebP, HEIC/HEIF, MP4, MOV, WebM, AVI as allowed by general_allowed_file_types; the type is decided from the bytes."`
	CategoryID string                  `formData:"category_id" description:"Category id or slug for every file of the batch."`
}

// UploadPhotosResponse answers a multipart upload: what was stored and what was skipped.
type UploadPhotosResponse struct {
	Uploaded []UploadedPhoto `json:"uploaded" required:"true"`
	Skipped  []SkippedFile   `json:"skipped" required:"true"`
}

// UploadedPhoto is one stored file of an upload.
type UploadedPhoto struct {
	ID           int64   `json:"id" required:"true"`
	Filename     string  `json:"filename" required:"true" description:"The name the client sent."`
	URL          string  `json:"url" required:"true"`
	ThumbnailURL string  `json:"thumbnail_url" required:"true"`
	Size         int64   `json:"size" required:"true"`
	MediaType    string  `json:"media_type" required:"true" enum:"image,video"`
	Width        *int    `json:"width"`
	Height       *int    `json:"height"`
	CapturedAt   *string `json:"captured_at" format:"date-time"`
}

// SkippedFile is one file of an upload that was not stored, with the reason.
type SkippedFile struct {
	Filename string `json:"filename" required:"true"`
	Code     string `json:"code" required:"true" enum:"file_type_not_allowed,file_too_large,unreadable_media,image_too_large,duplicate"`
	Message  string `json:"message" required:"true"`
	PhotoID  *int64 `json:"photo_id,omitempty" description:"For a duplicate: the photo that already holds these bytes."`
}

// ListPhotosRequest is the query of GET /api/v1/events/{id}/photos.
type ListPhotosRequest struct {
	ID         int64  `path:"id" minimum:"1"`
	Limit      int    `query:"limit" default:"50" minimum:"1" maximum:"200"`
	Offset     int    `query:"offset" default:"0" minimum:"0"`
	CategoryID string `query:"category_id" description:"Category id or slug."`
	IsHidden   *bool  `query:"is_hidden"`
	MediaType  string `query:"media_type" enum:"image,video"`
	Sort       string `query:"sort" default:"upload_date_desc" enum:"upload_date_asc,upload_date_desc,capture_date_asc,capture_date_desc,filename_asc,filename_desc,size_asc,size_desc,rating_asc,rating_desc,position_asc,position_desc"`
	Cursor     string `query:"cursor" description:"The next_cursor of the previous page (keyset pagination, as fast deep as on page one); offset is then ignored."`
}

// PhotoListResponse is a page of photos.
type PhotoListResponse struct {
	Items      []PhotoResponse `json:"items" required:"true"`
	Total      int             `json:"total" required:"true"`
	Limit      int             `json:"limit" required:"true"`
	Offset     int             `json:"offset" required:"true"`
	NextCursor string          `json:"next_cursor,omitempty" description:"Pass as cursor to get the next page; absent on the last page."`
}

// PhotoPathRequest names a photo in the path.
type PhotoPathRequest struct {
	PhotoID int64 `path:"photo_id" minimum:"1"`
}

// PhotoResponse is a photo's full metadata.
type PhotoResponse struct {
	ID            int64             `json:"id" required:"true"`
	EventID       int64             `json:"event_id" required:"true"`
	Filename      string            `json:"filename" required:"true" description:"The name the client uploaded."`
	StoredName    string            `json:"stored_name" required:"true" description:"The generated name in url."`
	URL           string            `json:"url" required:"true"`
	ThumbnailURL  string            `json:"thumbnail_url" required:"true"`
	MediaType     string            `json:"media_type" required:"true" enum:"image,video"`
	MIMEType      string            `json:"mime_type" required:"true"`
	Size          int64             `json:"size" required:"true"`
	SHA256        string            `json:"sha256" required:"true"`
	Width         *int              `json:"width" description:"As displayed (EXIF orientation applied)."`
	Height        *int              `json:"height"`
	Orientation   int               `json:"orientation" required:"true" minimum:"1" maximum:"8"`
	CapturedAt    *string           `json:"captured_at" format:"date-time" description:"EXIF DateTimeOriginal, in the camera's offset when EXIF has one."`
	EXIF          EXIFSummary       `json:"exif" required:"true"`
	Duration      *float64          `json:"duration" description:"Seconds, videos only."`
	VideoCodec    string            `json:"video_codec,omitempty" description:"Videos only: the codec of the video stream (h264, hevc, vp9, ...)."`
	IsHidden      bool              `json:"is_hidden" required:"true"`
	CategoryID    *int64            `json:"category_id"`
	Position      int64             `json:"position" required:"true"`
	Feedback      FeedbackAggregate `json:"feedback" required:"true"`
	DownloadCount int               `json:"download_count" required:"true"`
	ViewCount     int               `json:"view_count" required:"true"`
	VariantStatus string            `json:"variant_status" required:"true" enum:"pending,ready,failed" description:"Whether the thumbnail and display copy exist yet (thumbnail_url works either way)."`
	UploadedAt    time.Time         `json:"uploaded_at" required:"true"`
	UpdatedAt     time.Time         `json:"updated_at" required:"true"`
}

// EXIFSummary is the camera summary of a photo.
type EXIFSummary struct {
	Make         string   `json:"make,omitempty"`
	Model        string   `json:"model,omitempty"`
	Lens         string   `json:"lens,omitempty"`
	FNumber      *float64 `json:"f_number,omitempty"`
	ExposureTime string   `json:"exposure_time,omitempty"`
	ISO          *int     `json:"iso,omitempty"`
	FocalLength  *float64 `json:"focal_length,omitempty"`
}

// FeedbackAggregate sums up guest feedback on a photo.
type FeedbackAggregate struct {
	Likes         int     `json:"likes" required:"true"`
	AverageRating float64 `json:"average_rating" required:"true"`
	Ratings       int     `json:"ratings" required:"true"`
	Comments      int     `json:"comments" required:"true"`
}

// UpdatePhotoRequest is the body of PATCH /api/v1/photos/{photo_id}.
type UpdatePhotoRequest struct {
	PhotoID    int64  `path:"photo_id" json:"-"`
	IsHidden   *bool  `json:"is_hidden,omitempty"`
	CategoryID IDRef  `json:"category_id,omitempty"`
	Position   *int64 `json:"position,omitempty" minimum:"0"`
}

// ReorderPhotosRequest is the body of POST /api/v1/events/{id}/photos/reorder.
type ReorderPhotosRequest struct {
	ID       int64   `path:"id" json:"-"`
	PhotoIDs []int64 `json:"photo_ids" required:"true" minItems:"1" maxItems:"10000" description:"These photos first, in this order; the others follow in their previous order."`
}

// ReorderPhotosResponse confirms a reorder.
type ReorderPhotosResponse struct {
	Reordered int `json:"reordered" required:"true"`
}

// BulkDeleteRequest is the body of POST /api/v1/photos/bulk-delete.
type BulkDeleteRequest struct {
	PhotoIDs []int64 `json:"photo_ids" required:"true" minItems:"1" maxItems:"2000"`
}

// BulkDeleteResponse tells what a bulk delete did.
type BulkDeleteResponse struct {
	Deleted int               `json:"deleted" required:"true"`
	Failed  int               `json:"failed" required:"true"`
	Errors  []BulkDeleteError `json:"errors" required:"true"`
}

// BulkDeleteError is one photo a bulk delete could not remove.
type BulkDeleteError struct {
	PhotoID int64  `json:"photo_id" required:"true"`
	Code    string `json:"code" required:"true"`
}

// RepairDimensionsResponse tells what a dimension repair did.
type RepairDimensionsResponse struct {
	Scanned  int `json:"scanned" required:"true"`
	Repaired int `json:"repaired" required:"true"`
	Failed   int `json:"failed" required:"true"`
}

// DownloadZipRequest is the query of the ZIP download.
type DownloadZipRequest struct {
	ID  int64  `path:"id" minimum:"1"`
	IDs string `query:"ids" description:"Comma-separated photo ids; all photos of the event when absent." example:"12,15,16"`
}

func photoURL(slug string, p *storage.Photo) string { return "/photos/" + slug + "/" + p.Filename }
func thumbURL(slug string, p *storage.Photo) string {
	return "/thumbnails/" + slug + "/" + p.Stem + ".jpg"
}

func formatCaptured(p *storage.Photo) *string {
	if p.CapturedAt == nil {
		return nil
	}
	s := p.CapturedAt.Format(time.RFC3339)
	return &s
}

func photoResponse(slug string, p *storage.Photo) PhotoResponse {
	return PhotoResponse{
		ID: p.ID, EventID: p.EventID, Filename: p.OriginalName, StoredName: p.Filename,
		URL: photoURL(slug, p), ThumbnailURL: thumbURL(slug, p), MediaType: p.MediaType, MIMEType: p.MIMEType,
		Size: p.Size, SHA256: p.SHA256, Width: p.Width, Height: p.Height, Orientation: p.Orientation,
		CapturedAt: formatCaptured(p),
		EXIF: EXIFSummary{Make: p.Camera.Make, Model: p.Camera.Model, Lens: p.Camera.Lens, FNumber: p.Camera.FNumber,
			ExposureTime: p.Camera.ExposureTime, ISO: p.Camera.ISO, FocalLength: p.Camera.FocalLength},
		Duration: p.Duration, VideoCodec: p.VideoCodec, IsHidden: p.IsHidden, CategoryID: p.CategoryID, Position: p.Position,
		Feedback:      FeedbackAggregate{Likes: p.Likes, AverageRating: p.RatingAvg, Ratings: p.RatingCount, Comments: p.Comments},
		DownloadCount: p.Downloads, ViewCount: p.Views, VariantStatus: p.Derivatives,
		UploadedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

// uploadFieldNames are the multipart fields that carry files.
var uploadFieldNames = []string{"photos", "photos[]"}

// uploadPhotos streams a multipart batch: each file part goes to a temporary file
// (never into memory); the batch rules are checked; then every accepted file is stored in
// one transaction, or none is.
func (s *Server) uploadPhotos(c echo.Context) error {
	ctx := c.Request().Context()
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	if e.IsArchived {
		return apiError("event_archived", "event %d is archived; restore it to upload", e.ID)
	}
	mediaType, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != "multipart/form-data" {
		return apiError("unsupported_media_type", "send multipart/form-data with one `photos` part per file")
	}
	maxBatch := s.cfg.MaxBatchMB << 20
	if c.Request().ContentLength > maxBatch {
		return batchTooLarge(maxBatch)
	}
	st, err := s.settings.get(ctx)
	if err != nil {
		return err
	}
	limits := st.limits()
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBatch)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return apiError("invalid_request", "malformed multipart body: %v", err)
	}

	var staged []*ingest.Staged
	discard := func() {
		for _, st := range staged {
			st.Remove()
		}
	}
	skipped := []SkippedFile{}
	var categoryRef string
	files := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			discard()
			return multipartError(ctx, err, maxBatch)
		}
		field := part.FormName()
		switch {
		case slices.Contains(uploadFieldNames, field):
			files++
			if files > st.MaxFilesPerUpload {
				part.Close()
				discard()
				return apiError("too_many_files", "an upload takes at most %d files; send the rest in another request", st.MaxFilesPerUpload).
					withDetails("max_files", st.MaxFilesPerUpload)
			}
			name := part.FileName()
			sf, rej, err := s.ingest.Stage(ctx, e.ID, name, part, limits)
			part.Close()
			if err != nil {
				discard()
				return multipartError(ctx, err, maxBatch)
			}
			if rej != nil {
				skipped = append(skipped, skippedFile(ingest.CleanName(name, ""), rej))
				continue
			}
			staged = append(staged, sf)
		case field == "category_id":
			b, err := io.ReadAll(io.LimitReader(part, 256))
			part.Close()
			if err != nil {
				discard()
				return multipartError(ctx, err, maxBatch)
			}
			categoryRef = strings.TrimSpace(string(b))
		default:
			part.Close() // unknown fields are ignored
		}
	}
	if files == 0 {
		return apiError("no_files", "the upload has no `photos` file part")
	}
	var categoryID *int64
	if categoryRef != "" {
		cat, err := s.findCategory(c, e, categoryRef)
		if err != nil {
			discard()
			return err
		}
		categoryID = &cat.ID
	}
	if e.PhotoCap != nil && e.PhotoCount+len(staged) > *e.PhotoCap {
		discard()
		return capExceeded(e, len(staged))
	}
	out := UploadPhotosResponse{Uploaded: []UploadedPhoto{}, Skipped: skipped}
	if len(staged) > 0 {
		results, err := s.ingest.Commit(ctx, e.ID, staged, categoryID, storage.CreatePhotosOptions{JobKinds: []string{variants.JobKind}, Source: webhook.SourceMultipart})
		if errors.Is(err, storage.ErrPhotoCapReached) {
			fresh, ferr := s.db.FindEventByID(ctx, e.ID)
			if ferr == nil {
				e = fresh
			}
			return capExceeded(e, len(staged))
		}
		if err != nil {
			return err
		}
		for i, r := range results {
			if r.Rejection != nil {
				out.Skipped = append(out.Skipped, skippedFile(staged[i].OriginalName, r.Rejection))
				continue
			}
			p := r.Photo
			s.metrics.uploadBytes.Add(float64(p.Size))
			out.Uploaded = append(out.Uploaded, UploadedPhoto{ID: p.ID, Filename: p.OriginalName, URL: photoURL(e.Slug, p),
				ThumbnailURL: thumbURL(e.Slug, p), Size: p.Size, MediaType: p.MediaType, Width: p.Width, Height: p.Height,
				CapturedAt: formatCaptured(p)})
		}
		s.queue.Notify()
	}
	return c.JSON(http.StatusCreated, out)
}

func skippedFile(name string, r *ingest.Rejection) SkippedFile {
	sf := SkippedFile{Filename: name, Code: r.Code, Message: r.Message}
	if r.PhotoID > 0 {
		id := r.PhotoID
		sf.PhotoID = &id
	}
	return sf
}

func batchTooLarge(limit int64) *Error {
	return apiError("batch_too_large", "a multipart upload takes at most %d MB; upload large files with the chunked route POST /api/v1/events/{id}/uploads", limit>>20).
		withDetails("max_bytes", limit, "chunked_upload", "/api/v1/events/{id}/uploads")
}

func capExceeded(e *storage.Event, adding int) *Error {
	return apiError("photo_cap_exceeded", "event %d holds %d of %d photos; %d more do not fit", e.ID, e.PhotoCount, *e.PhotoCap, adding).
		withDetails("photo_cap", *e.PhotoCap, "photo_count", e.PhotoCount, "attempted", adding)
}

// multipartError names the error of reading a multipart body: the batch limit, a client
// that went away, or a body that is not well-formed multipart. Anything else (a full
// disk, say) is the server's and passes through.
func multipartError(ctx context.Context, err error, limit int64) error {
	var mbe *http.MaxBytesError
	var apiErr *Error
	switch {
	case errors.As(err, &mbe):
		return batchTooLarge(limit)
	case errors.As(err, &apiErr):
		return err
	case ctx.Err() != nil:
		return apiError("client_closed_request", "the upload was interrupted").withCause(err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		strings.Contains(err.Error(), "multipart"), strings.Contains(err.Error(), "MIME"):
		return apiError("invalid_request", "malformed multipart body: it ends early or a part header is broken").withCause(err)
	}
	return err
}

func (s *Server) listPhotos(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	f := storage.PhotoFilter{EventID: e.ID}
	if f.Limit, f.Offset, err = pageParams(c); err != nil {
		return err
	}
	if f.IsHidden, err = queryBool(c, "is_hidden"); err != nil {
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
		if mt != string(media.KindImage) && mt != string(media.KindVideo) {
			return invalidParam("media_type", "must be image or video")
		}
		f.MediaType = &mt
	}
	f.Sort = c.QueryParam("sort")
	if f.Sort != "" && !slices.Contains(storage.PhotoSortKeys(), f.Sort) {
		return invalidParam("sort", "must be one of %s", strings.Join(storage.PhotoSortKeys(), ", "))
	}
	if f.After, err = queryCursor(c, f.Sort); err != nil {
		return err
	}
	photos, total, err := s.db.FindPhotos(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := PhotoListResponse{Items: make([]PhotoResponse, 0, len(photos)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, p := range photos {
		out.Items = append(out.Items, photoResponse(e.Slug, p))
	}
	if len(photos) == f.Limit {
		out.NextCursor = encodeCursor(f.Sort, photos[len(photos)-1])
	}
	return c.JSON(http.StatusOK, out)
}

// findPhoto loads the photo of the :photo_id path parameter with its event.
func (s *Server) findPhoto(c echo.Context) (*storage.Photo, *storage.Event, error) {
	id, err := pathID(c, "photo_id")
	if err != nil {
		return nil, nil, err
	}
	p, err := s.db.FindPhotoByID(c.Request().Context(), id)
	if err != nil {
		return nil, nil, notFound(err, "photo_not_found", "no photo %d", id)
	}
	e, err := s.db.FindEventByID(c.Request().Context(), p.EventID)
	if err != nil {
		return nil, nil, notFound(err, "photo_not_found", "no photo %d", id)
	}
	return p, e, nil
}

func (s *Server) getPhoto(c echo.Context) error {
	p, e, err := s.findPhoto(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, photoResponse(e.Slug, p))
}

func (s *Server) updatePhoto(c echo.Context) error {
	p, e, err := s.findPhoto(c)
	if err != nil {
		return err
	}
	var req UpdatePhotoRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	u := storage.PhotoUpdate{IsHidden: req.IsHidden}
	if req.Position != nil {
		if *req.Position < 0 {
			return invalidParam("position", "must be 0 or more")
		}
		u.Position = req.Position
	}
	if req.CategoryID.Set {
		u.CategoryID.Set = true
		if !req.CategoryID.Null && req.CategoryID.Value != "" {
			cat, err := s.findCategory(c, e, req.CategoryID.Value)
			if err != nil {
				return err
			}
			u.CategoryID.Value = &cat.ID
		}
	}
	updated, err := s.db.UpdatePhoto(c.Request().Context(), p.ID, u)
	if errors.Is(err, storage.ErrInvalid) {
		return apiError("category_not_found", "the category is not in event %d", e.ID)
	}
	if err != nil {
		return notFound(err, "photo_not_found", "no photo %d", p.ID)
	}
	return c.JSON(http.StatusOK, photoResponse(e.Slug, updated))
}

// retryVariants makes a photo's variants again in the background: after a failure (a
// video when ffmpeg was missing, say) or to rebuild them.
func (s *Server) retryVariants(c echo.Context) error {
	p, e, err := s.findPhoto(c)
	if err != nil {
		return err
	}
	if err := s.db.RetryPhotoVariants(c.Request().Context(), p.ID, variants.JobKind); err != nil {
		return notFound(err, "photo_not_found", "no photo %d", p.ID)
	}
	s.queue.Notify()
	p.Derivatives = storage.DerivativesPending
	return c.JSON(http.StatusAccepted, photoResponse(e.Slug, p))
}

func (s *Server) reorderPhotos(c echo.Context) error {
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	var req ReorderPhotosRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if len(req.PhotoIDs) == 0 || len(req.PhotoIDs) > 10000 {
		return invalidParam("photo_ids", "must list 1 to 10000 photo ids")
	}
	err = s.db.ReorderPhotos(c.Request().Context(), e.ID, req.PhotoIDs)
	if errors.Is(err, storage.ErrInvalid) {
		return invalidParam("photo_ids", "every id must be a photo of event %d, listed once", e.ID)
	}
	if err != nil {
		return notFound(err, "event_not_found", "no event %d", e.ID)
	}
	return c.JSON(http.StatusOK, ReorderPhotosResponse{Reordered: len(req.PhotoIDs)})
}

func (s *Server) deletePhoto(c echo.Context) error {
	id, err := pathID(c, "photo_id")
	if err != nil {
		return err
	}
	deleted, err := s.db.DeletePhotos(c.Request().Context(), []int64{id})
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		return apiError("photo_not_found", "no photo %d", id)
	}
	s.removeBlobs(c.Request().Context(), deleted[0].BlobKeys())
	s.removePrefix(c.Request().Context(), deleted[0].ProtectedPrefix())
	s.queue.Notify()
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) bulkDeletePhotos(c echo.Context) error {
	var req BulkDeleteRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	if len(req.PhotoIDs) == 0 || len(req.PhotoIDs) > HardMaxFilesPerUpload {
		return invalidParam("photo_ids", "must list 1 to %d photo ids", HardMaxFilesPerUpload)
	}
	ids := []int64{}
	out := BulkDeleteResponse{Errors: []BulkDeleteError{}}
	for _, id := range req.PhotoIDs {
		if id <= 0 {
			out.Errors = append(out.Errors, BulkDeleteError{PhotoID: id, Code: "invalid_parameter"})
			continue
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	deleted, err := s.db.DeletePhotos(c.Request().Context(), ids)
	if err != nil {
		return err
	}
	gone := map[int64]bool{}
	var keys []string
	for _, p := range deleted {
		gone[p.ID] = true
		keys = append(keys, p.BlobKeys()...)
	}
	s.removeBlobs(c.Request().Context(), keys)
	for _, p := range deleted {
		s.removePrefix(c.Request().Context(), p.ProtectedPrefix())
	}
	s.queue.Notify()
	for _, id := range ids {
		if !gone[id] {
			out.Errors = append(out.Errors, BulkDeleteError{PhotoID: id, Code: "photo_not_found"})
		}
	}
	out.Deleted, out.Failed = len(deleted), len(out.Errors)
	return c.JSON(http.StatusOK, out)
}

func (s *Server) repairDimensions(c echo.Context) error {
	ctx := c.Request().Context()
	photos, err := s.db.FindPhotosMissingDimensions(ctx)
	if err != nil {
		return err
	}
	out := RepairDimensionsResponse{Scanned: len(photos)}
	for _, p := range photos {
		path, err := s.blobs.Path(p.BlobKey)
		var info media.Info
		if err == nil {
			info, err = media.Probe(ctx, s.media, path)
		}
		if err == nil && (info.Width <= 0 || info.Height <= 0) {
			err = fmt.Errorf("no dimensions in the file")
		}
		if err == nil {
			err = s.db.SetPhotoDimensions(ctx, p.ID, info.Width, info.Height)
		}
		if err != nil {
			s.log.Warn("repair dimensions", "photo_id", p.ID, "error", err)
			out.Failed++
			continue
		}
		out.Repaired++
	}
	return c.JSON(http.StatusOK, out)
}

// parseIDList reads "1,2,3".
func parseIDList(name, v string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil || id <= 0 {
			return nil, invalidParam(name, "must be comma-separated positive ids, got %q", part)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, invalidParam(name, "must list at least one id")
	}
	return out, nil
}
