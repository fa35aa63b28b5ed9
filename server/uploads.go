package server

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/server/ingest"
	"github.com/gallerist/gallerist/server/variants"
	"github.com/gallerist/gallerist/server/webhook"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// CreateUploadRequest opens a chunked upload session.
type CreateUploadRequest struct {
	ID       int64  `path:"id" json:"-"`
	Filename string `json:"filename" required:"true" minLength:"1" maxLength:"255" example:"ceremony.mp4"`
	Size     int64  `json:"size" required:"true" minimum:"1" description:"Exact size of the whole file in bytes."`
	MIMEType string `json:"mime_type,omitempty" example:"video/mp4" description:"Informative: the type is decided from the bytes at completion."`
	SHA256   string `json:"sha256,omitempty" pattern:"^[0-9a-f]{64}$" description:"Hex SHA-256 of the whole file, checked at completion."`
}

// UploadResponse describes a chunked upload session.
type UploadResponse struct {
	UploadID   string      `json:"upload_id" required:"true"`
	EventID    int64       `json:"event_id" required:"true"`
	Filename   string      `json:"filename" required:"true"`
	Size       int64       `json:"size" required:"true"`
	ChunkSize  int64       `json:"chunk_size" required:"true" description:"Every chunk but the last has exactly this size."`
	ChunkCount int         `json:"chunk_count" required:"true"`
	Received   []int       `json:"received" required:"true" description:"Indexes of the chunks already stored, ascending."`
	Chunks     []ChunkInfo `json:"chunks" required:"true" description:"The stored chunks with their SHA-256, to find a bad one after a checksum_mismatch."`
	Status     string      `json:"status" required:"true" enum:"open,completing,completed,duplicate,aborted"`
	PhotoID    *int64      `json:"photo_id,omitempty" description:"The stored photo (completed) or the photo with the same bytes (duplicate)."`
	ExpiresAt  time.Time   `json:"expires_at" required:"true"`
}

// ChunkInfo is one stored chunk of an upload.
type ChunkInfo struct {
	Index  int    `json:"index" required:"true"`
	Size   int64  `json:"size" required:"true"`
	SHA256 string `json:"sha256" required:"true"`
}

// UploadPathRequest names an upload session.
type UploadPathRequest struct {
	UploadID string `path:"upload_id"`
}

// PutChunkRequest documents a chunk upload: the raw bytes are the body.
type PutChunkRequest struct {
	UploadID   string `path:"upload_id"`
	Index      int    `path:"index" minimum:"0"`
	ContentMD5 string `header:"Content-MD5" description:"Optional base64 MD5 of the chunk (RFC 1864)."`
	ReprDigest string `header:"Repr-Digest" description:"Optional sha-256=:<base64>: of the chunk (RFC 9530); Digest: SHA-256=<base64> is read too."`
}

// ChunkResponse confirms a stored chunk.
type ChunkResponse struct {
	Index          int `json:"index" required:"true"`
	ReceivedChunks int `json:"received_chunks" required:"true"`
	ChunkCount     int `json:"chunk_count" required:"true"`
}

// Chunk sizes a session may use.
const (
	maxChunkCount = 200_000
	// completionLease bounds how long one completion may hold a session before another
	// process may take it over (assembly of a 10 GB file takes well under this).
	completionLease = 30 * time.Minute
)

var uploadIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newUploadID() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate upload id: %w", err)
	}
	return "up" + uploadIDEncoding.EncodeToString(b), nil
}

// owner names who opened a session, from the request's credentials.
func owner(c echo.Context) string {
	p, ok := c.Get(principalKey).(*principal)
	switch {
	case ok && p.Token != nil:
		return "token:" + strconv.FormatInt(p.Token.ID, 10)
	case ok && p.Session != nil && p.Session.Admin != nil:
		// Any web session of the same account may resume it (another browser, a new sign-in).
		return "admin:" + strconv.FormatInt(p.Session.Admin.ID, 10)
	}
	return "anonymous"
}

func uploadResponse(u *storage.Upload, chunks []storage.Chunk) UploadResponse {
	out := UploadResponse{UploadID: u.ID, EventID: u.EventID, Filename: u.Filename, Size: u.Size, ChunkSize: u.ChunkSize,
		ChunkCount: u.ChunkCount, Received: []int{}, Chunks: []ChunkInfo{}, Status: u.Status, PhotoID: u.PhotoID, ExpiresAt: u.ExpiresAt}
	for _, c := range chunks {
		out.Received = append(out.Received, c.Index)
		out.Chunks = append(out.Chunks, ChunkInfo{Index: c.Index, Size: c.Size, SHA256: c.SHA256})
	}
	return out
}

