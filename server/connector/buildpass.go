package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// buildPass pushes photos into a BuildPass photo folder: bytes through
// attachments/bulk-upload, records through photo-gallery/bulk-upsert, which is
// idempotent per photo externalSourceId, so a resent upsert never makes a copy.
type buildPass struct {
	e    *Engine
	t    *storage.ConnectorTarget
	cfg  Config
	cred Credentials
	c    *client
}

// bpRemote is what an item knows of its photo on BuildPass.
type bpRemote struct {
	Key        string    `json:"key,omitempty"`
	RegionID   string    `json:"region_id,omitempty"`
	Type       string    `json:"type,omitempty"`
	UploadedAt time.Time `json:"uploaded_at,omitzero"`
	PhotoID    string    `json:"photo_id,omitempty"`
	Sent       bool      `json:"sent,omitempty"` // an upsert or create with it went out
}

// Batch sizes: files per bulk upload, photos per upsert.
const (
	bpUploadBatch = 10
	bpUpsertBatch = 50
	// bpKeyLife is how long an attachment key is trusted (its real life is undocumented).
	bpKeyLife = 20 * time.Hour
)

func (b *buildPass) fetchToken(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {b.cred.ClientID}, "client_secret": {b.cred.ClientSecret},
		"audience": {"https://api.buildpass.global"}, "scope": {"read:photos write:photos"}}
	resp, err := b.c.do(ctx, call{op: "BuildPass token", safe: true, build: func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.APIURL+"/oauth/token", strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return req, err
	}})
	if err != nil {
		if s := statusOf(err); s >= 400 && s < 500 {
			return "", 0, fatal(fmt.Errorf("BuildPass refused the client credentials: %w", err))
		}
		return "", 0, err
	}
	tok, ttl, err := parseToken("BuildPass token", resp.Body)
	if err != nil {
		return "", 0, err
	}
	if tok.Scope != "" && !slices.Contains(strings.Fields(tok.Scope), "write:photos") {
		return "", 0, fatal(fmt.Errorf("BuildPass did not grant write:photos to this client (granted: %s); ask BuildPass to enable the photo scopes", tok.Scope))
	}
	return tok.AccessToken, ttl, nil
}

func (b *buildPass) auth(ctx context.Context, req *http.Request, force bool) error {
	tok, err := b.e.tokenSource(b.t.ID).token(ctx, force, b.fetchToken)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-BuildPass-Api-Version", "v1")
	req.Header.Set("X-BuildPass-Region-Id", b.cfg.Region)
	return nil
}

// api sends one call under /builders/{builderId}.
func (b *buildPass) api(ctx context.Context, op, method, path string, body bodyFunc, safe bool) (*response, error) {
	u := b.cfg.APIURL + "/builders/" + url.PathEscape(b.cfg.BuilderID) + path
	resp, err := b.c.do(ctx, call{op: op, safe: safe, auth: b.auth, build: newRequest(method, u, body)})
	if s := statusOf(err); s == http.StatusUnauthorized || s == http.StatusForbidden {
		return resp, fatal(fmt.Errorf("BuildPass refused access (check the client's scopes, builder and region): %w", err))
	}
	return resp, err
}

func jsonBody(v any) bodyFunc {
	return func() (io.Reader, string, error) {
		b, err := json.Marshal(v)
		return bytes.NewReader(b), "application/json", err
	}
}

// Check reads the project's folders: credentials, builder, region and project at once.
func (b *buildPass) Check(ctx context.Context) error {
	_, err := b.folders(ctx)
	return err
}

type bpFolder struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// listOf reads a list answer that may be {data:[…]} or a bare array.
func listOf[T any](body []byte) ([]T, error) {
	var wrapped struct {
		Data []T `json:"data"`
	}
	if err := json.Unmarshal(body, &wrapped); err == nil && wrapped.Data != nil {
		return wrapped.Data, nil
	}
	var bare []T
	if err := json.Unmarshal(body, &bare); err != nil {
		return nil, fmt.Errorf("unexpected list answer: %.200s", body)
	}
	return bare, nil
}

