package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// procore pushes photos into a Procore photo album (an image category). Procore has no
// idempotency of its own, so every photo goes through a write-ahead sequence — create
// an upload, POST the file to storage, create the image — and a create whose answer was
// lost is looked for in the album (file name and size) before it is sent again.
type procore struct {
	e   *Engine
	t   *storage.ConnectorTarget
	cfg Config
	c   *client
}

// pcRemote is what an item knows of its photo on Procore.
type pcRemote struct {
	UploadUUID      string            `json:"upload_uuid,omitempty"`
	UploadCreatedAt time.Time         `json:"upload_created_at,omitzero"`
	UploadURL       string            `json:"upload_url,omitempty"`
	UploadFields    map[string]string `json:"upload_fields,omitempty"`
	S3Done          bool              `json:"s3_done,omitempty"`
	ImageName       string            `json:"image_name,omitempty"`
	Size            int64             `json:"size,omitempty"`
	CreateSentAt    time.Time         `json:"create_sent_at,omitzero"`
	ImageID         int64             `json:"image_id,omitempty"`
}

// Procore's documented clocks: an upload must reach storage within an hour and be used
// by an image within a week.
const (
	pcUploadStartLimit = 50 * time.Minute
	pcUploadUseLimit   = 6 * 24 * time.Hour
)

// fetchToken gets an access token: with the stored refresh token when there is one
// (it is single-use: the new one is saved before the access token is used), otherwise
// with the service account's client credentials.
func (p *procore) fetchToken(ctx context.Context) (string, time.Duration, error) {
	for reread := false; ; reread = true {
		t, err := p.e.DB.FindConnectorTarget(ctx, p.t.ID) // another process may have rotated it
		if err != nil {
			return "", 0, err
		}
		cred, err := p.e.Sealer.Open(t.Secrets)
		if err != nil {
			return "", 0, fatal(err)
		}
		form := url.Values{"client_id": {cred.ClientID}, "client_secret": {cred.ClientSecret}}
		refresh := cred.RefreshToken != ""
		if refresh {
			form.Set("grant_type", "refresh_token")
			form.Set("refresh_token", cred.RefreshToken)
		} else {
			form.Set("grant_type", "client_credentials")
		}
		resp, err := p.c.do(ctx, call{op: "Procore token", safe: !refresh, build: newRequest(http.MethodPost, p.cfg.LoginURL+"/oauth/token",
			func() (io.Reader, string, error) {
				return strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", nil
			})})
		refused := statusOf(err) >= 400 && statusOf(err) < 500
		switch {
		case refresh && refused && !reread && p.rotatedElsewhere(ctx, t.Secrets):
			continue // another process spent it and saved the next one: use that
		case refresh && (isAmbiguous(err) || refused):
			// A lost answer has still spent the refresh token: looping would not help.
			reason := "Procore re-authorization required: the refresh token was refused or spent without an answer; connect the app again and save the new refresh token"
			_ = p.e.DB.SetConnectorTargetStatus(ctx, p.t.ID, "error", reason)
			return "", 0, fatal(fmt.Errorf("%s (%v)", reason, err))
		case refused:
			return "", 0, fatal(fmt.Errorf("Procore refused the client credentials: %w", err))
		case err != nil:
			return "", 0, err
		}
		tok, ttl, err := parseToken("Procore token", resp.Body)
		if err != nil {
			return "", 0, err
		}
		if refresh && tok.RefreshToken != "" {
			cred.RefreshToken = tok.RefreshToken
			sealed, err := p.e.Sealer.Seal(cred)
			if err != nil {
				return "", 0, err
			}
			// Saved before the access token is used, and only over the token just spent.
			if _, err := p.e.DB.SaveConnectorSecrets(ctx, p.t.ID, t.Secrets, sealed); err != nil {
				return "", 0, fmt.Errorf("save Procore's new refresh token: %w", err)
			}
		}
		return tok.AccessToken, ttl, nil
	}
}

// rotatedElsewhere reports whether the stored credentials changed since they were read
// as used (another process refreshed in between).
func (p *procore) rotatedElsewhere(ctx context.Context, used string) bool {
	t, err := p.e.DB.FindConnectorTarget(ctx, p.t.ID)
	return err == nil && t.Secrets != used
}

