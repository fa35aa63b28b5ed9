package connectorfake

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BDOptions configures NewBD. Zero values take the defaults in the comments.
// A negative RateLimit disables rate limiting.
type BDOptions struct {
	APIKey          string
	MemberID        int           // default 7 (an existing member)
	AlbumPostTypeID int           // default 10 (data_type 4 "Photo Album"); data_id 5 "Articles" (data_type 20) is also seeded
	ImportDelay     time.Duration // rows appear after this delay, default 200ms
	RateLimit       int           // requests per RateWindow per key, default 100 (<0: unlimited)
	RateWindow      time.Duration // default 60s
	Client          *http.Client  // used by the importer to fetch post_image URLs (default http.DefaultClient)
	// InvalidFilterStatus is the HTTP status of {"status":"error","message":"Invalid filter parameters"}
	// (unknown operator, mismatched filter arrays); default 400. Set 200 to prove the client checks the body.
	InvalidFilterStatus int
	// DeniedEndpoints lists endpoints this key is not enabled for, e.g.
	// "users_portfolio/delete"; they answer 403.
	DeniedEndpoints []string
}

// BDGroup is a multi-image post (album) as tests see it. Misrouted is set
// when it was created with a data_type other than 4 or other than its post
// type's data_type (BD accepts such rows but they do not render).
type BDGroup struct {
	ID        int
	Name      string
	UserID    int
	DataID    int
	DataType  string
	Status    string
	Misrouted bool
	Deleted   bool

	Desc, Filename, Tags string // group_desc, group_filename (slug), post_tags

	updated time.Time
}

// BDPhoto is a photo row of an album.
type BDPhoto struct {
	ID, GroupID                           int
	File, OriginalImageURL, ImageImported string

	UserID       int
	Title, Order string

	updated time.Time
}

type bdCategory struct {
	id                                         int
	dataType, name, system, filename, formName string
}

// BD is the fake Brilliant Directories site; the API is under URL+"/api/v2/".
//
// Writes counts applied write requests: users_portfolio_groups create,
// update and delete, and users_portfolio create, update and delete. Rows
// the asynchronous importer adds do not count. Reads do not count.
type BD struct {
	*base
	URL string

	o       BDOptions
	revoked bool
	rate    window
	groups  []*BDGroup
	photos  []*BDPhoto
	cats    []bdCategory
	nextG   int
	nextP   int
	fail    []bdFail
	pending int
	idle    *sync.Cond
	ctx     context.Context
	cancel  context.CancelFunc
}

type bdFail struct {
	sub   string
	times int
	noRow bool
}

// NewBD starts a fake BD site; it is closed by t.Cleanup.
func NewBD(t testing.TB, o BDOptions) *BD {
	if o.MemberID == 0 {
		o.MemberID = 7
	}
	if o.AlbumPostTypeID == 0 {
		o.AlbumPostTypeID = 10
	}
	if o.ImportDelay == 0 {
		o.ImportDelay = 200 * time.Millisecond
	}
	if o.RateLimit == 0 {
		o.RateLimit = 100
	}
	if o.RateWindow == 0 {
		o.RateWindow = 60 * time.Second
	}
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.InvalidFilterStatus == 0 {
		o.InvalidFilterStatus = 400
	}
	f := &BD{base: newBase(t), o: o, rate: window{limit: o.RateLimit, span: o.RateWindow}, nextG: 100, nextP: 1000}
	f.idle = sync.NewCond(&f.mu)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.cats = []bdCategory{
		{o.AlbumPostTypeID, "4", "Photo Album", "photo_album", "photo-album", "photo_album_fields"},
		{5, "20", "Articles", "articles", "articles", "article_fields"},
	}
	f.on429 = func(w http.ResponseWriter, ft Fault) {
		if ft.RetryAfter != "" {
			w.Header().Set("Retry-After", ft.RetryAfter)
		}
		writeJSON(w, 429, bdErr("Too many API requests per minute"))
	}
	f.on503 = func(w http.ResponseWriter, ft Fault) {
		if ft.RetryAfter != "" {
			w.Header().Set("Retry-After", ft.RetryAfter)
		}
		writeJSON(w, 503, bdErr("Service Unavailable"))
	}
	f.URL = f.start("", f.serve).URL
	t.Cleanup(f.Close)
	return f
}

func bdErr(msg string) map[string]any { return map[string]any{"status": "error", "message": msg} }

// Close stops pending imports and shuts the server down.
func (f *BD) Close() {
	f.cancel()
	f.base.Close()
	f.WaitImports()
}