func (b *buildPass) folders(ctx context.Context) ([]bpFolder, error) {
	var all []bpFolder
	for offset := 0; ; {
		resp, err := b.api(ctx, "BuildPass list folders", http.MethodGet,
			fmt.Sprintf("/photo-folders?projectId=%s&offset=%d&limit=25", url.QueryEscape(b.cfg.ProjectID), offset), nil, true)
		if err != nil {
			if statusOf(err) == http.StatusNotFound {
				return nil, fatal(fmt.Errorf("BuildPass does not know builder %s / project %s in region %s: %w", b.cfg.BuilderID, b.cfg.ProjectID, b.cfg.Region, err))
			}
			return nil, err
		}
		page, err := listOf[bpFolder](resp.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		// Paged answers carry meta (limit at most 25); an unpaged one is the whole list.
		var meta struct {
			Meta *struct {
				TotalCount int `json:"totalCount"`
			} `json:"meta"`
		}
		_ = json.Unmarshal(resp.Body, &meta)
		offset += len(page)
		if meta.Meta == nil || len(page) == 0 || offset >= meta.Meta.TotalCount || offset > 100000 {
			return all, nil
		}
	}
}

// folder returns the link's folder id: the saved one (checked to still exist), or one of
// the link's name found on BuildPass (a first upsert whose answer was lost), or "".
func (b *buildPass) folder(ctx context.Context, r *run) (string, error) {
	if id := r.link.ContainerID; id != "" {
		_, err := b.api(ctx, "BuildPass get folder", http.MethodGet, "/photo-folders/"+url.PathEscape(id), nil, true)
		if statusOf(err) == http.StatusNotFound {
			return "", fatal(fmt.Errorf("the BuildPass folder %s of this link was deleted; unlink and link the event again", id))
		}
		return id, err
	}
	folders, err := b.folders(ctx)
	if err != nil {
		return "", err
	}
	for _, f := range folders {
		if f.Name == r.link.ContainerName {
			if err := r.e.DB.SaveLinkContainer(ctx, r.link.ID, f.ID); err != nil {
				return "", err
			}
			r.link.ContainerID = f.ID
			return f.ID, nil
		}
	}
	return "", nil
}

func (b *buildPass) Sync(ctx context.Context, r *run) error {
	folderID, err := b.folder(ctx, r)
	if err != nil {
		return err
	}
	add := r.toAdd()
	// Bytes first, ten files a request; keys are saved as they come.
	var need []*storage.Photo
	for _, p := range add {
		rem := remoteOf[bpRemote](r.items[p.ID])
		if rem.Key == "" || time.Since(rem.UploadedAt) > bpKeyLife || r.items[p.ID].State == itemFailed {
			need = append(need, p)
		}
	}
	for batch := range slices.Chunk(need, bpUploadBatch) {
		if err := r.paused(); err != nil {
			return err
		}
		if err := b.upload(ctx, r, batch); err != nil {
			return err
		}
	}
	var ready []*storage.Photo
	for _, p := range add {
		if remoteOf[bpRemote](r.items[p.ID]).Key != "" && r.failed[p.ID] == "" {
			ready = append(ready, p)
		}
	}
	// Always the upsert, even for one photo: its records belong to the link's source, so
	// the archive (DELETE by source) removes them; a photo made by the create-photo call
	// could never be removed (BuildPass has no per-photo delete).
	for batch := range slices.Chunk(ready, bpUpsertBatch) {
		if folderID, err = b.upsert(ctx, r, folderID, batch); err != nil {
			return err
		}
	}
	// BuildPass has no per-photo delete: photos hidden or deleted here stay there.
	retained := 0
	for _, it := range r.toRemove() {
		if it.State != itemSynced && it.State != itemCreating {
			// Uploaded bytes that no photo record uses: nothing to show on BuildPass.
			if err := r.forget(ctx, it); err != nil {
				return err
			}
			continue
		}
		it.State = itemRetained
		if err := r.save(ctx, it); err != nil {
			return err
		}
		retained++
	}
	if retained > 0 {
		r.warn("%d hidden or deleted photo(s) stay on BuildPass: its API has no per-photo delete (archiving the link removes them all)", retained)
	}
	return nil
}

type bpUpload struct {
	Key       string `json:"key"`
	Type      string `json:"type"`
	RegionID  string `json:"regionId"`
	FieldName string `json:"fieldName"`
}

// upload sends a batch of files in one bulk upload and saves each key by fieldName.
func (b *buildPass) upload(ctx context.Context, r *run, batch []*storage.Photo) error {
	contents := make([]content, len(batch))
	for i, p := range batch {
		c, err := r.content(ctx, p)
		if err != nil {
			if err := r.fail(ctx, r.items[p.ID], err.Error()); err != nil {
				return err
			}
			continue
		}
		contents[i] = c
	}
	if !slices.ContainsFunc(contents, func(c content) bool { return c.key != "" }) {
		return nil // every file of the batch already failed
	}
	body := bodyFunc(func() (io.Reader, string, error) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			err := func() error {
				if err := mw.WriteField("type", "attachment"); err != nil {
					return err
				}
				for i, c := range contents {
					if c.key == "" {
						continue
					}
					h := textproto.MIMEHeader{}
					h.Set("Content-Disposition", multipart.FileContentDisposition(fmt.Sprintf("file:%d", i), c.name))
					h.Set("Content-Type", c.mime)
					w, err := mw.CreatePart(h)
					if err != nil {
						return err
					}
					f, err := r.open(ctx, c)
					if err != nil {
						return err
					}
					_, err = io.Copy(w, f)
					f.Close()
					if err != nil {
						return err
					}
				}
				return mw.Close()
			}()
			pw.CloseWithError(err)
		}()
		return pr, mw.FormDataContentType(), nil
	})
	resp, err := b.api(ctx, "BuildPass bulk upload", http.MethodPost, "/attachments/bulk-upload", body, true)
	if err != nil {
		var lerr linkError
		if s := statusOf(err); s >= 400 && s < 500 && !errors.As(err, &lerr) && len(batch) > 1 {
			// One file may be what BuildPass refuses: send them one by one to find it.
			for _, p := range batch {
				if err := b.upload(ctx, r, []*storage.Photo{p}); err != nil {
					return err
				}
			}
			return nil
		}
		if s := statusOf(err); s >= 400 && s < 500 && !errors.As(err, &lerr) {
			for i, p := range batch {
				if contents[i].key != "" {
					if err2 := r.fail(ctx, r.items[p.ID], err.Error()); err2 != nil {
						return err2
					}
				}
			}
			return nil
		}
		return err
	}
	if err := r.step("buildpass.upload"); err != nil {
		return err
	}
	var out struct {
		Uploads []bpUpload `json:"uploads"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return fmt.Errorf("BuildPass bulk upload answer: %w", err)
	}
	now := time.Now().UTC()
	answered := map[int]bool{}
	for _, u := range out.Uploads {
		var i int
		if _, err := fmt.Sscanf(u.FieldName, "file:%d", &i); err != nil || i < 0 || i >= len(batch) || u.Key == "" {
			continue
		}
		answered[i] = true
		it := r.items[batch[i].ID]
		rem := remoteOf[bpRemote](it)
		rem.Key, rem.RegionID, rem.Type, rem.UploadedAt = u.Key, u.RegionID, u.Type, now
		if rem.Type == "" {
			rem.Type = "attachment"
		}
		setRemote(it, rem)
		it.State = itemUploaded
		if err := r.save(ctx, it); err != nil {
			return err
		}
	}
	for i, p := range batch {
		if contents[i].key != "" && !answered[i] {
			if err := r.fail(ctx, r.items[p.ID], "BuildPass returned no attachment for this file"); err != nil {
				return err
			}
		}
	}
	return nil
}

type bpAttachment struct {
	Key      string `json:"key"`
	RegionID string `json:"regionId,omitempty"`
	Type     string `json:"type"`
}

type bpPhoto struct {
	ExternalSourceID string       `json:"externalSourceId"`
	FileName         string       `json:"fileName"`
	ContentType      string       `json:"contentType"`
	SequenceID       int          `json:"sequenceId"`
	Width            *int         `json:"width,omitempty"`
	Height           *int         `json:"height,omitempty"`
	CapturedAt       string       `json:"capturedAt,omitempty"`
	ImageAttachment  bpAttachment `json:"imageAttachment"`
}

func (b *buildPass) photo(r *run, p *storage.Photo, seq int) bpPhoto {
	it := r.items[p.ID]
	rem := remoteOf[bpRemote](it)
	name, mime := safeName(p.OriginalName, p.Format), p.MIMEType
	if p.Format != "jpeg" && p.Format != "png" {
		name, mime = safeName(p.OriginalName, "jpeg"), "image/jpeg"
	}
	bp := bpPhoto{ExternalSourceID: it.ExternalID, FileName: name, ContentType: mime, SequenceID: seq,
		Width: p.Width, Height: p.Height, ImageAttachment: bpAttachment{Key: rem.Key, RegionID: rem.RegionID, Type: rem.Type}}
	if p.CapturedAt != nil {
		bp.CapturedAt = p.CapturedAt.UTC().Format(time.RFC3339)
	}
	return bp
}

// upsert sends a batch through bulk-upsert. The folder id an answer names is saved
// before anything else, so the next batch (and the next sync) goes into the same folder.
func (b *buildPass) upsert(ctx context.Context, r *run, folderID string, batch []*storage.Photo) (string, error) {
	req := map[string]any{"externalSourceId": r.link.ExternalSourceID, "sourceApp": b.cfg.SourceApp, "projectId": b.cfg.ProjectID,
		"folderName": r.link.ContainerName}
	if folderID != "" {
		req["folderId"] = folderID
	}
	photos := make([]bpPhoto, len(batch))
	for i, p := range batch {
		photos[i] = b.photo(r, p, int(p.Position))
		it := r.items[p.ID]
		if it.State != itemCreating {
			rem := remoteOf[bpRemote](it)
			rem.Sent = true
			setRemote(it, rem)
			it.State = itemCreating
			if err := r.save(ctx, it); err != nil {
				return folderID, err
			}
		}
	}
	req["photos"] = photos
	// Resending is safe once the folder is known (photos are deduplicated); without it a
	// resend would make a second folder, so a lost answer is first looked for by name.
	resp, err := b.api(ctx, "BuildPass bulk upsert", http.MethodPost, "/photo-gallery/bulk-upsert", jsonBody(req), folderID != "")
	if isAmbiguous(err) && folderID == "" {
		found, ferr := b.folder(ctx, r)
		if ferr != nil || found == "" {
			return folderID, err
		}
		return b.upsert(ctx, r, found, batch)
	}
	if err != nil {
		var lerr linkError
		if s := statusOf(err); s >= 400 && s < 500 && !errors.As(err, &lerr) {
			if s == http.StatusNotFound && folderID != "" {
				return folderID, fatal(fmt.Errorf("the BuildPass folder or project of this link is gone: %w", err))
			}
			if len(batch) > 1 {
				// One photo may be what BuildPass refuses: send them one by one.
				for _, p := range batch {
					if folderID, err = b.upsert(ctx, r, folderID, []*storage.Photo{p}); err != nil {
						return folderID, err
					}
				}
				return folderID, nil
			}
			for _, p := range batch {
				if err2 := r.fail(ctx, r.items[p.ID], err.Error()); err2 != nil {
					return folderID, err2
				}
			}
			return folderID, nil
		}
		return folderID, err
	}
	if err := r.step("buildpass.upsert"); err != nil {
		return folderID, err
	}
	var out struct {
		FolderID                 string            `json:"folderId"`
		SkippedExternalSourceIDs []string          `json:"skippedExternalSourceIds"`
		FailedPhotos             []json.RawMessage `json:"failedPhotos"`
		Status                   string            `json:"status"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return folderID, fmt.Errorf("BuildPass bulk upsert answer: %w", err)
	}
	if out.FolderID != "" && out.FolderID != folderID {
		if err := r.e.DB.SaveLinkContainer(ctx, r.link.ID, out.FolderID); err != nil {
			return folderID, err
		}
		folderID, r.link.ContainerID = out.FolderID, out.FolderID
	}
	failed := map[string]string{}
	for _, raw := range out.FailedPhotos {
		// The item shape is undocumented: read the id and a reason defensively.
		var f map[string]any
		_ = json.Unmarshal(raw, &f)
		id, _ := f["externalSourceId"].(string)
		reason := "BuildPass reported the photo as failed"
		for _, k := range []string{"error", "message", "reason"} {
			if s, ok := f[k].(string); ok && s != "" {
				reason = "BuildPass: " + s
				break
			}
		}
		if id != "" {
			failed[id] = reason
		}
	}
	for _, p := range batch {
		it := r.items[p.ID]
		if reason, ok := failed[it.ExternalID]; ok {
			if err := r.fail(ctx, it, reason); err != nil {
				return folderID, err
			}
			continue
		}
		if err := r.synced(ctx, it); err != nil {
			return folderID, err
		}
	}
	if out.Status == "partial" && len(failed) == 0 {
		r.warn("BuildPass answered status partial without naming the photos")
	}
	return folderID, nil
}