func (p *procore) auth(ctx context.Context, req *http.Request, force bool) error {
	tok, err := p.e.tokenSource(p.t.ID).token(ctx, force, p.fetchToken)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Procore-Company-Id", p.cfg.CompanyID)
	return nil
}

// api sends one call to the REST API (path with its query).
func (p *procore) api(ctx context.Context, op, method, path string, body bodyFunc, safe bool) (*response, error) {
	resp, err := p.c.do(ctx, call{op: op, safe: safe, auth: p.auth, build: newRequest(method, p.cfg.APIURL+path, body)})
	if s := statusOf(err); s == http.StatusUnauthorized || s == http.StatusForbidden {
		return resp, fatal(fmt.Errorf("Procore refused access (is the app installed in company %s with the Photos tool for project %s?): %w",
			p.cfg.CompanyID, p.cfg.ProjectID, err))
	}
	return resp, err
}

func (p *procore) project() string { return "project_id=" + url.QueryEscape(p.cfg.ProjectID) }

// Check lists the project's albums.
func (p *procore) Check(ctx context.Context) error {
	_, err := p.api(ctx, "Procore list albums", http.MethodGet, "/rest/v1.0/image_categories?"+p.project()+"&per_page=1", nil, true)
	return err
}

type pcCategory struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// album returns the link's album id: the saved one (checked), one of the link's name
// (a create whose answer was lost), or a new one.
func (p *procore) album(ctx context.Context, r *run, create bool) (int64, error) {
	if r.link.ContainerID != "" {
		id, _ := strconv.ParseInt(r.link.ContainerID, 10, 64)
		_, err := p.api(ctx, "Procore get album", http.MethodGet, fmt.Sprintf("/rest/v1.0/image_categories/%d?%s", id, p.project()), nil, true)
		if statusOf(err) == http.StatusNotFound {
			return 0, fatal(fmt.Errorf("the Procore album %d of this link was deleted; unlink and link the event again", id))
		}
		return id, err
	}
	find := func() (int64, error) {
		for page := 1; ; page++ {
			resp, err := p.api(ctx, "Procore list albums", http.MethodGet, fmt.Sprintf("/rest/v1.0/image_categories?%s&page=%d&per_page=100", p.project(), page), nil, true)
			if err != nil {
				return 0, err
			}
			var cats []pcCategory
			if err := json.Unmarshal(resp.Body, &cats); err != nil {
				return 0, fmt.Errorf("Procore albums: %w", err)
			}
			for _, c := range cats {
				if c.Name == r.link.ContainerName {
					return c.ID, nil
				}
			}
			if len(cats) < 100 {
				return 0, nil
			}
		}
	}
	id, err := find()
	if err != nil || id != 0 || !create {
		return p.keepAlbum(ctx, r, id, err)
	}
	resp, err := p.api(ctx, "Procore create album", http.MethodPost, "/rest/v1.0/image_categories?"+p.project(),
		jsonBody(map[string]any{"image_category": map[string]any{"name": r.link.ContainerName, "private": false}}), false)
	if isAmbiguous(err) {
		id, ferr := find()
		if ferr != nil || id == 0 {
			return 0, err
		}
		return p.keepAlbum(ctx, r, id, nil)
	}
	if err != nil {
		return 0, err
	}
	if err := r.step("procore.album"); err != nil {
		return 0, err
	}
	var c pcCategory
	if err := json.Unmarshal(resp.Body, &c); err != nil || c.ID == 0 {
		return 0, fmt.Errorf("Procore album answer: %.200s", resp.Body)
	}
	return p.keepAlbum(ctx, r, c.ID, nil)
}

func (p *procore) keepAlbum(ctx context.Context, r *run, id int64, err error) (int64, error) {
	if err != nil || id == 0 {
		return id, err
	}
	if err := r.e.DB.SaveLinkContainer(ctx, r.link.ID, strconv.FormatInt(id, 10)); err != nil {
		return 0, err
	}
	r.link.ContainerID = strconv.FormatInt(id, 10)
	return id, nil
}

