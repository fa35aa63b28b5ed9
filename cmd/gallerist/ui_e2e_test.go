package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/gallerist/gallerist/media/mediatest"
)

// The browser tests drive the built binary with Debian's headless Chromium (chromedp):
// the photographer's pages, the chunked upload with a server restart in the middle, and
// the guest gallery on a phone-sized screen. Each page is checked with axe-core and
// photographed; GALLERIST_UI_ARTIFACTS keeps the screenshots, and
// GALLERIST_UPDATE_SCREENSHOTS=1 also writes the user guide's pictures to docs/img.

const (
	uiChromium   = "/usr/bin/chromium"
	uiAxeVersion = "4.10.2"
	uiEmail      = "studio@example.com"
	uiPassword   = "correct-horse-9"
	uiGalleryPwd = "confetti"
)

// uiBrowser starts a headless Chromium; the context lives until the test ends.
func uiBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(uiChromium); err != nil {
		t.Fatalf("chromium not found at %s: apt-get install chromium (as root, .ci/install-deps installs it)", uiChromium)
	}
	tmp := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(uiChromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(tmp, "profile")),
		chromedp.Env("TMPDIR=" + tmp), // else every run leaves a /tmp/org.chromium.Chromium.* folder
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // start the browser now, without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { _ = chromedp.Cancel(bctx); cancelB(); cancelA() })
	return bctx
}

// uiTab opens a tab in a fresh browser context (its own cookies and storage).
func uiTab(t *testing.T, parent context.Context, w, h int64, mobile bool) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(w, h, func(p1 *emulation.SetDeviceMetricsOverrideParams, p2 *emulation.SetTouchEmulationEnabledParams) {
			if mobile {
				chromedp.EmulateMobile(p1, p2)
				chromedp.EmulateTouch(p1, p2)
				chromedp.EmulatePortrait(p1, p2)
				p1.DeviceScaleFactor = 2
			}
		}),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			// axe-core is injected through the protocol; the pages' CSP must not stop it.
			_, err := chromedp.Call(ctx, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true})
			return err
		}),
	); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	// Accept "leave this page?" prompts of pages with unfinished uploads.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// uiRun runs steps with a deadline.
func uiRun(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// uiEval evaluates JavaScript (awaiting a promise) and decodes the result.
func uiEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// uiWait polls a JavaScript condition until it is true.
func uiWait(t *testing.T, ctx context.Context, what, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](`Boolean(`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.querySelector('main')||document.body).innerText.slice(0, 1500)`))
			t.Fatalf("waiting for %s (%s): %v\npage: %s", what, cond, err, state)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// uiShots saves screenshots as test artifacts and, when asked, as the guide's pictures.
type uiShots struct {
	dir    string
	docs   string
	update bool
}

func newUIShots(t *testing.T) *uiShots {
	dir := os.Getenv("GALLERIST_UI_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &uiShots{dir: dir, docs: filepath.Join("..", "..", "docs", "img"), update: os.Getenv("GALLERIST_UPDATE_SCREENSHOTS") == "1"}
}

// take saves the viewport as name.png; for the guide (doc) also docs/img/name.jpg.
func (s *uiShots) take(t *testing.T, ctx context.Context, name string, doc bool) {
	t.Helper()
	// Let images and transitions settle.
	uiWait(t, ctx, "images loaded", `[...document.images].every(i => i.complete)`, 15*time.Second)
	time.Sleep(300 * time.Millisecond)
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if !doc || !s.update {
		return
	}
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 72}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 150<<10 {
		t.Errorf("docs/img/%s.jpg is %d KB; keep the guide's pictures under 150 KB", name, buf.Len()>>10)
	}
	if err := os.MkdirAll(s.docs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.docs, name+".jpg"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// uiAxe returns axe-core's source, downloaded once from npm into the user's cache, or ""
// when it cannot be had (the test then says so and checks the rest).
func uiAxe(t *testing.T) string {
	t.Helper()
	home, err := os.UserCacheDir()
	if err != nil {
		home = os.TempDir()
	}
	cache := filepath.Join(home, "gallerist", "axe-core-"+uiAxeVersion+".min.js")
	if b, err := os.ReadFile(cache); err == nil && len(b) > 100_000 {
		return string(b)
	}
	url := "https://registry.npmjs.org/axe-core/-/axe-core-" + uiAxeVersion + ".tgz"
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Logf("SKIPPING the accessibility checks: download %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Logf("SKIPPING the accessibility checks: download %s: %s", url, resp.Status)
		return ""
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("axe-core tarball: %v", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("axe-core tarball has no package/axe.min.js: %v", err)
		}
		if h.Name == "package/axe.min.js" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
				_ = os.WriteFile(cache, b, 0o644)
			}
			return string(b)
		}
	}
}

// uiCheckA11y runs axe-core on the page and fails on serious or critical violations.
func uiCheckA11y(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	if axe == "" {
		return
	}
	if !uiEval[bool](t, ctx, `typeof window.axe === "object"`) {
		uiEval[bool](t, ctx, axe+"\n;true")
	}
	type node struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	}
	type violation struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []node `json:"nodes"`
	}
	vs := uiEval[[]violation](t, ctx, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations)`)
	bad := 0
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			t.Logf("axe on %s (%s, not failing): %s: %s (%d nodes)", page, v.Impact, v.ID, v.Help, len(v.Nodes))
			continue
		}
		bad++
		for i, n := range v.Nodes {
			if i == 5 {
				break
			}
			t.Errorf("axe on %s: %s %s: %s\n    at %v: %s", page, v.Impact, v.ID, v.Help, n.Target, n.HTML)
		}
	}
	if bad == 0 {
		t.Logf("axe on %s: no serious or critical violations", page)
	}
}

// uiSet sets a form control's value and tells the page it changed.
func uiSet(sel, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal([]string{sel, value})
	return chromedp.Evaluate[chromedp.Void](`(([s, v]) => { const e = document.querySelector(s); e.value = v;
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); })(` + string(js) + `)`)
}

