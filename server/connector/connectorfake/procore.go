package connectorfake

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ProcoreOptions configures NewProcore. Zero values take the defaults in
// the comments. A negative SpikeLimit or HourlyLimit disables that window.
type ProcoreOptions struct {
	ClientID, ClientSecret string
	CompanyID              int64         // default 1001
	ProjectID              int64         // default 2002 (belongs to the company, DMSA permitted)
	RefreshToken           string        // if set, the refresh_token grant is enabled starting from this token
	TokenTTL               time.Duration // default 5400s
	SpikeLimit             int           // default 25
	SpikeWindow            time.Duration // default 10s
	HourlyLimit            int           // default 3600
	UploadTTL              time.Duration // storage POST must start within this after upload creation, default 1h
	// PhotosPermission is the DMSA's Photos tool level: "admin" (default)
	// or "standard"; standard gets 403 on image DELETE.
	PhotosPermission string
}

// ProcoreImage is a stored image as tests see it.
type ProcoreImage struct {
	ID                   int64
	CategoryID           int64
	Name                 string
	Size                 int
	SHA256               string
	Description, LogDate string
	UploadUUID           string
	Deleted              bool
	Private              bool

	createdAt time.Time
	updatedAt time.Time
}

// ProcoreCategory is a stored image category (photo album).
type ProcoreCategory struct {
	ID      int64
	Name    string
	Private bool
	Deleted bool

	createdAt, updatedAt time.Time
}

type pcUpload struct {
	uuid, key        string
	fields           map[string]string
	company, project int64
	createdAt        time.Time
	stored           bool
	size             int
	sha              string
	filename, ctype  string
}

// Procore is the fake Procore: a login host, an API host and a storage
// host (the S3 stand-in), each its own httptest.Server.
//
// Writes counts applied API-host requests that created, changed or removed
// image or image-category records: POST /images (each one, duplicates
// included), PATCH/DELETE /images/{id}, and image-category POST/PATCH/DELETE.
// Upload creation (see Uploads), storage POSTs, token calls and reads do
// not count.
type Procore struct {
	*base
	LoginURL, APIURL, StorageURL string

	o             ProcoreOptions
	tokens        map[string]time.Time
	tokenReqs     int
	refresh       string
	loseRefresh   bool
	spike, hourly window
	uploads       map[string]*pcUpload
	nUploads      int
	images        []*ProcoreImage
	categories    []*ProcoreCategory
	reject        map[string]bool
	nextID        int64
	signKey       []byte
}

// NewProcore starts the three fake Procore hosts; they are closed by t.Cleanup.
func NewProcore(t testing.TB, o ProcoreOptions) *Procore {
	if o.CompanyID == 0 {
		o.CompanyID = 1001
	}
	if o.ProjectID == 0 {
		o.ProjectID = 2002
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 5400 * time.Second
	}
	if o.SpikeLimit == 0 {
		o.SpikeLimit = 25
	}
	if o.SpikeWindow == 0 {
		o.SpikeWindow = 10 * time.Second
	}
	if o.HourlyLimit == 0 {
		o.HourlyLimit = 3600
	}
	if o.UploadTTL == 0 {
		o.UploadTTL = time.Hour
	}
	f := &Procore{base: newBase(t), o: o, tokens: map[string]time.Time{}, refresh: o.RefreshToken,
		spike: window{limit: o.SpikeLimit, span: o.SpikeWindow}, hourly: window{limit: o.HourlyLimit, span: time.Hour},
		uploads: map[string]*pcUpload{}, reject: map[string]bool{}, nextID: 562949953421311, signKey: []byte(randHex(16))}
	now := time.Now()
	f.categories = append(f.categories, &ProcoreCategory{ID: f.newID(), Name: "Unclassified", createdAt: now, updatedAt: now})
	f.on429 = func(w http.ResponseWriter, ft Fault) {
		f.mu.Lock()
		f.rateHeadersLocked(w)
		f.mu.Unlock()
		ra := ft.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("Retry-After", ra)
		writeJSON(w, 429, map[string]any{"errors": "Rate limit exceeded"})
	}
	f.on503 = func(w http.ResponseWriter, ft Fault) {
		ra := ft.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
		writeJSON(w, 503, map[string]any{"errors": "Service Unavailable"})
	}
	f.LoginURL = f.start("login", f.serveLogin).URL
	f.APIURL = f.start("api", f.serveAPI).URL
	f.StorageURL = f.start("storage", f.serveStorage).URL
	t.Cleanup(f.Close)
	return f
}