func (p *procore) Sync(ctx context.Context, r *run) error {
	album, err := p.album(ctx, r, len(r.toAdd()) > 0)
	if err != nil {
		return err
	}
	claimed := claimedImages(r)
	for _, ph := range r.toAdd() {
		if err := r.paused(); err != nil {
			return err
		}
		if err := p.push(ctx, r, album, ph, claimed); err != nil {
			return err
		}
	}
	for _, it := range r.toRemove() {
		if err := p.remove(ctx, r, it); err != nil {
			return err
		}
	}
	return nil
}

// claimedImages returns the image ids the link's items know, so that a search for a lost
// create never adopts another photo's image.
func claimedImages(r *run) map[int64]bool {
	claimed := map[int64]bool{}
	for _, it := range r.items {
		if id := remoteOf[pcRemote](it).ImageID; id != 0 {
			claimed[id] = true
		}
	}
	return claimed
}

// push takes one photo from wherever its item stands to an image in the album.
func (p *procore) push(ctx context.Context, r *run, album int64, ph *storage.Photo, claimed map[int64]bool) error {
	it := r.items[ph.ID]
	rem := remoteOf[pcRemote](it)
	if rem.ImageID != 0 {
		// Its image was made (a removal was cut short, and the photo is back): keep it
		// if it is still there.
		_, err := p.api(ctx, "Procore get image", http.MethodGet, fmt.Sprintf("/rest/v1.0/images/%d?%s", rem.ImageID, p.project()), nil, true)
		switch {
		case err == nil:
			return p.created(ctx, r, it, rem, rem.ImageID, claimed)
		case statusOf(err) == http.StatusNotFound:
			rem = pcRemote{}
		default:
			return err
		}
	}
	if it.State == itemCreating {
		// The last create's outcome is unknown: look for it before sending it again.
		id, err := p.findImage(ctx, album, rem, claimed)
		if err != nil {
			return err
		}
		if id != 0 {
			return p.created(ctx, r, it, rem, id, claimed)
		}
	}
	c, err := r.content(ctx, ph)
	if err != nil {
		return r.fail(ctx, it, err.Error())
	}
	if rem.UploadUUID != "" && (time.Since(rem.UploadCreatedAt) > pcUploadUseLimit || (!rem.S3Done && time.Since(rem.UploadCreatedAt) > pcUploadStartLimit)) {
		rem = pcRemote{} // expired: start again
	}
	if it.State == itemFailed {
		rem = pcRemote{}
	}
	for try := 0; !rem.S3Done; try++ {
		if rem.UploadUUID == "" {
			if rem, err = p.newUpload(ctx, r, it, c); err != nil {
				return p.photoError(ctx, r, it, err)
			}
		}
		err := p.store(ctx, r, rem, c)
		if statusOf(err) == http.StatusForbidden && try == 0 {
			rem = pcRemote{} // the upload expired on Procore's side: one new upload
			continue
		}
		if err != nil {
			return p.photoError(ctx, r, it, err)
		}
		if err := r.step("procore.storage"); err != nil {
			return err
		}
		rem.S3Done = true
		setRemote(it, rem)
		it.State = itemUploaded
		if err := r.save(ctx, it); err != nil {
			return err
		}
	}
	// Write-ahead: the create is recorded as sent before it goes.
	rem.ImageName, rem.Size, rem.CreateSentAt = c.name, c.size, time.Now().UTC()
	setRemote(it, rem)
	it.State = itemCreating
	if err := r.save(ctx, it); err != nil {
		return err
	}
	image := map[string]any{"image_category_id": album, "description": p.description(r, ph)}
	if ph.CapturedAt != nil {
		image["log_date"] = ph.CapturedAt.Format("2006-01-02")
	} else if r.event.Date != nil {
		image["log_date"] = *r.event.Date
	}
	resp, err := p.api(ctx, "Procore create image", http.MethodPost, "/rest/v1.0/images?"+p.project(),
		jsonBody(map[string]any{"upload_uuid": rem.UploadUUID, "image_name": c.name, "image": image}), false)
	if isAmbiguous(err) {
		id, ferr := p.findImage(ctx, album, rem, claimed)
		if ferr == nil && id != 0 {
			return p.created(ctx, r, it, rem, id, claimed)
		}
		return err // still unknown: the next try reconciles first
	}
	if err != nil {
		return p.photoError(ctx, r, it, err)
	}
	if err := r.step("procore.image"); err != nil {
		return err
	}
	var img struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &img); err != nil || img.ID == 0 {
		return fmt.Errorf("Procore image answer: %.200s", resp.Body)
	}
	return p.created(ctx, r, it, rem, img.ID, claimed)
}

