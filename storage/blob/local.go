package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Local is a Store on the local file system: blob "a/b.jpg" is the file root/a/b.jpg.
// Temporary files live in root/.tmp, on the same file system, so that the final rename
// is atomic.
type Local struct {
	root string
	tmp  string
}

// tmpDir is the folder under root that holds temporary files.
const tmpDir = ".tmp"

// NewLocal opens (creating) a local store rooted at dir.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob store %s: %w", dir, err)
	}
	l := &Local{root: abs, tmp: filepath.Join(abs, tmpDir)}
	if err := os.MkdirAll(l.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("blob store %s: %w", abs, err)
	}
	return l, nil
}

// Root is the folder that holds the blobs.
func (l *Local) Root() string { return l.root }

// Path returns the file that holds key, for tools that need a path (ffmpeg, a reverse
// proxy's X-Accel-Redirect).
func (l *Local) Path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	// The temporary folder is not part of the store: a blob there would be invisible to
	// Walk and removed with the temp files, and Delete(".tmp") would break every Put.
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return "", fmt.Errorf("%w: %q is the temporary folder", ErrInvalidKey, key)
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Store: temp file, copy, fsync, Close checked, rename, fsync folder.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	dst, err := l.Path(key)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(l.tmp, "put-*")
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	n, err := io.Copy(f, contextReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	// Close reports write-back errors on some file systems; a lost Close error is a lost photo.
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.place(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return n, nil
}

// PutFile implements Store by renaming path into place (copying when path is on another
// file system).
func (l *Local) PutFile(ctx context.Context, key, path string) error {
	dst, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := l.place(path, dst); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("put file %s: %w", key, err)
		}
		src, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("put file %s: %w", key, err)
		}
		defer src.Close()
		if _, err := l.Put(ctx, key, src); err != nil {
			return err
		}
		return os.Remove(path)
	}
	return nil
}

// place renames a synced temp file to dst and fsyncs the folders that changed.
func (l *Local) place(tmp, dst string) error {
	dir := filepath.Dir(dst)
	var err error
	// A concurrent Delete may remove the folder once it is empty, between MkdirAll and
	// Rename; then the folder is made again.
	for try := 0; try < 3; try++ {
		if err = os.MkdirAll(dir, 0o750); errors.Is(err, fs.ErrNotExist) {
			continue // a parent was removed by a concurrent Delete meanwhile
		} else if err != nil {
			return err
		}
		// Temporary files are created 0600; blobs are group-readable (0640) so that a
		// reverse proxy in the server's group can serve them (X-Accel-Redirect).
		if err = os.Chmod(tmp, 0o640); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err = os.Rename(tmp, dst); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		if _, serr := os.Stat(tmp); serr != nil {
			break // the source is what is missing
		}
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open implements Store.
func (l *Local) Open(_ context.Context, key string) (io.ReadSeekCloser, Info, error) {
	p, err := l.Path(key)
	if err != nil {
		return nil, Info{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Info{}, fmt.Errorf("open %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, fmt.Errorf("open %s: %w", key, err)
	}
	// A folder that holds blobs ("originals/1") is not a blob.
	if st.IsDir() {
		f.Close()
		return nil, Info{}, fmt.Errorf("open %s: %w", key, ErrNotFound)
	}
	return f, Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Stat implements Store.
func (l *Local) Stat(_ context.Context, key string) (Info, error) {
	p, err := l.Path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || err == nil && st.IsDir() {
		return Info{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete implements Store.
func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	// Remove folders the deletion emptied, so deleted events and finished uploads leave
	// no empty folders behind. A folder that still has files is left alone.
	for dir := filepath.Dir(p); dir != l.root && strings.HasPrefix(dir, l.root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// Walk implements Store. The temporary folder is not part of the store.
func (l *Local) Walk(ctx context.Context, prefix string, fn func(Info) error) error {
	// Start at the deepest folder the prefix names, so a walk of one photo's variants
	// does not read the whole store.
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i > 0 && ValidateKey(prefix[:i]) == nil {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	return filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d.IsDir() {
			if p == l.tmp {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return fn(Info{Key: key, Size: info.Size(), ModTime: info.ModTime()})
	})
}

// contextReader stops a copy when ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