func (f *Procore) newID() int64 { f.nextID++; return f.nextID }

// Images returns the images that are not deleted, by id.
func (f *Procore) Images() []ProcoreImage {
	return copies(&f.mu, f.images, func(im *ProcoreImage) bool { return !im.Deleted })
}

// AllImages returns every image including soft-deleted ones (permanently
// deleted images are gone).
func (f *Procore) AllImages() []ProcoreImage {
	return copies(&f.mu, f.images, nil)
}

// Categories returns every image category, including "Unclassified" and
// deleted ones (Deleted set).
func (f *Procore) Categories() []ProcoreCategory {
	return copies(&f.mu, f.categories, nil)
}

// CurrentRefreshToken is the only refresh token the login host accepts now.
func (f *Procore) CurrentRefreshToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refresh
}

// LoseNextRefreshResponse makes the next refresh_token grant rotate the
// token server-side and then drop the connection without answering.
func (f *Procore) LoseNextRefreshResponse() {
	f.mu.Lock()
	f.loseRefresh = true
	f.mu.Unlock()
}

// RejectImage makes POST /images with this image_name answer 422.
func (f *Procore) RejectImage(name string) {
	f.mu.Lock()
	f.reject[name] = true
	f.mu.Unlock()
}

// AcceptImage undoes RejectImage for name.
func (f *Procore) AcceptImage(name string) {
	f.mu.Lock()
	delete(f.reject, name)
	f.mu.Unlock()
}

// RevokeTokens invalidates every issued access token.
func (f *Procore) RevokeTokens() {
	f.mu.Lock()
	f.tokens = map[string]time.Time{}
	f.mu.Unlock()
}

// TokenRequests counts POST /oauth/token calls.
func (f *Procore) TokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenReqs
}

// Uploads counts upload records created on the API host.
func (f *Procore) Uploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nUploads
}

// ---- login host

func (f *Procore) serveLogin(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.URL.Path != "/oauth/token" || r.Method != http.MethodPost {
		writeJSON(w, 404, map[string]any{"error": "not_found"})
		return
	}
	f.mu.Lock()
	f.tokenReqs++
	f.mu.Unlock()
	p := oauthParams(r, body)
	if p["client_id"] == "" || p["client_id"] != f.o.ClientID || p["client_secret"] != f.o.ClientSecret {
		oauthErr(w, 401, "invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
		return
	}
	resp := map[string]any{"token_type": "bearer", "expires_in": int(f.o.TokenTTL / time.Second)}
	f.mu.Lock()
	switch p["grant_type"] {
	case "client_credentials":
	case "refresh_token":
		if f.refresh == "" || p["refresh_token"] != f.refresh {
			f.mu.Unlock()
			oauthErr(w, 401, "invalid_grant", "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.")
			return
		}
		f.refresh = "pc_rt_" + randHex(16)
		resp["refresh_token"] = f.refresh
	case "":
		f.mu.Unlock()
		oauthErr(w, 400, "invalid_request", "grant_type is required")
		return
	default:
		f.mu.Unlock()
		oauthErr(w, 400, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
		return
	}
	tok := "pc_at_" + randHex(16)
	now := f.nowLocked()
	f.tokens[tok] = now.Add(f.o.TokenTTL)
	resp["access_token"] = tok
	resp["created_at"] = now.Unix()
	lose := p["grant_type"] == "refresh_token" && f.loseRefresh
	if lose {
		f.loseRefresh = false
	}
	f.mu.Unlock()
	if lose {
		dropConn(w)
		return
	}
	writeJSON(w, 200, resp)
}

// ---- API host

func pcErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": msg})
}

func (f *Procore) rateHeadersLocked(w http.ResponseWriter) {
	now := f.nowLocked()
	win := &f.spike
	if f.spike.limit < 0 || (f.hourly.limit >= 0 && f.hourly.remaining(now) < f.spike.remaining(now)) {
		win = &f.hourly
	}
	if win.limit < 0 {
		return
	}
	w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(win.limit))
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(win.remaining(now)))
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(win.reset(now).Unix(), 10))
}