// Groups returns every album, deleted ones included (Deleted set).
func (f *BD) Groups() []BDGroup {
	return copies(&f.mu, f.groups, nil)
}

// Photos returns every photo row (deleted rows are gone), by photo_id.
func (f *BD) Photos() []BDPhoto {
	return copies(&f.mu, f.photos, nil)
}

// FailImport makes the next `times` imports of URLs containing urlSubstring
// fail silently (row with image_imported "0" and file ""), even when the
// URL is fetchable. times <= 0 means always.
func (f *BD) FailImport(urlSubstring string, times int) {
	if times <= 0 {
		times = -1
	}
	f.mu.Lock()
	f.fail = append(f.fail, bdFail{sub: urlSubstring, times: times})
	f.mu.Unlock()
}

// SkipImport makes the next `times` imports of URLs containing
// urlSubstring create no photo row at all (fewer rows than URLs); times <= 0
// means always.
func (f *BD) SkipImport(urlSubstring string, times int) {
	if times <= 0 {
		times = -1
	}
	f.mu.Lock()
	f.fail = append(f.fail, bdFail{sub: urlSubstring, times: times, noRow: true})
	f.mu.Unlock()
}

// SeedGroup adds an album directly (as if created earlier or by someone
// else), owned by the configured member and album post type, and returns
// its group_id. Use it to test adopting an existing album by name.
func (f *BD) SeedGroup(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextG++
	g := &BDGroup{ID: f.nextG, Name: name, UserID: f.o.MemberID, DataID: f.o.AlbumPostTypeID, DataType: "4",
		Status: "1", updated: f.nowLocked()}
	g.Filename = strings.Trim(slugRe.ReplaceAllString(strings.ToLower(name), "-"), "-")
	f.groups = append(f.groups, g)
	return g.ID
}

// RevokeKey makes every request answer 401.
func (f *BD) RevokeKey() {
	f.mu.Lock()
	f.revoked = true
	f.mu.Unlock()
}

// WaitImports blocks until every pending import has finished.
func (f *BD) WaitImports() {
	f.mu.Lock()
	for f.pending > 0 {
		f.idle.Wait()
	}
	f.mu.Unlock()
}

func (f *BD) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	authOK := !f.revoked && f.o.APIKey != "" && r.Header.Get("X-Api-Key") == f.o.APIKey
	rateOK := authOK && f.rate.take(f.nowLocked())
	f.mu.Unlock()
	if !authOK {
		writeJSON(w, 401, bdErr("API Key is invalid or missing"))
		return
	}
	if !rateOK {
		writeJSON(w, 429, bdErr("Too many API requests per minute"))
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/api/v2/")
	if p == r.URL.Path {
		writeJSON(w, 404, bdErr("Not found"))
		return
	}
	var form url.Values
	if r.Method != http.MethodGet {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			writeJSON(w, 400, bdErr("Request body must be application/x-www-form-urlencoded"))
			return
		}
		var err error
		if form, err = url.ParseQuery(string(body)); err != nil {
			writeJSON(w, 400, bdErr("Malformed form body"))
			return
		}
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	route := strings.Join(seg[:min(2, len(seg))], "/")
	for _, d := range f.o.DeniedEndpoints {
		if strings.Trim(d, "/") == route {
			writeJSON(w, 403, bdErr("API key does not have permission to access this endpoint"))
			return
		}
	}
	id := ""
	if len(seg) == 3 && seg[1] == "get" {
		id = seg[2]
	} else if len(seg) > 2 {
		writeJSON(w, 404, bdErr("Not found"))
		return
	}
	switch {
	case route == "token/verify" && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"status": "success", "message": map[string]any{"website": f.URL, "key": "gallerist-test"}})
	case route == "data_categories/get" && r.Method == http.MethodGet:
		f.mu.Lock()
		var rows []map[string]string
		for _, c := range f.cats {
			rows = append(rows, map[string]string{"data_id": strconv.Itoa(c.id), "data_type": c.dataType, "data_name": c.name,
				"system_name": c.system, "data_filename": c.filename, "form_name": c.formName})
		}
		f.mu.Unlock()
		f.list(w, r, rows, "data_id", id, "data_categories")
	case route == "users_portfolio_groups/get" && r.Method == http.MethodGet:
		f.mu.Lock()
		var rows []map[string]string
		for _, g := range f.groups {
			if !g.Deleted {
				rows = append(rows, groupRow(g))
			}
		}
		f.mu.Unlock()
		f.list(w, r, rows, "group_id", id, "users_portfolio_groups")
	case route == "users_portfolio/get" && r.Method == http.MethodGet:
		f.mu.Lock()
		var rows []map[string]string
		for _, ph := range f.photos {
			rows = append(rows, f.photoRow(ph))
		}
		f.mu.Unlock()
		f.list(w, r, rows, "photo_id", id, "users_portfolio")
	case route == "users_portfolio_groups/create" && r.Method == http.MethodPost:
		f.createGroup(w, form)
	case route == "users_portfolio_groups/update" && r.Method == http.MethodPut:
		f.updateGroup(w, form)
	case route == "users_portfolio_groups/delete" && r.Method == http.MethodDelete:
		f.deleteGroup(w, form)
	case route == "users_portfolio/create" && r.Method == http.MethodPost:
		f.createPhoto(w, form)
	case route == "users_portfolio/update" && r.Method == http.MethodPut:
		f.updatePhoto(w, form)
	case route == "users_portfolio/delete" && r.Method == http.MethodDelete:
		f.deletePhoto(w, form)
	default:
		writeJSON(w, 404, bdErr("Not found"))
	}
}