// uiFreePort returns a loopback port that was free a moment ago.
func uiFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// uiShoot writes the photo folder the photographer uploads: JPEGs of both orientations
// with EXIF, a copy of one (a duplicate), a note the server refuses, and a video.
func uiShoot(t *testing.T, dir string) (files []string, originals map[string][]byte) {
	t.Helper()
	originals = map[string][]byte{}
	sizes := [][2]int{{1200, 800}, {800, 1200}, {1200, 800}, {1000, 1000}, {1200, 675}, {800, 1200}, {1200, 800}, {1200, 900}}
	for i, sz := range sizes {
		name := fmt.Sprintf("DSC_%04d.jpg", 2031+i)
		b := mediatest.JPEG(sz[0], sz[1], int64(100+i), &mediatest.EXIF{
			DateTimeOriginal: fmt.Sprintf("2026:05:12 15:%02d:11", 10+i), OffsetTimeOriginal: "+02:00",
			Make: "Fujifilm", Model: "X-T5", Orientation: 1,
		})
		originals[name] = b
	}
	originals["DSC_2031 copy.jpg"] = originals["DSC_2031.jpg"]
	originals["notes.txt"] = []byte("shot list: rings, cake, first dance\n")
	for name, b := range originals {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	video := mediatest.Video(t, dir, "mp4", 3, 640, 360)
	vb, err := os.ReadFile(video)
	if err != nil {
		t.Fatal(err)
	}
	originals[filepath.Base(video)] = vb
	files = append(files, video)
	return files, originals
}

// TestUIEndToEnd walks the photographer's and the guest's paths through the browser UI.
func TestUIEndToEnd(t *testing.T) {
	start := time.Now()
	data := t.TempDir()
	port := uiFreePort(t)
	env := []string{fmt.Sprintf("GALLERIST_LISTEN=127.0.0.1:%d", port), "GALLERIST_CHUNK_SIZE_MB=1"}
	srv := startServer(t, data, env...)
	base := srv.URL
	cli(t, data, uiPassword+"\n", "admin", "create", "--email", uiEmail, "--password-stdin")

	axe := uiAxe(t)
	shots := newUIShots(t)
	b := uiBrowser(t)
	admin := uiTab(t, b, 1280, 900, false)

	// Sign in: /admin sends a stranger to /login.
	uiRun(t, admin, "open /admin", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS("#auth-form")))
	if loc := uiEval[string](t, admin, `location.pathname + location.search`); loc != "/login?next=%2Fadmin" {
		t.Fatalf("a stranger at /admin landed on %s, want /login?next=%%2Fadmin", loc)
	}
	shots.take(t, admin, "login", true)
	uiCheckA11y(t, admin, axe, "login")
	uiRun(t, admin, "wrong password",
		chromedp.SendKeys(chromedp.CSS("#email"), uiEmail), chromedp.SendKeys(chromedp.CSS("#password"), "nope-nope"),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")))
	uiWait(t, admin, "the wrong-password message", `document.querySelector('#auth-error').textContent.includes('Wrong email or password')`, 10*time.Second)
	uiRun(t, admin, "sign in",
		uiSet("#password", ""), chromedp.SendKeys(chromedp.CSS("#password"), uiPassword),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")))
	uiWait(t, admin, "the events page", `location.pathname === '/admin' && document.querySelector('#new-event')`, 15*time.Second)
	uiCheckA11y(t, admin, axe, "events (empty)")

	// The session cookie is HttpOnly, and a change without the CSRF token is refused.
	if v := uiEval[bool](t, admin, `document.cookie.includes('gallerist_session')`); v {
		t.Error("the session cookie is readable from JavaScript; it must be HttpOnly")
	}
	if code := uiEval[string](t, admin, `fetch('/api/v1/events', {method: 'POST', body: '{"name":"forged"}'}).then(r => r.json()).then(j => j.error.code)`); code != "csrf_failed" {
		t.Errorf("a cookie-authenticated POST without X-CSRF-Token answered %q, want csrf_failed", code)
	}

	// Create the event through the dialog.
	uiRun(t, admin, "create an event",
		chromedp.Click(chromedp.CSS("#new-event")), chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Anna & Ben"),
		uiSet("#f-date", "2026-05-12"),
		chromedp.SendKeys(chromedp.CSS("#f-password"), uiGalleryPwd),
		chromedp.Click(chromedp.CSS("#create-submit")))
	uiWait(t, admin, "the event page", `location.pathname.startsWith('/admin/events/') && document.querySelector('#drop')`, 15*time.Second)
	eventPath := uiEval[string](t, admin, `location.pathname`)
	eventID := strings.TrimPrefix(eventPath, "/admin/events/")
	shots.take(t, admin, "event-empty", false)

	// Upload the folder through the file input: every file goes through chunked uploads.
	shoot := filepath.Join(t.TempDir(), "Anna & Ben")
	if err := os.Mkdir(shoot, 0o755); err != nil {
		t.Fatal(err)
	}
	files, originals := uiShoot(t, shoot)
	uiRun(t, admin, "choose the folder's files", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), files))
	uiWait(t, admin, "the upload to finish", `document.querySelector('#up-summary').textContent.includes('100%')`, 90*time.Second)
	summary := uiEval[string](t, admin, `document.querySelector('#up-summary').textContent + ' | ' + document.querySelector('#up-stats').textContent`)
	if !strings.Contains(summary, "9 of 9 files") || !strings.Contains(summary, "2 refused") {
		t.Errorf("upload summary %q, want 9 of 9 files and 2 refused", summary)
	}
	states := uiEval[map[string]string](t, admin, `Object.fromEntries([...document.querySelectorAll('#up-files li')].map(li => [li.dataset.name, li.querySelector('.state').textContent]))`)
	if s := states["DSC_2031 copy.jpg"] + states["DSC_2031.jpg"]; !strings.Contains(s, "Already in this event") {
		t.Errorf("the duplicate's state: %q / %q, want the server's reason (Already in this event)", states["DSC_2031.jpg"], states["DSC_2031 copy.jpg"])
	}
	if s := states["notes.txt"]; !strings.Contains(s, "Not a photo or video") {
		t.Errorf("notes.txt's state %q, want the refusal reason", s)
	}
	uiWait(t, admin, "9 thumbnails in the grid", `document.querySelectorAll('#grid li').length === 9`, 20*time.Second)
	uiWait(t, admin, "thumbnails drawn", `[...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)`, 30*time.Second)
	shots.take(t, admin, "upload", true)
	uiCheckA11y(t, admin, axe, "event page after upload")

	// Resume: a big file on a slow line; the server dies mid-way, comes back, the page
	// is reloaded and the same file chosen again: only the missing chunks are sent.
	big := filepath.Join(t.TempDir(), "DSC_9000.jpg")
	bigBytes := ngxBigJPEG(9000, 8<<20+12345) // 9 chunks of 1 MiB
	if err := os.WriteFile(big, bigBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	throttle := func(bps float64) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*network.Conditions{{URLPattern: "", Latency: 0, DownloadThroughput: -1, UploadThroughput: bps}}})
			return err
		})
	}
	uiRun(t, admin, "slow the line", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
		return err
	}), throttle(1.5e6))
	uiRun(t, admin, "choose the big file", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{big}))
	bigRow := `document.querySelector('#up-files li[data-name="DSC_9000.jpg"]')`
	uiWait(t, admin, "a third of the big file sent", bigRow+` && `+bigRow+`.querySelector('progress').value >= 35`, 60*time.Second)
	// Pause stops the chunks in flight; resume carries on.
	uiRun(t, admin, "pause", chromedp.Click(chromedp.CSS("#up-pause")))
	uiWait(t, admin, "paused", `document.querySelector('#up-summary').textContent === 'Paused' && `+bigRow+`.querySelector('.state').textContent.startsWith('Paused at')`, 10*time.Second)
	pausedAt := uiEval[float64](t, admin, bigRow+`.querySelector('progress').value`)
	time.Sleep(1500 * time.Millisecond)
	if now := uiEval[float64](t, admin, bigRow+`.querySelector('progress').value`); now > pausedAt+12 {
		t.Errorf("progress moved from %v%% to %v%% while paused", pausedAt, now)
	}
	uiRun(t, admin, "resume", chromedp.Click(chromedp.CSS("#up-pause")))
	uiWait(t, admin, "uploading again", `document.querySelector('#up-summary').textContent.startsWith('Uploading')`, 10*time.Second)
	stored := uiEval[string](t, admin, `localStorage.getItem('gallerist.uploads.`+eventID+`') || ''`)
	m := regexp.MustCompile(`"id":"(up[a-z2-7]+)"`).FindStringSubmatch(stored)
	if m == nil {
		t.Fatalf("the page did not remember the upload id in localStorage: %q", stored)
	}
	uploadID := m[1]
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	uiWait(t, admin, "the page to notice the lost connection", bigRow+`.querySelector('.state').textContent.includes('retrying')`, 20*time.Second)
	shots.take(t, admin, "upload-retrying", false)
	srv2 := startServer(t, data, env...)
	if srv2.URL != base {
		t.Fatalf("restarted server at %s, want %s", srv2.URL, base)
	}
	uiRun(t, admin, "reload the page", throttle(-1), chromedp.Reload())
	uiWait(t, admin, "the resume banner", `!document.querySelector('#resume-banner').hidden && document.querySelector('#resume-banner').textContent.includes('DSC_9000.jpg')`, 20*time.Second)
	shots.take(t, admin, "resume-banner", true)
	uiRun(t, admin, "choose the big file again", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{big}))
	uiWait(t, admin, "the big file to finish", bigRow+` && `+bigRow+`.querySelector('.state').textContent === 'Uploaded'`, 60*time.Second)
	// The restarted server got only the chunks the first one had not stored.
	putRe := regexp.MustCompile(`path=/api/v1/uploads/` + uploadID + `/chunks/(\d+) .*status=200`)
	sent := map[string]bool{}
	for _, line := range strings.Split(srv2.stderr.String(), "\n") {
		if mm := putRe.FindStringSubmatch(line); mm != nil {
			sent[mm[1]] = true
		}
	}
	if len(sent) == 0 || len(sent) >= 9 {
		t.Errorf("after the restart the page sent %d distinct chunks of upload %s; want the missing ones only (1 to 8 of 9)", len(sent), uploadID)
	}
	t.Logf("resumed upload %s: %d of 9 chunks sent after the restart", uploadID, len(sent))
	uiWait(t, admin, "10 photos in the grid", `document.querySelectorAll('#grid li').length === 10`, 20*time.Second)

	// Settings: an API token, shown once. The test uses it to check the server's state.
	uiRun(t, admin, "open settings", chromedp.Navigate(base+"/admin/settings"), chromedp.WaitVisible(chromedp.CSS("#t-name")))
	uiWait(t, admin, "the upload settings", `document.querySelector('#general_max_file_size_mb')`, 15*time.Second)
	uiRun(t, admin, "create a token",
		chromedp.SendKeys(chromedp.CSS("#t-name"), "ui test"),
		chromedp.Click(chromedp.CSS(`input[name=scopes][value="admin"]`)),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")))
	uiWait(t, admin, "the new token", `document.querySelector('#token-secret')`, 15*time.Second)
	token := uiEval[string](t, admin, `document.querySelector('#token-secret').textContent`)
	if !strings.HasPrefix(token, "glr_") {
		t.Fatalf("token shown: %q", token)
	}
	uiWait(t, admin, "the token in the list", `document.querySelector('#tokens tbody').textContent.includes('ui test')`, 10*time.Second)
	shots.take(t, admin, "settings", true)
	uiCheckA11y(t, admin, axe, "settings")

	type photo struct {
		ID       int64  `json:"id"`
		Filename string `json:"filename"`
		IsHidden bool   `json:"is_hidden"`
		SHA256   string `json:"sha256"`
	}
	listPhotos := func() []photo {
		resp, body := request(t, "GET", base+"/api/v1/events/"+eventID+"/photos?sort=position_asc&limit=200", token, nil, "")
		if resp.StatusCode != 200 {
			t.Fatalf("list photos: %d %s", resp.StatusCode, body)
		}
		var page struct{ Items []photo }
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	ps := listPhotos()
	if len(ps) != 10 {
		t.Fatalf("the event holds %d photos, want 10", len(ps))
	}
	for _, p := range ps {
		if want, ok := originals[p.Filename]; ok && p.SHA256 != sha(want) {
			t.Errorf("%s stored with sha256 %s, want %s", p.Filename, p.SHA256, sha(want))
		} else if p.Filename == "DSC_9000.jpg" && p.SHA256 != sha(bigBytes) {
			t.Errorf("the resumed upload's bytes differ: sha256 %s, want %s", p.SHA256, sha(bigBytes))
		}
	}

	// A category, and feedback for the guests.
	resp, body := request(t, "POST", base+"/api/v1/events/"+eventID+"/categories", token, strings.NewReader(`{"name":"Ceremony"}`), "")
	if resp.StatusCode != 201 {
		t.Fatalf("create category: %d %s", resp.StatusCode, body)
	}
	var cat struct{ ID int64 }
	_ = json.Unmarshal(body, &cat)
	if resp, body := request(t, "PATCH", base+"/api/v1/events/"+eventID, token, strings.NewReader(`{"feedback_enabled":true}`), ""); resp.StatusCode != 200 {
		t.Fatalf("enable feedback: %d %s", resp.StatusCode, body)
	}

	// Back on the event page: hide one photo, reorder by dragging.
	uiRun(t, admin, "open the event", chromedp.Navigate(base+eventPath), chromedp.WaitVisible(chromedp.CSS("#grid li")))
	uiRun(t, admin, "sort by manual order", uiSet("#sort", "position_asc"))
	uiWait(t, admin, "the grid in manual order", `document.querySelectorAll('#grid li').length === 10 && document.querySelector('#grid li').draggable`, 15*time.Second)
	order := uiEval[[]int64](t, admin, `[...document.querySelectorAll('#grid li')].map(li => Number(li.dataset.id))`)
	hiddenID := order[1]
	uiRun(t, admin, "select a photo", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grid li[data-id="%d"]`, hiddenID))))
	uiWait(t, admin, "the bulk bar", `!document.querySelector('#bulk').hidden && document.querySelector('#sel-count').textContent === '1 selected'`, 5*time.Second)
	uiRun(t, admin, "hide it", chromedp.Click(chromedp.CSS(`#bulk button[data-bulk="hide"]`)))
	uiWait(t, admin, "the hidden tile", fmt.Sprintf(`document.querySelector('#grid li[data-id="%d"]').classList.contains('hidden')`, hiddenID), 10*time.Second)
	// Shift-click selects a range.
	nodes, err := chromedp.Run(admin, chromedp.Nodes(chromedp.CSS(fmt.Sprintf(`#grid li[data-id="%d"]`, order[4]))))
	if err != nil {
		t.Fatal(err)
	}
	uiRun(t, admin, "shift-click a range", chromedp.MouseClickNode(nodes[0], chromedp.ButtonModifiers(chromedp.ModifierShift)))
	if n := uiEval[string](t, admin, `document.querySelector('#sel-count').textContent`); n != "4 selected" {
		t.Errorf("after a shift-click from photo 2 to photo 5: %q, want 4 selected", n)
	}
	shots.take(t, admin, "grid-selection", true)
	// The selection (photos 2 to 5) goes into the category.
	uiRun(t, admin, "set the category", uiSet("#bulk-cat", fmt.Sprint(cat.ID)))
	uiWait(t, admin, "category tags", fmt.Sprintf(`document.querySelector('#grid li[data-id="%d"] .tag')?.textContent.includes('Ceremony')`, order[4]), 10*time.Second)
	uiRun(t, admin, "clear the selection", chromedp.Click(chromedp.CSS("#select-all")), chromedp.Click(chromedp.CSS("#select-all")))
	moved := order[5]
	uiRun(t, admin, "drag a photo to the front", chromedp.DragAndDrop(
		chromedp.CSS(fmt.Sprintf(`#grid li[data-id="%d"]`, moved)), chromedp.CSS(fmt.Sprintf(`#grid li[data-id="%d"]`, order[0]))))
	uiWait(t, admin, "the order saved", `[...document.querySelectorAll('.toast')].some(t => t.textContent === 'Order saved')`, 10*time.Second)
	ps = listPhotos()
	if ps[0].ID != moved {
		t.Errorf("after dragging photo %d to the front the first photo is %d", moved, ps[0].ID)
	}
	for _, p := range ps {
		if p.ID == hiddenID && !p.IsHidden {
			t.Errorf("photo %d was hidden in the UI but the server says is_hidden=false", hiddenID)
		}
	}

	// The lightbox shows the EXIF details.
	uiRun(t, admin, "open the lightbox", chromedp.DoubleClick(chromedp.CSS(fmt.Sprintf(`#grid li[data-id="%d"] img`, order[0]))))
	uiWait(t, admin, "EXIF details", `document.querySelector('#lb-info').textContent.includes('Fujifilm X-T5')`, 10*time.Second)
	uiWait(t, admin, "the display image", `document.querySelector('#lb-img').src.includes('/api/gallery/') && document.querySelector('#lb-img').complete`, 15*time.Second)
	shots.take(t, admin, "admin-lightbox", true)
	uiCheckA11y(t, admin, axe, "admin lightbox")
	uiRun(t, admin, "close the lightbox", chromedp.KeyEvent(kb.Escape))

	// The edit page and the events list.
	uiRun(t, admin, "open edit", chromedp.Navigate(base+eventPath+"/edit"), chromedp.WaitVisible(chromedp.CSS("#edit-form")))
	shareURL := uiEval[string](t, admin, `document.querySelector('#share-url').value`)
	shots.take(t, admin, "edit", true)
	uiCheckA11y(t, admin, axe, "edit event")
	uiRun(t, admin, "open the events list", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS(".event-card")))
	if txt := uiEval[string](t, admin, `document.querySelector('.event-card .meta').textContent`); !strings.Contains(txt, "10 photos") {
		t.Errorf("event card: %q, want 10 photos", txt)
	}
	shots.take(t, admin, "events", true)
	uiCheckA11y(t, admin, axe, "events")
	// The photographer's pages fit a 360 px phone too.
	uiRun(t, admin, "a 360 px screen", chromedp.EmulateViewport(360, 780), chromedp.Navigate(base+eventPath), chromedp.WaitVisible(chromedp.CSS("#grid li")))
	if w := uiEval[int](t, admin, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the event page is %d px wide on a 360 px screen", w)
	}
	shots.take(t, admin, "event-360", false)

	// The guest, on a phone, in another browser context.
	if shareURL != base+"/g/anna-ben" {
		t.Errorf("share link %q, want %s/g/anna-ben (a gallery with a password has no key in its link)", shareURL, base)
	}
	guest := uiTab(t, b, 390, 844, true)
	dl := t.TempDir()
	uiRun(t, guest, "open the share link", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dl, EventsEnabled: ptrTo(true),
			BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
		return err
	}), chromedp.Navigate(shareURL), chromedp.WaitVisible(chromedp.CSS("#g-password")))
	shots.take(t, guest, "guest-password", true)
	uiCheckA11y(t, guest, axe, "guest password page")
	uiRun(t, guest, "wrong gallery password", chromedp.SendKeys(chromedp.CSS("#g-password"), "cake"), chromedp.Click(chromedp.CSS("#g-auth button")))
	uiWait(t, guest, "the wrong-password message", `document.querySelector('#g-error').textContent.includes('not right')`, 10*time.Second)
	uiRun(t, guest, "enter the password", uiSet("#g-password", ""),
		chromedp.SendKeys(chromedp.CSS("#g-password"), uiGalleryPwd), chromedp.Click(chromedp.CSS("#g-auth button")))
	uiWait(t, guest, "the gallery", `document.querySelectorAll('#g-grid li').length > 0`, 15*time.Second)
	ids := uiEval[[]int64](t, guest, `[...document.querySelectorAll('#g-grid li')].map(li => Number(li.dataset.id))`)
	if len(ids) != 9 {
		t.Errorf("the guest sees %d photos, want 9 (10 minus the hidden one)", len(ids))
	}
	for _, id := range ids {
		if id == hiddenID {
			t.Errorf("the hidden photo %d is in the guest's grid", id)
		}
	}
	if len(ids) > 0 && ids[0] != moved {
		t.Errorf("the guest's first photo is %d, want %d (the manual order)", ids[0], moved)
	}
	// Tiles have their size before their image arrives: no layout shift.
	if n := uiEval[int](t, guest, `[...document.querySelectorAll('#g-grid li')].filter(li => li.getBoundingClientRect().width < 40).length`); n != 0 {
		t.Errorf("%d tiles have no width of their own", n)
	}
	if n := uiEval[int](t, guest, `[...document.querySelectorAll('#g-grid img')].filter(i => /\/photos\//.test(i.currentSrc || i.src)).length`); n != 0 {
		t.Errorf("%d grid images load an original", n)
	}
	uiWait(t, guest, "thumbnails drawn", `[...document.querySelectorAll('#g-grid img')].slice(0, 4).every(i => i.complete && i.naturalWidth > 0)`, 20*time.Second)
	shots.take(t, guest, "guest-gallery", true)
	uiCheckA11y(t, guest, axe, "guest gallery")
	if w := uiEval[int](t, guest, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the guest page is %d px wide on a 390 px screen", w)
	}
	// Dark mode follows the system setting.
	uiRun(t, guest, "dark mode", darkMode(true))
	if bg := uiEval[string](t, guest, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(17, 19, 24)" {
		t.Errorf("dark mode background %s, want rgb(17, 19, 24)", bg)
	}
	shots.take(t, guest, "guest-gallery-dark", true)
	uiCheckA11y(t, guest, axe, "guest gallery (dark)")
	uiRun(t, guest, "light mode", darkMode(false))
	uiRun(t, guest, "scroll", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
	uiWait(t, guest, "the end of the gallery", `document.querySelector('#g-status').textContent.includes('All 9 photos')`, 10*time.Second)
	shots.take(t, guest, "guest-scrolled", false)

	// Categories as tabs: Ceremony holds photos 3 to 5 (photo 2 is hidden).
	uiRun(t, guest, "the Ceremony tab", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`), chromedp.Click(chromedp.CSS(`.tab[data-cat]:not([data-cat=""])`)))
	uiWait(t, guest, "the category's photos", `document.querySelectorAll('#g-grid li').length === 3`, 10*time.Second)
	uiRun(t, guest, "all photos again", chromedp.Click(chromedp.CSS(`.tab[data-cat=""]`)))
	uiWait(t, guest, "all photos", `document.querySelectorAll('#g-grid li').length === 9`, 10*time.Second)

	// A ZIP of a selection.
	uiRun(t, guest, "select mode", chromedp.Click(chromedp.CSS("#select-mode")),
		chromedp.Click(chromedp.CSS(`#g-grid li:nth-child(1) button.open`)), chromedp.Click(chromedp.CSS(`#g-grid li:nth-child(2) button.open`)))
	uiWait(t, guest, "two picked", `!document.querySelector('#download-sel').hidden && document.querySelector('#download-sel').textContent === 'Download 2 selected'`, 5*time.Second)
	zip := uiEval[map[string]any](t, guest, `fetch(document.querySelector('#download-sel').href).then(async r => ({status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength}))`)
	if zip["status"] != float64(200) || zip["type"] != "application/zip" || zip["size"].(float64) < 1000 {
		t.Errorf("the selection's ZIP: %v", zip)
	}
	uiRun(t, guest, "leave select mode", chromedp.Click(chromedp.CSS("#select-mode")))

	// The lightbox: keyboard, position, download.
	uiRun(t, guest, "open the first photo", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`),
		chromedp.Click(chromedp.CSS(`#g-grid li:first-child button.open`)))
	uiWait(t, guest, "the lightbox", `document.querySelector('#g-lightbox').open && document.querySelector('#g-img').complete && document.querySelector('#g-img').naturalWidth > 0`, 15*time.Second)
	if f := uiEval[string](t, guest, `document.activeElement.id`); f != "g-close" {
		t.Errorf("focus in the open lightbox is on %q, want the close button", f)
	}
	uiRun(t, guest, "next photo", chromedp.KeyEvent(kb.ArrowRight))
	uiWait(t, guest, "photo 2", `document.querySelector('#g-pos').textContent === '2 / 9'`, 5*time.Second)
	uiWait(t, guest, "the display copy", `document.querySelector('#g-img').src.includes('/api/gallery/anna-ben/photo/')`, 15*time.Second)
	shots.take(t, guest, "guest-lightbox", true)
	uiCheckA11y(t, guest, axe, "guest lightbox")
	// Feedback: a like and a rating.
	uiRun(t, guest, "like", chromedp.Click(chromedp.CSS("#g-like")))
	uiWait(t, guest, "the like", `document.querySelector('#g-like').getAttribute('aria-pressed') === 'true' && document.querySelector('#g-like').textContent === '♥ 1'`, 10*time.Second)
	uiRun(t, guest, "rate 4", chromedp.Click(chromedp.CSS(`.star[data-rate="4"]`)))
	uiWait(t, guest, "the rating", `document.querySelectorAll('.star[aria-pressed="true"]').length === 4`, 10*time.Second)
	href := uiEval[string](t, guest, `document.querySelector('#g-download').href`)
	want := uiEval[string](t, guest, `document.querySelector('#g-download').getAttribute('download')`)
	got := uiEval[map[string]any](t, guest, `fetch(document.querySelector('#g-download').href).then(async r => ({status: r.status,
		sha: [...new Uint8Array(await crypto.subtle.digest('SHA-256', await r.arrayBuffer()))].map(b => b.toString(16).padStart(2, '0')).join('')}))`)
	if got["status"] != float64(200) || got["sha"] != sha(originals[want]) {
		t.Errorf("download link %s (%s): %v, want 200 with the original's sha256 %s", href, want, got, sha(originals[want]))
	}
	uiRun(t, guest, "download the photo", chromedp.Click(chromedp.CSS("#g-download")))
	ngxWaitFor(t, 20*time.Second, "the browser's download", func() bool {
		entries, _ := os.ReadDir(dl)
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(dl, e.Name())); err == nil && sha(b) == sha(originals[want]) {
				return true
			}
		}
		return false
	})
	// The video plays and seeks (its file is served with Range).
	videoIdx := uiEval[int](t, guest, `[...document.querySelectorAll('#g-grid li')].findIndex(li => li.querySelector('.play'))`)
	if videoIdx < 0 {
		t.Fatal("no video in the guest grid")
	}
	uiRun(t, guest, "close the lightbox", chromedp.KeyEvent(kb.Escape))
	uiWait(t, guest, "the lightbox closed", `!document.querySelector('#g-lightbox').open`, 5*time.Second)
	uiRun(t, guest, "open the video", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#g-grid li:nth-child(%d) button.open`, videoIdx+1))))
	uiWait(t, guest, "video metadata", `document.querySelector('#g-video').readyState >= 1 && document.querySelector('#g-video').duration > 2`, 20*time.Second)
	seeked := uiEval[float64](t, guest, `new Promise(res => { const v = document.querySelector('#g-video'); v.addEventListener('seeked', () => res(v.currentTime), {once: true}); v.currentTime = 2; })`)
	if seeked < 1.9 {
		t.Errorf("the video seeked to %.2f s, want 2", seeked)
	}
	// Bulk delete asks first.
	last := ps[len(ps)-1].ID
	uiRun(t, admin, "back to the desktop", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+eventPath), chromedp.WaitVisible(chromedp.CSS("#grid li")))
	uiWait(t, admin, "the grid", `document.querySelectorAll('#grid li').length === 10`, 15*time.Second)
	uiRun(t, admin, "select a photo to delete", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#grid li[data-id="%d"]`, last))),
		chromedp.Click(chromedp.CSS(`#bulk button[data-bulk="delete"]`)))
	uiWait(t, admin, "the confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-text').textContent.includes('Delete 1 photo?')`, 5*time.Second)
	uiRun(t, admin, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, admin, "the photo gone", fmt.Sprintf(`document.querySelectorAll('#grid li').length === 9 && !document.querySelector('#grid li[data-id="%d"]')`, last), 10*time.Second)
	if n := len(listPhotos()); n != 9 {
		t.Errorf("after deleting one photo the event holds %d, want 9", n)
	}
	t.Logf("screenshots in %s; the whole browser test took %s", shots.dir, time.Since(start).Round(time.Second))
}

func ptrTo[T any](v T) *T { return &v }

// adminToken makes an API token with the CLI, for checks of the server's state.
func adminToken(t *testing.T, data string) string {
	t.Helper()
	return cli(t, data, "", "token", "create", "--name", "check", "--scopes", "admin")
}

// darkMode emulates prefers-color-scheme.
func darkMode(on bool) chromedp.Action[chromedp.Void] {
	v := "light"
	if on {
		v = "dark"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return err
	})
}