func (f *Procore) serveAPI(w http.ResponseWriter, r *http.Request, body []byte) {
	f.mu.Lock()
	now := f.nowLocked()
	ok := f.spike.remaining(now) > 0 && f.hourly.remaining(now) > 0
	if ok {
		f.spike.take(now)
		f.hourly.take(now)
	}
	f.rateHeadersLocked(w)
	var reset time.Time
	if !ok {
		if f.spike.remaining(now) == 0 {
			reset = f.spike.reset(now)
		}
		if f.hourly.remaining(now) == 0 && f.hourly.reset(now).After(reset) {
			reset = f.hourly.reset(now)
		}
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	}
	exp, tokOK := f.tokens[bearer(r)]
	tokOK = tokOK && now.Before(exp)
	f.mu.Unlock()
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(reset.Sub(now).Seconds()))))
		pcErr(w, 429, "Rate limit exceeded")
		return
	}
	if !tokOK {
		pcErr(w, 401, "The access token is invalid")
		return
	}
	cid := r.Header.Get("Procore-Company-Id")
	if cid == "" {
		pcErr(w, 400, "Missing Procore-Company-Id header!")
		return
	}
	if cid != strconv.FormatInt(f.o.CompanyID, 10) {
		pcErr(w, 403, "App is not connected to this company")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// /rest/v1.x/projects/{p}/uploads, /rest/v1.x/companies/{c}/uploads
	if len(parts) >= 5 && parts[0] == "rest" && (parts[2] == "projects" || parts[2] == "companies") && parts[4] == "uploads" {
		var proj int64
		if parts[2] == "projects" {
			if !f.checkProject(w, parts[3]) {
				return
			}
			proj = f.o.ProjectID
		} else if parts[3] != strconv.FormatInt(f.o.CompanyID, 10) {
			pcErr(w, 403, "You do not have access to this company")
			return
		}
		if len(parts) == 5 && r.Method == http.MethodPost {
			f.createUpload(w, r, body, parts[1], proj)
			return
		}
		if len(parts) == 6 && r.Method == http.MethodGet {
			f.showUpload(w, parts[5])
			return
		}
		pcErr(w, 404, "Not Found")
		return
	}
	if len(parts) < 3 || parts[0] != "rest" || parts[1] != "v1.0" {
		pcErr(w, 404, "Not Found")
		return
	}
	if r.Method == http.MethodGet && len(parts) == 3 {
		switch parts[2] {
		case "me":
			writeJSON(w, 200, map[string]any{"id": 1, "login": "dmsa@gallerist.test", "name": "Gallerist DMSA"})
			return
		case "companies":
			writeJSON(w, 200, []map[string]any{{"id": f.o.CompanyID, "name": "Fake Company", "is_active": true}})
			return
		case "projects":
			if r.URL.Query().Get("company_id") != strconv.FormatInt(f.o.CompanyID, 10) {
				pcErr(w, 403, "You do not have access to this company")
				return
			}
			writeJSON(w, 200, []map[string]any{{"id": f.o.ProjectID, "name": "Fake Project", "active": true,
				"company": map[string]any{"id": f.o.CompanyID, "name": "Fake Company"}}})
			return
		}
	}
	if !f.checkProject(w, r.URL.Query().Get("project_id")) {
		return
	}
	switch {
	case parts[2] == "image_categories" && len(parts) == 3:
		if r.Method == http.MethodGet {
			f.listCategories(w, r)
		} else if r.Method == http.MethodPost {
			f.createCategory(w, r, body)
		} else {
			pcErr(w, 405, "Method Not Allowed")
		}
	case parts[2] == "image_categories" && len(parts) == 4:
		f.category(w, r, body, parts[3])
	case parts[2] == "images" && len(parts) == 3:
		if r.Method == http.MethodGet {
			f.listImages(w, r)
		} else if r.Method == http.MethodPost {
			f.createImage(w, r, body)
		} else {
			pcErr(w, 405, "Method Not Allowed")
		}
	case parts[2] == "images" && len(parts) == 4:
		f.image(w, r, body, parts[3])
	default:
		pcErr(w, 404, "Not Found")
	}
}