func (s *Server) createUpload(c echo.Context) error {
	ctx := c.Request().Context()
	e, err := s.findEvent(c)
	if err != nil {
		return err
	}
	if e.IsArchived {
		return apiError("event_archived", "event %d is archived; restore it to upload", e.ID)
	}
	var req CreateUploadRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Filename)
	if name == "" {
		return invalidParam("filename", "must not be empty")
	}
	if req.Size < 1 {
		return invalidParam("size", "must be at least 1 byte")
	}
	req.SHA256 = strings.ToLower(strings.TrimSpace(req.SHA256))
	if req.SHA256 != "" {
		if b, err := hex.DecodeString(req.SHA256); err != nil || len(b) != sha256.Size {
			return invalidParam("sha256", "must be 64 hexadecimal characters")
		}
	}
	st, err := s.settings.get(ctx)
	if err != nil {
		return err
	}
	// The declared type picks the cap now; the bytes decide again at completion.
	limit := max(st.MaxFileSizeMB, st.MaxVideoSizeMB) << 20
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	switch {
	case strings.HasPrefix(req.MIMEType, "image/"), slices.Contains([]string{"jpg", "jpeg", "png", "gif", "webp", "heic", "heif"}, ext):
		limit = st.MaxFileSizeMB << 20
	case strings.HasPrefix(req.MIMEType, "video/"), slices.Contains([]string{"mp4", "m4v", "mov", "webm", "avi"}, ext):
		limit = st.MaxVideoSizeMB << 20
	}
	if req.Size > limit {
		return apiError("file_too_large", "the file is %d bytes; this server takes at most %d MB for it", req.Size, limit>>20).
			withDetails("max_bytes", limit)
	}
	if e.PhotoCap != nil && e.PhotoCount >= *e.PhotoCap {
		return capExceeded(e, 1)
	}
	chunkSize := s.cfg.ChunkSizeMB << 20
	count := int((req.Size + chunkSize - 1) / chunkSize)
	if count > maxChunkCount {
		return apiError("file_too_large", "the file needs more than %d chunks", maxChunkCount)
	}
	id, err := newUploadID()
	if err != nil {
		return err
	}
	u := &storage.Upload{ID: id, EventID: e.ID, Owner: owner(c), Filename: ingest.CleanName(name, ""), Size: req.Size,
		MIMEType: req.MIMEType, SHA256: req.SHA256, ChunkSize: chunkSize, ChunkCount: count,
		ExpiresAt: time.Now().Add(s.cfg.UploadExpiry).UTC().Truncate(time.Microsecond)}
	if err := s.db.CreateUpload(ctx, u); err != nil {
		return notFound(err, "event_not_found", "no event %d", e.ID)
	}
	return c.JSON(http.StatusCreated, uploadResponse(u, nil))
}

// findUpload loads the session of the :upload_id parameter for its owner. Anyone else,
// and an unknown id, get the same 404. An expired session is 410.
func (s *Server) findUpload(c echo.Context) (*storage.Upload, []storage.Chunk, error) {
	id := c.Param("upload_id")
	if len(id) != 26 || !strings.HasPrefix(id, "up") {
		return nil, nil, apiError("upload_not_found", "no upload %q", id)
	}
	u, chunks, err := s.db.FindUpload(c.Request().Context(), id)
	if err != nil {
		return nil, nil, notFound(err, "upload_not_found", "no upload %q", id)
	}
	if u.Owner != owner(c) {
		return nil, nil, apiError("upload_not_found", "no upload %q", id)
	}
	if time.Now().After(u.ExpiresAt) && (u.Status == storage.UploadOpen || u.Status == storage.UploadCompleting) {
		return nil, nil, apiError("upload_expired", "upload %s expired at %s; start a new one", id, u.ExpiresAt.Format(time.RFC3339))
	}
	return u, chunks, nil
}

func (s *Server) getUpload(c echo.Context) error {
	u, chunks, err := s.findUpload(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, uploadResponse(u, chunks))
}

