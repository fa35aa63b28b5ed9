package variants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gallerist/gallerist/media"
	"github.com/gallerist/gallerist/server/queue"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// JobKind is the queue kind of the job that makes a photo's variants.
const JobKind = "photo.variants"

// ErrFailed means the variants of a photo cannot be made (its file cannot be decoded).
var ErrFailed = errors.New("variants cannot be made")

// Maker makes variants. Its fields are set once by the server.
type Maker struct {
	DB      *storage.DB
	Blobs   blob.Store
	TempDir string
	Media   media.Config
	Limiter *media.Limiter
	Log     *slog.Logger
	// Observe, when set, receives the duration of each successful make.
	Observe func(time.Duration)
	group   singleflight.Group
}

// HandleJob is the queue handler of JobKind.
func (m *Maker) HandleJob(ctx context.Context, job *storage.Job) error {
	var p storage.PhotoJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return queue.Permanent(fmt.Errorf("decode job payload: %w", err))
	}
	photo, err := m.DB.FindPhotoByID(ctx, p.PhotoID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // deleted meanwhile: nothing to do
	}
	if err != nil {
		return err
	}
	err = m.Ensure(ctx, photo)
	if errors.Is(err, ErrFailed) {
		return queue.Permanent(err)
	}
	return err
}

// Ensure makes the photo's variants unless they exist. Concurrent calls for one photo
// share a single piece of work.
func (m *Maker) Ensure(ctx context.Context, p *storage.Photo) error {
	if p.Derivatives == storage.DerivativesReady {
		if _, err := m.Blobs.Stat(ctx, p.ThumbKey()); err == nil {
			return nil
		}
	}
	if p.Derivatives == storage.DerivativesFailed {
		return fmt.Errorf("photo %d: %w", p.ID, ErrFailed)
	}
	_, err, _ := m.group.Do(strconv.FormatInt(p.ID, 10), func() (any, error) {
		// The work belongs to every waiter, so one caller giving up must not cancel it.
		return nil, m.make(context.WithoutCancel(ctx), p)
	})
	return err
}

func (m *Maker) make(ctx context.Context, p *storage.Photo) error {
	start := time.Now()
	src, cleanup, err := m.localOriginal(ctx, p)
	if err != nil {
		return err
	}
	defer cleanup()
	info, err := media.Probe(ctx, m.Media, src)
	if err != nil {
		return m.fail(ctx, p, err)
	}
	release, err := m.Limiter.Acquire(ctx, media.DecodeCost(info))
	if err != nil {
		return fmt.Errorf("wait for media budget: %w", err)
	}
	display, err := os.CreateTemp(m.TempDir, "display-*")
	if err != nil {
		release()
		return fmt.Errorf("make variants of photo %d: %w", p.ID, err)
	}
	defer os.Remove(display.Name())
	thumb, err := os.CreateTemp(m.TempDir, "thumb-*")
	if err != nil {
		display.Close()
		release()
		return fmt.Errorf("make variants of photo %d: %w", p.ID, err)
	}
	defer os.Remove(thumb.Name())
	_, err = media.Derivatives(ctx, m.Media, src, info, display, thumb)
	release()
	err = errors.Join(err, syncClose(display), syncClose(thumb))
	if err != nil {
		if errors.Is(err, media.ErrCorruptFile) || errors.Is(err, media.ErrUnsupportedFormat) || errors.Is(err, media.ErrTooManyPixels) {
			return m.fail(ctx, p, err)
		}
		return fmt.Errorf("make variants of photo %d: %w", p.ID, err)
	}
	if err := m.Blobs.PutFile(ctx, p.DisplayKey(), display.Name()); err != nil {
		return fmt.Errorf("store display copy of photo %d: %w", p.ID, err)
	}
	if err := m.Blobs.PutFile(ctx, p.ThumbKey(), thumb.Name()); err != nil {
		return fmt.Errorf("store thumbnail of photo %d: %w", p.ID, err)
	}
	exists, err := m.DB.SetPhotoDerivatives(ctx, p.ID, storage.DerivativesReady)
	if err != nil {
		return err
	}
	if !exists {
		// The photo was deleted while we worked: take our files back.
		_ = m.Blobs.Delete(ctx, p.DisplayKey())
		_ = m.Blobs.Delete(ctx, p.ThumbKey())
		return nil
	}
	p.Derivatives = storage.DerivativesReady
	if m.Observe != nil {
		m.Observe(time.Since(start))
	}
	return nil
}