func bdTime(t time.Time) string { return t.UTC().Format("20060102150405") }

func groupRow(g *BDGroup) map[string]string {
	return map[string]string{"group_id": strconv.Itoa(g.ID), "group_name": g.Name, "group_desc": g.Desc,
		"group_filename": g.Filename, "group_status": g.Status, "user_id": strconv.Itoa(g.UserID),
		"data_id": strconv.Itoa(g.DataID), "data_type": g.DataType, "post_tags": g.Tags,
		"revision_timestamp": bdTime(g.updated)}
}

func (f *BD) photoRow(p *BDPhoto) map[string]string {
	full, thumb := "", ""
	if p.File != "" {
		full = f.URL + "/photos/main/" + p.File
		thumb = f.URL + "/photos/thumbnail/" + p.File
	}
	return map[string]string{"photo_id": strconv.Itoa(p.ID), "user_id": strconv.Itoa(p.UserID),
		"group_id": strconv.Itoa(p.GroupID), "file": p.File, "original_image_url": p.OriginalImageURL,
		"title": p.Title, "order": p.Order, "status": "1", "image_imported": p.ImageImported,
		"revision_timestamp": bdTime(p.updated), "file_main_full_url": full, "file_thumbnail_full_url": thumb}
}

// list applies BD filters and cursor pagination to rows (or returns one
// row by id) and writes the envelope.
func (f *BD) list(w http.ResponseWriter, r *http.Request, rows []map[string]string, idCol, id, what string) {
	if id != "" {
		for _, row := range rows {
			if row[idCol] == id {
				writeJSON(w, 200, map[string]any{"status": "success", "message": []map[string]string{row}})
				return
			}
		}
		writeJSON(w, 404, bdErr(what+" not found"))
		return
	}
	q := r.URL.Query()
	props, vals, ops := q["property"], q["property_value"], q["property_operator"]
	if len(q["property[]"]) > 0 {
		props, vals, ops = q["property[]"], q["property_value[]"], q["property_operator[]"]
	}
	if len(vals) != len(props) || (len(ops) != 0 && len(ops) != len(props)) {
		writeJSON(w, f.o.InvalidFilterStatus, bdErr("Invalid filter parameters"))
		return
	}
	known := map[string]bool{}
	if len(rows) > 0 {
		for k := range rows[0] {
			known[k] = true
		}
	} else {
		known = nil // no rows: any column yields zero rows anyway
	}
	var sel []map[string]string
	for i, prop := range props {
		op := "="
		if len(ops) > 0 && ops[i] != "" {
			op = ops[i]
		}
		switch op {
		case "eq", "=", "==", "ne", "!=", "in", "not_in", "contains":
		default:
			writeJSON(w, f.o.InvalidFilterStatus, bdErr("Invalid filter parameters"))
			return
		}
		if known != nil && !known[prop] {
			rows = nil
		}
	}
	for _, row := range rows {
		ok := true
		for i, prop := range props {
			op := "="
			if len(ops) > 0 && ops[i] != "" {
				op = ops[i]
			}
			v, want := row[prop], vals[i]
			switch op {
			case "eq", "=", "==":
				ok = ok && v == want
			case "ne", "!=":
				ok = ok && v != want
			case "in", "not_in":
				in := false
				for _, x := range strings.Split(want, ",") {
					if strings.TrimSpace(x) == v {
						in = true
					}
				}
				ok = ok && in == (op == "in")
			case "contains":
				ok = ok && strings.Contains(strings.ToLower(v), strings.ToLower(want))
			}
		}
		if ok {
			sel = append(sel, row)
		}
	}
	sort.SliceStable(sel, func(i, j int) bool {
		a, _ := strconv.Atoi(sel[i][idCol])
		b, _ := strconv.Atoi(sel[j][idCol])
		return a < b
	})
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 25
	}
	if limit > 100 {
		limit = 100
	}
	page := 1
	if c := q.Get("page"); c != "" {
		if raw, err := base64.StdEncoding.DecodeString(c); err == nil {
			var n, l int
			if _, err := fmt.Sscanf(string(raw), "%d*_*%d", &n, &l); err == nil && n >= 1 && l >= 1 {
				page, limit = n, min(l, 100)
			}
		}
	}
	total := len(sel)
	pages := int(math.Ceil(float64(total) / float64(limit)))
	lo := min((page-1)*limit, total)
	hi := min(lo+limit, total)
	cur := func(n int) string { return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%d*_*%d", n, limit))) }
	prev := ""
	if page > 1 {
		prev = cur(page - 1)
	}
	msg := sel[lo:hi]
	if msg == nil {
		msg = []map[string]string{}
	}
	writeJSON(w, 200, map[string]any{"status": "success", "total": strconv.Itoa(total), "current_page": page,
		"total_pages": pages, "next_page": cur(page + 1), "prev_page": prev, "message": msg})
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

func (f *BD) groupLocked(id string) *BDGroup {
	n, err := strconv.Atoi(id)
	if err != nil {
		return nil
	}
	for _, g := range f.groups {
		if g.ID == n && !g.Deleted {
			return g
		}
	}
	return nil
}

func (f *BD) createGroup(w http.ResponseWriter, form url.Values) {
	for _, k := range []string{"user_id", "data_id", "data_type"} {
		if form.Get(k) == "" {
			writeJSON(w, 400, bdErr(k+" is required"))
			return
		}
	}
	uid, _ := strconv.Atoi(form.Get("user_id"))
	if uid != f.o.MemberID {
		writeJSON(w, 400, bdErr("user_id does not match an existing member"))
		return
	}
	did, _ := strconv.Atoi(form.Get("data_id"))
	f.mu.Lock()
	defer f.mu.Unlock()
	var cat *bdCategory
	for i := range f.cats {
		if f.cats[i].id == did {
			cat = &f.cats[i]
		}
	}
	if cat == nil {
		writeJSON(w, 400, bdErr("data_id does not match an existing post type"))
		return
	}
	f.nextG++
	now := f.nowLocked()
	status := form.Get("group_status")
	if status == "" {
		status = "1"
	}
	g := &BDGroup{ID: f.nextG, Name: form.Get("group_name"), UserID: uid, DataID: did, DataType: form.Get("data_type"),
		Status: status, Misrouted: form.Get("data_type") != "4" || form.Get("data_type") != cat.dataType,
		Desc: form.Get("group_desc"), Tags: form.Get("post_tags"), updated: now}
	g.Filename = strings.Trim(slugRe.ReplaceAllString(strings.ToLower(g.Name), "-"), "-")
	f.groups = append(f.groups, g)
	f.countWriteLocked()
	f.startImportLocked(g, form)
	row := groupRow(g)
	writeJSON(w, 200, map[string]any{"status": "success", "message": row})
}

func (f *BD) updateGroup(w http.ResponseWriter, form url.Values) {
	if form.Get("group_id") == "" {
		writeJSON(w, 400, bdErr("group_id is required"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupLocked(form.Get("group_id"))
	if g == nil {
		writeJSON(w, 404, bdErr("users_portfolio_groups record not found"))
		return
	}
	set := func(k string, dst *string) {
		if _, ok := form[k]; ok {
			*dst = form.Get(k)
		}
	}
	set("group_name", &g.Name)
	set("group_filename", &g.Filename)
	set("group_desc", &g.Desc)
	set("group_status", &g.Status)
	set("post_tags", &g.Tags)
	g.updated = f.nowLocked()
	f.countWriteLocked()
	f.startImportLocked(g, form)
	writeJSON(w, 200, map[string]any{"status": "success", "message": groupRow(g)})
}

func (f *BD) deleteGroup(w http.ResponseWriter, form url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupLocked(form.Get("group_id"))
	if g == nil {
		writeJSON(w, 404, bdErr("users_portfolio_groups record not found"))
		return
	}
	g.Deleted = true // photo rows are NOT deleted (no cascade)
	f.countWriteLocked()
	writeJSON(w, 200, map[string]any{"status": "success", "message": "record was deleted"})
}

func (f *BD) photoLocked(id string) int {
	n, err := strconv.Atoi(id)
	if err != nil {
		return -1
	}
	for i, p := range f.photos {
		if p.ID == n {
			return i
		}
	}
	return -1
}

func (f *BD) createPhoto(w http.ResponseWriter, form url.Values) {
	if form.Get("user_id") == "" || form.Get("group_id") == "" {
		writeJSON(w, 400, bdErr("user_id and group_id are required"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groupLocked(form.Get("group_id"))
	if g == nil {
		writeJSON(w, 404, bdErr("users_portfolio_groups record not found"))
		return
	}
	uid, _ := strconv.Atoi(form.Get("user_id"))
	p := f.addPhotoLocked(g.ID, uid, form.Get("original_image_url"))
	p.Title, p.Order = form.Get("title"), form.Get("order")
	f.countWriteLocked()
	writeJSON(w, 200, map[string]any{"status": "success", "message": f.photoRow(p)})
}

func (f *BD) updatePhoto(w http.ResponseWriter, form url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.photoLocked(form.Get("photo_id"))
	if i < 0 {
		writeJSON(w, 404, bdErr("users_portfolio record not found"))
		return
	}
	p := f.photos[i]
	if _, ok := form["title"]; ok {
		p.Title = form.Get("title")
	}
	if _, ok := form["order"]; ok {
		p.Order = form.Get("order")
	}
	p.updated = f.nowLocked()
	f.countWriteLocked()
	writeJSON(w, 200, map[string]any{"status": "success", "message": f.photoRow(p)})
}

func (f *BD) deletePhoto(w http.ResponseWriter, form url.Values) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.photoLocked(form.Get("photo_id"))
	if i < 0 {
		writeJSON(w, 404, bdErr("users_portfolio record not found"))
		return
	}
	f.photos = append(f.photos[:i], f.photos[i+1:]...)
	f.countWriteLocked()
	writeJSON(w, 200, map[string]any{"status": "success", "message": "record was deleted"})
}

func (f *BD) addPhotoLocked(group, user int, u string) *BDPhoto {
	f.nextP++
	p := &BDPhoto{ID: f.nextP, GroupID: group, OriginalImageURL: u, ImageImported: "0", UserID: user, updated: f.nowLocked()}
	f.photos = append(f.photos, p)
	return p
}

// startImportLocked schedules the importer for post_image, if present.
func (f *BD) startImportLocked(g *BDGroup, form url.Values) {
	var urls []string
	for _, u := range strings.Split(form.Get("post_image"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return
	}
	fetch := form.Get("auto_image_import") == "1"
	f.pending++
	go f.importRun(g.ID, g.UserID, urls, fetch)
}

func (f *BD) importRun(group, user int, urls []string, fetch bool) {
	defer func() {
		f.mu.Lock()
		f.pending--
		f.idle.Broadcast()
		f.mu.Unlock()
	}()
	select {
	case <-time.After(f.o.ImportDelay):
	case <-f.ctx.Done():
		return
	}
	rows := make([]*BDPhoto, len(urls))
	for i, u := range urls {
		if !f.shouldFail(u, true) {
			f.mu.Lock()
			rows[i] = f.addPhotoLocked(group, user, u)
			f.mu.Unlock()
		}
	}
	if !fetch {
		return
	}
	for i, u := range urls {
		if rows[i] != nil && !f.shouldFail(u, false) && f.fetchOK(u) {
			f.mu.Lock()
			p := rows[i]
			pu, _ := url.Parse(u)
			base := path.Base(pu.Path)
			ext := strings.ToLower(path.Ext(base))
			p.File = fmt.Sprintf("%d-%s%s", p.ID, strings.TrimSuffix(base, path.Ext(base)), ext)
			p.ImageImported = "2"
			p.updated = f.nowLocked()
			f.mu.Unlock()
		}
	}
}

func (f *BD) shouldFail(u string, noRow bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.fail {
		fl := &f.fail[i]
		if fl.noRow == noRow && strings.Contains(u, fl.sub) && fl.times != 0 {
			if fl.times > 0 {
				fl.times--
			}
			return true
		}
	}
	return false
}

// fetchOK really GETs u and applies BD's import rules.
func (f *BD) fetchOK(u string) bool {
	pu, err := url.Parse(u)
	if err != nil || pu.RawQuery != "" || pu.ForceQuery || (pu.Scheme != "http" && pu.Scheme != "https") {
		return false
	}
	switch strings.ToLower(path.Ext(pu.Path)) {
	case ".jpg", ".jpeg", ".png":
	default:
		return false
	}
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := f.o.Client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(resp.Body, head)
	_, _ = io.Copy(io.Discard, resp.Body)
	head = head[:n]
	return resp.StatusCode == 200 && (bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}) ||
		bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")))
}
