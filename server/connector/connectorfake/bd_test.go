package connectorfake

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const formCT = "application/x-www-form-urlencoded"

func newBDFake(t *testing.T, o BDOptions) *BD {
	o.APIKey = "bdkey"
	if o.ImportDelay == 0 {
		o.ImportDelay = 10 * time.Millisecond
	}
	return NewBD(t, o)
}

var bdH = hdr{"X-Api-Key": "bdkey"}

func bdForm(t *testing.T, f *BD, method, endpoint string, v url.Values) (int, map[string]any) {
	t.Helper()
	st, _, b := mustCall(t, method, f.URL+"/api/v2/"+endpoint, bdH, formCT, []byte(v.Encode()))
	return st, decode(t, b)
}

func bdGet(t *testing.T, f *BD, endpoint string, q url.Values) (int, map[string]any) {
	t.Helper()
	st, _, b := mustCall(t, "GET", f.URL+"/api/v2/"+endpoint+"?"+q.Encode(), bdH, "", nil)
	return st, decode(t, b)
}

// imageServer serves a JPEG at any path ending .jpg and a 404 elsewhere.
func imageServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".jpg"):
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(jpegBytes)
		case strings.HasSuffix(r.URL.Path, ".png"):
			_, _ = w.Write([]byte("GIF89a not a png")) // wrong magic bytes
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestBDAuthAndFormat(t *testing.T) {
	f := newBDFake(t, BDOptions{})
	if st, _, b := mustCall(t, "GET", f.URL+"/api/v2/token/verify", nil, "", nil); st != 401 || !strings.Contains(string(b), `"status":"error"`) {
		t.Errorf("no key: %d %s", st, b)
	}
	if st, m := bdGet(t, f, "token/verify", nil); st != 200 || m["status"] != "success" {
		t.Errorf("verify: %d %v", st, m)
	}
	st, _, b := mustCall(t, "POST", f.URL+"/api/v2/users_portfolio_groups/create", bdH, "application/json",
		[]byte(`{"user_id":"7","data_id":"10","data_type":"4"}`))
	if st != 400 || len(f.Groups()) != 0 {
		t.Errorf("JSON body: %d %s", st, b)
	}
	st, m := bdForm(t, f, "POST", "users_portfolio_groups/create", url.Values{"user_id": {"8"}, "data_id": {"10"}, "data_type": {"4"}})
	if st != 400 {
		t.Errorf("unknown member: %d %v", st, m)
	}
	// post types, filtered
	st, m = bdGet(t, f, "data_categories/get", url.Values{"property": {"data_type"}, "property_value": {"4"}, "property_operator": {"eq"}})
	rows := m["message"].([]any)
	if st != 200 || m["total"] != "1" || rows[0].(map[string]any)["data_id"] != "10" {
		t.Errorf("post types: %d %v", st, m)
	}
	if st, m := bdGet(t, f, "data_categories/get/5", nil); st != 200 || m["message"].([]any)[0].(map[string]any)["data_type"] != "20" {
		t.Errorf("get post type: %d %v", st, m)
	}
	f.RevokeKey()
	if st, _ := bdGet(t, f, "token/verify", nil); st != 401 {
		t.Errorf("revoked: %d", st)
	}
}