func (m *Maker) fail(ctx context.Context, p *storage.Photo, cause error) error {
	if _, err := m.DB.SetPhotoDerivatives(ctx, p.ID, storage.DerivativesFailed); err != nil {
		return err
	}
	p.Derivatives = storage.DerivativesFailed
	m.Log.Warn("variants cannot be made", "photo_id", p.ID, "error", cause)
	return fmt.Errorf("photo %d: %w: %v", p.ID, ErrFailed, cause)
}

// localOriginal returns a local path of the photo's original: the blob's own file for a
// local store, else a temporary copy. A missing original is blob.ErrNotFound.
func (m *Maker) localOriginal(ctx context.Context, p *storage.Photo) (string, func(), error) {
	path, cleanup, err := m.localBlob(ctx, p.BlobKey)
	if err != nil {
		return "", nil, fmt.Errorf("original of photo %d: %w", p.ID, err)
	}
	return path, cleanup, nil
}

func syncClose(f *os.File) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ProtectedKey is the blob key of a photo's protected variant made with opts; a change of
// the options (text, size, logo) names a new variant.
func ProtectedKey(p *storage.Photo, opts media.ProtectOptions, logoID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "v1|%d|%q|%.3f|%t|%d|%s", opts.MaxEdge, opts.Text, opts.Opacity, opts.Tiled, opts.Quality, logoID)
	return p.ProtectedPrefix() + hex.EncodeToString(h.Sum(nil))[:16] + ".jpg"
}

// EnsureProtected makes the photo's protected variant with opts unless it exists, from its
// display copy (made first if needed), once for concurrent callers. It returns its key.
func (m *Maker) EnsureProtected(ctx context.Context, p *storage.Photo, opts media.ProtectOptions, logoID string) (string, error) {
	key := ProtectedKey(p, opts, logoID)
	if _, err := m.Blobs.Stat(ctx, key); err == nil {
		return key, nil
	}
	_, err, _ := m.group.Do(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		if err := m.Ensure(ctx, p); err != nil {
			return nil, err
		}
		src, cleanup, err := m.localBlob(ctx, p.DisplayKey())
		if err != nil {
			return nil, err
		}
		defer cleanup()
		release, err := m.Limiter.Acquire(ctx, media.DecodeCost(media.Info{Format: media.FormatJPEG, Width: m.Media.DisplaySize, Height: m.Media.DisplaySize}))
		if err != nil {
			return nil, err
		}
		defer release()
		out, err := os.CreateTemp(m.TempDir, "protected-*")
		if err != nil {
			return nil, err
		}
		defer os.Remove(out.Name())
		_, _, err = media.Protect(ctx, m.Media, src, opts, out)
		if err = errors.Join(err, syncClose(out)); err != nil {
			return nil, fmt.Errorf("protect photo %d: %w", p.ID, err)
		}
		return nil, m.Blobs.PutFile(ctx, key, out.Name())
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// localBlob returns a local path of a blob: the blob's own file for a local store, else
// a temporary copy (removed by the returned function). A missing blob is blob.ErrNotFound.
func (m *Maker) localBlob(ctx context.Context, key string) (string, func(), error) {
	if l, ok := m.Blobs.(interface{ Path(string) (string, error) }); ok {
		path, err := l.Path(key)
		if err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("%s: %w", key, blob.ErrNotFound)
		} else if err != nil {
			return "", nil, err
		}
		return path, func() {}, nil
	}
	r, _, err := m.Blobs.Open(ctx, key)
	if err != nil {
		return "", nil, err
	}
	defer r.Close()
	f, err := os.CreateTemp(m.TempDir, "blob-*")
	if err != nil {
		return "", nil, err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}