func (f *Procore) checkProject(w http.ResponseWriter, p string) bool {
	if p == "" {
		pcErr(w, 400, "project_id is missing")
		return false
	}
	if p != strconv.FormatInt(f.o.ProjectID, 10) {
		pcErr(w, 403, "You do not have access to this project")
		return false
	}
	return true
}

// bodyParams reads a JSON or form body into strings (JSON values are
// stringified; nested objects are kept as JSON).
func bodyParams(r *http.Request, body []byte) (map[string]string, map[string]any) {
	out := map[string]string{}
	if isJSON(r) {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return nil, nil
		}
		for k, v := range m {
			switch x := v.(type) {
			case string:
				out[k] = x
			case nil:
			default:
				b, _ := json.Marshal(x)
				out[k] = string(b)
			}
		}
		return out, m
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		if r.ParseMultipartForm(1<<20) == nil {
			for k, v := range r.MultipartForm.Value {
				out[k] = v[0]
			}
		}
		return out, nil
	}
	vals, _ := url.ParseQuery(string(body))
	for k, v := range vals {
		out[k] = v[0]
	}
	return out, nil
}

func (f *Procore) createUpload(w http.ResponseWriter, r *http.Request, body []byte, version string, project int64) {
	p, raw := bodyParams(r, body)
	if p == nil {
		pcErr(w, 400, "invalid JSON body")
		return
	}
	if raw != nil && raw["upload"] != nil { // tolerate the {"upload":{…}} wrapper of the v1.0 docs
		if m, ok := raw["upload"].(map[string]any); ok {
			for k, v := range m {
				if s, ok := v.(string); ok {
					p[k] = s
				}
			}
		}
	}
	if p["segments"] != "" {
		pcErr(w, 422, "segmented uploads are not supported by this fake")
		return
	}
	if version == "v1.1" && p["response_filename"] == "" {
		pcErr(w, 422, "response_filename is required")
		return
	}
	ct := p["response_content_type"]
	if ct == "" {
		ct = "application/octet-stream"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.nowLocked()
	id := fmt.Sprintf("01%s", strings.ToUpper(randHex(12)))
	up := &pcUpload{uuid: id, key: fmt.Sprintf("companies/%d/%s", f.o.CompanyID, id), company: f.o.CompanyID,
		project: project, createdAt: now, filename: p["response_filename"], ctype: ct}
	policy := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(
		`{"expiration":"%s","conditions":[{"bucket":"fake-bucket"},{"key":"%s"}]}`, fmtTime(now.Add(f.o.UploadTTL)), up.key)))
	disp := p["attachment_content_disposition"]
	if disp == "" {
		disp = fmt.Sprintf(`inline; filename="%s"`, p["response_filename"])
	}
	up.fields = map[string]string{
		"key": up.key, "Content-Type": ct, "Content-Disposition": disp, "policy": policy,
		"x-amz-credential": "AKIAFAKE/" + now.UTC().Format("20060102") + "/us-east-1/s3/aws4_request",
		"x-amz-algorithm":  "AWS4-HMAC-SHA256", "x-amz-date": now.UTC().Format("20060102T150405Z"),
	}
	up.fields["x-amz-signature"] = f.sign(up.fields)
	f.uploads[id] = up
	f.nUploads++
	writeJSON(w, 201, map[string]any{"uuid": id, "url": f.StorageURL + "/bucket", "fields": up.fields,
		"status": "ready", "segments": nil})
}

