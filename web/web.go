// Package web is the browser UI: html/template pages and the CSS and JavaScript modules
// they load, embedded in the binary. There is no build step and nothing is fetched from
// another site. The server package renders the templates and serves the static files;
// this package imports nothing of the project.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
)

// Templates holds the page templates: templates/base.html and one file per page.
//
//go:embed templates/*.html
var Templates embed.FS

//go:embed static
var static embed.FS

// Static returns the static files (css/, js/, img/) with paths relative to static/.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(fmt.Sprintf("web: static files: %v", err)) // cannot happen: the folder is embedded
	}
	return sub
}

// Hashes returns a short content hash of every static file, keyed by its path relative
// to static/, for cache-busting URLs and ETags.
func Hashes() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(Static(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Static(), path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		sum := sha256.Sum256(b)
		out[path] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash static files: %w", err)
	}
	return out, nil
}
