package connectorfake

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newPC(t *testing.T, o ProcoreOptions) *Procore {
	o.ClientID, o.ClientSecret = "pcid", "pcs3cret"
	return NewProcore(t, o)
}

func pcToken(t *testing.T, f *Procore) string {
	t.Helper()
	st, _, b := mustCall(t, "POST", f.LoginURL+"/oauth/token", nil, "application/x-www-form-urlencoded",
		[]byte("grant_type=client_credentials&client_id=pcid&client_secret=pcs3cret"))
	if st != 200 {
		t.Fatalf("token: %d %s", st, b)
	}
	m := decode(t, b)
	if m["token_type"] != "bearer" || m["expires_in"] != 5400.0 || m["created_at"] == nil {
		t.Fatalf("token response %v", m)
	}
	return m["access_token"].(string)
}

func pcHdr(tok string) hdr {
	return hdr{"Authorization": "Bearer " + tok, "Procore-Company-Id": "1001"}
}

type pcUploadResp struct {
	UUID   string            `json:"uuid"`
	URL    string            `json:"url"`
	Fields map[string]string `json:"fields"`
}

func pcCreateUpload(t *testing.T, f *Procore, tok, name string) pcUploadResp {
	t.Helper()
	st, _, b := mustCall(t, "POST", f.APIURL+"/rest/v1.1/projects/2002/uploads", pcHdr(tok), "application/json",
		jsonBody(t, map[string]string{"response_filename": name, "response_content_type": "image/jpeg"}))
	if st != 201 {
		t.Fatalf("create upload: %d %s", st, b)
	}
	var u pcUploadResp
	if err := json.Unmarshal(b, &u); err != nil || u.UUID == "" || u.URL != f.StorageURL+"/bucket" || len(u.Fields) != 8 {
		t.Fatalf("upload response %s", b)
	}
	return u
}

func pcStorageParts(u pcUploadResp, fileLast bool) []part {
	var ps []part
	for k, v := range u.Fields {
		ps = append(ps, part{name: k, data: []byte(v)})
	}
	fp := part{name: "file", filename: "x.jpg", ctype: "image/jpeg", data: jpegBytes}
	if fileLast {
		return append(ps, fp)
	}
	return append([]part{fp}, ps...)
}

func pcStore(t *testing.T, u pcUploadResp) {
	t.Helper()
	ct, body := multipartBody(t, pcStorageParts(u, true)...)
	st, hd, b := mustCall(t, "POST", u.URL, nil, ct, body)
	if st != 204 || hd.Get("ETag") == "" {
		t.Fatalf("storage: %d %s", st, b)
	}
}

func TestProcoreTokens(t *testing.T) {
	f := newPC(t, ProcoreOptions{RefreshToken: "rt0"})
	pcToken(t, f)
	if st, _, b := mustCall(t, "POST", f.LoginURL+"/oauth/token", nil, "application/json",
		[]byte(`{"grant_type":"client_credentials","client_id":"pcid","client_secret":"nope"}`)); st != 401 {
		t.Errorf("bad secret: %d %s", st, b)
	}
	refresh := func(rt string) (int, map[string]any, error) {
		ct, body := multipartBody(t, part{name: "grant_type", data: []byte("refresh_token")}, part{name: "client_id", data: []byte("pcid")},
			part{name: "client_secret", data: []byte("pcs3cret")}, part{name: "refresh_token", data: []byte(rt)})
		st, _, b, err := call(t, "POST", f.LoginURL+"/oauth/token", nil, ct, body)
		if err != nil {
			return 0, nil, err
		}
		return st, decode(t, b), nil
	}
	st, m, _ := refresh("rt0")
	if st != 200 || m["refresh_token"] == "rt0" || m["refresh_token"] != f.CurrentRefreshToken() {
		t.Fatalf("refresh: %d %v", st, m)
	}
	if st, m, _ := refresh("rt0"); st != 401 || m["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v", st, m)
	}
	cur := f.CurrentRefreshToken()
	f.LoseNextRefreshResponse()
	if _, _, err := refresh(cur); err == nil {
		t.Fatal("lost refresh response should be a transport error")
	}
	if f.CurrentRefreshToken() == cur {
		t.Fatal("token was not rotated server-side")
	}
	if st, _, _ := refresh(cur); st != 401 {
		t.Fatalf("old token after lost response: %d", st)
	}
	for _, r := range f.Requests() {
		if strings.Contains(string(r.Body), "pcs3cret") || strings.Contains(string(r.Body), cur) {
			t.Fatalf("secret in log: %s", r.Body)
		}
	}
}