// Archive asks BuildPass to archive everything this link's source made (and the folder
// once empty). Repeating it is harmless.
func (b *buildPass) Archive(ctx context.Context, r *run) error {
	folderID, err := b.folder(ctx, r)
	var lerr linkError
	if err != nil && !errors.As(err, &lerr) {
		return err
	}
	if folderID != "" || anySent(r) {
		body := map[string]any{"externalSourceId": r.link.ExternalSourceID, "projectId": b.cfg.ProjectID}
		if folderID != "" {
			body["folderId"] = folderID
		}
		if _, err := b.api(ctx, "BuildPass archive", http.MethodDelete, "/photo-gallery/bulk-upsert", jsonBody(body), true); err != nil &&
			statusOf(err) != http.StatusNotFound {
			return err
		}
		if err := r.step("buildpass.archive"); err != nil {
			return err
		}
	}
	for _, it := range r.allItems() {
		var err error
		switch it.State {
		case itemRemoved:
		case itemSynced, itemCreating, itemRetained:
			err = r.gone(ctx, it)
		default:
			err = r.forget(ctx, it) // never a photo on BuildPass
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// anySent reports whether any item may be on the platform.
func anySent(r *run) bool {
	for _, it := range r.items {
		if it.State != itemPending && it.State != itemRemoved {
			return true
		}
	}
	return false
}
