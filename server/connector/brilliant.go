package connector

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gallerist/gallerist/storage"
)

// brilliant pushes photos into a Brilliant Directories multi-image post (an album). BD
// fetches each image itself from a public URL Gallerist serves, and answers success
// before it has: every append is verified by listing the album's photo rows, and rows
// that did not import are deleted and appended again, never the album.
type brilliant struct {
	e    *Engine
	t    *storage.ConnectorTarget
	cfg  Config
	cred Credentials
	c    *client
}

// bdRemote is what an item knows of its photo on BD.
type bdRemote struct {
	URL      string    `json:"url,omitempty"`
	PhotoID  string    `json:"photo_id,omitempty"`
	SentAt   time.Time `json:"sent_at,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
}

const (
	bdAppendBatch = 10 // URLs per append: one import run stays bounded
	bdMaxAttempts = 3  // silent import failures before the photo is reported failed
	bdInJobWait   = 3 * time.Minute
)

// bdError is a BD answer whose body says status "error", whatever the HTTP status.
type bdError struct{ op, msg string }

func (e *bdError) Error() string { return e.op + ": Brilliant Directories: " + e.msg }

// bdEnvelope is BD's answer: status, message (a record, a list or a text) and paging.
type bdEnvelope struct {
	Status      string          `json:"status"`
	Message     json.RawMessage `json:"message"`
	CurrentPage flexInt         `json:"current_page"`
	TotalPages  flexInt         `json:"total_pages"`
	NextPage    string          `json:"next_page"`
}

// flexInt reads a number BD may send as a number or a string.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	*f = flexInt(n)
	return err
}

func (b *brilliant) send(ctx context.Context, op, method, path string, form url.Values, safe bool) (*bdEnvelope, error) {
	u := b.cfg.APIURL + path
	if method == http.MethodGet && len(form) > 0 {
		u += "?" + form.Encode()
	}
	resp, err := b.c.do(ctx, call{op: op, safe: safe, build: func(ctx context.Context) (*http.Request, error) {
		var body io.Reader
		if method != http.MethodGet {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Api-Key", b.cred.APIKey)
		req.Header.Set("Accept", "application/json")
		if method != http.MethodGet {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return req, nil
	}})
	if resp != nil && resp.Status >= 300 && resp.Status < 400 {
		return nil, fatal(fmt.Errorf("%s: Brilliant Directories answered a redirect (%d to %s): set site_url to the site's canonical address",
			op, resp.Status, resp.Header.Get("Location")))
	}
	if s := statusOf(err); s == http.StatusUnauthorized || s == http.StatusForbidden {
		return nil, fatal(fmt.Errorf("Brilliant Directories refused the API key (revoked, or this endpoint not enabled for it): %w", err))
	}
	if err != nil {
		return nil, err
	}
	var env bdEnvelope
	if err := json.Unmarshal(resp.Body, &env); err != nil {
		return nil, fmt.Errorf("%s: unexpected answer: %.200s", op, resp.Body)
	}
	if env.Status != "success" {
		var msg string
		if json.Unmarshal(env.Message, &msg) != nil {
			msg = string(env.Message)
		}
		return &env, &bdError{op, msg}
	}
	return &env, nil
}

// list reads every page of a list with the given filters.
func (b *brilliant) list(ctx context.Context, op, path string, filters url.Values, each func(raw json.RawMessage) error) error {
	q := url.Values{"limit": {"100"}}
	for k, v := range filters {
		q[k] = v
	}
	for range 10000 {
		env, err := b.send(ctx, op, http.MethodGet, path, q, true)
		if err != nil {
			return err
		}
		var rows []json.RawMessage
		if len(env.Message) > 0 && env.Message[0] == '[' {
			if err := json.Unmarshal(env.Message, &rows); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
		for _, row := range rows {
			if err := each(row); err != nil {
				return err
			}
		}
		// next_page is set even on the last page: only the page numbers tell the end.
		if len(rows) == 0 || env.CurrentPage >= env.TotalPages || env.NextPage == "" {
			return nil
		}
		q = url.Values{"page": {env.NextPage}}
		for k, v := range filters {
			q[k] = v
		}
	}
	return fmt.Errorf("%s: too many pages", op)
}

func eq(property, value string) url.Values {
	return url.Values{"property": {property}, "property_value": {value}, "property_operator": {"eq"}}
}

// Check verifies the key and that the post type is a multi-image one.
func (b *brilliant) Check(ctx context.Context) error {
	if _, err := b.send(ctx, "Brilliant Directories verify key", http.MethodGet, "/token/verify", nil, true); err != nil {
		return err
	}
	return b.checkPostType(ctx)
}

func (b *brilliant) checkPostType(ctx context.Context) error {
	env, err := b.send(ctx, "Brilliant Directories post type", http.MethodGet, "/data_categories/get/"+url.PathEscape(b.cfg.PostTypeID), nil, true)
	var bdErr *bdError
	if errors.As(err, &bdErr) || statusOf(err) == http.StatusNotFound {
		return fatal(fmt.Errorf("Brilliant Directories has no post type %s: %w", b.cfg.PostTypeID, err))
	}
	if err != nil {
		return err
	}
	var rows []struct {
		DataType flexInt `json:"data_type"`
	}
	if json.Unmarshal(env.Message, &rows) != nil {
		var one struct {
			DataType flexInt `json:"data_type"`
		}
		_ = json.Unmarshal(env.Message, &one)
		rows = append(rows, one)
	}
	if len(rows) == 0 || rows[0].DataType != 4 {
		return fatal(fmt.Errorf("Brilliant Directories post type %s is not a multi-image post type (data_type 4)", b.cfg.PostTypeID))
	}
	return nil
}

type bdGroup struct {
	GroupID   flexInt `json:"group_id"`
	GroupName string  `json:"group_name"`
}

// album returns the link's group id: the saved one (checked), one of the link's name (a
// create whose answer was lost, or an album made by hand: adopted, not duplicated), or
// a new one.
func (b *brilliant) album(ctx context.Context, r *run, create bool) (string, error) {
	if id := r.link.ContainerID; id != "" {
		env, err := b.send(ctx, "Brilliant Directories get album", http.MethodGet, "/users_portfolio_groups/get/"+url.PathEscape(id), nil, true)
		var bdErr *bdError
		if statusOf(err) == http.StatusNotFound || errors.As(err, &bdErr) || (err == nil && (string(env.Message) == "[]" || len(env.Message) == 0)) {
			return "", fatal(fmt.Errorf("the Brilliant Directories album %s of this link was deleted; unlink and link the event again", id))
		}
		return id, err
	}
	find := func() (string, error) {
		found := ""
		err := b.list(ctx, "Brilliant Directories find album", "/users_portfolio_groups/get", eq("group_name", r.link.ContainerName), func(raw json.RawMessage) error {
			var g bdGroup
			if json.Unmarshal(raw, &g) == nil && g.GroupName == r.link.ContainerName && found == "" {
				found = strconv.FormatInt(int64(g.GroupID), 10)
			}
			return nil
		})
		return found, err
	}
	id, err := find()
	if err != nil || id != "" || !create {
		return b.keepAlbum(ctx, r, id, err)
	}
	if err := b.checkPostType(ctx); err != nil {
		return "", err
	}
	status := "1"
	if b.cfg.PublishAfterVerify {
		status = "0"
	}
	form := url.Values{"user_id": {b.cfg.MemberID}, "data_id": {b.cfg.PostTypeID}, "data_type": {"4"}, "group_name": {r.link.ContainerName},
		"group_desc": {"Photos of " + r.event.Name}, "group_status": {status}, "auto_image_import": {"1"}}
	env, err := b.send(ctx, "Brilliant Directories create album", http.MethodPost, "/users_portfolio_groups/create", form, false)
	if isAmbiguous(err) {
		id, ferr := find()
		if ferr != nil || id == "" {
			return "", err
		}
		return b.keepAlbum(ctx, r, id, nil)
	}
	if err != nil {
		return "", err
	}
	if err := r.step("bd.album"); err != nil {
		return "", err
	}
	var g bdGroup
	if err := json.Unmarshal(env.Message, &g); err != nil || g.GroupID == 0 {
		return "", fmt.Errorf("Brilliant Directories album answer: %.200s", env.Message)
	}
	return b.keepAlbum(ctx, r, strconv.FormatInt(int64(g.GroupID), 10), nil)
}

func (b *brilliant) keepAlbum(ctx context.Context, r *run, id string, err error) (string, error) {
	if err != nil || id == "" {
		return id, err
	}
	if err := r.e.DB.SaveLinkContainer(ctx, r.link.ID, id); err != nil {
		return "", err
	}
	r.link.ContainerID = id
	return id, nil
}

// bdRow is one photo row of an album.
type bdRow struct {
	PhotoID          flexInt `json:"photo_id"`
	File             string  `json:"file"`
	OriginalImageURL string  `json:"original_image_url"`
	ImageImported    string  `json:"image_imported"`
}

func (row bdRow) imported() bool { return row.File != "" && row.ImageImported == "2" }

// rows lists the album's photo rows by source URL (several rows may share one).
func (b *brilliant) rows(ctx context.Context, group string) (map[string][]bdRow, error) {
	out := map[string][]bdRow{}
	err := b.list(ctx, "Brilliant Directories list album photos", "/users_portfolio/get", eq("group_id", group), func(raw json.RawMessage) error {
		var row bdRow
		if err := json.Unmarshal(raw, &row); err != nil {
			return fmt.Errorf("album photo row: %w", err)
		}
		out[row.OriginalImageURL] = append(out[row.OriginalImageURL], row)
		return nil
	})
	return out, err
}

func (b *brilliant) deleteRow(ctx context.Context, r *run, id flexInt) error {
	_, err := b.send(ctx, "Brilliant Directories delete photo", http.MethodDelete, "/users_portfolio/delete",
		url.Values{"photo_id": {strconv.FormatInt(int64(id), 10)}}, true)
	var bdErr *bdError
	if err != nil && statusOf(err) != http.StatusNotFound && !errors.As(err, &bdErr) {
		return err
	}
	return r.step("bd.delete")
}

var mediaNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// mediaURL gives an item its public media URL (once): unguessable, extension-terminated
// and query-free, as BD's importer needs.
func (b *brilliant) mediaURL(ctx context.Context, r *run, it *storage.ConnectorItem, p *storage.Photo) (string, error) {
	rem := remoteOf[bdRemote](it)
	if rem.URL != "" && it.MediaToken != nil {
		return rem.URL, nil
	}
	if it.MediaToken == nil {
		raw := make([]byte, 20)
		if _, err := rand.Read(raw); err != nil {
			return "", err
		}
		tok := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
		it.MediaToken = &tok
	}
	name := strings.Trim(mediaNameUnsafe.ReplaceAllString(strings.TrimSuffix(safeName(p.OriginalName, "jpeg"), ".jpg"), "-"), "-.")
	if name == "" {
		name = "photo"
	}
	ext := ".jpg"
	if p.Format == "png" {
		ext = ".png"
	}
	u := ""
	if r.e.MediaURL != nil {
		u = r.e.MediaURL(*it.MediaToken, name+ext)
	}
	if u == "" {
		return "", fatal(errors.New("Brilliant Directories fetches photos from Gallerist: set GALLERIST_BASE_URL to the server's public https address"))
	}
	rem.URL = u
	setRemote(it, rem)
	return u, r.save(ctx, it)
}

func (b *brilliant) Sync(ctx context.Context, r *run) error {
	add := r.toAdd()
	group, err := b.album(ctx, r, len(add) > 0)
	if err != nil {
		return err
	}
	remove := r.toRemove()
	if group != "" && (anySynced(r) || len(add) > 0 || len(remove) > 0) {
		// One listing serves the duplicate sweep, the first look of the push and the
		// removals: BD's request budget is small.
		rows, err := b.rows(ctx, group)
		if err != nil {
			return err
		}
		if err := b.dedupe(ctx, r, rows); err != nil {
			return err
		}
		if len(add) > 0 {
			if err := b.push(ctx, r, group, add, rows); err != nil {
				return err
			}
		}
		for _, it := range remove {
			if err := b.remove(ctx, r, it, rows); err != nil {
				return err
			}
		}
	}
	if b.cfg.PublishAfterVerify && group != "" && !r.link.Published && len(r.toAdd()) == 0 && len(r.eligible) > 0 {
		if _, err := b.send(ctx, "Brilliant Directories publish album", http.MethodPut, "/users_portfolio_groups/update",
			url.Values{"group_id": {group}, "group_status": {"1"}}, true); err != nil {
			return err
		}
		if err := r.e.DB.SetLinkPublished(ctx, r.link.ID); err != nil {
			return err
		}
		r.link.Published = true
	}
	return nil
}

// anySynced reports whether any item is on the platform.
func anySynced(r *run) bool {
	for _, it := range r.items {
		if it.State == itemSynced {
			return true
		}
	}
	return false
}

// dedupe deletes the rows of a synced photo's URL other than the one adopted: an import
// slower than the verify deadline is appended again, and its first row may land after
// the photo was settled.
func (b *brilliant) dedupe(ctx context.Context, r *run, rows map[string][]bdRow) error {
	for _, it := range r.allItems() {
		rem := remoteOf[bdRemote](it)
		if it.State != itemSynced || rem.URL == "" || rem.PhotoID == "" {
			continue
		}
		for _, row := range rows[rem.URL] {
			if strconv.FormatInt(int64(row.PhotoID), 10) != rem.PhotoID {
				if err := b.deleteRow(ctx, r, row.PhotoID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// push appends the photos' URLs and verifies the import, deleting and re-appending the
// rows BD failed to import, until each photo is in or has failed bdMaxAttempts times.
// rows is the album's listing to start from; later rounds list it again.
func (b *brilliant) push(ctx context.Context, r *run, group string, add []*storage.Photo, rows map[string][]bdRow) error {
	verifyTimeout, poll := r.e.VerifyTimeout, r.e.PollInterval
	if verifyTimeout <= 0 {
		verifyTimeout = 15 * time.Minute
	}
	if poll <= 0 {
		poll = 5 * time.Second
	}
	started := time.Now()
	for round := 0; ; round++ {
		if round > 0 {
			var err error
			if rows, err = b.rows(ctx, group); err != nil {
				return err
			}
		}
		var send []*storage.ConnectorItem
		waiting := false
		for _, p := range add {
			it := r.items[p.ID]
			if it.State == itemSynced || r.failed[p.ID] != "" {
				continue
			}
			u, err := b.mediaURL(ctx, r, it, p)
			if err != nil {
				return err
			}
			rem := remoteOf[bdRemote](it)
			found := rows[u]
			// Adopt the first imported row; any other row of the same URL is a duplicate.
			good := slices.IndexFunc(found, bdRow.imported)
			if good >= 0 {
				for i, row := range found {
					if i != good {
						if err := b.deleteRow(ctx, r, row.PhotoID); err != nil {
							return err
						}
					}
				}
				rem.PhotoID = strconv.FormatInt(int64(found[good].PhotoID), 10)
				setRemote(it, rem)
				if err := r.synced(ctx, it); err != nil {
					return err
				}
				continue
			}
			inFlight := it.State == itemVerifying || len(found) > 0
			if inFlight && time.Now().Before(rem.Deadline) {
				waiting = true
				continue
			}
			if inFlight {
				// Past the deadline: a silent failure. Delete its rows, then retry or give up.
				for _, row := range found {
					if err := b.deleteRow(ctx, r, row.PhotoID); err != nil {
						return err
					}
				}
				it.Attempts++
				if it.Attempts >= bdMaxAttempts {
					it.Attempts-- // fail counts this one
					if err := r.fail(ctx, it, fmt.Sprintf("Brilliant Directories did not import the photo from %s after %d tries (image_imported=0)", u, bdMaxAttempts)); err != nil {
						return err
					}
					continue
				}
			}
			send = append(send, it)
		}
		for batch := range slices.Chunk(send, bdAppendBatch) {
			if err := b.append(ctx, r, group, batch, verifyTimeout); err != nil {
				return err
			}
			waiting = true
		}
		if !waiting {
			return nil
		}
		wait := min(poll<<min(round, 5), 2*time.Minute)
		if time.Since(started)+wait > bdInJobWait {
			return errWaiting{after: wait} // come back later instead of holding a worker
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// append sends a batch of URLs to the album. The items are marked verifying before the
// call: whatever happens to the answer, the next look at the album settles them.
func (b *brilliant) append(ctx context.Context, r *run, group string, batch []*storage.ConnectorItem, verifyTimeout time.Duration) error {
	urls := make([]string, len(batch))
	now := time.Now().UTC()
	for i, it := range batch {
		rem := remoteOf[bdRemote](it)
		rem.SentAt, rem.Deadline, rem.PhotoID = now, now.Add(verifyTimeout), ""
		setRemote(it, rem)
		it.State = itemVerifying
		if err := r.save(ctx, it); err != nil {
			return err
		}
		urls[i] = rem.URL
	}
	_, err := b.send(ctx, "Brilliant Directories append photos", http.MethodPut, "/users_portfolio_groups/update",
		url.Values{"group_id": {group}, "post_image": {strings.Join(urls, ",")}, "auto_image_import": {"1"}}, false)
	var bdErr *bdError
	var lerr linkError
	switch {
	case isAmbiguous(err):
		return nil // verification will tell whether it was applied
	case errors.As(err, &lerr):
		return err // the key was refused: the link, not these photos
	case (errors.As(err, &bdErr) || (statusOf(err) >= 400 && statusOf(err) < 500)) && len(batch) > 1:
		// One URL may be what BD refuses: append them one by one.
		for _, it := range batch {
			if err := b.append(ctx, r, group, []*storage.ConnectorItem{it}, verifyTimeout); err != nil {
				return err
			}
		}
		return nil
	case errors.As(err, &bdErr) || (statusOf(err) >= 400 && statusOf(err) < 500):
		for _, it := range batch {
			if err2 := r.fail(ctx, it, err.Error()); err2 != nil {
				return err2
			}
		}
		return nil
	case err != nil:
		return err
	}
	return r.step("bd.append")
}

func (b *brilliant) remove(ctx context.Context, r *run, it *storage.ConnectorItem, rows map[string][]bdRow) error {
	rem := remoteOf[bdRemote](it)
	found := rows[rem.URL]
	if it.State == itemVerifying && len(found) == 0 && time.Now().Before(rem.Deadline) {
		return nil // its import may still land: remove it on a later sync, once its row is there
	}
	if rem.URL == "" || (len(found) == 0 && it.State != itemSynced && it.State != itemRemoving) {
		return r.forget(ctx, it) // never a row on BD
	}
	it.State = itemRemoving
	if err := r.save(ctx, it); err != nil {
		return err
	}
	for _, row := range found {
		if err := b.deleteRow(ctx, r, row.PhotoID); err != nil {
			return err
		}
	}
	return r.gone(ctx, it)
}

// Archive deletes every photo row of the album, then the album (BD does not cascade).
func (b *brilliant) Archive(ctx context.Context, r *run) error {
	group := r.link.ContainerID
	if group == "" {
		var err error
		if group, err = b.album(ctx, r, false); err != nil {
			return err
		}
	}
	if group != "" {
		rows, err := b.rows(ctx, group)
		if err != nil {
			return err // rows must go before the album (BD does not cascade)
		}
		for _, list := range rows {
			for _, row := range list {
				if err := b.deleteRow(ctx, r, row.PhotoID); err != nil {
					return err
				}
			}
		}
		_, err = b.send(ctx, "Brilliant Directories delete album", http.MethodDelete, "/users_portfolio_groups/delete", url.Values{"group_id": {group}}, true)
		var bdErr *bdError
		if err != nil && statusOf(err) != http.StatusNotFound && !errors.As(err, &bdErr) {
			return err
		}
		if err := r.step("bd.archive"); err != nil {
			return err
		}
	}
	for _, it := range r.allItems() {
		var err error
		switch it.State {
		case itemRemoved:
		case itemPending, itemFailed:
			err = r.forget(ctx, it) // never a row on BD (or its rows were deleted above)
		default:
			err = r.gone(ctx, it)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
