package blob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gallerist/gallerist/storage/blob"
)

// mustNewLocal opens a store in a fresh folder.
func mustNewLocal(t *testing.T) *blob.Local {
	t.Helper()
	l, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// mustPut stores content under key.
func mustPut(t *testing.T, l *blob.Local, key, content string) {
	t.Helper()
	n, err := l.Put(context.Background(), key, strings.NewReader(content))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	if n != int64(len(content)) {
		t.Fatalf("put %s wrote %d bytes, want %d", key, n, len(content))
	}
}

// mustRead returns the bytes stored under key.
func mustRead(t *testing.T, l *blob.Local, key string) string {
	t.Helper()
	rc, info, err := l.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(b)) {
		t.Fatalf("open %s: info %+v for %d bytes", key, info, len(b))
	}
	return string(b)
}

// tmpFiles lists what is left in the store's temporary folder.
func tmpFiles(t *testing.T, l *blob.Local) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Root(), ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// walkKeys lists the keys Walk reports under prefix, in its order.
func walkKeys(t *testing.T, l *blob.Local, prefix string) []string {
	t.Helper()
	var keys []string
	err := l.Walk(context.Background(), prefix, func(i blob.Info) error {
		keys = append(keys, i.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %q: %v", prefix, err)
	}
	return keys
}

// Local is the Store the server uses.
var _ blob.Store = (*blob.Local)(nil)

func TestLocalRoundTrip(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)
	content := strings.Repeat("photo bytes ", 10000)
	mustPut(t, l, "originals/1/abc.jpg", content)

	if got := mustRead(t, l, "originals/1/abc.jpg"); got != content {
		t.Fatalf("read back %d bytes, want %d", len(got), len(content))
	}
	info, err := l.Stat(ctx, "originals/1/abc.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "originals/1/abc.jpg" || info.Size != int64(len(content)) || info.ModTime.IsZero() {
		t.Fatalf("Stat = %+v", info)
	}
	// The file sits where Path says, and Open seeks (Range requests).
	p, err := l.Path("originals/1/abc.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(l.Root(), "originals", "1", "abc.jpg"); p != want {
		t.Fatalf("Path = %s, want %s", p, want)
	}
	rc, _, err := l.Open(ctx, "originals/1/abc.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Seek(12, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rc, buf); err != nil || string(buf) != "photo" {
		t.Fatalf("read after seek = %q, %v", buf, err)
	}
	rc.Close()

	// Put replaces.
	mustPut(t, l, "originals/1/abc.jpg", "new")
	if got := mustRead(t, l, "originals/1/abc.jpg"); got != "new" {
		t.Fatalf("after replace: %q", got)
	}
	// An empty blob is a blob.
	mustPut(t, l, "empty", "")
	if got := mustRead(t, l, "empty"); got != "" {
		t.Fatalf("empty blob = %q", got)
	}

	if err := l.Delete(ctx, "originals/1/abc.jpg"); err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Open(ctx, "originals/1/abc.jpg")
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	_, err = l.Stat(ctx, "originals/1/abc.jpg")
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
	}
	// Deleting what is not there is fine.
	if err := l.Delete(ctx, "originals/1/abc.jpg"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := l.Delete(ctx, "never/was.jpg"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files left: %v", got)
	}
}

func TestLocalMissing(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)
	mustPut(t, l, "originals/1/a.jpg", "a")
	for _, key := range []string{"originals/1/b.jpg", "nothing", "originals/2/a.jpg"} {
		if _, _, err := l.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := l.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
	}
	// A folder that holds blobs is not a blob.
	for _, key := range []string{"originals", "originals/1"} {
		if rc, _, err := l.Open(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Open(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := l.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

func TestValidateKey(t *testing.T) {
	for _, key := range []string{
		"a", "originals/1/p000001.jpg", "thumbs/12/abc-def_1.jpg", "display/3/x.y.z.jpg", "a/b/c/d", "0",
	} {
		if err := blob.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", key, err)
		}
	}
	for _, key := range []string{
		"", "../x", "a/../b", "..", ".", "a//b", "/a", "a/", "A.jpg", "originals/1/IMG.JPG", "a/./b",
		"a b", "a\\b", "..\\x", "a\tb", "a\x00b", "é.jpg", "a:b", "a?b", "a%2fb", strings.Repeat("a", 513),
	} {
		if err := blob.ValidateKey(key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestLocalRefusesInvalidKeys(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	l, err := blob.NewLocal(filepath.Join(root, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "../escape", "a//b", "A.jpg", "a/./b", "a b", "a\\b"} {
		if _, err := l.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := l.Open(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := l.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := l.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := l.Path(key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Path(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	// Nothing was written outside (or inside) the store.
	if _, err := os.Stat(filepath.Join(root, "escape")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file escaped the store: %v", err)
	}
	if got := walkKeys(t, l, ""); len(got) != 0 {
		t.Fatalf("blobs after refused puts: %v", got)
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files after refused puts: %v", got)
	}
}

func TestLocalRefusesTempFolderKeys(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)
	for _, key := range []string{".tmp", ".tmp/put-123", ".tmp/a/b"} {
		if _, err := l.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
		if err := l.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", key, err)
		}
		if _, err := l.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	// The temp folder survives and Put still works; look-alike keys are ordinary blobs.
	mustPut(t, l, ".tmpx/a", "a")
	mustPut(t, l, "x/.tmp/a", "b")
	if got := walkKeys(t, l, ""); !slices.Equal(got, []string{".tmpx/a", "x/.tmp/a"}) {
		t.Fatalf("Walk = %v", got)
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files: %v", got)
	}
}

// failingReader returns n bytes and then an error, like a client that disconnects.
type failingReader struct {
	n   int
	err error
}

var errDisconnected = errors.New("client disconnected")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

func TestLocalPutFailingReaderLeavesNothing(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)

	_, err := l.Put(ctx, "originals/1/new.jpg", &failingReader{n: 100 << 10, err: errDisconnected})
	if !errors.Is(err, errDisconnected) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if _, err := l.Stat(ctx, "originals/1/new.jpg"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after a failed Put = %v, want ErrNotFound", err)
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files after a failed Put: %v", got)
	}

	// A failed replacement keeps the old blob whole.
	mustPut(t, l, "originals/1/old.jpg", "the original")
	_, err = l.Put(ctx, "originals/1/old.jpg", &failingReader{n: 5, err: errDisconnected})
	if !errors.Is(err, errDisconnected) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if got := mustRead(t, l, "originals/1/old.jpg"); got != "the original" {
		t.Fatalf("blob after a failed replacement = %q", got)
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files after a failed replacement: %v", got)
	}
	if got := walkKeys(t, l, ""); !slices.Equal(got, []string{"originals/1/old.jpg"}) {
		t.Fatalf("blobs = %v", got)
	}
}

// cancellingReader cancels its context after the first read, as a request context is
// cancelled when the client goes away mid-upload.
type cancellingReader struct {
	cancel context.CancelFunc
	reads  int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	r.reads++
	if r.reads == 1 {
		r.cancel()
	}
	return copy(p, bytes.Repeat([]byte("y"), len(p))), nil
}

func TestLocalPutCancelledLeavesNothing(t *testing.T) {
	l := mustNewLocal(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Put(ctx, "originals/1/a.jpg", strings.NewReader("abc"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context = %v, want context.Canceled", err)
	}

	// Cancelled in the middle of an endless body: Put stops and cleans up.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	r := &cancellingReader{cancel: cancel}
	_, err = l.Put(ctx, "originals/1/b.jpg", r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put cancelled mid-copy = %v, want context.Canceled", err)
	}
	if r.reads != 1 {
		t.Fatalf("Put read %d times after the cancel, want it to stop at once", r.reads-1)
	}
	for _, key := range []string{"originals/1/a.jpg", "originals/1/b.jpg"} {
		if _, err := l.Stat(context.Background(), key); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat(%s) = %v, want ErrNotFound", key, err)
		}
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files after cancelled puts: %v", got)
	}
	if got := walkKeys(t, l, ""); len(got) != 0 {
		t.Fatalf("blobs after cancelled puts: %v", got)
	}
}

func TestLocalPutFileRenames(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)

	// A finished file in the store's temp folder (same file system), as an upload
	// assembler would leave it.
	src := filepath.Join(l.Root(), ".tmp", "assembled")
	content := strings.Repeat("chunk", 4096)
	if err := os.WriteFile(src, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutFile(ctx, "originals/7/p1.jpg", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there after PutFile: %v", err)
	}
	if got := mustRead(t, l, "originals/7/p1.jpg"); got != content {
		t.Fatalf("content after PutFile: %d bytes, want %d", len(got), len(content))
	}
	// Renamed, not copied: the same file (inode) now has the key's name.
	dst, err := l.Path("originals/7/p1.jpg")
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Fatal("PutFile copied the file instead of renaming it")
	}

	// A file elsewhere works too (renamed or copied, depending on the file system).
	other := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, []byte("other"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := l.PutFile(ctx, "originals/7/p2.jpg", other); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if got := mustRead(t, l, "originals/7/p2.jpg"); got != "other" {
		t.Fatalf("content = %q", got)
	}

	// A missing source is an error and stores nothing; a bad key is refused before any move.
	if err := l.PutFile(ctx, "originals/7/p3.jpg", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("PutFile of a missing file succeeded")
	}
	if _, err := l.Stat(ctx, "originals/7/p3.jpg"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat = %v, want ErrNotFound", err)
	}
	keep := filepath.Join(t.TempDir(), "keep")
	if err := os.WriteFile(keep, []byte("k"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := l.PutFile(ctx, "../escape", keep); !errors.Is(err, blob.ErrInvalidKey) {
		t.Fatalf("PutFile with a bad key = %v, want ErrInvalidKey", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("refused PutFile moved the source: %v", err)
	}
}

func TestLocalWalk(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)
	for _, k := range []string{"originals/1/b.jpg", "originals/1/a.jpg", "originals/12/c.jpg", "thumbs/1/a.jpg", "top"} {
		mustPut(t, l, k, "content of "+k)
	}
	// A stray temp file (a crash mid-Put) is not a blob.
	if err := os.WriteFile(filepath.Join(l.Root(), ".tmp", "put-123"), []byte("partial"), 0o640); err != nil {
		t.Fatal(err)
	}

	all := walkKeys(t, l, "")
	slices.Sort(all)
	if want := []string{"originals/1/a.jpg", "originals/1/b.jpg", "originals/12/c.jpg", "thumbs/1/a.jpg", "top"}; !slices.Equal(all, want) {
		t.Fatalf("Walk(\"\") = %v, want %v", all, want)
	}
	tests := map[string][]string{
		"originals/":   {"originals/1/a.jpg", "originals/1/b.jpg", "originals/12/c.jpg"},
		"originals/1/": {"originals/1/a.jpg", "originals/1/b.jpg"},
		"originals/1":  {"originals/1/a.jpg", "originals/1/b.jpg", "originals/12/c.jpg"},
		"thumbs/":      {"thumbs/1/a.jpg"},
		"nothing/":     nil,
		".tmp":         nil,
	}
	for prefix, want := range tests {
		got := walkKeys(t, l, prefix)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Walk(%q) = %v, want %v", prefix, got, want)
		}
	}

	// Infos carry the size; an error from fn stops the walk and comes back.
	var sizes = map[string]int64{}
	stop := errors.New("stop")
	calls := 0
	err := l.Walk(ctx, "", func(i blob.Info) error {
		sizes[i.Key] = i.Size
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("Walk with a failing fn = %v after %d calls", err, calls)
	}
	for k, n := range sizes {
		if n != int64(len("content of "+k)) {
			t.Errorf("Walk size of %s = %d", k, n)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Walk(cctx, "", func(blob.Info) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Walk with a cancelled context = %v", err)
	}
}

func TestLocalConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	l := mustNewLocal(t)
	const n = 32
	content := func(i int) string { return strings.Repeat(fmt.Sprintf("%03d", i), 20000) }

	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			if _, err := l.Put(ctx, fmt.Sprintf("originals/%d/p%03d.jpg", i%4, i), strings.NewReader(content(i))); err != nil {
				errs <- err
			}
		})
		// Everyone also writes one shared key: the last rename wins, whole.
		wg.Go(func() {
			if _, err := l.Put(ctx, "shared/key.jpg", strings.NewReader(content(i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		if got := mustRead(t, l, fmt.Sprintf("originals/%d/p%03d.jpg", i%4, i)); got != content(i) {
			t.Errorf("blob %d has the wrong bytes (%d bytes)", i, len(got))
		}
	}
	shared := mustRead(t, l, "shared/key.jpg")
	whole := false
	for i := range n {
		whole = whole || shared == content(i)
	}
	if !whole {
		t.Fatalf("shared key holds a mix of writes (%d bytes)", len(shared))
	}
	if got := walkKeys(t, l, ""); len(got) != n+1 {
		t.Fatalf("Walk found %d blobs, want %d", len(got), n+1)
	}
	if got := tmpFiles(t, l); len(got) != 0 {
		t.Fatalf("temp files left: %v", got)
	}
}

func TestNewLocalReopens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, l, "k", "v")
	l2, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, l2, "k"); got != "v" {
		t.Fatalf("blob through a second store = %q", got)
	}
	if !filepath.IsAbs(l2.Root()) {
		t.Fatalf("Root %q is not absolute", l2.Root())
	}
}