// putChunk stores one chunk: the size is checked from Content-Length before a byte is
// read, the bytes go to a temporary file that replaces the chunk only when complete and
// verified, so a failed re-send never destroys a good copy.
func (s *Server) putChunk(c echo.Context) error {
	u, _, err := s.findUpload(c)
	if err != nil {
		return err
	}
	index, err := strconv.Atoi(c.Param("index"))
	if err != nil || index < 0 || index >= u.ChunkCount {
		return apiError("chunk_out_of_range", "chunk index must be from 0 to %d", u.ChunkCount-1).
			withDetails("chunk_count", u.ChunkCount)
	}
	if u.Status != storage.UploadOpen {
		return uploadClosed(u)
	}
	want := u.ExpectedChunkSize(index)
	switch got := c.Request().ContentLength; {
	case got < 0:
		return apiError("length_required", "send Content-Length: chunk %d must be exactly %d bytes", index, want)
	case got != want:
		// Exact sizes are what keep a session's bytes within its declared size.
		return apiError("chunk_size_mismatch", "chunk %d must be exactly %d bytes, not %d", index, want, got).
			withDetails("expected", want, "received", got)
	}
	check, err := chunkDigest(c.Request().Header)
	if err != nil {
		return err
	}
	vr := &verifyingReader{r: c.Request().Body, want: want, sha: sha256.New(), check: check}
	if check != nil && check.algo == "md5" {
		vr.md5 = md5.New()
	}
	if _, err := s.blobs.Put(c.Request().Context(), storage.ChunkKey(u.ID, index), vr); err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) {
			return apiErr
		}
		if c.Request().Context().Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) {
			return apiError("client_closed_request", "the chunk was cut off").withCause(err)
		}
		return err
	}
	received, err := s.db.RecordChunk(c.Request().Context(), u.ID, storage.Chunk{Index: index, Size: want, SHA256: hex.EncodeToString(vr.sha.Sum(nil))})
	if errors.Is(err, storage.ErrConflict) {
		return apiError("upload_closed", "upload %s is no longer open", u.ID)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ChunkResponse{Index: index, ReceivedChunks: received, ChunkCount: u.ChunkCount})
}

func uploadClosed(u *storage.Upload) *Error {
	if u.Status == storage.UploadCompleting {
		return apiError("upload_in_progress", "upload %s is being completed", u.ID)
	}
	e := apiError("upload_closed", "upload %s is %s", u.ID, u.Status).withDetails("status", u.Status)
	if u.PhotoID != nil {
		e.withDetails("photo_id", *u.PhotoID)
	}
	return e
}

// digestCheck is an integrity header of a chunk.
type digestCheck struct {
	algo string // "md5" or "sha-256"
	sum  []byte
}

// chunkDigest reads Content-MD5, Repr-Digest (RFC 9530) or Digest (RFC 3230).
func chunkDigest(h http.Header) (*digestCheck, error) {
	if v := h.Get("Content-MD5"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(sum) != md5.Size {
			return nil, invalidParam("Content-MD5", "must be the base64 MD5 of the chunk")
		}
		return &digestCheck{algo: "md5", sum: sum}, nil
	}
	if v := h.Get("Repr-Digest"); v != "" {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(k, "sha-256") {
				continue
			}
			sum, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
			if err != nil || len(sum) != sha256.Size {
				return nil, invalidParam("Repr-Digest", "sha-256 must be :<base64>: of the chunk")
			}
			return &digestCheck{algo: "sha-256", sum: sum}, nil
		}
		return nil, invalidParam("Repr-Digest", "only sha-256 is supported")
	}
	if v := h.Get("Digest"); v != "" {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(k, "sha-256") {
				continue
			}
			sum, err := base64.StdEncoding.DecodeString(val)
			if err != nil || len(sum) != sha256.Size {
				return nil, invalidParam("Digest", "SHA-256 must be the base64 digest of the chunk")
			}
			return &digestCheck{algo: "sha-256", sum: sum}, nil
		}
		return nil, invalidParam("Digest", "only SHA-256 is supported")
	}
	return nil, nil
}

// verifyingReader passes a chunk through, hashing it, and turns its end into an error
// when the size or the digest is wrong, so the blob store never keeps a bad chunk.
type verifyingReader struct {
	r     io.Reader
	want  int64
	n     int64
	sha   hash.Hash
	md5   hash.Hash
	check *digestCheck
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if rem := v.want + 1 - v.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.sha.Write(p[:n])
	if v.md5 != nil {
		v.md5.Write(p[:n])
	}
	if v.n > v.want {
		return 0, apiError("chunk_size_mismatch", "the chunk is longer than %d bytes", v.want)
	}
	if errors.Is(err, io.EOF) {
		if v.n != v.want {
			return n, fmt.Errorf("chunk ended after %d of %d bytes: %w", v.n, v.want, io.ErrUnexpectedEOF)
		}
		if v.check != nil {
			got := v.sha.Sum(nil)
			if v.check.algo == "md5" {
				got = v.md5.Sum(nil)
			}
			if string(got) != string(v.check.sum) {
				return 0, apiError("checksum_mismatch", "the chunk's %s does not match its header; send it again", v.check.algo)
			}
		}
	}
	return n, err
}

