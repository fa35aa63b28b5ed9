package connectorfake

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func getBPToken(t *testing.T, f *BuildPass, scope string) string {
	t.Helper()
	st, _, b := mustCall(t, "POST", f.URL+"/oauth/token", nil, "application/json", jsonBody(t, map[string]string{
		"grant_type": "client_credentials", "client_id": "cid", "client_secret": "s3cr3tval",
		"audience": "https://api.buildpass.global", "scope": scope}))
	if st != 200 {
		t.Fatalf("token: %d %s", st, b)
	}
	m := decode(t, b)
	if m["token_type"] != "Bearer" || m["scope"] != scope {
		t.Fatalf("token response %v", m)
	}
	return m["access_token"].(string)
}

func bpHdr(tok string) hdr {
	return hdr{"Authorization": "Bearer " + tok, "X-BuildPass-Api-Version": "v1"}
}

func newBP(t *testing.T, o BuildPassOptions) *BuildPass {
	o.ClientID, o.ClientSecret = "cid", "s3cr3tval"
	return NewBuildPass(t, o)
}

// bpUpload bulk-uploads n files and returns their imageAttachment refs.
func bpUpload(t *testing.T, f *BuildPass, tok string, names ...string) []map[string]any {
	t.Helper()
	parts := []part{{name: "type", data: []byte("attachment")}}
	for i, n := range names {
		parts = append(parts, part{name: fmt.Sprintf("file:%d", i), filename: n, ctype: "image/jpeg", data: jpegBytes})
	}
	ct, body := multipartBody(t, parts...)
	st, _, b := mustCall(t, "POST", f.URL+"/builders/buil_test/attachments/bulk-upload", bpHdr(tok), ct, body)
	if st != 201 {
		t.Fatalf("bulk-upload: %d %s", st, b)
	}
	var out []map[string]any
	for i, u := range decode(t, b)["uploads"].([]any) {
		m := u.(map[string]any)
		if m["fieldName"] != fmt.Sprintf("file:%d", i) || !strings.HasPrefix(m["key"].(string), "external-uploads/buil_test/") {
			t.Fatalf("upload %d = %v", i, m)
		}
		out = append(out, map[string]any{"key": m["key"], "regionId": m["regionId"], "type": m["type"]})
	}
	return out
}

func TestBuildPassTokenEndpoint(t *testing.T) {
	f := newBP(t, BuildPassOptions{})
	form := func(s string) []byte { return []byte(s) }
	cases := []struct {
		body, ctype string
		basic       bool
		want        int
		err         string
	}{
		{"grant_type=client_credentials&client_id=cid&client_secret=bad&audience=https://api.buildpass.global", "application/x-www-form-urlencoded", false, 401, "invalid_client"},
		{"grant_type=client_credentials&client_id=cid&client_secret=s3cr3tval&audience=https://api.buildpass.global&scope=read:builders", "application/x-www-form-urlencoded", false, 400, "invalid_scope"},
		{"grant_type=password&client_id=cid&client_secret=s3cr3tval&audience=https://api.buildpass.global", "application/x-www-form-urlencoded", false, 400, "unsupported_grant_type"},
		{"grant_type=client_credentials&client_id=cid&client_secret=s3cr3tval", "application/x-www-form-urlencoded", false, 400, "invalid_request"},
		{"grant_type=client_credentials&audience=https://api.buildpass.global&scope=read:photos", "application/x-www-form-urlencoded", true, 200, ""},
		{"grant_type=client_credentials&client_id=cid&client_secret=s3cr3tval&audience=https://api.buildpass.global", "application/x-www-form-urlencoded", false, 200, ""},
	}
	for i, c := range cases {
		h := hdr{}
		if c.basic {
			req, _ := http.NewRequest("POST", "/", nil)
			req.SetBasicAuth("cid", "s3cr3tval")
			h["Authorization"] = req.Header.Get("Authorization")
		}
		st, _, b := mustCall(t, "POST", f.URL+"/oauth/token", h, c.ctype, form(c.body))
		if st != c.want || (c.err != "" && decode(t, b)["error"] != c.err) {
			t.Errorf("case %d: %d %s", i, st, b)
		}
	}
	if f.TokenRequests() != len(cases) {
		t.Errorf("TokenRequests = %d", f.TokenRequests())
	}
	for _, r := range f.Requests() {
		if strings.Contains(string(r.Body), "s3cr3tval") || (r.Header.Get("Authorization") != "" && r.Header.Get("Authorization") != "***") {
			t.Errorf("secret leaked in request log: %s %v", r.Body, r.Header)
		}
	}
}

