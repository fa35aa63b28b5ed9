package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/web"
)

// The browser UI: server-rendered pages (web/templates) whose JavaScript modules call the
// JSON API. Pages are not part of the API table or openapi.json.

// pageCSP keeps pages to their own origin: no inline script, no third-party anything.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// firstGalleryPage is how many photos the guest page carries in its HTML, so the first
// screen of thumbnails needs no API round trip.
const firstGalleryPage = 60

// pageSet holds the parsed templates and the static files' hashes.
type pageSet struct {
	pages  map[string]*template.Template
	hashes map[string]string
	static fs.FS
}

// pageData is what every template gets.
type pageData struct {
	Title     string
	BodyClass string
	Nav       string
	CSRF      string
	Admin     *storage.Admin
	Data      any // JSON for the page's script, in <script type="application/json" id="page-data">

	Setup         bool
	Archived      bool
	Events        []eventCard
	Pager         pager
	Event         *EventResponse
	Categories    []CategoryResponse
	Scopes        []Scope
	WebhookEvents []string
	Gallery       *GalleryResponse
	Slug          string
	Closed        string
}

// eventCard is an event in the list, with its cover thumbnail.
type eventCard struct {
	EventResponse
	CoverURL string
}

// galleryPageData is the guest page's script data: the gallery and its first page.
type galleryPageData struct {
	Gallery GalleryResponse          `json:"gallery"`
	Photos  GalleryPhotoListResponse `json:"photos"`
	Admin   bool                     `json:"admin"`
}

// eventPageData is the event page's script data.
type eventPageData struct {
	Event      EventResponse      `json:"event"`
	Categories []CategoryResponse `json:"categories"`
	ChunkSize  int64              `json:"chunk_size"`
}

func loadPages() (*pageSet, error) {
	hashes, err := web.Hashes()
	if err != nil {
		return nil, err
	}
	ps := &pageSet{pages: map[string]*template.Template{}, hashes: hashes, static: web.Static()}
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			h, ok := hashes[name]
			if !ok {
				return "", fmt.Errorf("no static file %q", name)
			}
			return "/static/" + name + "?v=" + h, nil
		},
		"json": func(v any) (template.JS, error) {
			b, err := json.Marshal(v)
			if err != nil {
				return "", err
			}
			// Inside <script type="application/json">: keep "</script>" and friends out.
			s := strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(string(b))
			return template.JS(s), nil
		},
		"bytes": humanBytes,
		"date": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.UTC().Format("2006-01-02")
		},
		"seq": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i + 1
			}
			return out
		},
	}
	for _, name := range []string{"login", "events", "event", "edit", "settings", "gallery"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(web.Templates, "templates/base.html", "templates/fields.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		ps.pages[name] = t
	}
	return ps, nil
}

// humanBytes renders a size for people: 1.5 GB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// loadPageSet parses the browser UI's templates. The page routes are in the route
// table (routes.go), hidden from the OpenAPI document.
func (s *Server) loadPageSet() {
	ps, err := loadPages()
	if err != nil {
		panic(fmt.Sprintf("web templates: %v", err)) // embedded at build time; a test renders every page
	}
	s.pages = ps
}

