package connectorfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BuildPassOptions configures NewBuildPass. Zero values take the defaults
// given in the comments. A negative RateLimit disables rate limiting.
type BuildPassOptions struct {
	ClientID, ClientSecret string
	Scopes                 []string      // allowed scopes; default {"read:photos","write:photos"}
	BuilderID              string        // default "buil_test"
	ProjectID              string        // default "proj_test" (belongs to the builder)
	Region                 string        // builder's region, default "au1"
	TokenTTL               time.Duration // default 1h
	KeyTTL                 time.Duration // attachment key lifetime, default 24h
	RateLimit              int           // requests per RateWindow, default 100 (<0: unlimited)
	RateWindow             time.Duration // default 10s
	MaxFilesPerUpload      int           // default 10
	MaxFileBytes           int           // per-file size limit, 413 when exceeded; default 0 = unlimited
	// AllowedImageHosts lists imageUrl hosts BuildPass has "approved";
	// default empty, so every imageUrl photo fails.
	AllowedImageHosts []string
}

// BuildPassPhoto is a stored photo as tests see it.
type BuildPassPhoto struct {
	ID, FolderID, ProjectID, FileName, ContentType, ExternalSourceID, SourceExternalSourceID, SourceApp, Description string
	CapturedAt                                                                                                       string
	SHA256                                                                                                           string // of the attachment bytes
	Size                                                                                                             int
	ArchivedAt                                                                                                       *time.Time
	Key                                                                                                              string // attachment key

	createdAt time.Time
	updatedAt time.Time
}

// BuildPassFolder is a stored photo folder.
type BuildPassFolder struct {
	ID, ProjectID, Name string
	Deleted             bool
	ParentID            string

	createdAt time.Time
	updatedAt time.Time
}

type bpAttachment struct {
	key, region, fileName, contentType, sha string
	size                                    int
	at                                      time.Time
	data                                    []byte
}

type bpToken struct {
	scopes  map[string]bool
	expires time.Time
}

// BuildPass is the fake BuildPass API (api.buildpass.global).
//
// Writes counts applied requests that created, changed or removed photo or
// folder records: a bulk upsert that created a folder or at least one photo
// (an all-skipped upsert does not count), POST /photos, PATCH /photos/{id},
// folder POST/PATCH/DELETE, and a DELETE bulk-upsert that archived a photo
// or deleted a folder. Token calls, reads and attachment uploads do not
// count (see Uploads).
type BuildPass struct {
	*base
	URL string

	o          BuildPassOptions
	tokens     map[string]*bpToken
	tokenReqs  int
	rate       window
	atts       map[string]*bpAttachment
	uploads    int
	photos     []*BuildPassPhoto
	folders    []*BuildPassFolder
	failPhotos map[string]bool
	seq        int
}