func TestBuildPassHeadersRegionScope(t *testing.T) {
	f := newBP(t, BuildPassOptions{Region: "us1"})
	tok := getBPToken(t, f, "read:photos write:photos")
	list := f.URL + "/builders/buil_test/photos"
	if st, _, b := mustCall(t, "GET", list, hdr{"X-BuildPass-Api-Version": "v1"}, "", nil); st != 401 {
		t.Errorf("no bearer: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "GET", list, hdr{"Authorization": "Bearer " + tok, "X-BuildPass-Region-Id": "us1"}, "", nil); st != 400 {
		t.Errorf("no version header: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "GET", list, bpHdr(tok), "", nil); st != 404 {
		t.Errorf("missing region header for us1 builder: %d %s", st, b)
	}
	h := bpHdr(tok)
	h["X-BuildPass-Region-Id"] = "us1"
	if st, hd, b := mustCall(t, "GET", list, h, "", nil); st != 200 || hd.Get("X-RateLimit-Limit") != "100" || hd.Get("X-RateLimit-Remaining") == "" || hd.Get("X-RateLimit-Reset") == "" {
		t.Errorf("good request: %d %v %s", st, hd, b)
	}
	ro := getBPToken(t, f, "read:photos")
	h["Authorization"] = "Bearer " + ro
	st, _, b := mustCall(t, "POST", f.URL+"/builders/buil_test/photo-gallery/bulk-upsert", h, "application/json", []byte(`{}`))
	if st != 403 {
		t.Errorf("read-only token upsert: %d %s", st, b)
	}
	f.RevokeTokens()
	h["Authorization"] = "Bearer " + tok
	if st, _, _ := mustCall(t, "GET", list, h, "", nil); st != 401 {
		t.Errorf("revoked token: %d", st)
	}
}

func TestBuildPassAttachmentRules(t *testing.T) {
	f := newBP(t, BuildPassOptions{MaxFilesPerUpload: 2})
	tok := getBPToken(t, f, "read:photos write:photos")
	u := f.URL + "/builders/buil_test/attachments/bulk-upload"
	ct, body := multipartBody(t, part{name: "type", data: []byte("document")}, part{name: "file:0", filename: "a.jpg", data: jpegBytes})
	if st, _, b := mustCall(t, "POST", u, bpHdr(tok), ct, body); st != 400 {
		t.Errorf("type=document: %d %s", st, b)
	}
	ct, body = multipartBody(t, part{name: "type", data: []byte("attachment")}, part{name: "file:0", filename: "a.jpg", data: jpegBytes},
		part{name: "file:1", filename: "b.jpg", data: jpegBytes}, part{name: "file:2", filename: "c.jpg", data: jpegBytes})
	if st, _, b := mustCall(t, "POST", u, bpHdr(tok), ct, body); st != 400 {
		t.Errorf("3 files over limit 2: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "POST", u, bpHdr(tok), "application/json", []byte(`{}`)); st != 400 {
		t.Errorf("json attachment upload: %d %s", st, b)
	}
	ct, body = multipartBody(t, part{name: "type", data: []byte("attachment")}, part{name: "file", filename: "one.jpg", data: jpegBytes})
	st, _, b := mustCall(t, "POST", f.URL+"/builders/buil_test/attachments/upload", bpHdr(tok), ct, body)
	if st != 201 || decode(t, b)["fieldName"] != "file" {
		t.Errorf("single upload: %d %s", st, b)
	}
}

func TestBuildPassUpsertRules(t *testing.T) {
	f := newBP(t, BuildPassOptions{KeyTTL: time.Hour})
	tok := getBPToken(t, f, "read:photos write:photos")
	refs := bpUpload(t, f, tok, "a.jpg", "b.jpg", "c.jpg")
	up := f.URL + "/builders/buil_test/photo-gallery/bulk-upsert"
	req := func(folderID string, photos ...map[string]any) map[string]any {
		m := map[string]any{"externalSourceId": "gallerist:i:event:1", "sourceApp": "gallerist", "projectId": "proj_test",
			"folderName": "Event (G1)", "photos": photos}
		if folderID != "" {
			m["folderId"] = folderID
		}
		return m
	}
	ph := func(id string, ref map[string]any) map[string]any {
		return map[string]any{"externalSourceId": id, "fileName": id + ".jpg", "imageAttachment": ref}
	}
	// JSON only
	if st, _, b := mustCall(t, "POST", up, bpHdr(tok), "application/x-www-form-urlencoded", []byte("a=b")); st != 415 {
		t.Errorf("form upsert: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req(""))); st != 400 {
		t.Errorf("empty photos: %d %s", st, b)
	}
	bad := req("", ph("p1", refs[0]))
	bad["projectId"] = "proj_other"
	if st, _, b := mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, bad)); st != 404 {
		t.Errorf("foreign project: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req("fold_nope", ph("p1", refs[0])))); st != 404 {
		t.Errorf("unknown folder: %d %s", st, b)
	}

	// first upsert creates a folder; one photo fails via FailPhoto, one via imageUrl
	f.FailPhoto("p2")
	st, _, b := mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req("", ph("p1", refs[0]), ph("p2", refs[1]),
		map[string]any{"externalSourceId": "p3", "fileName": "p3.jpg", "imageUrl": "https://gallerist.example/p3.jpg"})))
	m := decode(t, b)
	if st != 200 || m["status"] != "partial" || len(m["failedPhotos"].([]any)) != 2 || len(m["createdAttachmentIds"].([]any)) != 1 {
		t.Fatalf("first upsert: %d %s", st, b)
	}
	folder := m["folderId"].(string)
	if f.Writes() != 1 || len(f.Photos()) != 1 || f.Photos()[0].SourceExternalSourceID != "gallerist:i:event:1" || f.Photos()[0].SHA256 == "" {
		t.Fatalf("state after first upsert: writes=%d photos=%+v", f.Writes(), f.Photos())
	}

	// resend with folderId: p1 skipped, p2 now succeeds (FailPhoto fires once)
	st, _, b = mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req(folder, ph("p1", refs[0]), ph("p2", refs[1]))))
	m = decode(t, b)
	if st != 200 || m["status"] != "synced" || m["folderId"] != folder || fmt.Sprint(m["skippedExternalSourceIds"]) != "[p1]" {
		t.Fatalf("second upsert: %d %s", st, b)
	}
	// all-skipped resend is not a write
	w := f.Writes()
	st, _, b = mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req(folder, ph("p1", refs[0]), ph("p2", refs[1]))))
	if m = decode(t, b); st != 200 || len(m["skippedExternalSourceIds"].([]any)) != 2 || f.Writes() != w {
		t.Fatalf("all-skipped upsert: %d %s writes %d->%d", st, b, w, f.Writes())
	}

	// omitting folderId always creates a NEW folder even with the same name
	st, _, b = mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req("", ph("p9", refs[2]))))
	if m = decode(t, b); st != 200 || m["folderId"] == folder {
		t.Fatalf("upsert without folderId reused folder: %s", b)
	}
	if n := len(f.Folders()); n != 2 || f.Folders()[0].Name != f.Folders()[1].Name {
		t.Fatalf("folders = %+v", f.Folders())
	}

	// expired key -> failedPhotos
	f.Advance(2 * time.Hour)
	tok = getBPToken(t, f, "read:photos write:photos")
	st, _, b = mustCall(t, "POST", up, bpHdr(tok), "application/json", jsonBody(t, req(folder, ph("p4", refs[2]))))
	if m = decode(t, b); st != 200 || m["status"] != "partial" || !strings.Contains(string(b), "expired") {
		t.Fatalf("expired key: %d %s", st, b)
	}

	// list shows metadata
	st, _, b = mustCall(t, "GET", f.URL+"/builders/buil_test/photos?folderId="+folder, bpHdr(tok), "", nil)
	if st != 200 || strings.Count(string(b), `"sourceExternalSourceId":"gallerist:i:event:1"`) != 2 {
		t.Fatalf("list: %d %s", st, b)
	}
	// folder delete on non-empty -> 409
	if st, _, b := mustCall(t, "DELETE", f.URL+"/builders/buil_test/photo-folders/"+folder, bpHdr(tok), "", nil); st != 409 {
		t.Errorf("delete non-empty folder: %d %s", st, b)
	}

	// DELETE bulk-upsert archives the source's photos in that folder and deletes it; repeat is harmless
	del := jsonBody(t, map[string]string{"externalSourceId": "gallerist:i:event:1", "projectId": "proj_test", "folderId": folder})
	st, _, b = mustCall(t, "DELETE", up, bpHdr(tok), "application/json", del)
	if m = decode(t, b); st != 200 || m["archivedCount"] != 2.0 || m["folderDeleted"] != true {
		t.Fatalf("archive: %d %s", st, b)
	}
	st, _, b = mustCall(t, "DELETE", up+"?externalSourceId=gallerist:i:event:1&projectId=proj_test&folderId="+folder, bpHdr(tok), "", nil)
	if m = decode(t, b); st != 200 || m["archivedCount"] != 0.0 {
		t.Fatalf("repeat archive: %d %s", st, b)
	}
	if len(f.Photos()) != 1 || len(f.AllPhotos()) != 3 {
		t.Fatalf("after archive: active %d all %d", len(f.Photos()), len(f.AllPhotos()))
	}
}