// rootPage sends the browser to the photographer's pages.
func (s *Server) rootPage(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/admin") }

// adminEventsPage, adminEventPage, adminEditPage and adminSettingsPage are the signed-in
// photographer's pages; without a session they send the browser to /login.
func (s *Server) adminEventsPage(c echo.Context) error   { return s.adminPage(s.eventsPage)(c) }
func (s *Server) adminEventPage(c echo.Context) error    { return s.adminPage(s.eventPage)(c) }
func (s *Server) adminEditPage(c echo.Context) error     { return s.adminPage(s.editPage)(c) }
func (s *Server) adminSettingsPage(c echo.Context) error { return s.adminPage(s.settingsPage)(c) }

// render writes a page with the UI's security headers.
func (s *Server) render(c echo.Context, status int, name string, d *pageData) error {
	var buf bytes.Buffer
	if err := s.pages.pages[name].ExecuteTemplate(&buf, "base", d); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// serveStatic serves the embedded CSS, JavaScript and images. A URL with the file's
// current hash (?v=) may be cached for a year; every answer has an ETag.
func (s *Server) serveStatic(c echo.Context) error {
	name := path.Clean(c.Param("*"))
	hash, ok := s.pages.hashes[name]
	if !ok {
		return apiError("file_not_found", "no static file %q", name)
	}
	etag := `"` + hash + `"`
	h := c.Response().Header()
	h.Set("ETag", etag)
	if c.QueryParam("v") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := c.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		return c.NoContent(http.StatusNotModified)
	}
	b, err := fs.ReadFile(s.pages.static, name)
	if err != nil {
		return fmt.Errorf("read static %s: %w", name, err)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	if c.Request().Method == http.MethodHead {
		h.Set("Content-Type", ctype)
		h.Set("Content-Length", strconv.Itoa(len(b)))
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, ctype, b)
}

// adminPage runs a page handler for a signed-in photographer, and sends anyone else to
// the sign-in page (or to first-run setup while no admin exists).
func (s *Server) adminPage(h func(echo.Context, *webSession) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		ws, err := s.currentSession(c)
		if err != nil {
			return err
		}
		if ws == nil {
			n, err := s.db.CountAdmins(c.Request().Context())
			if err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			if n == 0 {
				return c.Redirect(http.StatusSeeOther, "/setup")
			}
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		return h(c, ws)
	}
}

func adminData(ws *webSession, title, nav string) *pageData {
	return &pageData{Title: title, Nav: nav, CSRF: ws.Record.CSRFToken, Admin: ws.Admin, BodyClass: "admin"}
}

func (s *Server) loginPage(c echo.Context) error {
	if ws, err := s.currentSession(c); err != nil {
		return err
	} else if ws != nil {
		return c.Redirect(http.StatusSeeOther, "/admin")
	}
	n, err := s.db.CountAdmins(c.Request().Context())
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n == 0 {
		return c.Redirect(http.StatusSeeOther, "/setup")
	}
	return s.render(c, http.StatusOK, "login", &pageData{Title: "Sign in", BodyClass: "auth"})
}

func (s *Server) setupPage(c echo.Context) error {
	n, err := s.db.CountAdmins(c.Request().Context())
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n > 0 {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return s.render(c, http.StatusOK, "login", &pageData{Title: "Set up", BodyClass: "auth", Setup: true})
}

func (s *Server) eventsPage(c echo.Context, ws *webSession) error {
	ctx := c.Request().Context()
	archived := c.QueryParam("archived") == "1"
	page, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || page < 1 || page > 100000 {
		page = 1
	}
	events, total, err := s.db.FindEvents(ctx, storage.EventFilter{IsArchived: &archived, Limit: eventsPerPage, Offset: (page - 1) * eventsPerPage})
	if err != nil {
		return err
	}
	d := adminData(ws, "Events", "events")
	d.Archived = archived
	d.Pager = newPager(page, total, eventsPerPage, archived)
	for _, e := range events {
		card := eventCard{EventResponse: s.eventResponse(c, e)}
		cover, _, err := s.db.FindPhotos(ctx, storage.PhotoFilter{EventID: e.ID, Sort: "position_asc", Limit: 1})
		if err != nil {
			return err
		}
		if len(cover) > 0 {
			card.CoverURL = thumbURL(e.Slug, cover[0])
		}
		d.Events = append(d.Events, card)
	}
	return s.render(c, http.StatusOK, "events", d)
}

// eventsPerPage is how many event cards one page of the events list shows.
const eventsPerPage = 60

// pager is the newer/older links of a paged list.
type pager struct {
	Page, Pages      int
	PrevURL, NextURL string
}

func newPager(page, total, per int, archived bool) pager {
	pg := pager{Page: page, Pages: max(1, (total+per-1)/per)}
	link := func(n int) string {
		u := "/admin?page=" + strconv.Itoa(n)
		if archived {
			u += "&archived=1"
		}
		return u
	}
	if page > 1 {
		pg.PrevURL = link(page - 1)
	}
	if page < pg.Pages {
		pg.NextURL = link(page + 1)
	}
	return pg
}

// pageEvent loads the :id event of an admin page.
func (s *Server) pageEvent(c echo.Context) (*storage.Event, []CategoryResponse, error) {
	e, err := s.findEvent(c)
	if err != nil {
		return nil, nil, err
	}
	cats, err := s.db.FindCategories(c.Request().Context(), e.ID)
	if err != nil {
		return nil, nil, err
	}
	out := []CategoryResponse{}
	for _, cat := range cats {
		out = append(out, categoryResponse(cat))
	}
	return e, out, nil
}

func (s *Server) eventPage(c echo.Context, ws *webSession) error {
	e, cats, err := s.pageEvent(c)
	if err != nil {
		return err
	}
	er := s.eventResponse(c, e)
	d := adminData(ws, e.Name, "events")
	d.Event, d.Categories = &er, cats
	d.Data = eventPageData{Event: er, Categories: cats, ChunkSize: s.cfg.ChunkSizeMB << 20}
	return s.render(c, http.StatusOK, "event", d)
}

func (s *Server) editPage(c echo.Context, ws *webSession) error {
	e, cats, err := s.pageEvent(c)
	if err != nil {
		return err
	}
	er := s.eventResponse(c, e)
	d := adminData(ws, "Edit "+e.Name, "events")
	d.Event, d.Categories = &er, cats
	d.Data = eventPageData{Event: er, Categories: cats}
	return s.render(c, http.StatusOK, "edit", d)
}

func (s *Server) settingsPage(c echo.Context, ws *webSession) error {
	d := adminData(ws, "Settings", "settings")
	d.Scopes = Scopes
	d.WebhookEvents = []string{"photo.uploaded", "photo.deleted", "event.created", "event.archived"}
	return s.render(c, http.StatusOK, "settings", d)
}

// galleryPage is a guest's gallery. A share link's ?key= is traded for the gallery's
// session cookie and dropped from the address; without a session the page asks for the
// password. The first page of photos is in the HTML.
func (s *Server) galleryPage(c echo.Context) error {
	slug := c.Param("slug")
	d := &pageData{Title: "Private gallery", BodyClass: "guest", Slug: slug}
	p, err := s.guestAccess(c)
	var apiErr *Error
	switch {
	case err == nil:
	case errors.As(err, &apiErr) && apiErr.Code == "gallery_auth_required":
		// The signed-in photographer may look at any gallery as guests see it.
		if ws, serr := s.currentSession(c); serr != nil {
			return serr
		} else if ws != nil {
			if e, ferr := s.db.FindEventBySlug(c.Request().Context(), slug); ferr == nil {
				p = &principal{Event: e, Session: ws}
				break
			}
		}
		return s.render(c, http.StatusUnauthorized, "gallery", d)
	case errors.As(err, &apiErr):
		d.Closed = apiErr.Message
		return s.render(c, apiErr.Status, "gallery", d)
	default:
		return err
	}
	e := p.Event
	if p.Guest != nil && p.Guest.GuestID == "" && c.QueryParam("key") != "" {
		// Came with the share key: give the browser a session and a clean address.
		if _, _, err := s.startGuestSession(c, e, slug); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/g/"+slug)
	}
	g, err := s.galleryResponse(c, e)
	if err != nil {
		return err
	}
	hidden := false
	f := storage.PhotoFilter{EventID: e.ID, IsHidden: &hidden, Sort: "position_asc", Limit: firstGalleryPage}
	photos, total, err := s.db.FindPhotos(c.Request().Context(), f)
	if err != nil {
		return err
	}
	list := GalleryPhotoListResponse{Items: make([]GalleryPhoto, 0, len(photos)), Total: total, Limit: f.Limit}
	for _, ph := range photos {
		list.Items = append(list.Items, galleryPhoto(e, ph))
	}
	if len(photos) == f.Limit {
		list.NextCursor = encodeCursor(f.Sort, photos[len(photos)-1])
	}
	d.Title, d.Gallery = g.Name, &g
	d.Data = galleryPageData{Gallery: g, Photos: list, Admin: p.Session != nil}
	return s.render(c, http.StatusOK, "gallery", d)
}
