package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gallerist/gallerist/server/queue"
	"github.com/gallerist/gallerist/server/webhook"
	"github.com/gallerist/gallerist/storage"
	"github.com/gallerist/gallerist/storage/blob"
)

// JobKind is the queue kind of the job that runs one sync.
const JobKind = "connector.sync"

// Item states. An item moves pending → (uploaded →) creating/verifying → synced, or to
// failed with the platform's reason; removing → removed when its photo leaves the event
// or the link is archived.
const (
	itemPending   = "pending"
	itemUploaded  = "uploaded"
	itemCreating  = "creating"
	itemVerifying = "verifying"
	itemSynced    = "synced"
	itemFailed    = "failed"
	itemRemoving  = "removing"
	itemRemoved   = "removed"
	itemRetained  = "retained" // left on a platform that cannot remove one photo
)

// Engine runs syncs: it is the queue handler of JobKind.
type Engine struct {
	DB     *storage.DB
	Blobs  *blob.Local
	Sealer *Sealer
	Log    *slog.Logger
	// Ensure makes a photo's display copy when it is missing (photos in formats the
	// platforms do not take are sent as that JPEG).
	Ensure func(ctx context.Context, p *storage.Photo) error
	// MediaURL is the public URL of a Brilliant Directories media token ("" when the
	// server has no public base URL).
	MediaURL func(token, name string) string
	// HTTP sends the platform calls; by default one with a 2-minute timeout that does
	// not follow redirects (a redirected write would turn into a GET).
	HTTP *http.Client
	// VerifyTimeout is how long Brilliant Directories may take to import a photo
	// (default 15 min); PollInterval the first wait between checks (default 5 s).
	VerifyTimeout time.Duration
	PollInterval  time.Duration
	// RateWait overrides the wait after a 429 that gives no hint (BuildPass 10 s,
	// Brilliant Directories 60 s); Backoff the first wait after a 5xx (default 1 s).
	RateWait time.Duration
	Backoff  time.Duration
	// Hook, for tests, is called after each remote write succeeds and before its result
	// is saved; an error stops the run there, as a crash would.
	Hook func(step string) error

	tokens  sync.Map // target id → *tokenSource
	clients sync.Map // target id → *client
}

// errWaiting asks the queue to run the sync again after a while (the platform is still
// working, e.g. importing photos), without counting it as a failure.
type errWaiting struct{ after time.Duration }

func (e errWaiting) Error() string { return fmt.Sprintf("waiting for the platform (%s)", e.after) }

// linkError means the link cannot work until someone changes something: credentials
// refused, destination gone, permissions missing. The sync fails and the link shows it.
type linkError struct{ err error }

func (e linkError) Error() string { return e.err.Error() }
func (e linkError) Unwrap() error { return e.err }

// fatal wraps err as a linkError.
func fatal(err error) error { return linkError{err} }

// HandleJob runs the sync named by the job's payload.
func (e *Engine) HandleJob(ctx context.Context, job *storage.Job) error {
	var p storage.ConnectorSyncJob
	if err := json.Unmarshal(job.Payload, &p); err != nil {
		return queue.Permanent(fmt.Errorf("sync job payload: %w", err))
	}
	s, err := e.DB.StartConnectorSync(ctx, p.SyncID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil // the link was deleted with its syncs
	case errors.Is(err, storage.ErrConflict):
		// Wait for the running sync without spending attempts (a sync may run for hours).
		return queue.Defer(errors.New("another sync of this link is running"), 5*time.Second)
	case err != nil:
		return err
	}
	if s.Status != storage.SyncRunning {
		return nil // finished already (a repeated job)
	}
	r, err := e.newRun(ctx, s)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		return e.finish(ctx, s, nil, err, job)
	}
	if s.Kind == "archive" {
		err = r.platform.Archive(ctx, r)
	} else {
		err = r.sync(ctx)
	}
	return e.finish(ctx, s, r, err, job)
}

