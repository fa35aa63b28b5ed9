package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNotFound means no blob exists under the key.
var ErrNotFound = errors.New("blob not found")

// ErrInvalidKey means a key has characters or segments a store does not accept.
var ErrInvalidKey = errors.New("invalid blob key")

// Info describes a stored blob.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store keeps blobs. Implementations are safe for concurrent use.
type Store interface {
	// Put stores the bytes of r under key, replacing any blob there, atomically.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// PutFile stores the finished file at path under key and removes path. The file must
	// already be complete and synced; a local store renames it instead of copying.
	PutFile(ctx context.Context, key, path string) error
	// Open returns the blob for reading and seeking (for Range requests).
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
	// Stat describes the blob without opening it.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the blob; a missing blob is not an error.
	Delete(ctx context.Context, key string) error
	// Walk calls fn for every blob whose key starts with prefix.
	Walk(ctx context.Context, prefix string, fn func(Info) error) error
}

// ValidateKey accepts keys made of lower-case letters, digits, '-', '_', '.' and '/'
// separators, with no empty, "." or ".." segment.
func ValidateKey(key string) error {
	if key == "" || len(key) > 512 {
		return fmt.Errorf("%w: length %d", ErrInvalidKey, len(key))
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/':
		default:
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}