func (p *procore) description(r *run, ph *storage.Photo) string {
	return fmt.Sprintf("%s — %s (Gallerist)", r.event.Name, ph.OriginalName)
}

func (p *procore) created(ctx context.Context, r *run, it *storage.ConnectorItem, rem pcRemote, id int64, claimed map[int64]bool) error {
	rem.ImageID = id
	claimed[id] = true
	setRemote(it, rem)
	return r.synced(ctx, it)
}

// photoError fails the item on a 4xx that concerns this photo only, and returns other
// errors (transient ones retry the sync, link errors stop it).
func (p *procore) photoError(ctx context.Context, r *run, it *storage.ConnectorItem, err error) error {
	var lerr linkError
	if s := statusOf(err); s >= 400 && s < 500 && !errors.As(err, &lerr) {
		setRemote(it, pcRemote{})
		return r.fail(ctx, it, err.Error())
	}
	return err
}

type pcUpload struct {
	UUID   string            `json:"uuid"`
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
}

func (p *procore) newUpload(ctx context.Context, r *run, it *storage.ConnectorItem, c content) (pcRemote, error) {
	// A repeated upload creation only leaves an unused upload behind: safe to resend.
	resp, err := p.api(ctx, "Procore create upload", http.MethodPost, "/rest/v1.1/projects/"+url.PathEscape(p.cfg.ProjectID)+"/uploads",
		jsonBody(map[string]string{"response_filename": c.name, "response_content_type": c.mime}), true)
	if err != nil {
		return pcRemote{}, err
	}
	if err := r.step("procore.upload"); err != nil {
		return pcRemote{}, err
	}
	var u pcUpload
	if err := json.Unmarshal(resp.Body, &u); err != nil || u.UUID == "" || u.URL == "" {
		return pcRemote{}, fmt.Errorf("Procore upload answer: %.200s", resp.Body)
	}
	rem := pcRemote{UploadUUID: u.UUID, UploadCreatedAt: time.Now().UTC(), UploadURL: u.URL, UploadFields: u.Fields}
	setRemote(it, rem)
	if err := r.save(ctx, it); err != nil {
		return pcRemote{}, err
	}
	return rem, nil
}

// store POSTs the file to Procore's storage with every field it gave, unchanged, and
// the file last, without the Procore token.
func (p *procore) store(ctx context.Context, r *run, rem pcRemote, c content) error {
	keys := make([]string, 0, len(rem.UploadFields))
	for k := range rem.UploadFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	_, err := p.c.do(ctx, call{op: "Procore storage upload", safe: true, build: func(ctx context.Context) (*http.Request, error) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			err := func() error {
				for _, k := range keys {
					if err := mw.WriteField(k, rem.UploadFields[k]); err != nil {
						return err
					}
				}
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", multipart.FileContentDisposition("file", c.name))
				h.Set("Content-Type", c.mime)
				w, err := mw.CreatePart(h)
				if err != nil {
					return err
				}
				f, err := r.open(ctx, c)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := io.Copy(w, f); err != nil {
					return err
				}
				return mw.Close()
			}()
			pw.CloseWithError(err)
		}()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rem.UploadURL, pr)
		if err != nil {
			pr.Close()
			return nil, err
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return req, nil
	}})
	return err
}