// TestUISetupSettingsAndEventLifecycle covers the first-run setup page, webhooks
// (create, test delivery, redeliver), token revocation, and archiving and deleting an
// event from the events list.
func TestUISetupSettingsAndEventLifecycle(t *testing.T) {
	var mu sync.Mutex
	var hooks []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, r.Header.Get("webhook-id")+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	data := t.TempDir()
	srv := startServer(t, data, "GALLERIST_WEBHOOK_ALLOWED_HOSTS=127.0.0.1")
	base := srv.URL
	axe := uiAxe(t)
	shots := newUIShots(t)
	tab := uiTab(t, uiBrowser(t), 1280, 900, false)

	// A new server asks for the first account.
	uiRun(t, tab, "open the server", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#auth-form")))
	if p := uiEval[string](t, tab, `location.pathname + ' ' + document.querySelector('#auth-form').dataset.mode`); p != "/setup setup" {
		t.Fatalf("a new server opened %q, want the setup form", p)
	}
	shots.take(t, tab, "setup", false)
	uiCheckA11y(t, tab, axe, "setup")
	uiRun(t, tab, "too short a password", chromedp.SendKeys(chromedp.CSS("#email"), uiEmail), chromedp.SendKeys(chromedp.CSS("#password"), "short"),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")))
	uiWait(t, tab, "the rule", `document.querySelector('#auth-error').textContent.includes('8 characters')`, 5*time.Second)
	uiRun(t, tab, "create the account", uiSet("#password", uiPassword), chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")))
	uiWait(t, tab, "the events page", `location.pathname === '/admin' && document.querySelector('#new-event')`, 15*time.Second)
	if resp, _ := request(t, "GET", base+"/setup", "", nil, ""); resp.Request.URL.Path != "/login" {
		t.Errorf("/setup after the first account went to %s, want /login", resp.Request.URL.Path)
	}

	// Webhooks: add one, send a test, see the delivery, send it again.
	uiRun(t, tab, "open settings", chromedp.Navigate(base+"/admin/settings"), chromedp.WaitVisible(chromedp.CSS("#w-url")))
	uiRun(t, tab, "add a webhook", chromedp.SendKeys(chromedp.CSS("#w-url"), receiver.URL+"/hook"),
		chromedp.Click(chromedp.CSS("#webhook-form button[type=submit]")))
	uiWait(t, tab, "the secret, shown once", `document.querySelector('#new-secret code')?.textContent.startsWith('whsec_')`, 10*time.Second)
	uiWait(t, tab, "the receiver", `[...document.querySelectorAll('#webhooks button')].some(b => b.textContent === 'Send test')`, 10*time.Second)
	uiRun(t, tab, "send a test", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#webhooks button')].find(b => b.textContent === 'Send test').click()`))
	ngxWaitFor(t, 20*time.Second, "the test announcement", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) == 1 && strings.Contains(hooks[0], "webhook.test")
	})
	deliveries := `[...document.querySelectorAll('#webhooks button')].find(b => b.textContent === 'Deliveries')`
	for i := 0; ; i++ { // the delivery is marked succeeded just after the receiver answers
		uiRun(t, tab, "show deliveries", chromedp.Evaluate[chromedp.Void](deliveries+`.click()`))
		ok := uiEval[bool](t, tab, `new Promise(r => setTimeout(() => r(document.querySelector('#webhooks table')?.textContent.includes('succeeded') || false), 500))`)
		if ok {
			break
		}
		if i == 20 {
			t.Fatal("the delivery never showed as succeeded")
		}
		uiRun(t, tab, "hide deliveries", chromedp.Evaluate[chromedp.Void](deliveries+`.getAttribute('aria-expanded') === 'true' && `+deliveries+`.click()`))
	}
	shots.take(t, tab, "webhooks", false)
	uiCheckA11y(t, tab, axe, "settings with webhooks")
	uiRun(t, tab, "redeliver", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#webhooks button')].find(b => b.textContent === 'Redeliver').click()`))
	ngxWaitFor(t, 20*time.Second, "the redelivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooks) == 2 && strings.Fields(hooks[0])[0] == strings.Fields(hooks[1])[0]
	})

	// A token is revoked after a confirmation.
	uiRun(t, tab, "create a token", chromedp.SendKeys(chromedp.CSS("#t-name"), "lightroom"),
		chromedp.Click(chromedp.CSS(`input[name=scopes][value="photos.read"]`)), chromedp.Click(chromedp.CSS("#token-form button[type=submit]")))
	uiWait(t, tab, "the token", `document.querySelector('#token-secret')`, 10*time.Second)
	token := uiEval[string](t, tab, `document.querySelector('#token-secret').textContent`)
	if resp, _ := request(t, "GET", base+"/api/v1/events", token, nil, ""); resp.StatusCode != 403 {
		t.Errorf("a photos.read token listing events: %d, want 403 (its scope is only photos.read)", resp.StatusCode)
	}
	uiRun(t, tab, "revoke it", chromedp.Click(chromedp.CSS(`button[aria-label="Revoke lightroom"]`)))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "the revoked state", `document.querySelector('#tokens tbody').textContent.includes('revoked')`, 10*time.Second)
	if resp, body := request(t, "GET", base+"/api/v1/events/1/photos", token, nil, ""); resp.StatusCode != 401 || !strings.Contains(string(body), "token_revoked") {
		t.Errorf("the revoked token: %d %s", resp.StatusCode, body)
	}

	// Edit an event's settings.
	uiRun(t, tab, "new event", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS("#new-event")),
		chromedp.Click(chromedp.CSS("#new-event")), chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Gala"), chromedp.Click(chromedp.CSS("#create-submit")))
	uiWait(t, tab, "the event page", `location.pathname.startsWith('/admin/events/')`, 10*time.Second)
	galaPath := uiEval[string](t, tab, `location.pathname`)
	uiRun(t, tab, "edit it", chromedp.Navigate(base+galaPath+"/edit"), chromedp.WaitVisible(chromedp.CSS("#edit-form")),
		chromedp.SendKeys(chromedp.CSS("#f-cap"), "300"), uiSet("#f-protection", "enhanced"), uiSet("#f-expires", "2030-01-31"),
		chromedp.Click(chromedp.CSS(`input[name=allow_downloads]`)), chromedp.Click(chromedp.CSS("#edit-form button[type=submit]")))
	uiWait(t, tab, "back on the event page", `location.pathname === '`+galaPath+`'`, 10*time.Second)
	_, body := request(t, "GET", base+"/api/v1/events/"+strings.TrimPrefix(galaPath, "/admin/events/"), adminToken(t, data), nil, "")
	var gala struct {
		PhotoCap        *int    `json:"photo_cap"`
		ProtectionLevel string  `json:"protection_level"`
		AllowDownloads  bool    `json:"allow_downloads"`
		ExpiresAt       *string `json:"expires_at"`
	}
	_ = json.Unmarshal(body, &gala)
	if gala.PhotoCap == nil || *gala.PhotoCap != 300 || gala.ProtectionLevel != "enhanced" || gala.AllowDownloads || gala.ExpiresAt == nil || !strings.HasPrefix(*gala.ExpiresAt, "2030-01-31") {
		t.Errorf("after the edit: %s", body)
	}

	// Drop a folder on the upload area: its files, in its subfolders too, are uploaded.
	folder := filepath.Join(t.TempDir(), "Gala")
	if err := os.MkdirAll(filepath.Join(folder, "Dinner"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{"Gala/IMG_1.jpg", "Gala/Dinner/IMG_2.jpg", "Gala/.DS_Store"} {
		if err := os.WriteFile(filepath.Join(filepath.Dir(folder), p), mediatest.JPEG(900, 600, int64(500+i), nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x := uiEval[float64](t, tab, `(r => r.x + r.width / 2)(document.querySelector('#drop').getBoundingClientRect())`)
	y := uiEval[float64](t, tab, `(r => r.y + r.height / 2)(document.querySelector('#drop').getBoundingClientRect())`)
	drag := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{folder}, DragOperationsMask: 1}
	uiRun(t, tab, "drop the folder", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
			if _, err := chromedp.Call(ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: x, Y: y, Data: drag}); err != nil {
				return err
			}
		}
		return nil
	}))
	uiWait(t, tab, "the dropped folder uploaded", `document.querySelector('#up-summary').textContent.includes('100%') && document.querySelectorAll('#grid li').length === 2`, 30*time.Second)
	if names := uiEval[[]string](t, tab, `[...document.querySelectorAll('#up-files li')].map(li => li.dataset.name).sort()`); strings.Join(names, ",") != "Gala/Dinner/IMG_2.jpg,Gala/IMG_1.jpg" {
		t.Errorf("files of the dropped folder: %v, want Gala/Dinner/IMG_2.jpg and Gala/IMG_1.jpg (hidden files left out)", names)
	}

	// Two events: archive one, delete the other.
	for _, name := range []string{"Spring Fair", "School Photos"} {
		uiRun(t, tab, "new event "+name, chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS("#new-event")),
			chromedp.Click(chromedp.CSS("#new-event")), chromedp.WaitVisible(chromedp.CSS("#f-name")),
			chromedp.SendKeys(chromedp.CSS("#f-name"), name), chromedp.Click(chromedp.CSS("#create-submit")))
		uiWait(t, tab, "the event page", `location.pathname.startsWith('/admin/events/')`, 10*time.Second)
	}
	uiRun(t, tab, "the events list", chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.CSS(".event-card")))
	card := func(name string) string {
		return `[...document.querySelectorAll('.event-card')].find(c => c.querySelector('h2').textContent === '` + name + `')`
	}
	uiRun(t, tab, "archive", chromedp.Evaluate[chromedp.Void](card("Spring Fair")+`.querySelector('[data-act="archive"]').click()`))
	uiWait(t, tab, "the archived card gone", `!`+card("Spring Fair"), 10*time.Second)
	uiRun(t, tab, "delete", chromedp.Evaluate[chromedp.Void](card("School Photos")+`.querySelector('[data-act="delete"]').click()`))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-text').textContent.includes('School Photos')`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "the deleted card gone", `!`+card("School Photos"), 10*time.Second)
	uiRun(t, tab, "the archive", chromedp.Navigate(base+"/admin?archived=1"), chromedp.WaitVisible(chromedp.CSS(".event-card")))
	if names := uiEval[[]string](t, tab, `[...document.querySelectorAll('.event-card h2')].map(h => h.textContent)`); len(names) != 1 || names[0] != "Spring Fair" {
		t.Errorf("archived events: %v, want [Spring Fair]", names)
	}
	if resp, _ := request(t, "GET", base+"/g/school-photos", "", nil, ""); resp.StatusCode != 401 {
		t.Errorf("the deleted event's guest page: %d, want 401 (unknown galleries look like closed ones)", resp.StatusCode)
	}
	// Sign out.
	uiRun(t, tab, "sign out", chromedp.Click(chromedp.CSS("#logout")))
	uiWait(t, tab, "the sign-in page", `location.pathname === '/login'`, 10*time.Second)

	// A crafted next= never leads off the site after signing in (/\host is another origin
	// to a browser).
	uiRun(t, tab, "open a crafted sign-in link", chromedp.Navigate(base+"/login?next=/%5Cevil.example/login"),
		chromedp.WaitVisible(chromedp.CSS("#auth-form")))
	uiRun(t, tab, "sign in from it", chromedp.SendKeys(chromedp.CSS("#email"), uiEmail), chromedp.SendKeys(chromedp.CSS("#password"), uiPassword),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")))
	uiWait(t, tab, "the events page, not another site", `location.origin === '`+base+`' && location.pathname === '/admin'`, 15*time.Second)
}