func TestBDImport(t *testing.T) {
	img := imageServer(t)
	f := newBDFake(t, BDOptions{})
	good, query, png, missing, flaky := img.URL+"/a.jpg", img.URL+"/b.jpg?w=1600", img.URL+"/c.png", img.URL+"/d.gif", img.URL+"/flaky.jpg"
	f.FailImport("flaky", 1)
	st, m := bdForm(t, f, "POST", "users_portfolio_groups/create", url.Values{"user_id": {"7"}, "data_id": {"10"}, "data_type": {"4"},
		"group_name": {"Event (G1)"}, "group_status": {"0"}, "auto_image_import": {"1"},
		"post_image": {strings.Join([]string{good, query, png, missing, flaky}, ",")}})
	if st != 200 || m["status"] != "success" {
		t.Fatalf("create: %d %v", st, m)
	}
	msg := m["message"].(map[string]any)
	gid := msg["group_id"].(string)
	if gid == "" || msg["group_filename"] != "event-g1" {
		t.Fatalf("create message %v", msg)
	}
	if len(f.Photos()) != 0 {
		t.Fatal("rows must appear asynchronously")
	}
	f.WaitImports()
	got := map[string]BDPhoto{}
	for _, p := range f.Photos() {
		got[p.OriginalImageURL] = p
	}
	if p := got[good]; p.ImageImported != "2" || !strings.HasSuffix(p.File, "-a.jpg") {
		t.Errorf("good URL: %+v", p)
	}
	for _, u := range []string{query, png, missing, flaky} {
		if p := got[u]; p.ImageImported != "0" || p.File != "" || p.ID == 0 {
			t.Errorf("%s should be a silent failure row: %+v", u, p)
		}
	}
	// list rows of the album; ids are strings
	st, m = bdGet(t, f, "users_portfolio/get", url.Values{"property": {"group_id"}, "property_value": {gid}, "property_operator": {"="}})
	if st != 200 || m["total"] != "5" {
		t.Fatalf("list photos: %d %v", st, m)
	}
	row := m["message"].([]any)[0].(map[string]any)
	if _, ok := row["photo_id"].(string); !ok || row["image_imported"] != "2" {
		t.Fatalf("row %v", row)
	}
	// repair: delete the failed flaky row, append it again (FailImport fired once)
	pid := got[flaky].ID
	if st, m := bdForm(t, f, "DELETE", "users_portfolio/delete", url.Values{"photo_id": {itoa(pid)}}); st != 200 || m["status"] != "success" {
		t.Fatalf("delete photo: %d %v", st, m)
	}
	if st, m := bdForm(t, f, "PUT", "users_portfolio_groups/update", url.Values{"group_id": {gid}, "post_image": {flaky}, "auto_image_import": {"1"}}); st != 200 {
		t.Fatalf("append: %d %v", st, m)
	}
	f.WaitImports()
	st, m = bdGet(t, f, "users_portfolio/get", url.Values{"property[]": {"group_id", "original_image_url"},
		"property_value[]": {gid, good + "," + flaky}, "property_operator[]": {"eq", "in"}})
	if st != 200 || m["total"] != "2" || strings.Count(toJSON(t, m), `"image_imported":"2"`) != 2 {
		t.Fatalf("after repair: %v", m)
	}
	// without auto_image_import nothing is fetched
	bdForm(t, f, "PUT", "users_portfolio_groups/update", url.Values{"group_id": {gid}, "post_image": {img.URL + "/e.jpg"}})
	f.WaitImports()
	for _, p := range f.Photos() {
		if strings.HasSuffix(p.OriginalImageURL, "/e.jpg") && p.ImageImported != "0" {
			t.Errorf("imported without auto_image_import: %+v", p)
		}
	}
	// group delete does not cascade
	n := len(f.Photos())
	if st, m := bdForm(t, f, "DELETE", "users_portfolio_groups/delete", url.Values{"group_id": {gid}}); st != 200 || m["message"] != "record was deleted" {
		t.Fatalf("delete group: %d %v", st, m)
	}
	if len(f.Photos()) != n || !f.Groups()[0].Deleted {
		t.Fatal("group delete must orphan photo rows")
	}
	if f.Writes() != 5 {
		t.Errorf("writes = %d", f.Writes())
	}
}

func TestBDPaginationFiltersMisrouted(t *testing.T) {
	f := newBDFake(t, BDOptions{InvalidFilterStatus: 200})
	for i := 0; i < 3; i++ {
		if st, _ := bdForm(t, f, "POST", "users_portfolio_groups/create", url.Values{"user_id": {"7"}, "data_id": {"10"}, "data_type": {"4"}, "group_name": {"Same"}}); st != 200 {
			t.Fatal(st)
		}
	}
	bdForm(t, f, "POST", "users_portfolio_groups/create", url.Values{"user_id": {"7"}, "data_id": {"5"}, "data_type": {"20"}, "group_name": {"Wrong"}})
	if g := f.Groups(); len(g) != 4 || g[0].Misrouted || !g[3].Misrouted {
		t.Fatalf("groups %+v", g)
	}
	st, m := bdGet(t, f, "users_portfolio_groups/get", url.Values{"property": {"group_name"}, "property_value": {"Same"}, "property_operator": {"eq"}, "limit": {"2"}})
	if st != 200 || m["total"] != "3" || m["total_pages"] != 2.0 || m["current_page"] != 1.0 || len(m["message"].([]any)) != 2 {
		t.Fatalf("page 1: %v", m)
	}
	next := m["next_page"].(string)
	if raw, _ := base64.StdEncoding.DecodeString(next); string(raw) != "2*_*2" {
		t.Fatalf("next_page %q", raw)
	}
	st, m = bdGet(t, f, "users_portfolio_groups/get", url.Values{"property": {"group_name"}, "property_value": {"Same"}, "page": {next}, "limit": {"50"}})
	if st != 200 || m["current_page"] != 2.0 || len(m["message"].([]any)) != 1 || m["next_page"] == "" {
		t.Fatalf("page 2: %v", m)
	}
	// numeric page silently restarts at 1
	if _, m := bdGet(t, f, "users_portfolio_groups/get", url.Values{"page": {"2"}, "limit": {"2"}}); m["current_page"] != 1.0 {
		t.Fatalf("numeric page: %v", m)
	}
	// unknown column: success with total "0"
	if st, m := bdGet(t, f, "users_portfolio_groups/get", url.Values{"property": {"no_such"}, "property_value": {"x"}}); st != 200 || m["status"] != "success" || m["total"] != "0" {
		t.Fatalf("unknown column: %d %v", st, m)
	}
	// invalid operator: error in the body (HTTP 200 in this mode)
	if st, m := bdGet(t, f, "users_portfolio_groups/get", url.Values{"property": {"group_name"}, "property_value": {"x"}, "property_operator": {"<>"}}); st != 200 || m["status"] != "error" {
		t.Fatalf("invalid filter: %d %v", st, m)
	}
	// limit clamp
	if _, m := bdGet(t, f, "users_portfolio_groups/get", url.Values{"limit": {"500"}}); m["next_page"] != base64.StdEncoding.EncodeToString([]byte("2*_*100")) {
		t.Fatalf("clamp: %v", m["next_page"])
	}
}

