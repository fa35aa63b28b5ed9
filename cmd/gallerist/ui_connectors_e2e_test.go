package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gallerist/gallerist/media/mediatest"
	"github.com/gallerist/gallerist/server/connector/connectorfake"
)

// TestUIConnectors walks the connectors through the browser: a BuildPass connector added
// in Settings (its endpoint pointed at the fake under Advanced) and tested, an event
// linked to it on its page, a sync watched to its end, deleting a connector in use,
// archiving on the platform, and unlinking. The client secret never comes back into the
// page, and axe-core checks the settings page, the connector form and the event page
// with the panel open.
func TestUIConnectors(t *testing.T) {
	start := time.Now()
	const (
		clientID     = "bp-ui-client"
		clientSecret = "bp-ui-secret-7c1d9e53a4"
		key          = "3b6f0c1d2e4a59687f1e0d2c3b4a59687f1e0d2c3b4a59687f1e0d2c3b4a5968"
		nPhotos      = 4
	)
	fake := connectorfake.NewBuildPass(t, connectorfake.BuildPassOptions{ClientID: clientID, ClientSecret: clientSecret, RateLimit: -1})
	data := t.TempDir()
	srv := startServer(t, data, "GALLERIST_CONNECTOR_KEY="+key)
	base := srv.URL
	cli(t, data, uiPassword+"\n", "admin", "create", "--email", uiEmail, "--password-stdin")
	token := adminToken(t, data)
	call := func(method, path, body string) []byte {
		t.Helper()
		resp, b := request(t, method, base+path, token, strings.NewReader(body), "")
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}

	// The event and its photos come through the API, to save time.
	var ev struct{ ID int64 }
	_ = json.Unmarshal(call("POST", "/api/v1/events", `{"name":"Level 3 pour","date":"2026-05-12"}`), &ev)
	files := map[string][]byte{}
	for i := range nPhotos {
		files[fmt.Sprintf("pour-%d.jpg", i+1)] = mediatest.JPEG(900, 600, int64(300+i), nil)
	}
	body, ct := multipartBody(files)
	if resp, b := request(t, "POST", fmt.Sprintf("%s/api/v1/events/%d/photos", base, ev.ID), token, body, ct); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	eventPath := fmt.Sprintf("/admin/events/%d", ev.ID)

	axe := uiAxe(t)
	shots := newUIShots(t)
	tab := uiTab(t, uiBrowser(t), 1280, 900, false)
	uiRun(t, tab, "sign in", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#auth-form")),
		chromedp.SendKeys(chromedp.CSS("#email"), uiEmail), chromedp.SendKeys(chromedp.CSS("#password"), uiPassword),
		chromedp.Click(chromedp.CSS("#auth-form button[type=submit]")))
	uiWait(t, tab, "the events page", `location.pathname === '/admin' && document.querySelector('#new-event')`, 15*time.Second)

	// noSecret fails when the client secret is anywhere in the page or its fields.
	noSecret := func(when string) {
		t.Helper()
		html, err := chromedp.Run(tab, chromedp.OuterHTML(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("outer HTML: %v", err)
		}
		if strings.Contains(html, clientSecret) {
			t.Errorf("%s: the client secret is in the page's HTML", when)
		}
		if uiEval[bool](t, tab, `[...document.querySelectorAll('input, textarea')].some(i => i.value.includes(`+jsString(clientSecret)+`))`) {
			t.Errorf("%s: a form field still holds the client secret", when)
		}
	}

	// Settings: add a BuildPass connector through the form.
	uiRun(t, tab, "open settings", chromedp.Navigate(base+"/admin/settings"), chromedp.WaitVisible(chromedp.CSS("#add-connector")))
	uiWait(t, tab, "the empty list", `document.querySelector('#connectors').textContent.includes('No connectors yet')`, 10*time.Second)
	uiRun(t, tab, "open the connector form", chromedp.Click(chromedp.CSS("#add-connector")), chromedp.WaitVisible(chromedp.CSS("#c-builder_id")))
	if p := uiEval[string](t, tab, `document.querySelector('#c-platform').value`); p != "buildpass" {
		t.Errorf("the form starts on platform %q, want buildpass", p)
	}
	// Each platform shows its own fields.
	uiRun(t, tab, "look at Procore", uiSet("#c-platform", "procore"))
	uiWait(t, tab, "Procore's fields", `document.querySelector('#c-company_id') && document.querySelector('#c-refresh_token') && !document.querySelector('#c-builder_id')`, 5*time.Second)
	uiRun(t, tab, "look at Brilliant Directories", uiSet("#c-platform", "brilliant_directories"))
	uiWait(t, tab, "BD's fields", `document.querySelector('#c-site_url') && document.querySelector('#c-api_key') && document.querySelector('#c-publish_after_verify')`, 5*time.Second)
	uiRun(t, tab, "back to BuildPass", uiSet("#c-platform", "buildpass"))
	uiWait(t, tab, "BuildPass's fields", `document.querySelector('#c-builder_id') && document.querySelector('#c-client_secret').type === 'password'`, 5*time.Second)
	// Every field has a label.
	if n := uiEval[[]string](t, tab, `[...document.querySelectorAll('#connector-form input, #connector-form select')].filter(i => !i.labels || !i.labels.length).map(i => i.id)`); len(n) != 0 {
		t.Errorf("form fields without a label: %v", n)
	}
	uiRun(t, tab, "fill in the form",
		chromedp.SendKeys(chromedp.CSS("#c-name"), "Site BuildPass"),
		chromedp.SendKeys(chromedp.CSS("#c-builder_id"), "buil_test"),
		chromedp.SendKeys(chromedp.CSS("#c-project_id"), "proj_test"),
		chromedp.SendKeys(chromedp.CSS("#c-client_id"), clientID),
		chromedp.SendKeys(chromedp.CSS("#c-client_secret"), clientSecret),
		chromedp.Click(chromedp.CSS("details.advanced > summary")), chromedp.WaitVisible(chromedp.CSS("#c-api_url")),
		chromedp.SendKeys(chromedp.CSS("#c-api_url"), fake.URL))
	shots.take(t, tab, "connector-form", false)
	uiCheckA11y(t, tab, axe, "settings: the connector form")
	uiRun(t, tab, "save", chromedp.Click(chromedp.CSS("#c-submit")))
	uiWait(t, tab, "the connector in the list", `!document.querySelector('#connector-dialog').open && document.querySelector('#connectors tr[data-id]')?.textContent.includes('Site BuildPass')`, 10*time.Second)
	row := `document.querySelector('#connectors tr[data-id]')`
	if txt := uiEval[string](t, tab, row+`.textContent`); !strings.Contains(txt, "client_id, client_secret") || !strings.Contains(txt, "buil_test") {
		t.Errorf("the connector's row %q, want its destination and the stored credentials' names", txt)
	}
	noSecret("after saving the connector")

	// Test asks BuildPass and shows its answer.
	uiRun(t, tab, "test", chromedp.Click(chromedp.CSS(`#connectors tr[data-id] [data-act="test"]`)))
	uiWait(t, tab, "the test's OK", row+`.querySelector('.test-result.ok')?.textContent.includes('Test: OK')`, 30*time.Second)
	if txt := uiEval[string](t, tab, row+`.querySelector('.test-result').textContent`); !strings.Contains(txt, "the credentials work") {
		t.Errorf("test result %q, want the platform's message", txt)
	}
	shots.take(t, tab, "settings-connectors", false)
	uiCheckA11y(t, tab, axe, "settings with a connector")

	// Edit: the secrets are never filled in; the form says which are stored.
	uiRun(t, tab, "edit", chromedp.Click(chromedp.CSS(`#connectors tr[data-id] [data-act="edit"]`)), chromedp.WaitVisible(chromedp.CSS("#c-builder_id")))
	got := uiEval[map[string]any](t, tab, `({platform: document.querySelector('#c-platform').value, disabled: document.querySelector('#c-platform').disabled,
		builder: document.querySelector('#c-builder_id').value, api: document.querySelector('#c-api_url').value,
		id: document.querySelector('#c-client_id').value, secret: document.querySelector('#c-client_secret').value,
		note: document.querySelector('#c-cred-note').textContent, hint: document.querySelector('#c-client_secret-hint').textContent})`)
	if got["platform"] != "buildpass" || got["disabled"] != true || got["builder"] != "buil_test" || got["api"] != fake.URL ||
		got["id"] != "" || got["secret"] != "" || !strings.Contains(got["note"].(string), "client_id, client_secret") || !strings.Contains(got["hint"].(string), "Stored") {
		t.Errorf("the edit form: %v", got)
	}
	uiRun(t, tab, "rename", uiSet("#c-name", "Riverside BuildPass"), chromedp.Click(chromedp.CSS("#c-submit")))
	uiWait(t, tab, "the new name", `!document.querySelector('#connector-dialog').open && `+row+`.textContent.includes('Riverside BuildPass')`, 10*time.Second)
	var conns struct {
		Items []struct {
			ID             int64
			Name           string
			CredentialsSet []string `json:"credentials_set"`
			Config         map[string]any
		}
	}
	_ = json.Unmarshal(call("GET", "/api/v1/connectors", ""), &conns)
	if len(conns.Items) != 1 || conns.Items[0].Name != "Riverside BuildPass" || len(conns.Items[0].CredentialsSet) != 2 || conns.Items[0].Config["api_url"] != fake.URL {
		t.Fatalf("connectors after the edit: %+v", conns.Items)
	}
	connID := conns.Items[0].ID
	noSecret("after editing the connector")

	// The event page: link, sync, watch the sync end.
	uiRun(t, tab, "open the event", chromedp.Navigate(base+eventPath), chromedp.WaitVisible(chromedp.CSS("#connectors-panel")))
	uiWait(t, tab, "the grid", fmt.Sprintf(`document.querySelectorAll('#grid li').length === %d`, nPhotos), 15*time.Second)
	if uiEval[string](t, tab, `document.querySelector('#conn-toggle').getAttribute('aria-expanded')`) != "false" {
		t.Error("the panel of an event without links starts open; want it closed")
	}
	uiRun(t, tab, "open the panel", chromedp.Click(chromedp.CSS("#conn-toggle")), chromedp.WaitVisible(chromedp.CSS("#link-connector")))
	uiRun(t, tab, "link", uiSet("#link-connector", fmt.Sprint(connID)), chromedp.Click(chromedp.CSS("#link-submit")))
	uiWait(t, tab, "the link", `document.querySelector('#conn-links li.link-item .badge')?.textContent === 'active'`, 10*time.Second)
	if f := uiEval[string](t, tab, `document.activeElement.dataset.act || ''`); f != "sync" {
		t.Errorf("after linking the focus is on %q, want the new link's Sync now", f)
	}
	uiRun(t, tab, "sync now", chromedp.Click(chromedp.CSS(`#conn-links [data-act="sync"]`)))
	uiWait(t, tab, "the sync row", `document.querySelector('#syncs tbody tr')`, 10*time.Second)
	uiWait(t, tab, "the sync to succeed", `document.querySelector('#syncs tbody tr')?.dataset.status === 'succeeded'`, 60*time.Second)
	uiWait(t, tab, "the announcement", `[...document.querySelectorAll('.toast')].some(t => t.textContent.includes('succeeded'))`, 5*time.Second)
	uiWait(t, tab, "the link's last sync", `document.querySelector('#conn-links li.link-item').textContent.includes('last synced')`, 10*time.Second)
	if added := uiEval[string](t, tab, `document.querySelector('#syncs tbody tr [data-count="added"]').textContent`); added != fmt.Sprint(nPhotos) {
		t.Errorf("the sync row says %s added, want %d", added, nPhotos)
	}
	if n := len(fake.Photos()); n != nPhotos {
		t.Errorf("BuildPass holds %d photos, want %d", n, nPhotos)
	}

	// A photo hidden in Gallerist stays on BuildPass (it has no per-photo delete): the
	// next sync says so in its warnings.
	var photos struct {
		Items []struct {
			ID       int64
			Filename string
		}
	}
	_ = json.Unmarshal(call("GET", fmt.Sprintf("/api/v1/events/%d/photos?sort=position_asc", ev.ID), ""), &photos)
	if len(photos.Items) != nPhotos {
		t.Fatalf("the event holds %d photos, want %d", len(photos.Items), nPhotos)
	}
	call("PATCH", fmt.Sprintf("/api/v1/photos/%d", photos.Items[0].ID), `{"is_hidden":true}`)
	uiRun(t, tab, "sync after hiding a photo", chromedp.Click(chromedp.CSS(`#conn-links [data-act="sync"]`)))
	uiWait(t, tab, "the second sync to succeed", `document.querySelectorAll('#syncs tbody tr').length === 2 && document.querySelector('#syncs tbody tr').dataset.status === 'succeeded'`, 60*time.Second)
	if txt := uiEval[string](t, tab, `document.querySelector('#syncs tbody tr .details').textContent`); !strings.Contains(txt, "Warning:") {
		t.Errorf("the sync after hiding a photo shows %q, want BuildPass's warning", txt)
	}

	// A platform that refuses the app stops the link; the panel shows why, and a sync
	// that works again clears it.
	fake.AddFault(connectorfake.Fault{Action: "status", Status: 403, Body: `{"error":{"message":"This app has no access to project proj_test"}}`,
		Match: func(r *http.Request, _ []byte) bool { return r.URL.Path != "/oauth/token" }})
	uiRun(t, tab, "sync into a refusal", chromedp.Click(chromedp.CSS(`#conn-links [data-act="sync"]`)))
	uiWait(t, tab, "the link in error", `document.querySelector('#conn-links li.link-item .badge')?.textContent === 'error' && document.querySelector('#conn-links .last-error')?.textContent.length > 0`, 60*time.Second)
	uiWait(t, tab, "the failed sync", `document.querySelector('#syncs tbody tr').dataset.status === 'failed'`, 10*time.Second)
	lastErr := uiEval[string](t, tab, `document.querySelector('#conn-links .last-error').textContent`)
	if !strings.Contains(lastErr, "403") && !strings.Contains(lastErr, "no access") {
		t.Errorf("the link's error %q, want the platform's refusal", lastErr)
	}
	uiRun(t, tab, "the panel in view", clearToasts, chromedp.Evaluate[chromedp.Void](`document.querySelector('#connectors-panel').scrollIntoView({block: 'start'})`))
	shots.take(t, tab, "connectors-error", false)
	fake.ClearFaults()
	uiRun(t, tab, "sync again", chromedp.Click(chromedp.CSS(`#conn-links [data-act="sync"]`)))
	uiWait(t, tab, "the link active again", `document.querySelector('#conn-links li.link-item .badge')?.textContent === 'active' && !document.querySelector('#conn-links .last-error')`, 60*time.Second)
	uiWait(t, tab, "the fourth sync", `document.querySelectorAll('#syncs tbody tr').length === 4 && document.querySelector('#syncs tbody tr').dataset.status === 'succeeded'`, 10*time.Second)

	// Auto-sync is a checkbox on the link.
	uiRun(t, tab, "auto-sync on", chromedp.Click(chromedp.CSS(`#conn-links [data-act="auto"]`)))
	var links struct {
		Items []struct {
			ID       int64
			AutoSync bool `json:"auto_sync"`
			State    string
		}
	}
	ngxWaitFor(t, 10*time.Second, "auto_sync saved", func() bool {
		_ = json.Unmarshal(call("GET", fmt.Sprintf("/api/v1/events/%d/connectors", ev.ID), ""), &links)
		return len(links.Items) == 1 && links.Items[0].AutoSync
	})
	uiWait(t, tab, "the auto-sync toast", `[...document.querySelectorAll('.toast')].some(t => t.textContent.includes('syncs by itself'))`, 10*time.Second)
	uiRun(t, tab, "the panel in view", clearToasts, chromedp.Evaluate[chromedp.Void](`document.querySelector('#connectors-panel').scrollIntoView({block: 'start'})`))
	shots.take(t, tab, "connectors", true)
	uiCheckA11y(t, tab, axe, "event page with the connectors panel")
	uiRun(t, tab, "dark mode", darkMode(true))
	shots.take(t, tab, "connectors-dark", false)
	uiCheckA11y(t, tab, axe, "event page with the connectors panel (dark)")
	uiRun(t, tab, "light mode", darkMode(false))
	noSecret("on the event page")

	// A phone: the panel fits 360 px.
	uiRun(t, tab, "a 360 px screen", chromedp.EmulateViewport(360, 780))
	if w := uiEval[int](t, tab, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the event page with the connectors panel is %d px wide on a 360 px screen", w)
	}
	uiRun(t, tab, "the panel in view", clearToasts, chromedp.Evaluate[chromedp.Void](`document.querySelector('#connectors-panel').scrollIntoView({block: 'start'})`))
	shots.take(t, tab, "connectors-360", false)

	// A connector in use cannot be deleted; the page says why.
	uiRun(t, tab, "settings on the phone", chromedp.Navigate(base+"/admin/settings"), chromedp.WaitVisible(chromedp.CSS(`#connectors tr[data-id] [data-act="delete"]`)))
	if w := uiEval[int](t, tab, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the settings page is %d px wide on a 360 px screen", w)
	}
	uiRun(t, tab, "delete", chromedp.Click(chromedp.CSS(`#connectors tr[data-id] [data-act="delete"]`)))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "the in-use message", `document.querySelector('#connector-error').textContent.includes('still linked to events')`, 10*time.Second)
	uiRun(t, tab, "the message in view", clearToasts, chromedp.ScrollIntoView(chromedp.CSS("#connector-error")))
	shots.take(t, tab, "connector-in-use-360", false)
	uiRun(t, tab, "back to the desktop", chromedp.EmulateViewport(1280, 900))

	// Archive on the platform: BuildPass loses the photos, the link is archived.
	uiRun(t, tab, "the event again", chromedp.Navigate(base+eventPath), chromedp.WaitVisible(chromedp.CSS(`#conn-links [data-act="archive"]`)))
	uiRun(t, tab, "archive", chromedp.Click(chromedp.CSS(`#conn-links [data-act="archive"]`)))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-text').textContent.includes('Level 3 pour')`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "the link archived", `document.querySelector('#conn-links li.link-item .badge')?.textContent === 'archived'`, 60*time.Second)
	uiWait(t, tab, "the archive row", `document.querySelector('#syncs tbody tr')?.dataset.status === 'succeeded' && document.querySelector('#syncs tbody tr').textContent.includes('Archive')`, 10*time.Second)
	if n := len(fake.Photos()); n != 0 {
		t.Errorf("after archiving BuildPass still holds %d live photos", n)
	}
	uiRun(t, tab, "unlink the archived link", chromedp.Click(chromedp.CSS(`#conn-links [data-act="unlink"]`)))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "no links", `!document.querySelector('#conn-links li') && !document.querySelector('#link-form').hidden`, 10*time.Second)

	// Link again, sync, then unlink keeping the photos on the platform.
	uiRun(t, tab, "link again", chromedp.Click(chromedp.CSS("#link-submit")))
	uiWait(t, tab, "the link", `document.querySelector('#conn-links li.link-item .badge')?.textContent === 'active'`, 10*time.Second)
	// BuildPass refuses one photo of this sync: the sync is partial and names it.
	var linkSource string
	if err := whOpenDB(t, data).QueryRow(`SELECT external_source_id FROM connector_links WHERE event_id = ? AND state = 'active'`, ev.ID).Scan(&linkSource); err != nil {
		t.Fatalf("the new link's source id: %v", err)
	}
	refused := photos.Items[1].ID
	fake.FailPhoto(fmt.Sprintf("%s:photo:%d", linkSource, refused))
	uiRun(t, tab, "sync again", chromedp.Click(chromedp.CSS(`#conn-links [data-act="sync"]`)))
	uiWait(t, tab, "the partial sync", `(r => r && r.dataset.status === 'partial' && !r.textContent.includes('Archive'))(document.querySelector('#syncs tbody tr'))`, 60*time.Second)
	failure := uiEval[string](t, tab, `document.querySelector('#syncs tbody tr .failures')?.textContent || ''`)
	if !strings.Contains(failure, "1 photo failed") || !strings.Contains(failure, fmt.Sprintf("Photo %d (%s)", refused, photos.Items[1].Filename)) {
		t.Errorf("the partial sync's failures: %q, want photo %d with its file name and reason", failure, refused)
	}
	if got := uiEval[string](t, tab, `document.querySelector('#syncs tbody tr [data-count="failed"]').textContent`); got != "1" {
		t.Errorf("the partial sync counts %s failed, want 1", got)
	}
	uiRun(t, tab, "the panel in view", clearToasts, chromedp.Evaluate[chromedp.Void](`document.querySelector('#connectors-panel').scrollIntoView({block: 'start'})`))
	shots.take(t, tab, "connectors-partial", false)
	if n := len(fake.Photos()); n != nPhotos-2 {
		t.Errorf("after the partial sync BuildPass holds %d photos, want %d (the visible ones but the refused one)", n, nPhotos-2)
	}
	uiRun(t, tab, "unlink", chromedp.Click(chromedp.CSS(`#conn-links [data-act="unlink"]`)))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open && document.querySelector('#confirm-text').textContent.includes('stay there')`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "no links", `!document.querySelector('#conn-links li')`, 10*time.Second)
	_ = json.Unmarshal(call("GET", fmt.Sprintf("/api/v1/events/%d/connectors", ev.ID), ""), &links)
	if len(links.Items) != 0 {
		t.Errorf("after unlinking the event still has links: %+v", links.Items)
	}
	if n := len(fake.Photos()); n != nPhotos-2 {
		t.Errorf("after unlinking with keep_remote BuildPass holds %d photos, want %d", n, nPhotos-2)
	}

	// Unused now, the connector can be deleted.
	uiRun(t, tab, "settings", chromedp.Navigate(base+"/admin/settings"), chromedp.WaitVisible(chromedp.CSS(`#connectors tr[data-id] [data-act="delete"]`)))
	uiRun(t, tab, "delete", chromedp.Click(chromedp.CSS(`#connectors tr[data-id] [data-act="delete"]`)))
	uiWait(t, tab, "the confirmation", `document.querySelector('#confirm').open`, 5*time.Second)
	uiRun(t, tab, "confirm", chromedp.Click(chromedp.CSS("#confirm-ok")))
	uiWait(t, tab, "the empty list", `document.querySelector('#connectors').textContent.includes('No connectors yet') && !document.querySelector('#connector-error').textContent`, 10*time.Second)
	if strings.Contains(srv.stderr.String(), clientSecret) {
		t.Error("the client secret is in the server's log")
	}
	t.Logf("screenshots in %s; the connectors browser test took %s", shots.dir, time.Since(start).Round(time.Second))
}

// clearToasts removes the page's toasts, so that a screenshot shows what is under them.
var clearToasts = chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.toast').forEach(t => t.remove())`)

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