// NewBuildPass starts a fake BuildPass server; it is closed by t.Cleanup.
func NewBuildPass(t testing.TB, o BuildPassOptions) *BuildPass {
	if o.Scopes == nil {
		o.Scopes = []string{"read:photos", "write:photos"}
	}
	if o.BuilderID == "" {
		o.BuilderID = "buil_test"
	}
	if o.ProjectID == "" {
		o.ProjectID = "proj_test"
	}
	if o.Region == "" {
		o.Region = "au1"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.KeyTTL == 0 {
		o.KeyTTL = 24 * time.Hour
	}
	if o.RateLimit == 0 {
		o.RateLimit = 100
	}
	if o.RateWindow == 0 {
		o.RateWindow = 10 * time.Second
	}
	if o.MaxFilesPerUpload == 0 {
		o.MaxFilesPerUpload = 10
	}
	f := &BuildPass{base: newBase(t), o: o, tokens: map[string]*bpToken{}, atts: map[string]*bpAttachment{},
		failPhotos: map[string]bool{}, rate: window{limit: o.RateLimit, span: o.RateWindow}}
	f.on429 = func(w http.ResponseWriter, ft Fault) {
		f.mu.Lock()
		f.rateHeadersLocked(w)
		f.mu.Unlock()
		w.Header().Set("X-RateLimit-Remaining", "0")
		if ft.RetryAfter != "" {
			w.Header().Set("Retry-After", ft.RetryAfter)
		}
		writeJSON(w, 429, bpErr("Rate limit exceeded. Please try again later."))
	}
	f.on503 = func(w http.ResponseWriter, ft Fault) {
		if ft.RetryAfter != "" {
			w.Header().Set("Retry-After", ft.RetryAfter)
		}
		writeJSON(w, 503, bpErr("Service unavailable"))
	}
	f.URL = f.start("", f.serve).URL
	t.Cleanup(f.Close)
	return f
}

func bpErr(msg string) map[string]any { return map[string]any{"error": map[string]any{"message": msg}} }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Photos returns the active (not archived) photos in creation order.
func (f *BuildPass) Photos() []BuildPassPhoto {
	return copies(&f.mu, f.photos, func(p *BuildPassPhoto) bool { return p.ArchivedAt == nil })
}

// AllPhotos returns every photo including archived ones.
func (f *BuildPass) AllPhotos() []BuildPassPhoto {
	return copies(&f.mu, f.photos, nil)
}

// Folders returns every folder, deleted ones included (Deleted set).
func (f *BuildPass) Folders() []BuildPassFolder {
	return copies(&f.mu, f.folders, nil)
}

// FailPhoto makes the next bulk upsert that includes this photo
// externalSourceId report it in failedPhotos (status "partial"), once.
func (f *BuildPass) FailPhoto(externalSourceID string) {
	f.mu.Lock()
	f.failPhotos[externalSourceID] = true
	f.mu.Unlock()
}

// RevokeTokens invalidates every issued access token (401 afterwards).
func (f *BuildPass) RevokeTokens() {
	f.mu.Lock()
	f.tokens = map[string]*bpToken{}
	f.mu.Unlock()
}

// TokenRequests counts POST /oauth/token calls.
func (f *BuildPass) TokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenReqs
}

// Uploads counts files accepted by the attachment upload endpoints.
func (f *BuildPass) Uploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uploads
}

func (f *BuildPass) rateHeadersLocked(w http.ResponseWriter) {
	if f.rate.limit < 0 {
		return
	}
	now := f.nowLocked()
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(f.rate.limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(f.rate.remaining(now)))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(f.rate.reset(now).Unix(), 10))
}