type pcImage struct {
	ID       int64  `json:"id"`
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// findImage looks in the album for the image a create with rem made: same name and
// size, created around the time it was sent, and not already another item's.
func (p *procore) findImage(ctx context.Context, album int64, rem pcRemote, claimed map[int64]bool) (int64, error) {
	if rem.ImageName == "" {
		return 0, nil
	}
	// Name, size and "no other item's" are the key; the time window only narrows the
	// list, wide enough for any clock skew between us and Procore.
	from := rem.CreateSentAt.Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for page := 1; page <= 50; page++ {
		q := fmt.Sprintf("/rest/v1.0/images?%s&image_category_id=%d&sort=-created_at&per_page=100&page=%d&filters[created_at]=%s",
			p.project(), album, page, url.QueryEscape(from+"..."+to))
		resp, err := p.api(ctx, "Procore list images", http.MethodGet, q, nil, true)
		if err != nil {
			return 0, err
		}
		var imgs []pcImage
		if err := json.Unmarshal(resp.Body, &imgs); err != nil {
			return 0, fmt.Errorf("Procore images: %w", err)
		}
		for _, img := range imgs {
			if img.Filename == rem.ImageName && img.Size == rem.Size && !claimed[img.ID] {
				return img.ID, nil
			}
		}
		if len(imgs) < 100 {
			return 0, nil
		}
	}
	return 0, nil
}

func (p *procore) remove(ctx context.Context, r *run, it *storage.ConnectorItem) error {
	rem := remoteOf[pcRemote](it)
	if rem.ImageID == 0 {
		if it.State == itemCreating {
			// Sent but never confirmed: find it first, so nothing stays behind.
			if album, _ := strconv.ParseInt(r.link.ContainerID, 10, 64); album != 0 {
				id, err := p.findImage(ctx, album, rem, claimedImages(r))
				if err != nil {
					return err
				}
				rem.ImageID = id
			}
		}
		if rem.ImageID == 0 {
			return r.forget(ctx, it) // never an image on Procore
		}
	}
	it.State = itemRemoving
	setRemote(it, rem)
	if err := r.save(ctx, it); err != nil {
		return err
	}
	_, err := p.api(ctx, "Procore delete image", http.MethodDelete, fmt.Sprintf("/rest/v1.0/images/%d?%s", rem.ImageID, p.project()), nil, true)
	if statusOf(err) == http.StatusForbidden {
		// Deleting photos needs the Photos tool's Admin level; adding them does not.
		if err := r.e.DB.SetConnectorItemState(ctx, it, itemRetained); err != nil {
			return err
		}
		r.warn("Procore refused to delete image %d (deleting photos needs Admin on the Photos tool): it stays in the album", rem.ImageID)
		return nil
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return err
	}
	if err := r.step("procore.delete"); err != nil {
		return err
	}
	return r.gone(ctx, it)
}

// Archive deletes every image the link made, then the album.
func (p *procore) Archive(ctx context.Context, r *run) error {
	for _, it := range r.allItems() {
		if it.State == itemRemoved {
			continue
		}
		if err := p.remove(ctx, r, it); err != nil {
			return err
		}
	}
	if r.link.ContainerID == "" {
		if _, err := p.album(ctx, r, false); err != nil {
			return err
		}
	}
	if r.link.ContainerID != "" {
		// Photos people added to the album by hand are not ours to delete.
		resp, err := p.api(ctx, "Procore list images", http.MethodGet,
			"/rest/v1.0/images?"+p.project()+"&image_category_id="+url.QueryEscape(r.link.ContainerID)+"&per_page=1", nil, true)
		if err != nil && statusOf(err) != http.StatusNotFound {
			return err
		}
		if err == nil && strings.TrimSpace(string(resp.Body)) != "[]" {
			r.warn("the Procore album %s holds photos Gallerist did not put there: it was kept", r.link.ContainerName)
			return nil
		}
		_, err = p.api(ctx, "Procore delete album", http.MethodDelete, "/rest/v1.0/image_categories/"+url.PathEscape(r.link.ContainerID)+"?"+p.project(), nil, true)
		if err != nil && statusOf(err) != http.StatusNotFound {
			return err
		}
		if err := r.step("procore.archive"); err != nil {
			return err
		}
	}
	return nil
}