// finish records the outcome of a run, or hands the job back to the queue when the run
// should go on later.
func (e *Engine) finish(ctx context.Context, s *storage.ConnectorSync, r *run, runErr error, job *storage.Job) error {
	var wait errWaiting
	var lerr linkError
	switch {
	case runErr == nil:
	case errors.As(runErr, &wait):
		return queue.Defer(runErr, wait.after)
	case errors.Is(runErr, ErrCrash):
		return runErr // tests: the process "died" here
	case errors.As(runErr, &lerr):
	case job != nil && job.Attempts < job.MaxAttempts:
		// Transient (network, 5xx, timeouts): the queue tries again with backoff; what
		// is done is recorded per item, so the next try resumes.
		e.log().Warn("connector sync will retry", "sync", s.ID, "attempt", job.Attempts, "err", runErr)
		return runErr
	}
	if r != nil {
		if err := r.counts(ctx, s); err != nil {
			return err
		}
	}
	s.Status = storage.SyncSucceeded
	switch {
	case runErr != nil:
		s.Status, s.Error = storage.SyncFailed, runErr.Error()
	case s.Failed > 0:
		s.Status = storage.SyncPartial
	}
	if r != nil {
		switch {
		case runErr == nil && s.Kind == "archive":
			_ = e.DB.SetLinkState(ctx, r.link.ID, storage.LinkArchived, "")
		case runErr != nil && errors.As(runErr, &lerr):
			_ = e.DB.SetSyncedLinkState(ctx, r.link.ID, storage.LinkError, runErr.Error())
		case runErr == nil && r.link.State == storage.LinkError:
			_ = e.DB.SetSyncedLinkState(ctx, r.link.ID, storage.LinkActive, "")
		}
	}
	if err := e.DB.FinishConnectorSync(ctx, s, e.announcement(s, r)); err != nil {
		return err
	}
	e.log().Info("connector sync finished", "sync", s.ID, "link", s.LinkID, "kind", s.Kind, "status", s.Status,
		"added", s.Added, "skipped", s.Skipped, "failed", s.Failed, "removed", s.Removed)
	return nil
}

func (e *Engine) announcement(s *storage.ConnectorSync, r *run) *storage.Announcement {
	d := webhook.SyncData{ID: s.ID, LinkID: s.LinkID, Kind: s.Kind, Status: s.Status, Added: s.Added, Skipped: s.Skipped,
		Failed: s.Failed, Removed: s.Removed, Error: s.Error, Failures: []webhook.SyncFailure{}}
	for _, f := range s.Failures {
		d.Failures = append(d.Failures, webhook.SyncFailure{PhotoID: f.PhotoID, Error: f.Error})
	}
	if r != nil {
		d.ConnectorID, d.Platform, d.EventID = r.target.ID, r.target.Platform, r.link.EventID
	} else if l, err := e.DB.FindConnectorLink(context.Background(), s.LinkID); err == nil {
		d.ConnectorID, d.EventID = l.TargetID, l.EventID
		if t, err := e.DB.FindConnectorTarget(context.Background(), l.TargetID); err == nil {
			d.Platform = t.Platform
		}
	}
	t := webhook.TypeSyncCompleted
	if s.Status == storage.SyncFailed {
		t = webhook.TypeSyncFailed
	}
	return &storage.Announcement{Type: t, Data: webhook.SyncEventData{Sync: d}}
}

func (e *Engine) log() *slog.Logger {
	if e.Log == nil {
		return slog.Default()
	}
	return e.Log
}

// platform is what each platform implements.
type platform interface {
	// Check verifies the credentials and the destination with cheap reads.
	Check(ctx context.Context) error
	// Sync makes the link's remote container hold exactly r's eligible photos.
	Sync(ctx context.Context, r *run) error
	// Archive removes from the platform what the link made.
	Archive(ctx context.Context, r *run) error
}

// Check tests a target's credentials and destination, for the API's test action.
func (e *Engine) Check(ctx context.Context, t *storage.ConnectorTarget) error {
	p, err := e.platformFor(t)
	if err != nil {
		return err
	}
	return p.Check(ctx)
}