func TestProcoreAPIHeaders(t *testing.T) {
	f := newPC(t, ProcoreOptions{})
	tok := pcToken(t, f)
	u := f.APIURL + "/rest/v1.0/image_categories?project_id=2002"
	if st, _, b := mustCall(t, "GET", u, hdr{"Procore-Company-Id": "1001"}, "", nil); st != 401 || string(b) != `{"errors":"The access token is invalid"}`+"\n" {
		t.Errorf("no bearer: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "GET", u, hdr{"Authorization": "Bearer " + tok}, "", nil); st != 400 || !strings.Contains(string(b), "Missing Procore-Company-Id header!") {
		t.Errorf("no company: %d %s", st, b)
	}
	if st, _, _ := mustCall(t, "GET", u, hdr{"Authorization": "Bearer " + tok, "Procore-Company-Id": "9"}, "", nil); st != 403 {
		t.Errorf("wrong company: %d", st)
	}
	if st, _, _ := mustCall(t, "GET", f.APIURL+"/rest/v1.0/image_categories?project_id=3", pcHdr(tok), "", nil); st != 403 {
		t.Errorf("foreign project: %d", st)
	}
	st, hd, b := mustCall(t, "GET", u, pcHdr(tok), "", nil)
	if st != 200 || !strings.Contains(string(b), `"name":"Unclassified"`) || hd.Get("X-Rate-Limit-Limit") != "25" || hd.Get("Total") != "1" {
		t.Errorf("list: %d %v %s", st, hd, b)
	}
	f.Advance(2 * time.Hour)
	if st, _, _ := mustCall(t, "GET", u, pcHdr(tok), "", nil); st != 401 {
		t.Errorf("expired token: %d", st)
	}
}

func TestProcoreStorageRules(t *testing.T) {
	f := newPC(t, ProcoreOptions{})
	tok := pcToken(t, f)
	if st, _, b := mustCall(t, "POST", f.APIURL+"/rest/v1.1/projects/2002/uploads", pcHdr(tok), "application/json", []byte(`{}`)); st != 422 {
		t.Errorf("no response_filename: %d %s", st, b)
	}
	u := pcCreateUpload(t, f, tok, "x.jpg")
	ct, body := multipartBody(t, pcStorageParts(u, false)...)
	if st, _, b := mustCall(t, "POST", u.URL, nil, ct, body); st != 400 {
		t.Errorf("file not last: %d %s", st, b)
	}
	ct, body = multipartBody(t, pcStorageParts(u, true)...)
	if st, _, b := mustCall(t, "POST", u.URL, hdr{"Authorization": "Bearer " + tok}, ct, body); st != 400 {
		t.Errorf("Authorization sent to storage: %d %s", st, b)
	}
	ch := pcUploadResp{UUID: u.UUID, URL: u.URL, Fields: map[string]string{}}
	for k, v := range u.Fields {
		ch.Fields[k] = v
	}
	ch.Fields["Content-Type"] = "image/png"
	ct, body = multipartBody(t, pcStorageParts(ch, true)...)
	if st, _, b := mustCall(t, "POST", u.URL, nil, ct, body); st != 403 {
		t.Errorf("changed field: %d %s", st, b)
	}
	delete(ch.Fields, "Content-Type")
	ct, body = multipartBody(t, pcStorageParts(ch, true)...)
	if st, _, b := mustCall(t, "POST", u.URL, nil, ct, body); st != 400 {
		t.Errorf("missing field: %d %s", st, b)
	}
	pcStore(t, u)
	late := pcCreateUpload(t, f, tok, "late.jpg")
	f.Advance(61 * time.Minute)
	ct, body = multipartBody(t, pcStorageParts(late, true)...)
	if st, _, b := mustCall(t, "POST", late.URL, nil, ct, body); st != 403 {
		t.Errorf("expired upload: %d %s", st, b)
	}
}

func TestProcoreImages(t *testing.T) {
	f := newPC(t, ProcoreOptions{})
	tok := pcToken(t, f)
	st, _, b := mustCall(t, "POST", f.APIURL+"/rest/v1.0/image_categories?project_id=2002", pcHdr(tok), "application/json",
		[]byte(`{"image_category":{"name":"Event (G1)","private":false}}`))
	if st != 201 {
		t.Fatalf("create album: %d %s", st, b)
	}
	cat := int64(decode(t, b)["id"].(float64))
	if cat <= 1<<32 {
		t.Errorf("ids should be int64-sized, got %d", cat)
	}
	u := pcCreateUpload(t, f, tok, "a.jpg")
	img := f.APIURL + "/rest/v1.0/images?project_id=2002"
	good := jsonBody(t, map[string]any{"upload_uuid": u.UUID, "image_name": "a.jpg",
		"image": map[string]any{"image_category_id": cat, "description": "d", "log_date": "2026-05-12"}})
	if st, _, b := mustCall(t, "POST", img, pcHdr(tok), "application/json", good); st != 422 {
		t.Errorf("upload not stored yet: %d %s", st, b)
	}
	pcStore(t, u)
	form := url.Values{"upload_uuid": {u.UUID}, "image_name": {"a.jpg"}, "image[description]": {"d"}}.Encode()
	if st, _, _ := mustCall(t, "POST", img, pcHdr(tok), "application/x-www-form-urlencoded", []byte(form)); st != 415 {
		t.Errorf("form body: %d", st)
	}
	for name, body := range map[string]string{
		"missing image": fmt.Sprintf(`{"upload_uuid":%q,"image_name":"a.jpg"}`, u.UUID),
		"empty image":   fmt.Sprintf(`{"upload_uuid":%q,"image_name":"a.jpg","image":{}}`, u.UUID),
	} {
		if st, _, b := mustCall(t, "POST", img, pcHdr(tok), "application/json", []byte(body)); st != 400 {
			t.Errorf("%s: %d %s", name, st, b)
		}
	}
	for name, body := range map[string]string{
		"no image_name":  fmt.Sprintf(`{"upload_uuid":%q,"image":{"description":"d"}}`, u.UUID),
		"tutorial shape": fmt.Sprintf(`{"upload":{"uuid":%q,"image_name":"a.jpg"},"image":{"description":"d"}}`, u.UUID),
		"unknown upload": `{"upload_uuid":"nope","image_name":"a.jpg","image":{"description":"d"}}`,
		"foreign album":  fmt.Sprintf(`{"upload_uuid":%q,"image_name":"a.jpg","image":{"image_category_id":42}}`, u.UUID),
		"data plus uuid": fmt.Sprintf(`{"upload_uuid":%q,"image_name":"a.jpg","image":{"data":"xx"}}`, u.UUID),
	} {
		if st, _, b := mustCall(t, "POST", img, pcHdr(tok), "application/json", []byte(body)); st != 422 {
			t.Errorf("%s: %d %s", name, st, b)
		}
	}
	st, _, b = mustCall(t, "POST", img, pcHdr(tok), "application/json", good)
	m := decode(t, b)
	if st != 201 || m["filename"] != "a.jpg" || m["size"] != float64(len(jpegBytes)) || m["image_category_id"] != float64(cat) {
		t.Fatalf("create image: %d %s", st, b)
	}
	// the same upload_uuid creates a second image (worst case)
	if st, _, b := mustCall(t, "POST", img, pcHdr(tok), "application/json", good); st != 201 {
		t.Fatalf("second create: %d %s", st, b)
	}
	if n := len(f.Images()); n != 2 || f.Writes() != 3 || f.Images()[0].UploadUUID != u.UUID || f.Images()[0].SHA256 == "" {
		t.Fatalf("images=%+v writes=%d", f.Images(), f.Writes())
	}
	f.RejectImage("bad.jpg")
	if st, _, _ := mustCall(t, "POST", img, pcHdr(tok), "application/json", []byte(strings.Replace(string(good), `"a.jpg"`, `"bad.jpg"`, 1))); st != 422 {
		t.Errorf("RejectImage: %d", st)
	}
	// list: pagination and created_at filter
	from := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	q := fmt.Sprintf("%s&image_category_id=%d&per_page=1&sort=-created_at&filters[created_at]=%s...%s", img, cat, from, to)
	st, hd, b := mustCall(t, "GET", q, pcHdr(tok), "", nil)
	if st != 200 || hd.Get("Total") != "2" || hd.Get("Per-Page") != "1" || !strings.Contains(hd.Get("Link"), `rel="next"`) || strings.Count(string(b), `"filename"`) != 1 {
		t.Fatalf("list page 1: %d %v %s", st, hd, b)
	}
	st, hd, _ = mustCall(t, "GET", q+"&page=2", pcHdr(tok), "", nil)
	if st != 200 || strings.Contains(hd.Get("Link"), `rel="next"`) {
		t.Fatalf("list page 2: %v", hd)
	}
	// soft delete drops from lists
	id := f.Images()[1].ID
	if st, _, _ := mustCall(t, "DELETE", fmt.Sprintf("%s/rest/v1.0/images/%d?project_id=2002", f.APIURL, id), pcHdr(tok), "", nil); st != 200 {
		t.Fatalf("delete: %d", st)
	}
	if st, hd, _ := mustCall(t, "GET", q, pcHdr(tok), "", nil); st != 200 || hd.Get("Total") != "1" || len(f.AllImages()) != 2 {
		t.Fatalf("after delete: %v", hd)
	}
	// Unclassified cannot be deleted
	uncl := f.Categories()[0].ID
	if st, _, _ := mustCall(t, "DELETE", fmt.Sprintf("%s/rest/v1.0/image_categories/%d?project_id=2002", f.APIURL, uncl), pcHdr(tok), "", nil); st != 403 {
		t.Errorf("delete Unclassified: %d", st)
	}
}

func TestProcoreRateLimitAndFaults(t *testing.T) {
	f := newPC(t, ProcoreOptions{SpikeLimit: 2, HourlyLimit: 100})
	tok := pcToken(t, f)
	u := f.APIURL + "/rest/v1.0/image_categories?project_id=2002"
	for i := 0; i < 2; i++ {
		if st, hd, _ := mustCall(t, "GET", u, pcHdr(tok), "", nil); st != 200 || hd.Get("X-Rate-Limit-Limit") != "2" || hd.Get("X-Rate-Limit-Remaining") != fmt.Sprint(1-i) {
			t.Fatalf("request %d: %d %v", i, st, hd)
		}
	}
	st, hd, _ := mustCall(t, "GET", u, pcHdr(tok), "", nil)
	if st != 429 || hd.Get("Retry-After") == "" || hd.Get("X-Rate-Limit-Reset") == "" || hd.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("429: %d %v", st, hd)
	}

	g := newPC(t, ProcoreOptions{SpikeLimit: -1})
	tok = pcToken(t, g)
	g.AddFault(Fault{Path: "/image_categories", Nth: 1, Action: "503", RetryAfter: "3"})
	if st, hd, _ := mustCall(t, "GET", g.APIURL+"/rest/v1.0/image_categories?project_id=2002", pcHdr(tok), "", nil); st != 503 || hd.Get("Retry-After") != "3" {
		t.Fatalf("503 fault: %d %v", st, hd)
	}
	if st, hd, _ := mustCall(t, "GET", g.APIURL+"/rest/v1.0/image_categories?project_id=2002", pcHdr(tok), "", nil); st != 200 || hd.Get("X-Rate-Limit-Limit") != "3600" {
		t.Fatalf("after fault: %d %v", st, hd)
	}
	// POST /images commits, then the connection is reset
	up := pcCreateUpload(t, g, tok, "a.jpg")
	pcStore(t, up)
	g.AddFault(Fault{Method: "POST", Path: "/rest/v1.0/images", Nth: 1, Action: "commit_then_reset"})
	body := jsonBody(t, map[string]any{"upload_uuid": up.UUID, "image_name": "a.jpg", "image": map[string]any{"description": "d"}})
	if _, _, _, err := call(t, "POST", g.APIURL+"/rest/v1.0/images?project_id=2002", pcHdr(tok), "application/json", body); err == nil {
		t.Fatal("expected transport error")
	}
	if len(g.Images()) != 1 || g.Writes() != 1 {
		t.Fatalf("commit not applied: %+v", g.Images())
	}
	reqs := g.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 0 || last.Host != "api" || last.Header.Get("Authorization") != "***" {
		t.Fatalf("log entry %+v", last)
	}
}

func TestProcorePermissionsAndDirectory(t *testing.T) {
	f := newPC(t, ProcoreOptions{PhotosPermission: "standard", SpikeLimit: -1})
	tok := pcToken(t, f)
	if st, _, b := mustCall(t, "GET", f.APIURL+"/rest/v1.0/projects?company_id=1001", pcHdr(tok), "", nil); st != 200 || !strings.Contains(string(b), `"id":2002`) {
		t.Fatalf("projects: %d %s", st, b)
	}
	u := pcCreateUpload(t, f, tok, "a.jpg")
	pcStore(t, u)
	st, _, b := mustCall(t, "POST", f.APIURL+"/rest/v1.0/images?project_id=2002", pcHdr(tok), "application/json",
		jsonBody(t, map[string]any{"upload_uuid": u.UUID, "image_name": "a.jpg", "image": map[string]any{"private": false}}))
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	id := int64(decode(t, b)["id"].(float64))
	if st, _, _ := mustCall(t, "DELETE", fmt.Sprintf("%s/rest/v1.0/images/%d?project_id=2002", f.APIURL, id), pcHdr(tok), "", nil); st != 403 || len(f.Images()) != 1 {
		t.Fatalf("standard permission delete: %d", st)
	}
}