func (f *BuildPass) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	ok := f.rate.take(f.nowLocked())
	f.rateHeadersLocked(w)
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 429, bpErr("Rate limit exceeded. Please try again later."))
		return
	}
	if r.URL.Path == "/oauth/token" {
		if r.Method != http.MethodPost {
			writeJSON(w, 405, bpErr("method not allowed"))
			return
		}
		f.token(w, r, body)
		return
	}
	if key, ok := strings.CutPrefix(r.URL.Path, "/_files/"); ok && r.Method == http.MethodGet {
		// stand-in for the short-lived signed imageUrl: serves the attachment bytes
		f.mu.Lock()
		att := f.atts[key]
		f.mu.Unlock()
		if att == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", att.contentType)
		_, _ = w.Write(att.data)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 3 || parts[0] != "builders" {
		writeJSON(w, 404, bpErr("Not found"))
		return
	}
	// authentication, version, region, builder
	f.mu.Lock()
	tok := f.tokens[bearer(r)]
	valid := tok != nil && f.nowLocked().Before(tok.expires)
	f.mu.Unlock()
	if !valid {
		writeJSON(w, 401, bpErr("Unauthorized"))
		return
	}
	if r.Header.Get("X-BuildPass-Api-Version") != "v1" {
		writeJSON(w, 400, bpErr("Missing or unsupported X-BuildPass-Api-Version header"))
		return
	}
	region := r.Header.Get("X-BuildPass-Region-Id")
	if region != "au1" && region != "us1" {
		region = "au1"
	}
	if region != f.o.Region || parts[1] != f.o.BuilderID {
		writeJSON(w, 404, bpErr("Builder not found"))
		return
	}
	need := ""
	route := strings.Join(parts[2:], "/")
	switch {
	case strings.HasPrefix(route, "attachments/"):
	case r.Method == http.MethodGet:
		need = "read:photos"
	default:
		need = "write:photos"
	}
	if need != "" && !tok.scopes[need] {
		writeJSON(w, 403, bpErr("Insufficient scope: requires "+need))
		return
	}
	switch {
	case route == "attachments/upload" && r.Method == http.MethodPost:
		f.attachments(w, r, false)
	case route == "attachments/bulk-upload" && r.Method == http.MethodPost:
		f.attachments(w, r, true)
	case route == "photo-gallery/bulk-upsert" && r.Method == http.MethodPost:
		f.upsert(w, r, body)
	case route == "photo-gallery/bulk-upsert" && r.Method == http.MethodDelete:
		f.archive(w, r, body)
	case route == "photos" && r.Method == http.MethodPost:
		f.createPhoto(w, r, body)
	case route == "photos" && r.Method == http.MethodGet:
		f.listPhotos(w, r)
	case len(parts) == 4 && parts[2] == "photos":
		f.photo(w, r, body, parts[3])
	case route == "photo-folders" && r.Method == http.MethodPost:
		f.createFolder(w, r, body)
	case route == "photo-folders" && r.Method == http.MethodGet:
		f.listFolders(w, r)
	case len(parts) == 4 && parts[2] == "photo-folders":
		f.folder(w, r, body, parts[3])
	default:
		writeJSON(w, 404, bpErr("Not found"))
	}
}

func oauthErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (f *BuildPass) token(w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	f.tokenReqs++
	f.mu.Unlock()
	p := oauthParams(r, body)
	switch {
	case p["grant_type"] == "":
		oauthErr(w, 400, "invalid_request", "grant_type is required")
		return
	case p["grant_type"] != "client_credentials":
		oauthErr(w, 400, "unsupported_grant_type", "only client_credentials is supported")
		return
	case p["client_id"] != f.o.ClientID || p["client_secret"] != f.o.ClientSecret || p["client_id"] == "":
		oauthErr(w, 401, "invalid_client", "client authentication failed")
		return
	case p["audience"] != "https://api.buildpass.global":
		oauthErr(w, 400, "invalid_request", "audience must be https://api.buildpass.global")
		return
	}
	allowed := map[string]bool{}
	for _, s := range f.o.Scopes {
		allowed[s] = true
	}
	granted := map[string]bool{}
	var list []string
	if strings.TrimSpace(p["scope"]) == "" {
		list = append(list, f.o.Scopes...)
	} else {
		list = strings.Fields(p["scope"])
	}
	for _, s := range list {
		if !allowed[s] {
			oauthErr(w, 400, "invalid_scope", "scope not allowed: "+s)
			return
		}
		granted[s] = true
	}
	tok := "bp_at_" + randHex(16)
	f.mu.Lock()
	exp := f.nowLocked().Add(f.o.TokenTTL)
	f.tokens[tok] = &bpToken{scopes: granted, expires: exp}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(f.o.TokenTTL / time.Second), "expires": exp.Unix(), "scope": strings.Join(list, " ")})
}