func TestBDRateLimitAndCommitThenReset(t *testing.T) {
	f := newBDFake(t, BDOptions{RateLimit: 2})
	bdGet(t, f, "token/verify", nil)
	bdGet(t, f, "token/verify", nil)
	st, hd, b := mustCall(t, "GET", f.URL+"/api/v2/token/verify", bdH, "", nil)
	if st != 429 || hd.Get("Retry-After") != "" || string(b) != `{"message":"Too many API requests per minute","status":"error"}`+"\n" {
		t.Fatalf("429: %d %v %s", st, hd, b)
	}
	g := newBDFake(t, BDOptions{})
	g.AddFault(Fault{Method: "POST", Path: "users_portfolio_groups/create", Nth: 1, Action: "commit_then_reset"})
	_, _, _, err := call(t, "POST", g.URL+"/api/v2/users_portfolio_groups/create", bdH, formCT,
		[]byte(url.Values{"user_id": {"7"}, "data_id": {"10"}, "data_type": {"4"}, "group_name": {"X"}}.Encode()))
	if err == nil || len(g.Groups()) != 1 || g.Writes() != 1 {
		t.Fatalf("commit_then_reset: err=%v groups=%+v", err, g.Groups())
	}
	// commit_then_hang holds the connection until Release
	g.AddFault(Fault{Method: "PUT", Nth: 1, Action: "commit_then_hang"})
	done := make(chan error, 1)
	go func() {
		_, _, _, err := call(t, "PUT", g.URL+"/api/v2/users_portfolio_groups/update", bdH, formCT, []byte("group_id=101&group_status=1"))
		done <- err
	}()
	waitFor(t, func() bool { return g.Groups()[0].Status == "1" && g.Writes() == 2 })
	select {
	case <-done:
		t.Fatal("commit_then_hang answered before Release")
	case <-time.After(50 * time.Millisecond):
	}
	g.Release()
	if err := <-done; err == nil {
		t.Fatal("expected a dropped connection after Release")
	}
}

func TestBDSkipImportAndDeniedEndpoint(t *testing.T) {
	img := imageServer(t)
	f := newBDFake(t, BDOptions{DeniedEndpoints: []string{"users_portfolio/delete"}})
	f.SkipImport("/lost", 0)
	st, m := bdForm(t, f, "POST", "users_portfolio_groups/create", url.Values{"user_id": {"7"}, "data_id": {"10"}, "data_type": {"4"},
		"auto_image_import": {"1"}, "post_image": {img.URL + "/a.jpg," + img.URL + "/lost.jpg"}})
	if st != 200 {
		t.Fatalf("create: %d %v", st, m)
	}
	f.WaitImports()
	if ph := f.Photos(); len(ph) != 1 || ph[0].ImageImported != "2" {
		t.Fatalf("photos %+v", ph)
	}
	if st, _ := bdForm(t, f, "DELETE", "users_portfolio/delete", url.Values{"photo_id": {itoa(f.Photos()[0].ID)}}); st != 403 {
		t.Fatalf("denied endpoint: %d", st)
	}
}

func TestBDCommitThenStatusAndSeed(t *testing.T) {
	f := newBDFake(t, BDOptions{})
	id := f.SeedGroup("Existing (G9)")
	st, m := bdGet(t, f, "users_portfolio_groups/get", url.Values{"property": {"group_name"}, "property_value": {"Existing (G9)"}, "property_operator": {"eq"}})
	if st != 200 || m["total"] != "1" || m["message"].([]any)[0].(map[string]any)["group_id"] != itoa(id) {
		t.Fatalf("seeded group lookup: %v", m)
	}
	f.AddFault(Fault{Method: "PUT", Nth: 1, Action: "commit_then_status", Status: 500, Body: `{"status":"error","message":"Internal error"}`})
	st, m = bdForm(t, f, "PUT", "users_portfolio_groups/update", url.Values{"group_id": {itoa(id)}, "group_status": {"0"}})
	if st != 500 || m["status"] != "error" || f.Groups()[0].Status != "0" || f.Writes() != 1 {
		t.Fatalf("commit_then_status: %d %v %+v", st, m, f.Groups())
	}
}