// Forget drops what the engine caches of a target (tokens, rate state), after the
// target's settings changed or it was deleted.
func (e *Engine) Forget(targetID int64) {
	e.tokens.Delete(targetID)
	e.clients.Delete(targetID)
}

func (e *Engine) platformFor(t *storage.ConnectorTarget) (platform, error) {
	var cfg Config
	if err := json.Unmarshal(t.Config, &cfg); err != nil {
		return nil, fmt.Errorf("connector %d config: %w", t.ID, err)
	}
	cfg = WithDefaults(t.Platform, cfg)
	cred, err := e.Sealer.Open(t.Secrets)
	if err != nil {
		return nil, fatal(err)
	}
	switch t.Platform {
	case BuildPass:
		return &buildPass{e: e, t: t, cfg: cfg, cred: cred, c: e.client(t, "X-RateLimit-", 10*time.Second, 0)}, nil
	case Procore:
		return &procore{e: e, t: t, cfg: cfg, c: e.client(t, "X-Rate-Limit-", 10*time.Second, 0)}, nil
	case BrilliantDirectories:
		// A budget of requests a minute per key: space them so it is never spent.
		gap := time.Minute / time.Duration(max(cfg.RequestsPerMinute, 1))
		return &brilliant{e: e, t: t, cfg: cfg, cred: cred, c: e.client(t, "", 60*time.Second, gap)}, nil
	}
	return nil, fatal(fmt.Errorf("unknown platform %q", t.Platform))
}

func (e *Engine) client(t *storage.ConnectorTarget, rateHeaders string, defaultWait, gap time.Duration) *client {
	if c, ok := e.clients.Load(t.ID); ok {
		return c.(*client)
	}
	hc := e.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if e.RateWait > 0 {
		defaultWait = e.RateWait
	}
	backoff := e.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	c := &client{http: hc, defaultWait: defaultWait, maxTries: 5, backoff: backoff, writeGap: gap, rateHeaders: rateHeaders}
	actual, _ := e.clients.LoadOrStore(t.ID, c)
	return actual.(*client)
}

// ErrCrash is what a test Hook returns to stop a run as a crash would.
var ErrCrash = errors.New("crash (test hook)")

// run is one sync or archive of a link: the photos, the items and the tallies.
type run struct {
	e        *Engine
	platform platform
	target   *storage.ConnectorTarget
	link     *storage.ConnectorLink
	event    *storage.Event
	record   *storage.ConnectorSync
	items    map[int64]*storage.ConnectorItem
	photos   map[int64]*storage.Photo // every photo of the event
	eligible []*storage.Photo         // visible images, in the event's order

	failed   map[int64]string // photos this run gave up on (not tried again in it)
	warnings []string
	started  time.Time
}

// runBudget is how long one run works before it hands the worker back and resumes in
// a new run (a big event on a rate-limited platform can take hours; a job may not).
const runBudget = 8 * time.Minute

// paused says, between two photos, that the run has used its budget: the sync goes on
// in the next run, from what the items record.
func (r *run) paused() error {
	if time.Since(r.started) > runBudget {
		return errWaiting{after: time.Second}
	}
	return nil
}

func (e *Engine) newRun(ctx context.Context, s *storage.ConnectorSync) (*run, error) {
	link, err := e.DB.FindConnectorLink(ctx, s.LinkID)
	if err != nil {
		return nil, err
	}
	target, err := e.DB.FindConnectorTarget(ctx, link.TargetID)
	if err != nil {
		return nil, err
	}
	event, err := e.DB.FindEventByID(ctx, link.EventID)
	if err != nil {
		return nil, err
	}
	if s.Kind == "sync" && (link.State == storage.LinkArchived || link.State == storage.LinkArchiving) {
		return nil, fatal(errors.New("the link is archived; link the event again to sync it"))
	}
	p, err := e.platformFor(target)
	if err != nil {
		return nil, err
	}
	items, err := e.DB.ConnectorItems(ctx, link.ID)
	if err != nil {
		return nil, err
	}
	photos, err := e.DB.ConnectorPhotos(ctx, link.EventID)
	if err != nil {
		return nil, err
	}
	r := &run{e: e, platform: p, target: target, link: link, event: event, record: s, items: items, photos: map[int64]*storage.Photo{},
		failed: map[int64]string{}, started: time.Now()}
	for _, ph := range photos {
		r.photos[ph.ID] = ph
		if !ph.IsHidden && ph.MediaType == "image" && !event.IsArchived {
			r.eligible = append(r.eligible, ph)
		}
	}
	return r, nil
}