func (f *BuildPass) attachments(w http.ResponseWriter, r *http.Request, bulk bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		writeJSON(w, 400, bpErr("Content-Type must be multipart/form-data"))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeJSON(w, 400, bpErr("invalid multipart body"))
		return
	}
	type file struct {
		field, name, ct string
		data            []byte
	}
	var files []file
	types := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeJSON(w, 400, bpErr("invalid multipart body"))
			return
		}
		data, _ := io.ReadAll(part)
		name := part.FormName()
		if part.FileName() != "" || strings.HasPrefix(name, "file") {
			ct := part.Header.Get("Content-Type")
			if ct == "" || ct == "application/octet-stream" {
				ct = mime.TypeByExtension(strings.ToLower(pathExt(part.FileName())))
			}
			if ct == "" {
				ct = "application/octet-stream"
			}
			files = append(files, file{name, part.FileName(), ct, data})
		} else {
			types[name] = string(data)
		}
	}
	if len(files) == 0 {
		writeJSON(w, 400, bpErr("file is required"))
		return
	}
	if len(files) > f.o.MaxFilesPerUpload || (!bulk && len(files) > 1) {
		writeJSON(w, 400, bpErr(fmt.Sprintf("too many files (max %d)", f.o.MaxFilesPerUpload)))
		return
	}
	for _, fl := range files {
		want := "file"
		if bulk {
			if !strings.HasPrefix(fl.field, "file:") {
				writeJSON(w, 400, bpErr("bulk upload file fields must be named file:N"))
				return
			}
			want = fl.field
		} else if fl.field != "file" {
			writeJSON(w, 400, bpErr("file is required"))
			return
		}
		typ := types["type"]
		if bulk {
			if t, ok := types["type:"+strings.TrimPrefix(want, "file:")]; ok {
				typ = t
			}
		}
		if typ != "attachment" {
			writeJSON(w, 400, bpErr("type must be \"attachment\""))
			return
		}
		if fl.name == "" {
			writeJSON(w, 400, bpErr("file name is required"))
			return
		}
		if f.o.MaxFileBytes > 0 && len(fl.data) > f.o.MaxFileBytes {
			writeJSON(w, 413, bpErr(fmt.Sprintf("file %s exceeds %d bytes", fl.name, f.o.MaxFileBytes)))
			return
		}
	}
	var out []map[string]any
	f.mu.Lock()
	now := f.nowLocked()
	for _, fl := range files {
		key := "external-uploads/" + f.o.BuilderID + "/" + randHex(8) + "/" + fl.name
		sum := sha256.Sum256(fl.data)
		f.atts[key] = &bpAttachment{key: key, region: f.o.Region, fileName: fl.name, contentType: fl.ct,
			sha: hex.EncodeToString(sum[:]), size: len(fl.data), at: now, data: fl.data}
		f.uploads++
		out = append(out, map[string]any{"key": key, "type": "attachment", "regionId": f.o.Region,
			"imageUrl": f.URL + "/_files/" + key + "?sig=" + randHex(4), "fileName": fl.name,
			"contentType": fl.ct, "fieldName": fl.field})
	}
	f.mu.Unlock()
	if bulk {
		writeJSON(w, 201, map[string]any{"uploads": out})
	} else {
		writeJSON(w, 201, out[0])
	}
}

func pathExt(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i:]
	}
	return ""
}

type bpAttachmentRef struct {
	Key      string `json:"key"`
	RegionID string `json:"regionId"`
	Type     string `json:"type"`
}

type bpPhotoIn struct {
	ExternalSourceID string           `json:"externalSourceId"`
	FileName         string           `json:"fileName"`
	ContentType      string           `json:"contentType"`
	ImageURL         string           `json:"imageUrl"`
	ImageAttachment  *bpAttachmentRef `json:"imageAttachment"`
	CapturedAt       string           `json:"capturedAt"`
	Description      string           `json:"description"`
	ProjectID        string           `json:"projectId"`
	FolderID         string           `json:"folderId"`
}