func TestBuildPassCreatePhotoAndFolders(t *testing.T) {
	f := newBP(t, BuildPassOptions{})
	tok := getBPToken(t, f, "read:photos write:photos")
	st, _, b := mustCall(t, "POST", f.URL+"/builders/buil_test/photo-folders", bpHdr(tok), "application/json",
		jsonBody(t, map[string]string{"name": "Manual", "projectId": "proj_test"}))
	if st != 201 {
		t.Fatalf("create folder: %d %s", st, b)
	}
	folder := decode(t, b)["id"].(string)
	refs := bpUpload(t, f, tok, "x.jpg")
	st, _, b = mustCall(t, "POST", f.URL+"/builders/buil_test/photos", bpHdr(tok), "application/json", jsonBody(t, map[string]any{
		"fileName": "x.jpg", "projectId": "proj_test", "folderId": folder, "imageAttachment": refs[0], "externalSourceId": "e1"}))
	if m := decode(t, b); st != 201 || m["fileSize"] != fmt.Sprint(len(jpegBytes)) || m["folderId"] != folder {
		t.Fatalf("create photo: %d %s", st, b)
	}
	if st, _, b := mustCall(t, "POST", f.URL+"/builders/buil_test/photos", bpHdr(tok), "application/json",
		jsonBody(t, map[string]any{"projectId": "proj_test", "imageAttachment": refs[0]})); st != 400 {
		t.Errorf("missing fileName: %d %s", st, b)
	}
	id := f.Photos()[0].ID
	st, _, b = mustCall(t, "PATCH", f.URL+"/builders/buil_test/photos/"+id, bpHdr(tok), "application/json", []byte(`{"description":"hi"}`))
	if st != 200 || f.Photos()[0].Description != "hi" || f.Writes() != 3 {
		t.Fatalf("patch: %d %s writes %d", st, b, f.Writes())
	}
}