// completeUpload assembles the chunks in order and stores the file through the same
// ingest path as a multipart upload. Concurrent calls share one assembly; a repeated
// call returns the same photo.
func (s *Server) completeUpload(c echo.Context) error {
	u, _, err := s.findUpload(c)
	if err != nil {
		return err
	}
	v, err, _ := s.completions.Do(u.ID, func() (any, error) {
		return s.complete(context.WithoutCancel(c.Request().Context()), u.ID)
	})
	if err != nil {
		return err
	}
	res := v.(completion)
	return c.JSON(http.StatusCreated, photoResponse(res.slug, res.photo))
}

type completion struct {
	photo *storage.Photo
	slug  string
}

// complete runs one completion of a session (see completeUpload).
func (s *Server) complete(ctx context.Context, id string) (completion, error) {
	won, u, err := s.db.BeginCompleteUpload(ctx, id, time.Now().Add(completionLease))
	if err != nil {
		return completion{}, err
	}
	if !won {
		if u.Status == storage.UploadCompleted && u.PhotoID != nil {
			return s.completed(ctx, *u.PhotoID)
		}
		if u.Status == storage.UploadDuplicate && u.PhotoID != nil {
			return completion{}, duplicateUpload(*u.PhotoID)
		}
		return completion{}, uploadClosed(u)
	}
	// From here the session is ours; every way out sets its next state.
	_, received, err := s.db.FindUpload(ctx, id)
	if err != nil {
		s.reopen(ctx, id)
		return completion{}, err
	}
	have := make([]bool, u.ChunkCount)
	for _, ch := range received {
		if ch.Index < u.ChunkCount && ch.Size == u.ExpectedChunkSize(ch.Index) {
			have[ch.Index] = true
		}
	}
	var missing []int
	for i, ok := range have {
		if !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		s.reopen(ctx, id)
		shown := missing
		if len(shown) > 1000 {
			shown = shown[:1000]
		}
		return completion{}, apiError("missing_chunks", "%d of %d chunks have not arrived", len(missing), u.ChunkCount).
			withDetails("missing", shown, "missing_count", len(missing))
	}
	st, err := s.settings.get(ctx)
	if err != nil {
		s.reopen(ctx, id)
		return completion{}, err
	}
	chunks := &chunkReader{ctx: ctx, blobs: s.blobs, upload: u}
	staged, rej, err := s.ingest.Stage(ctx, u.EventID, u.Filename, chunks, st.limits())
	chunks.Close()
	if err != nil {
		s.reopen(ctx, id)
		return completion{}, err
	}
	if rej != nil && u.SHA256 != "" && rej.Code != "duplicate" {
		// Refused bytes may just be corrupted ones: when the client declared the file's
		// hash, a mismatch is the answer it can act on (re-send), so check that first.
		sum, herr := s.chunksSHA256(ctx, u)
		if herr != nil {
			s.reopen(ctx, id)
			return completion{}, herr
		}
		if sum != u.SHA256 {
			s.reopen(ctx, id)
			return completion{}, apiError("checksum_mismatch", "the assembled file's sha256 is %s, not %s; re-send the chunks whose sha256 in GET /api/v1/uploads/{id} differs from yours", sum, u.SHA256).
				withDetails("sha256", sum)
		}
	}
	if rej != nil {
		if rej.Code == "duplicate" {
			pid := rej.PhotoID
			_ = s.db.FinishUpload(ctx, id, storage.UploadDuplicate, &pid)
			s.removeChunks(ctx, u)
			return completion{}, duplicateUpload(pid)
		}
		// The bytes themselves are refused: sending them again cannot help.
		_ = s.db.FinishUpload(ctx, id, storage.UploadAborted, nil)
		s.removeChunks(ctx, u)
		return completion{}, apiError(rej.Code, "%s", rej.Message)
	}
	if staged.Size != u.Size {
		staged.Remove()
		s.reopen(ctx, id)
		return completion{}, apiError("missing_chunks", "the chunks add up to %d bytes, not %d", staged.Size, u.Size)
	}
	if u.SHA256 != "" && staged.SHA256 != u.SHA256 {
		staged.Remove()
		s.reopen(ctx, id)
		return completion{}, apiError("checksum_mismatch", "the assembled file's sha256 is %s, not %s; re-send the chunks whose sha256 in GET /api/v1/uploads/{id} differs from yours", staged.SHA256, u.SHA256).
			withDetails("sha256", staged.SHA256)
	}
	results, err := s.ingest.Commit(ctx, u.EventID, []*ingest.Staged{staged}, nil,
		storage.CreatePhotosOptions{JobKinds: []string{variants.JobKind}, UploadID: u.ID, Source: webhook.SourceChunked})
	if err != nil {
		s.reopen(ctx, id)
		if errors.Is(err, storage.ErrPhotoCapReached) {
			e, ferr := s.db.FindEventByID(ctx, u.EventID)
			if ferr == nil && e.PhotoCap != nil {
				return completion{}, capExceeded(e, 1)
			}
		}
		return completion{}, err
	}
	s.removeChunks(ctx, u)
	if r := results[0]; r.Rejection != nil {
		return completion{}, duplicateUpload(r.Rejection.PhotoID)
	}
	s.metrics.uploadBytes.Add(float64(results[0].Photo.Size))
	s.queue.Notify()
	return s.completed(ctx, results[0].Photo.ID)
}