// resolveImageLocked checks the image reference; it returns the attachment
// or an error message.
func (f *BuildPass) resolveImageLocked(p bpPhotoIn) (*bpAttachment, string) {
	if (p.ImageAttachment != nil) == (p.ImageURL != "") {
		return nil, "exactly one of imageAttachment or imageUrl is required"
	}
	if p.ImageURL != "" {
		u, err := url.Parse(p.ImageURL)
		if err != nil || u.Scheme != "https" {
			return nil, "imageUrl must be an approved HTTPS URL"
		}
		for _, h := range f.o.AllowedImageHosts {
			if strings.EqualFold(h, u.Hostname()) {
				return &bpAttachment{fileName: p.FileName, contentType: "image/jpeg"}, ""
			}
		}
		return nil, "imageUrl host is not approved for imports"
	}
	a := p.ImageAttachment
	att := f.atts[a.Key]
	switch {
	case a.Type != "attachment":
		return nil, "imageAttachment.type must be \"attachment\""
	case att == nil:
		return nil, "imageAttachment key not found"
	case a.RegionID != att.region:
		return nil, "imageAttachment regionId does not match"
	case !f.nowLocked().Before(att.at.Add(f.o.KeyTTL)):
		return nil, "imageAttachment key has expired"
	}
	return att, ""
}

func (f *BuildPass) folderLocked(id, project string) *BuildPassFolder {
	for _, fo := range f.folders {
		if fo.ID == id && !fo.Deleted && (project == "" || fo.ProjectID == project) {
			return fo
		}
	}
	return nil
}

func (f *BuildPass) newID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s_%s%04d", prefix, randHex(4), f.seq)
}

func (f *BuildPass) newFolderLocked(name, project, parent string) *BuildPassFolder {
	now := f.nowLocked()
	fo := &BuildPassFolder{ID: f.newID("fold"), ProjectID: project, Name: name, ParentID: parent, createdAt: now, updatedAt: now}
	f.folders = append(f.folders, fo)
	return fo
}

func (f *BuildPass) newPhotoLocked(in bpPhotoIn, att *bpAttachment, project, folder, sourceApp, source string) *BuildPassPhoto {
	now := f.nowLocked()
	ct := in.ContentType
	if ct == "" {
		ct = "image/jpeg"
	}
	p := &BuildPassPhoto{ID: f.newID("phot"), FolderID: folder, ProjectID: project, FileName: in.FileName,
		ContentType: ct, ExternalSourceID: in.ExternalSourceID, SourceExternalSourceID: source, SourceApp: sourceApp,
		Description: in.Description, CapturedAt: in.CapturedAt, SHA256: att.sha, Size: att.size, Key: att.key,
		createdAt: now, updatedAt: now}
	f.photos = append(f.photos, p)
	return p
}

func decodeJSONOnly(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if !isJSON(r) {
		writeJSON(w, 415, bpErr("Content-Type must be application/json"))
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSON(w, 400, bpErr("invalid JSON body: "+err.Error()))
		return false
	}
	return true
}