func TestBuildPassRateLimit(t *testing.T) {
	f := newBP(t, BuildPassOptions{RateLimit: 3, RateWindow: time.Minute})
	for i := 0; i < 3; i++ {
		st, hd, _ := mustCall(t, "GET", f.URL+"/builders/buil_test/photos", nil, "", nil)
		if st != 401 || hd.Get("X-RateLimit-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("request %d: %d remaining %q", i, st, hd.Get("X-RateLimit-Remaining"))
		}
	}
	st, hd, b := mustCall(t, "GET", f.URL+"/builders/buil_test/photos", nil, "", nil)
	if st != 429 || hd.Get("X-RateLimit-Limit") != "3" || hd.Get("X-RateLimit-Reset") == "" || hd.Get("Retry-After") != "" ||
		string(b) != `{"error":{"message":"Rate limit exceeded. Please try again later."}}`+"\n" {
		t.Fatalf("429: %d %v %s", st, hd, b)
	}
	f2 := newBP(t, BuildPassOptions{})
	f2.AddFault(Fault{Path: "/oauth/token", Nth: 1, Action: "429", RetryAfter: "7"})
	st, hd, _ = mustCall(t, "POST", f2.URL+"/oauth/token", nil, "application/json", []byte(`{}`))
	if st != 429 || hd.Get("Retry-After") != "7" || hd.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429 fault: %d %v", st, hd)
	}
}