func (s *Server) completed(ctx context.Context, photoID int64) (completion, error) {
	p, err := s.db.FindPhotoByID(ctx, photoID)
	if err != nil {
		return completion{}, notFound(err, "photo_not_found", "the upload's photo %d was deleted", photoID)
	}
	e, err := s.db.FindEventByID(ctx, p.EventID)
	if err != nil {
		return completion{}, err
	}
	return completion{photo: p, slug: e.Slug}, nil
}

func duplicateUpload(photoID int64) *Error {
	return apiError("duplicate", "the event already holds these bytes as photo %d", photoID).withDetails("photo_id", photoID)
}

func (s *Server) reopen(ctx context.Context, id string) {
	if err := s.db.ReopenUpload(ctx, id); err != nil {
		s.log.Warn("reopen upload", "upload_id", id, "error", err)
	}
}

// removeChunks deletes a session's chunk blobs; the janitor catches what is left.
func (s *Server) removeChunks(ctx context.Context, u *storage.Upload) {
	for i := 0; i < u.ChunkCount; i++ {
		if err := s.blobs.Delete(ctx, storage.ChunkKey(u.ID, i)); err != nil {
			s.log.Warn("remove chunk", "upload_id", u.ID, "index", i, "error", err)
		}
	}
}

func (s *Server) deleteUpload(c echo.Context) error {
	u, _, err := s.findUpload(c)
	if err != nil {
		return err
	}
	if u.Status == storage.UploadCompleting && u.CompletingUntil != nil && time.Now().Before(*u.CompletingUntil) {
		// The chunks are being assembled right now; removing them would break it.
		return uploadClosed(u)
	}
	if u.Status == storage.UploadOpen || u.Status == storage.UploadCompleting {
		if err := s.db.AbortUpload(c.Request().Context(), u.ID); err != nil && !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	s.removeChunks(context.WithoutCancel(c.Request().Context()), u)
	if err := s.db.DeleteUpload(c.Request().Context(), u.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// chunkReader reads a session's chunks in order as one stream, opening one chunk at a
// time, so assembly never holds more than a copy buffer in memory.
type chunkReader struct {
	ctx    context.Context
	blobs  blob.Store
	upload *storage.Upload
	next   int
	cur    io.ReadCloser
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.next >= r.upload.ChunkCount {
				return 0, io.EOF
			}
			rc, _, err := r.blobs.Open(r.ctx, storage.ChunkKey(r.upload.ID, r.next))
			if err != nil {
				return 0, fmt.Errorf("open chunk %d: %w", r.next, err)
			}
			r.cur = rc
			r.next++
		}
		n, err := r.cur.Read(p)
		if errors.Is(err, io.EOF) {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Close releases the chunk being read, if any.
func (r *chunkReader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}

// chunksSHA256 hashes a session's chunks in order, as one stream.
func (s *Server) chunksSHA256(ctx context.Context, u *storage.Upload) (string, error) {
	r := &chunkReader{ctx: ctx, blobs: s.blobs, upload: u}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hash upload %s: %w", u.ID, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