func (f *BuildPass) upsert(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ExternalSourceID string      `json:"externalSourceId"`
		SourceApp        string      `json:"sourceApp"`
		ProjectID        string      `json:"projectId"`
		FolderName       string      `json:"folderName"`
		FolderID         *string     `json:"folderId"`
		Photos           []bpPhotoIn `json:"photos"`
	}
	if !decodeJSONOnly(w, r, body, &in) {
		return
	}
	for k, v := range map[string]string{"externalSourceId": in.ExternalSourceID, "sourceApp": in.SourceApp,
		"projectId": in.ProjectID, "folderName": in.FolderName} {
		if strings.TrimSpace(v) == "" {
			writeJSON(w, 400, bpErr(k+" is required"))
			return
		}
	}
	if len(in.Photos) == 0 {
		writeJSON(w, 400, bpErr("photos must be a non-empty array"))
		return
	}
	if in.ProjectID != f.o.ProjectID {
		writeJSON(w, 404, bpErr("Project not found for this builder"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var folder *BuildPassFolder
	changed := false
	if in.FolderID != nil {
		if folder = f.folderLocked(*in.FolderID, in.ProjectID); folder == nil {
			writeJSON(w, 404, bpErr("Folder not found"))
			return
		}
	} else {
		folder = f.newFolderLocked(in.FolderName, in.ProjectID, "")
		changed = true
	}
	active := map[string]bool{}
	for _, p := range f.photos {
		if p.ArchivedAt == nil && p.ExternalSourceID != "" {
			active[p.ExternalSourceID] = true
		}
	}
	created, skipped, failed := []string{}, []string{}, []map[string]any{}
	for _, p := range in.Photos {
		if p.ExternalSourceID == "" || p.FileName == "" {
			failed = append(failed, map[string]any{"externalSourceId": p.ExternalSourceID, "error": "externalSourceId and fileName are required"})
			continue
		}
		if active[p.ExternalSourceID] {
			skipped = append(skipped, p.ExternalSourceID)
			continue
		}
		if f.failPhotos[p.ExternalSourceID] {
			delete(f.failPhotos, p.ExternalSourceID)
			failed = append(failed, map[string]any{"externalSourceId": p.ExternalSourceID, "error": "injected failure"})
			continue
		}
		att, msg := f.resolveImageLocked(p)
		if msg != "" {
			failed = append(failed, map[string]any{"externalSourceId": p.ExternalSourceID, "error": msg})
			continue
		}
		ph := f.newPhotoLocked(p, att, in.ProjectID, folder.ID, in.SourceApp, in.ExternalSourceID)
		active[p.ExternalSourceID] = true
		created = append(created, ph.ID)
		changed = true
	}
	if changed {
		f.countWriteLocked()
	}
	status := "synced"
	if len(failed) > 0 {
		status = "partial"
	}
	writeJSON(w, 200, map[string]any{"folderId": folder.ID, "createdAttachmentIds": created,
		"skippedExternalSourceIds": skipped, "failedPhotos": failed, "status": status})
}

func (f *BuildPass) archive(w http.ResponseWriter, r *http.Request, body []byte) {
	q := r.URL.Query()
	src, project, folderID := q.Get("externalSourceId"), q.Get("projectId"), q.Get("folderId")
	if len(strings.TrimSpace(string(body))) > 0 {
		if !isJSON(r) {
			writeJSON(w, 415, bpErr("Content-Type must be application/json"))
			return
		}
		var in struct{ ExternalSourceID, ProjectID, FolderID string }
		if err := json.Unmarshal(body, &in); err != nil {
			writeJSON(w, 400, bpErr("invalid JSON body"))
			return
		}
		if in.ExternalSourceID != "" {
			src = in.ExternalSourceID
		}
		if in.ProjectID != "" {
			project = in.ProjectID
		}
		if in.FolderID != "" {
			folderID = in.FolderID
		}
	}
	if src == "" || project == "" {
		writeJSON(w, 400, bpErr("externalSourceId and projectId are required"))
		return
	}
	if project != f.o.ProjectID {
		writeJSON(w, 404, bpErr("Project not found for this builder"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.nowLocked()
	n := 0
	touched := map[string]bool{}
	if folderID != "" {
		touched[folderID] = true
	}
	for _, p := range f.photos {
		if p.ArchivedAt == nil && p.SourceExternalSourceID == src && p.ProjectID == project && (folderID == "" || p.FolderID == folderID) {
			t := now
			p.ArchivedAt = &t
			n++
			touched[p.FolderID] = true
		}
	}
	deleted := false
	for id := range touched {
		if fo := f.folderLocked(id, project); fo != nil && f.folderEmptyLocked(fo.ID) {
			fo.Deleted = true
			deleted = true
		}
	}
	if n > 0 || deleted {
		f.countWriteLocked()
	}
	writeJSON(w, 200, map[string]any{"archivedCount": n, "folderDeleted": deleted})
}

func (f *BuildPass) folderEmptyLocked(id string) bool {
	for _, p := range f.photos {
		if p.FolderID == id && p.ArchivedAt == nil {
			return false
		}
	}
	for _, fo := range f.folders {
		if fo.ParentID == id && !fo.Deleted {
			return false
		}
	}
	return true
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (f *BuildPass) photoJSONLocked(p *BuildPassPhoto) map[string]any {
	var archived any
	if p.ArchivedAt != nil {
		archived = fmtTime(*p.ArchivedAt)
	}
	var taken any
	if p.CapturedAt != "" {
		taken = p.CapturedAt
	}
	sortDate := fmtTime(p.createdAt)
	if p.CapturedAt != "" {
		sortDate = p.CapturedAt
	}
	md := map[string]any{}
	if p.ExternalSourceID != "" {
		md["externalSourceId"] = p.ExternalSourceID
	}
	if p.SourceApp != "" {
		md["sourceApp"] = p.SourceApp
	}
	if p.SourceExternalSourceID != "" {
		md["sourceExternalSourceId"] = p.SourceExternalSourceID
	}
	var folder any
	if p.FolderID != "" {
		folder = p.FolderID
	}
	return map[string]any{"id": p.ID, "builderId": f.o.BuilderID, "projectId": p.ProjectID, "folderId": folder,
		"fileName": p.FileName, "contentType": p.ContentType, "key": p.Key, "fileSize": strconv.Itoa(p.Size),
		"description": p.Description, "photoTakenDate": taken, "sortDate": sortDate, "metadata": md,
		"createdAt": fmtTime(p.createdAt), "updatedAt": fmtTime(p.updatedAt), "archivedAt": archived,
		"imageUrl": f.URL + "/_files/" + p.Key + "?sig=" + randHex(4)}
}

func (f *BuildPass) folderJSONLocked(fo *BuildPassFolder) map[string]any {
	var parent any
	if fo.ParentID != "" {
		parent = fo.ParentID
	}
	return map[string]any{"id": fo.ID, "builderId": f.o.BuilderID, "projectId": fo.ProjectID, "parentId": parent,
		"name": fo.Name, "createdAt": fmtTime(fo.createdAt), "updatedAt": fmtTime(fo.updatedAt)}
}

func (f *BuildPass) createPhoto(w http.ResponseWriter, r *http.Request, body []byte) {
	var in bpPhotoIn
	if !decodeJSONOnly(w, r, body, &in) {
		return
	}
	if in.FileName == "" {
		writeJSON(w, 400, bpErr("fileName is required"))
		return
	}
	if in.ProjectID != "" && in.ProjectID != f.o.ProjectID {
		writeJSON(w, 404, bpErr("Project not found for this builder"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	project := in.ProjectID
	if in.FolderID != "" {
		fo := f.folderLocked(in.FolderID, in.ProjectID)
		if fo == nil {
			writeJSON(w, 404, bpErr("Folder not found"))
			return
		}
		project = fo.ProjectID
	}
	att, msg := f.resolveImageLocked(in)
	if msg != "" {
		writeJSON(w, 400, bpErr(msg))
		return
	}
	p := f.newPhotoLocked(in, att, project, in.FolderID, "", "")
	f.countWriteLocked()
	writeJSON(w, 201, f.photoJSONLocked(p))
}

func (f *BuildPass) listPhotos(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	data := []map[string]any{}
	for _, p := range f.photos {
		if p.ArchivedAt != nil || (q.Get("projectId") != "" && p.ProjectID != q.Get("projectId")) ||
			(q.Get("folderId") != "" && p.FolderID != q.Get("folderId")) {
			continue
		}
		data = append(data, f.photoJSONLocked(p))
	}
	writeJSON(w, 200, map[string]any{"data": data})
}

func (f *BuildPass) photo(w http.ResponseWriter, r *http.Request, body []byte, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var p *BuildPassPhoto
	for _, x := range f.photos {
		if x.ID == id {
			p = x
		}
	}
	if p == nil {
		writeJSON(w, 404, bpErr("Photo not found"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, f.photoJSONLocked(p))
	case http.MethodPatch:
		var in struct {
			CapturedAt, Description, FileName, FolderID *string
		}
		if !decodeJSONOnly(w, r, body, &in) {
			return
		}
		if in.FolderID != nil && *in.FolderID != "" && f.folderLocked(*in.FolderID, p.ProjectID) == nil {
			writeJSON(w, 404, bpErr("Folder not found"))
			return
		}
		if in.FileName != nil && *in.FileName == "" {
			writeJSON(w, 400, bpErr("fileName must not be empty"))
			return
		}
		for dst, src := range map[*string]*string{&p.CapturedAt: in.CapturedAt, &p.Description: in.Description,
			&p.FileName: in.FileName, &p.FolderID: in.FolderID} {
			if src != nil {
				*dst = *src
			}
		}
		p.updatedAt = f.nowLocked()
		f.countWriteLocked()
		writeJSON(w, 200, f.photoJSONLocked(p))
	default:
		writeJSON(w, 405, bpErr("method not allowed"))
	}
}

func (f *BuildPass) createFolder(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct{ Name, ProjectID, ParentID string }
	if !decodeJSONOnly(w, r, body, &in) {
		return
	}
	if in.Name == "" || in.ProjectID == "" {
		writeJSON(w, 400, bpErr("name and projectId are required"))
		return
	}
	if in.ProjectID != f.o.ProjectID {
		writeJSON(w, 404, bpErr("Project not found for this builder"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.ParentID != "" && f.folderLocked(in.ParentID, in.ProjectID) == nil {
		writeJSON(w, 404, bpErr("Parent folder not found"))
		return
	}
	fo := f.newFolderLocked(in.Name, in.ProjectID, in.ParentID)
	f.countWriteLocked()
	writeJSON(w, 201, f.folderJSONLocked(fo))
}

func (f *BuildPass) listFolders(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("projectId")
	f.mu.Lock()
	defer f.mu.Unlock()
	data := []map[string]any{}
	for _, fo := range f.folders {
		if !fo.Deleted && (project == "" || fo.ProjectID == project) {
			data = append(data, f.folderJSONLocked(fo))
		}
	}
	writeJSON(w, 200, map[string]any{"data": data})
}

func (f *BuildPass) folder(w http.ResponseWriter, r *http.Request, body []byte, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fo := f.folderLocked(id, "")
	if fo == nil {
		writeJSON(w, 404, bpErr("Folder not found"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, f.folderJSONLocked(fo))
	case http.MethodPatch:
		var in struct{ Name, ParentID *string }
		if !decodeJSONOnly(w, r, body, &in) {
			return
		}
		if in.Name != nil && *in.Name == "" {
			writeJSON(w, 400, bpErr("name must not be empty"))
			return
		}
		if in.ParentID != nil && *in.ParentID != "" && (*in.ParentID == fo.ID || f.folderLocked(*in.ParentID, fo.ProjectID) == nil) {
			writeJSON(w, 404, bpErr("Parent folder not found"))
			return
		}
		if in.Name != nil {
			fo.Name = *in.Name
		}
		if in.ParentID != nil {
			fo.ParentID = *in.ParentID
		}
		fo.updatedAt = f.nowLocked()
		f.countWriteLocked()
		writeJSON(w, 200, f.folderJSONLocked(fo))
	case http.MethodDelete:
		if !f.folderEmptyLocked(fo.ID) {
			writeJSON(w, 409, bpErr("Folder is not empty"))
			return
		}
		fo.Deleted = true
		f.countWriteLocked()
		w.WriteHeader(204)
	default:
		writeJSON(w, 405, bpErr("method not allowed"))
	}
}
