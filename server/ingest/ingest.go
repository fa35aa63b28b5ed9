package ingest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// Limits are the upload rules in force for one request.
type Limits struct {
	AllowedExtensions map[string]bool // extensions from general_allowed_file_types, lower case, no dot
	MaxImageBytes     int64
	MaxVideoBytes     int64
}

// allows reports whether format f is in the allowed list (jpeg matches jpg or jpeg, and
// so on).
func (l Limits) allows(f media.Format) bool {
	for _, ext := range aliases(f) {
		if l.AllowedExtensions[ext] {
			return true
		}
	}
	return false
}

func aliases(f media.Format) []string {
	switch f {
	case media.FormatJPEG:
		return []string{"jpg", "jpeg"}
	case media.FormatHEIC, media.FormatHEIF:
		return []string{"heic", "heif"}
	case media.FormatMOV:
		return []string{"mov", "qt"}
	default:
		return []string{f.Extension()}
	}
}

// Rejection is why one file was not stored. Code is a catalog code of the server.
type Rejection struct {
	Code    string
	Message string
	// PhotoID is the existing photo for a duplicate.
	PhotoID int64
}

// Staged is a file that passed every per-file check and waits in a temporary file.
type Staged struct {
	Path         string
	OriginalName string
	Size         int64
	SHA256       string
	Info         media.Info
}

// Ingester stores uploads. Its fields are set once by the server.
type Ingester struct {
	DB      *storage.DB
	Blobs   blob.Store
	TempDir string
	Media   media.Config
	// Grace is how long an unadopted blob waits before the janitor may remove it.
	Grace time.Duration
	// Hold, when set, is called between moving the blobs into place and committing the
	// rows. Tests use it to stop a process at the worst moment.
	Hold func()
}

// Remove deletes a staged file that will not be committed.
func (s *Staged) Remove() {
	if s != nil && s.Path != "" {
		os.Remove(s.Path)
	}
}

// Stage streams r into a temporary file and checks it: type from the bytes, allowed
// list, per-file cap, readable header, not already in the event. It returns either a
// Staged file or a Rejection; err is for failures that are not the file's fault (disk,
// database, a broken connection).
func (in *Ingester) Stage(ctx context.Context, eventID int64, name string, r io.Reader, limits Limits) (*Staged, *Rejection, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(media.SniffLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, nil, fmt.Errorf("read upload: %w", err)
	}
	if len(head) == 0 {
		return nil, &Rejection{Code: "unreadable_media", Message: "the file is empty"}, nil
	}
	format, err := media.Sniff(head)
	if err != nil {
		return nil, &Rejection{Code: "file_type_not_allowed", Message: "the file is not a supported image or video"}, nil
	}
	if !limits.allows(format) {
		return nil, &Rejection{Code: "file_type_not_allowed", Message: fmt.Sprintf("%s files are not allowed on this server", format.Extension())}, nil
	}
	limit := limits.MaxImageBytes
	if format.Kind() == media.KindVideo {
		limit = limits.MaxVideoBytes
	}
	f, err := os.CreateTemp(in.TempDir, "stage-*")
	if err != nil {
		return nil, nil, fmt.Errorf("stage upload: %w", err)
	}
	st := &Staged{Path: f.Name(), OriginalName: CleanName(name, format)}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(br, limit+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		st.Remove()
		return nil, nil, fmt.Errorf("stage upload: %w", err)
	}
	if n > limit {
		st.Remove()
		return nil, &Rejection{Code: "file_too_large", Message: fmt.Sprintf("the file is larger than the %d MB limit for %ss", limit>>20, format.Kind())}, nil
	}
	st.Size, st.SHA256 = n, hex.EncodeToString(h.Sum(nil))

	if id, err := in.DB.FindPhotoIDBySHA256(ctx, eventID, st.SHA256); err == nil {
		st.Remove()
		return nil, &Rejection{Code: "duplicate", Message: fmt.Sprintf("the event already holds these bytes as photo %d", id), PhotoID: id}, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		st.Remove()
		return nil, nil, err
	}

	info, err := media.Probe(ctx, in.Media, st.Path)
	if err != nil {
		if format.Kind() == media.KindVideo && errors.Is(err, media.ErrFFmpegMissing) {
			// Without ffprobe a video is still kept (a photographer's file is never
			// refused for a missing tool); its size, duration and poster stay unknown
			// until ffmpeg is installed and its variants are made again.
			st.Info = media.Info{Format: format, Orientation: 1}
			return st, nil, nil
		}
		st.Remove()
		switch {
		case errors.Is(err, media.ErrTooManyPixels):
			return nil, &Rejection{Code: "image_too_large", Message: "the image declares more pixels than this server decodes"}, nil
		case errors.Is(err, media.ErrCorruptFile), errors.Is(err, media.ErrUnsupportedFormat):
			return nil, &Rejection{Code: "unreadable_media", Message: fmt.Sprintf("the file looks like %s but cannot be read", format.Extension())}, nil
		case ctx.Err() != nil:
			return nil, nil, ctx.Err()
		}
		return nil, &Rejection{Code: "unreadable_media", Message: "the file cannot be read as an image or video"}, nil
	}
	st.Info = info
	return st, nil, nil
}