// sync brings items in line with the eligible photos, then lets the platform work.
func (r *run) sync(ctx context.Context) error {
	for _, p := range r.eligible {
		it, ok := r.items[p.ID]
		switch {
		case !ok:
			it = &storage.ConnectorItem{LinkID: r.link.ID, PhotoID: p.ID, State: itemPending, ContentSHA256: p.SHA256,
				ExternalID: r.link.ExternalSourceID + ":photo:" + fmt.Sprint(p.ID)}
			r.items[p.ID] = it
		case it.State == itemRetained:
			// Visible again, and it never left the platform: nothing to count.
			if err := r.e.DB.SetConnectorItemState(ctx, it, itemSynced); err != nil {
				return err
			}
		case it.State == itemRemoved:
			// Visible again: push it again from the start.
			it.State, it.Remote, it.Attempts, it.LastError = itemPending, nil, 0, ""
			if err := r.save(ctx, it); err != nil {
				return err
			}
		}
	}
	return r.platform.Sync(ctx, r)
}

// toAdd returns the eligible photos whose item is not synced yet, in the event's order.
// Items that failed for good in an earlier sync are tried again (the photo or the
// configuration may have changed since).
func (r *run) toAdd() []*storage.Photo {
	var out []*storage.Photo
	for _, p := range r.eligible {
		if it := r.items[p.ID]; it.State != itemSynced {
			out = append(out, p)
		}
	}
	return out
}

// toRemove returns the items whose photo is gone or no longer eligible but which are on
// the platform (or may be), by photo id.
func (r *run) toRemove() []*storage.ConnectorItem {
	eligible := map[int64]bool{}
	for _, p := range r.eligible {
		eligible[p.ID] = true
	}
	var out []*storage.ConnectorItem
	for id, it := range r.items {
		if eligible[id] || it.State == itemRemoved || it.State == itemRetained {
			continue
		}
		if it.State == itemPending || it.State == itemFailed {
			if strings.TrimSpace(string(it.Remote)) == "{}" || len(it.Remote) == 0 {
				continue // never reached the platform
			}
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PhotoID < out[j].PhotoID })
	return out
}

// allItems returns every item by photo id (for archive runs).
func (r *run) allItems() []*storage.ConnectorItem {
	out := make([]*storage.ConnectorItem, 0, len(r.items))
	for _, it := range r.items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PhotoID < out[j].PhotoID })
	return out
}

// save writes an item now (write-ahead and results alike).
func (r *run) save(ctx context.Context, it *storage.ConnectorItem) error {
	return r.e.DB.SaveConnectorItem(ctx, it)
}

// step is the point between a remote write and the saving of its result.
func (r *run) step(name string) error {
	if r.e.Hook != nil {
		if err := r.e.Hook(name); err != nil {
			return err
		}
	}
	return nil
}

// synced records that an item is on the platform.
func (r *run) synced(ctx context.Context, it *storage.ConnectorItem) error {
	it.State, it.LastError = itemSynced, ""
	if err := r.save(ctx, it); err != nil {
		return err
	}
	delete(r.failed, it.PhotoID)
	return nil
}

// fail records that the platform refused an item; the next sync tries it again.
func (r *run) fail(ctx context.Context, it *storage.ConnectorItem, reason string) error {
	it.State, it.LastError = itemFailed, reason
	it.Attempts++
	if err := r.save(ctx, it); err != nil {
		return err
	}
	r.failed[it.PhotoID] = reason
	return nil
}

// forget records that an item whose bytes never became a photo on the platform is done
// with; it does not count as removed.
func (r *run) forget(ctx context.Context, it *storage.ConnectorItem) error {
	return r.e.DB.SetConnectorItemState(ctx, it, itemRemoved)
}