func TestBuildPassCommitThenReset(t *testing.T) {
	f := newBP(t, BuildPassOptions{})
	tok := getBPToken(t, f, "read:photos write:photos")
	refs := bpUpload(t, f, tok, "a.jpg")
	f.AddFault(Fault{Method: "POST", Path: "/bulk-upsert", Nth: 1, Action: "commit_then_reset"})
	body := jsonBody(t, map[string]any{"externalSourceId": "s", "sourceApp": "gallerist", "projectId": "proj_test", "folderName": "F",
		"photos": []any{map[string]any{"externalSourceId": "p1", "fileName": "a.jpg", "imageAttachment": refs[0]}}})
	_, _, _, err := call(t, "POST", f.URL+"/builders/buil_test/photo-gallery/bulk-upsert", bpHdr(tok), "application/json", body)
	if err == nil {
		t.Fatal("expected a transport error")
	}
	if len(f.Photos()) != 1 || len(f.Folders()) != 1 || f.Writes() != 1 {
		t.Fatalf("write not applied: %+v", f.Photos())
	}
	reqs := f.Requests()
	if last := reqs[len(reqs)-1]; last.Status != 0 || !strings.HasSuffix(last.Path, "/bulk-upsert") {
		t.Fatalf("log: %+v", last)
	}
	// recovery: the folder can be found by name
	st, _, b := mustCall(t, "GET", f.URL+"/builders/buil_test/photo-folders?projectId=proj_test", bpHdr(tok), "", nil)
	if st != 200 || !strings.Contains(string(b), `"name":"F"`) {
		t.Fatalf("folders: %d %s", st, b)
	}
}

func TestBuildPassHangRelease(t *testing.T) {
	f := newBP(t, BuildPassOptions{})
	tok := getBPToken(t, f, "read:photos write:photos")
	f.AddFault(Fault{Method: "GET", Path: "/photos", Times: 1, Action: "hang"})
	var wg sync.WaitGroup
	var st int
	wg.Add(1)
	go func() {
		defer wg.Done()
		st, _, _, _ = call(t, "GET", f.URL+"/builders/buil_test/photos", bpHdr(tok), "", nil)
	}()
	waitFor(t, func() bool { return len(f.Requests()) == 2 })
	time.Sleep(50 * time.Millisecond)
	if st != 0 {
		t.Fatal("hang did not hold the request")
	}
	f.Release()
	wg.Wait()
	if st != 200 {
		t.Fatalf("released request: %d", st)
	}
	// a hang the client gives up on is logged with status 0
	f.AddFault(Fault{Path: "/photos", Nth: 1, Action: "hang"})
	c := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("GET", f.URL+"/builders/buil_test/photos", nil)
	for k, v := range bpHdr(tok) {
		req.Header.Set(k, v)
	}
	if _, err := c.Do(req); err == nil {
		t.Fatal("expected timeout")
	}
	waitFor(t, func() bool { r := f.Requests(); return len(r) == 3 })
	time.Sleep(50 * time.Millisecond)
	if r := f.Requests(); r[2].Status != 0 {
		t.Fatalf("timed-out hang logged status %d", r[2].Status)
	}
}

func TestBuildPassFileSizeFilesAndDelay(t *testing.T) {
	f := newBP(t, BuildPassOptions{MaxFileBytes: 50})
	tok := getBPToken(t, f, "read:photos write:photos")
	ct, body := multipartBody(t, part{name: "type", data: []byte("attachment")}, part{name: "file:0", filename: "a.jpg", data: jpegBytes})
	if st, _, b := mustCall(t, "POST", f.URL+"/builders/buil_test/attachments/bulk-upload", bpHdr(tok), ct, body); st != 413 {
		t.Fatalf("oversize: %d %s", st, b)
	}
	g := newBP(t, BuildPassOptions{})
	tok = getBPToken(t, g, "read:photos write:photos")
	refs := bpUpload(t, g, tok, "a.jpg")
	_, _, b := mustCall(t, "POST", g.URL+"/builders/buil_test/photos", bpHdr(tok), "application/json",
		jsonBody(t, map[string]any{"fileName": "a.jpg", "imageAttachment": refs[0]}))
	imgURL := decode(t, b)["imageUrl"].(string)
	if st, _, data := mustCall(t, "GET", imgURL, nil, "", nil); st != 200 || string(data) != string(jpegBytes) {
		t.Fatalf("imageUrl: %d", st)
	}
	g.AddFault(Fault{Path: "/photos", Method: "GET", Nth: 1, Action: "delay", Delay: 100 * time.Millisecond})
	start := time.Now()
	if st, _, _ := mustCall(t, "GET", g.URL+"/builders/buil_test/photos", bpHdr(tok), "", nil); st != 200 || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("delay: %d after %v", st, time.Since(start))
	}
}