// Result is the outcome of committing one staged file.
type Result struct {
	Photo     *storage.Photo // stored
	Rejection *Rejection     // not stored (a duplicate found at commit time)
}

// Commit stores staged files in an event: intents, blobs, then rows and jobs in one
// transaction. Either all non-duplicate files are stored or none (ErrPhotoCapReached,
// ErrEventArchived, ...). Staged files are consumed either way.
func (in *Ingester) Commit(ctx context.Context, eventID int64, staged []*Staged, categoryID *int64, opts storage.CreatePhotosOptions) ([]Result, error) {
	defer func() {
		for _, s := range staged {
			s.Remove()
		}
	}()
	photos := make([]*storage.Photo, len(staged))
	keys := make([]string, len(staged))
	for i, s := range staged {
		stem, err := newStem()
		if err != nil {
			return nil, err
		}
		p := &storage.Photo{
			Stem:         stem,
			Filename:     stem + "." + s.Info.Format.Extension(),
			OriginalName: s.OriginalName,
			Format:       string(s.Info.Format),
			MediaType:    string(s.Info.Format.Kind()),
			MIMEType:     s.Info.Format.MIMEType(),
			Size:         s.Size,
			SHA256:       s.SHA256,
			Orientation:  s.Info.Orientation,
			CapturedAt:   s.Info.CapturedAt,
			CategoryID:   categoryID,
			Camera:       camera(s.Info.Camera),
			VideoCodec:   s.Info.VideoCodec,
		}
		if s.Info.Width > 0 && s.Info.Height > 0 {
			w, h := s.Info.Width, s.Info.Height
			p.Width, p.Height = &w, &h
		}
		if s.Info.Format.Kind() == media.KindVideo && s.Info.Duration > 0 {
			d := s.Info.Duration
			p.Duration = &d
		}
		p.EventID = eventID
		p.BlobKey = storage.OriginalKey(eventID, p.Filename)
		photos[i], keys[i] = p, p.BlobKey
	}
	// The intent comes first: if we die after a blob is in place but before its row is,
	// the janitor knows the blob is an orphan.
	if err := in.DB.AddBlobIntents(ctx, time.Now().Add(in.Grace), keys...); err != nil {
		return nil, fmt.Errorf("record upload intents: %w", err)
	}
	placed := 0
	cleanup := func() {
		bg := context.WithoutCancel(ctx)
		for _, k := range keys[:placed] {
			_ = in.Blobs.Delete(bg, k)
		}
		_ = in.DB.RemoveBlobGC(bg, keys...)
	}
	for i, s := range staged {
		if err := in.Blobs.PutFile(ctx, keys[i], s.Path); err != nil {
			cleanup()
			return nil, fmt.Errorf("store upload: %w", err)
		}
		s.Path = ""
		placed++
	}
	if in.Hold != nil {
		in.Hold()
	}
	created, err := in.DB.CreatePhotosWith(ctx, eventID, photos, opts)
	if err != nil {
		cleanup()
		return nil, err
	}
	results := make([]Result, len(created))
	storedBySHA := map[string]int64{}
	for _, c := range created {
		if c.Photo != nil {
			storedBySHA[c.Photo.SHA256] = c.Photo.ID
		}
	}
	var orphans []string
	for i, c := range created {
		if c.DuplicateOf < 0 {
			// Repeated within this batch: name the copy that was stored.
			c.DuplicateOf = storedBySHA[photos[i].SHA256]
		}
		if c.Photo != nil {
			results[i] = Result{Photo: c.Photo}
			continue
		}
		msg := "the same bytes appear earlier in this upload"
		if c.DuplicateOf > 0 && storedBySHA[photos[i].SHA256] != c.DuplicateOf {
			msg = fmt.Sprintf("the event already holds these bytes as photo %d", c.DuplicateOf)
		}
		results[i] = Result{Rejection: &Rejection{Code: "duplicate", Message: msg, PhotoID: max(c.DuplicateOf, 0)}}
		orphans = append(orphans, keys[i])
	}
	bg := context.WithoutCancel(ctx)
	for _, k := range orphans {
		if err := in.Blobs.Delete(bg, k); err == nil {
			_ = in.DB.RemoveBlobGC(bg, k)
		}
	}
	return results, nil
}

func camera(c media.Camera) storage.Camera {
	out := storage.Camera{Make: c.Make, Model: c.Model, Lens: c.Lens, ExposureTime: c.ExposureTime}
	if c.FNumber > 0 {
		v := c.FNumber
		out.FNumber = &v
	}
	if c.ISO > 0 {
		v := c.ISO
		out.ISO = &v
	}
	if c.FocalLength > 0 {
		v := c.FocalLength
		out.FocalLength = &v
	}
	return out
}

var stemEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newStem returns a random file name stem: 20 characters, 100 bits, lower case.
func newStem() (string, error) {
	b := make([]byte, 13)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate file name: %w", err)
	}
	return stemEncoding.EncodeToString(b)[:20], nil
}

// CleanName keeps a client's file name as metadata only: the base name, valid UTF-8,
// no control characters, at most 255 bytes; an empty name becomes "upload.<ext>".
func CleanName(name string, f media.Format) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		name = "upload"
		if ext := f.Extension(); ext != "" {
			name += "." + ext
		}
	}
	return name
}