func (f *Procore) sign(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != "x-amz-signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	m := hmac.New(sha256.New, f.signKey)
	for _, k := range keys {
		fmt.Fprintf(m, "%s=%s\n", k, fields[k])
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (f *Procore) showUpload(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	up := f.uploads[id]
	if up == nil {
		pcErr(w, 404, "Upload not found")
		return
	}
	st := "ready"
	if up.stored {
		st = "complete"
	}
	writeJSON(w, 200, map[string]any{"uuid": up.uuid, "status": st, "size": up.size, "created_at": fmtTime(up.createdAt)})
}

// ---- storage host

func s3Err(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}

func (f *Procore) serveStorage(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.URL.Path != "/bucket" || r.Method != http.MethodPost {
		s3Err(w, 405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		return
	}
	if r.Header.Get("Authorization") != "" {
		s3Err(w, 400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		s3Err(w, 412, "PreconditionFailed", "Bucket POST must be of the enclosure-type multipart/form-data")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s3Err(w, 400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
		return
	}
	fields := map[string]string{}
	var file []byte
	haveFile, afterFile := false, false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s3Err(w, 400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.")
			return
		}
		data, _ := io.ReadAll(part)
		if haveFile {
			afterFile = true
		}
		if part.FormName() == "file" {
			haveFile, file = true, data
		} else {
			fields[part.FormName()] = string(data)
		}
	}
	if !haveFile {
		s3Err(w, 400, "InvalidArgument", "POST requires exactly one file upload per request.")
		return
	}
	if afterFile {
		s3Err(w, 400, "InvalidArgument", "The file or text content must be the last field in the form.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var up *pcUpload
	for _, u := range f.uploads {
		if u.key == fields["key"] {
			up = u
		}
	}
	if up == nil {
		s3Err(w, 403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\"]")
		return
	}
	for k, v := range up.fields {
		got, ok := fields[k]
		if !ok {
			s3Err(w, 400, "InvalidArgument", "Bucket POST must contain a field named '"+k+"'.")
			return
		}
		if got != v {
			s3Err(w, 403, "AccessDenied", "Invalid according to Policy: field '"+k+"' was changed")
			return
		}
	}
	if f.sign(fields) != fields["x-amz-signature"] {
		s3Err(w, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	if f.nowLocked().After(up.createdAt.Add(f.o.UploadTTL)) {
		s3Err(w, 403, "AccessDenied", "Invalid according to Policy: Policy expired.")
		return
	}
	sum := sha256.Sum256(file)
	up.stored, up.size, up.sha = true, len(file), hex.EncodeToString(sum[:])
	m := md5.Sum(file)
	w.Header().Set("ETag", `"`+hex.EncodeToString(m[:])+`"`)
	w.WriteHeader(204)
}

// ---- image categories

func (f *Procore) categoryJSON(c *ProcoreCategory) map[string]any {
	n := 0
	for _, im := range f.images {
		if im.CategoryID == c.ID && !im.Deleted {
			n++
		}
	}
	return map[string]any{"id": c.ID, "name": c.Name, "private": c.Private, "count": n, "position": nil,
		"album_cover_id": nil, "cover_photo": nil, "created_at": fmtTime(c.createdAt), "updated_at": fmtTime(c.updatedAt)}
}

func (f *Procore) categoryLocked(id int64) *ProcoreCategory {
	for _, c := range f.categories {
		if c.ID == id && !c.Deleted {
			return c
		}
	}
	return nil
}

// paginate writes Link, Total and Per-Page headers and returns the page.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) []T {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per < 1 {
		per = 100
	}
	last := (len(items) + per - 1) / per
	if last < 1 {
		last = 1
	}
	link := func(p int, rel string) string {
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		qq.Set("per_page", strconv.Itoa(per))
		return fmt.Sprintf(`<http://%s%s?%s>; rel="%s"`, r.Host, r.URL.Path, qq.Encode(), rel)
	}
	links := []string{link(1, "first")}
	if page > 1 {
		links = append(links, link(page-1, "prev"))
	}
	if page < last {
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(last, "last"))
	w.Header().Set("Link", strings.Join(links, ", "))
	w.Header().Set("Total", strconv.Itoa(len(items)))
	w.Header().Set("Per-Page", strconv.Itoa(per))
	lo := (page - 1) * per
	if lo > len(items) {
		lo = len(items)
	}
	hi := lo + per
	if hi > len(items) {
		hi = len(items)
	}
	return items[lo:hi]
}

func (f *Procore) listCategories(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []map[string]any
	for _, c := range f.categories {
		if !c.Deleted {
			all = append(all, f.categoryJSON(c))
		}
	}
	out := paginate(w, r, all)
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, 200, out)
}

func decodePC(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if !isJSON(r) {
		pcErr(w, 415, "Content-Type must be application/json")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		pcErr(w, 400, "invalid JSON body")
		return false
	}
	return true
}

func (f *Procore) createCategory(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ImageCategory *struct {
			Name    string `json:"name"`
			Private bool   `json:"private"`
		} `json:"image_category"`
	}
	if !decodePC(w, r, body, &in) {
		return
	}
	if in.ImageCategory == nil {
		pcErr(w, 400, "param is missing or the value is empty: image_category")
		return
	}
	if strings.TrimSpace(in.ImageCategory.Name) == "" {
		writeJSON(w, 422, map[string]any{"errors": map[string]any{"name": []string{"can't be blank"}}})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.nowLocked()
	c := &ProcoreCategory{ID: f.newID(), Name: in.ImageCategory.Name, Private: in.ImageCategory.Private, createdAt: now, updatedAt: now}
	f.categories = append(f.categories, c)
	f.countWriteLocked()
	writeJSON(w, 201, f.categoryJSON(c))
}

func (f *Procore) category(w http.ResponseWriter, r *http.Request, body []byte, sid string) {
	id, _ := strconv.ParseInt(sid, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.categoryLocked(id)
	if c == nil {
		pcErr(w, 404, "Image category not found")
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, f.categoryJSON(c))
	case http.MethodPatch:
		var in struct {
			ImageCategory *struct {
				Name    *string `json:"name"`
				Private *bool   `json:"private"`
			} `json:"image_category"`
		}
		if !decodePC(w, r, body, &in) {
			return
		}
		if in.ImageCategory == nil {
			pcErr(w, 400, "param is missing or the value is empty: image_category")
			return
		}
		if c.Name == "Unclassified" && c.ID == f.categories[0].ID {
			pcErr(w, 403, "The Unclassified album cannot be changed")
			return
		}
		if in.ImageCategory.Name != nil {
			if strings.TrimSpace(*in.ImageCategory.Name) == "" {
				writeJSON(w, 422, map[string]any{"errors": map[string]any{"name": []string{"can't be blank"}}})
				return
			}
			c.Name = *in.ImageCategory.Name
		}
		if in.ImageCategory.Private != nil {
			c.Private = *in.ImageCategory.Private
		}
		c.updatedAt = f.nowLocked()
		f.countWriteLocked()
		writeJSON(w, 200, f.categoryJSON(c))
	case http.MethodDelete:
		if c.ID == f.categories[0].ID {
			pcErr(w, 403, "The Unclassified album cannot be deleted")
			return
		}
		c.Deleted = true
		f.countWriteLocked()
		w.WriteHeader(200)
	default:
		pcErr(w, 405, "Method Not Allowed")
	}
}

// ---- images

func (f *Procore) imageJSONLocked(im *ProcoreImage) map[string]any {
	catName := ""
	for _, c := range f.categories {
		if c.ID == im.CategoryID {
			catName = c.Name
		}
	}
	var logDate, taken any
	if im.LogDate != "" {
		logDate, taken = im.LogDate, im.LogDate
	}
	u := fmt.Sprintf("%s/prostore/%d?sig=%s", f.StorageURL, im.ID, randHex(4))
	return map[string]any{"id": im.ID, "url": u, "thumbnail_url": u + "&thumb=1", "size": im.Size, "filename": im.Name,
		"description": im.Description, "image_category_id": im.CategoryID, "image_category_name": catName,
		"private": im.Private, "log_date": logDate, "taken_at": taken, "created_at": fmtTime(im.createdAt),
		"updated_at": fmtTime(im.updatedAt), "width": nil, "height": nil,
		"uploader": map[string]any{"id": 1, "name": "Gallerist DMSA"},
		"links":    map[string]any{"self": fmt.Sprintf("%s/rest/v1.0/images/%d", f.APIURL, im.ID)}}
}

func (f *Procore) createImage(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		UploadUUID *string         `json:"upload_uuid"`
		ImageName  string          `json:"image_name"`
		Image      json.RawMessage `json:"image"`
	}
	if !decodePC(w, r, body, &in) {
		return
	}
	var img map[string]any
	_ = json.Unmarshal(in.Image, &img)
	if len(img) == 0 {
		pcErr(w, 400, "param is missing or the value is empty: image")
		return
	}
	if _, ok := img["data"]; ok {
		if in.UploadUUID != nil {
			pcErr(w, 422, "You should not use both image[data] and upload_uuid")
		} else {
			pcErr(w, 422, "image[data] uploads are not supported by this fake; use upload_uuid")
		}
		return
	}
	if in.UploadUUID == nil || *in.UploadUUID == "" {
		pcErr(w, 422, "upload_uuid is required (the fake accepts only the reference shape)")
		return
	}
	if in.ImageName == "" {
		pcErr(w, 422, "image_name is required when using upload_uuid")
		return
	}
	var attrs struct {
		ImageCategoryID *json.Number `json:"image_category_id"`
		Description     string       `json:"description"`
		LogDate         string       `json:"log_date"`
		Private         bool         `json:"private"`
	}
	dec := json.NewDecoder(strings.NewReader(string(in.Image)))
	dec.UseNumber()
	if err := dec.Decode(&attrs); err != nil {
		pcErr(w, 400, "invalid image attributes: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.nowLocked()
	up := f.uploads[*in.UploadUUID]
	switch {
	case up == nil || up.company != f.o.CompanyID:
		pcErr(w, 422, "Upload not found")
		return
	case !up.stored:
		pcErr(w, 422, "Upload has not been completed")
		return
	case now.Sub(up.createdAt) > 7*24*time.Hour:
		pcErr(w, 422, "Upload has expired")
		return
	case f.reject[in.ImageName]:
		pcErr(w, 422, "Image could not be processed")
		return
	}
	cat := f.categories[0].ID
	if attrs.ImageCategoryID != nil {
		id, err := attrs.ImageCategoryID.Int64()
		if err != nil || f.categoryLocked(id) == nil {
			pcErr(w, 422, "image_category_id is not a valid album in this project")
			return
		}
		cat = id
	}
	im := &ProcoreImage{ID: f.newID(), CategoryID: cat, Name: in.ImageName, Size: up.size, SHA256: up.sha,
		Description: attrs.Description, LogDate: attrs.LogDate, UploadUUID: up.uuid, Private: attrs.Private,
		createdAt: now, updatedAt: now}
	f.images = append(f.images, im)
	f.countWriteLocked()
	writeJSON(w, 201, f.imageJSONLocked(im))
}

func parseProcoreTime(s string) (time.Time, bool) {
	for _, l := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (f *Procore) listImages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var from, to time.Time
	if fc := q.Get("filters[created_at]"); fc != "" {
		a, b, ok := strings.Cut(fc, "...")
		var ok1, ok2 bool
		from, ok1 = parseProcoreTime(a)
		to, ok2 = parseProcoreTime(b)
		if !ok || !ok1 || !ok2 {
			pcErr(w, 400, "filters[created_at] must be a range START...END")
			return
		}
	}
	ids := map[int64]bool{}
	for _, s := range append(q["filters[id][]"], q["filters[id]"]...) {
		for _, p := range strings.Split(s, ",") {
			if id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err == nil {
				ids[id] = true
			}
		}
	}
	cat := q.Get("image_category_id")
	query := strings.ToLower(q.Get("filters[query]"))
	f.mu.Lock()
	defer f.mu.Unlock()
	var sel []*ProcoreImage
	for _, im := range f.images {
		if im.Deleted || (cat != "" && strconv.FormatInt(im.CategoryID, 10) != cat) ||
			(len(ids) > 0 && !ids[im.ID]) ||
			(!from.IsZero() && (im.createdAt.Before(from) || im.createdAt.After(to))) ||
			(query != "" && !strings.Contains(strings.ToLower(im.Name+" "+im.Description), query)) {
			continue
		}
		sel = append(sel, im)
	}
	switch q.Get("sort") {
	case "created_at", "taken_at", "":
	case "-created_at", "-taken_at":
		sort.SliceStable(sel, func(i, j int) bool {
			return sel[i].createdAt.After(sel[j].createdAt) || sel[i].ID > sel[j].ID && sel[i].createdAt.Equal(sel[j].createdAt)
		})
	}
	page := paginate(w, r, sel)
	out := []map[string]any{}
	for _, im := range page {
		out = append(out, f.imageJSONLocked(im))
	}
	writeJSON(w, 200, out)
}

func (f *Procore) image(w http.ResponseWriter, r *http.Request, body []byte, sid string) {
	id, _ := strconv.ParseInt(sid, 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := -1
	for i, im := range f.images {
		if im.ID == id && !im.Deleted {
			idx = i
		}
	}
	if idx < 0 {
		pcErr(w, 404, "Image not found")
		return
	}
	im := f.images[idx]
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, f.imageJSONLocked(im))
	case http.MethodPatch:
		var in struct {
			Image *struct {
				Description     *string      `json:"description"`
				LogDate         *string      `json:"log_date"`
				ImageCategoryID *json.Number `json:"image_category_id"`
			} `json:"image"`
		}
		if !decodePC(w, r, body, &in) {
			return
		}
		if in.Image == nil {
			pcErr(w, 400, "param is missing or the value is empty: image")
			return
		}
		if in.Image.ImageCategoryID != nil {
			cid, err := in.Image.ImageCategoryID.Int64()
			if err != nil || f.categoryLocked(cid) == nil {
				pcErr(w, 422, "image_category_id is not a valid album in this project")
				return
			}
			im.CategoryID = cid
		}
		if in.Image.Description != nil {
			im.Description = *in.Image.Description
		}
		if in.Image.LogDate != nil {
			im.LogDate = *in.Image.LogDate
		}
		im.updatedAt = f.nowLocked()
		f.countWriteLocked()
		writeJSON(w, 200, f.imageJSONLocked(im))
	case http.MethodDelete:
		if f.o.PhotosPermission != "" && f.o.PhotosPermission != "admin" {
			pcErr(w, 403, "You do not have permission to delete photos")
			return
		}
		if r.URL.Query().Get("permanent") == "true" {
			f.images = append(f.images[:idx], f.images[idx+1:]...)
		} else {
			im.Deleted = true
		}
		f.countWriteLocked()
		w.WriteHeader(200)
	default:
		pcErr(w, 405, "Method Not Allowed")
	}
}