// gone records that an item was removed from the platform.
func (r *run) gone(ctx context.Context, it *storage.ConnectorItem) error {
	it.State, it.LastError = itemRemoved, ""
	return r.save(ctx, it)
}

func (r *run) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// counts works the sync's tallies out from the items, so that they cover every run of
// the sync (a paused or crashed run resumes in a new one): an item changed since the
// sync started was added, removed or failed by it; an eligible item synced before was
// skipped.
func (r *run) counts(ctx context.Context, s *storage.ConnectorSync) error {
	items, err := r.e.DB.ConnectorItems(ctx, r.link.ID)
	if err != nil {
		return err
	}
	start := r.started
	if s.StartedAt != nil {
		start = *s.StartedAt
	}
	eligible := map[int64]bool{}
	for _, p := range r.eligible {
		eligible[p.ID] = true
	}
	s.Added, s.Skipped, s.Failed, s.Removed = 0, 0, 0, 0
	s.Failures = s.Failures[:0]
	for _, it := range items {
		touched := !it.UpdatedAt.Before(start)
		switch {
		case it.State == itemSynced && touched:
			s.Added++
		case it.State == itemSynced && eligible[it.PhotoID]:
			s.Skipped++
		case it.State == itemRemoved && touched:
			s.Removed++
		case it.State == itemFailed && touched:
			s.Failed++
			s.Failures = append(s.Failures, storage.SyncFailure{PhotoID: it.PhotoID, Error: it.LastError})
		}
	}
	sort.Slice(s.Failures, func(i, j int) bool { return s.Failures[i].PhotoID < s.Failures[j].PhotoID })
	s.Warnings = append([]string{}, r.warnings...)
	return nil
}

// content is the file sent for a photo: the original when the platforms take its
// format (JPEG, PNG), otherwise its display copy as JPEG.
type content struct {
	name, mime string
	size       int64
	key        string
}

func (r *run) content(ctx context.Context, p *storage.Photo) (content, error) {
	if p.Format == "jpeg" || p.Format == "png" {
		// A missing original fails this photo only, before any request carries it.
		if _, err := r.e.Blobs.Stat(ctx, p.BlobKey); err != nil {
			return content{}, fmt.Errorf("original of photo %d: %w", p.ID, err)
		}
		return content{name: safeName(p.OriginalName, p.Format), mime: p.MIMEType, size: p.Size, key: p.BlobKey}, nil
	}
	if r.e.Ensure != nil {
		if err := r.e.Ensure(ctx, p); err != nil {
			return content{}, fmt.Errorf("display copy of photo %d: %w", p.ID, err)
		}
	}
	info, err := r.e.Blobs.Stat(ctx, p.DisplayKey())
	if err != nil {
		return content{}, fmt.Errorf("display copy of photo %d: %w", p.ID, err)
	}
	return content{name: safeName(p.OriginalName, "jpeg"), mime: "image/jpeg", size: info.Size, key: p.DisplayKey()}, nil
}

func (r *run) open(ctx context.Context, c content) (io.ReadSeekCloser, error) {
	f, _, err := r.e.Blobs.Open(ctx, c.key)
	return f, err
}

// safeName is the client's file name reduced to a plain name with the extension of the
// bytes sent.
func safeName(original, format string) string {
	ext := map[string]string{"jpeg": ".jpg", "png": ".png"}[format]
	base := original
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.LastIndex(base, "."); i > 0 {
		base = base[:i]
	}
	base = strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(`"<>|?*:`, c) {
			return '_'
		}
		return c
	}, base)
	if strings.TrimSpace(base) == "" {
		base = "photo"
	}
	return base + ext
}

// remoteOf decodes an item's platform references.
func remoteOf[T any](it *storage.ConnectorItem) T {
	var v T
	if len(it.Remote) > 0 {
		_ = json.Unmarshal(it.Remote, &v)
	}
	return v
}

// setRemote encodes an item's platform references.
func setRemote(it *storage.ConnectorItem, v any) {
	b, _ := json.Marshal(v)
	it.Remote = b
}
