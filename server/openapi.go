package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/openapi-go"
	"github.com/swaggest/openapi-go/openapi31"

	"github.com/gallerist/gallerist/server/webhook"
)

var echoParam = regexp.MustCompile(`:([a-z_]+)`)

// Spec builds the OpenAPI 3.1 document from the route table and the Go request and
// response types. `gallerist openapi` writes it to openapi.json; the server serves the
// same bytes at /api/openapi.json.
func Spec() ([]byte, error) {
	r := openapi31.NewReflector()
	r.Spec.Info.
		WithTitle("Gallerist API").
		WithVersion("1.0.0").
		WithDescription("Self-hosted event photo galleries: events, photos, uploads and files. " +
			"Every error answers {\"error\": {\"code\", \"message\", \"details\"}} with a stable code (docs/errors.md). " +
			"Authenticate with `Authorization: Bearer glr_...`; each operation lists the scope it needs.\n\n" +
			"All error codes: " + strings.Join(CodeList(), ", ") + ".")
	r.SpecEns().SetHTTPBearerTokenSecurity("bearer", "opaque", "API token (glr_...). Scopes: "+joinScopes(Scopes)+"; admin implies all, *.write implies *.read.")

	for _, rt := range routes() {
		if rt.Hidden {
			continue
		}
		path := echoParam.ReplaceAllString(rt.Path, "{$1}")
		oc, err := r.NewOperationContext(rt.Method, path)
		if err != nil {
			return nil, fmt.Errorf("operation %s %s: %w", rt.Method, rt.Path, err)
		}
		oc.SetID(rt.ID)
		oc.SetSummary(rt.Summary)
		oc.SetTags(rt.Tag)
		desc := "Public: no credentials needed."
		if rt.Scope != ScopePublic {
			oc.AddSecurity("bearer", string(rt.Scope))
			desc = fmt.Sprintf("Requires scope `%s`.", rt.Scope)
		}
		codes := append([]string{}, rt.Errors...)
		if rt.Scope != ScopePublic {
			codes = append(codes, authErrors...)
		}
		codes = append(codes, "internal")
		byStatus := map[int][]string{}
		for _, c := range codes {
			entry, ok := Codes[c]
			if !ok {
				return nil, fmt.Errorf("route %s %s: unknown error code %q", rt.Method, rt.Path, c)
			}
			if !contains(byStatus[entry.Status], c) {
				byStatus[entry.Status] = append(byStatus[entry.Status], c)
			}
		}
		desc += "\n\nError codes: " + describeCodes(byStatus)
		oc.SetDescription(desc)
		if rt.Request != nil {
			oc.AddReqStructure(rt.Request)
		}
		switch {
		case rt.Produces != "":
			oc.AddRespStructure(nil, openapi.WithHTTPStatus(rt.Status), openapi.WithContentType(rt.Produces))
		case rt.Response != nil:
			oc.AddRespStructure(rt.Response, openapi.WithHTTPStatus(rt.Status))
		default:
			oc.AddRespStructure(nil, openapi.WithHTTPStatus(rt.Status))
		}
		statuses := make([]int, 0, len(byStatus))
		for st := range byStatus {
			statuses = append(statuses, st)
		}
		sort.Ints(statuses)
		for _, st := range statuses {
			oc.AddRespStructure(new(ErrorResponse), openapi.WithHTTPStatus(st))
		}
		if err := r.AddOperation(oc); err != nil {
			return nil, fmt.Errorf("operation %s %s: %w", rt.Method, rt.Path, err)
		}
	}
	hooks := []struct {
		name, summary string
		payload       any
	}{
		{webhook.TypePhotoUploaded, "A file was stored in an event, whatever the route (multipart, chunked)", new(struct {
			webhook.DeliveryHeaders
			webhook.PhotoUploadedPayload
		})},
		{webhook.TypePhotoDeleted, "A photo was deleted (one per photo, bulk deletes included; not sent when an event is archived)", new(struct {
			webhook.DeliveryHeaders
			webhook.PhotoDeletedPayload
		})},
		{webhook.TypeEventCreated, "An event was created", new(struct {
			webhook.DeliveryHeaders
			webhook.EventCreatedPayload
		})},
		{webhook.TypeEventArchived, "An event was archived", new(struct {
			webhook.DeliveryHeaders
			webhook.EventArchivedPayload
		})},
		{webhook.TypeSyncCompleted, "A connector sync (or archive) finished: succeeded, or partial with per-photo failures", new(struct {
			webhook.DeliveryHeaders
			webhook.SyncCompletedPayload
		})},
		{webhook.TypeSyncFailed, "A connector sync (or archive) stopped: credentials refused, destination gone, or retries exhausted", new(struct {
			webhook.DeliveryHeaders
			webhook.SyncFailedPayload
		})},
		{webhook.TypeTest, "Sent by POST /api/v1/webhooks/{id}/test", new(struct {
			webhook.DeliveryHeaders
			webhook.TestPayload
		})},
	}
	for _, h := range hooks {
		oc, err := r.NewOperationContext(http.MethodPost, h.name)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: %w", h.name, err)
		}
		oc.SetSummary(h.summary)
		oc.SetDescription("Signed per Standard Webhooks; see docs/webhooks.md. Answer 2xx to acknowledge; anything else is retried (410 Gone disables the receiver).")
		oc.AddReqStructure(h.payload)
		oc.AddRespStructure(nil, openapi.WithHTTPStatus(http.StatusOK))
		if err := r.AddWebhook(oc); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", h.name, err)
		}
	}
	b, err := json.MarshalIndent(r.Spec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi: %w", err)
	}
	return append(b, '\n'), nil
}

func describeCodes(byStatus map[int][]string) string {
	var parts []string
	statuses := make([]int, 0, len(byStatus))
	for st := range byStatus {
		statuses = append(statuses, st)
	}
	sort.Ints(statuses)
	for _, st := range statuses {
		cs := append([]string{}, byStatus[st]...)
		sort.Strings(cs)
		for i := range cs {
			cs[i] = "`" + cs[i] + "`"
		}
		parts = append(parts, fmt.Sprintf("%d %s", st, strings.Join(cs, ", ")))
	}
	return strings.Join(parts, "; ") + "."
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	specOnce  sync.Once
	specBytes []byte
	specErr   error
)

func cachedSpec() ([]byte, error) {
	specOnce.Do(func() { specBytes, specErr = Spec() })
	return specBytes, specErr
}

func (s *Server) serveOpenAPI(c echo.Context) error {
	b, err := cachedSpec()
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "application/json", b)
}

// apiDocsPage is a self-contained reference page: no CDN, it reads /api/openapi.json and
// renders the operations, so it works offline on a LAN.
const apiDocsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Gallerist API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1rem;color:#1b1b1b;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e8e8e8;background:#141414}details{border-color:#333!important}code,pre{background:#222!important}}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #8884}details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}.m{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace}.GET{color:#0a7}.POST{color:#07c}.PATCH{color:#b70}.DELETE{color:#c33}.HEAD{color:#777}
code,pre{background:#f4f4f4;border-radius:4px;padding:.1em .3em}pre{padding:.6em;overflow:auto;font-size:13px}
</style></head><body>
<h1>Gallerist API reference</h1>
<p>Machine-readable document: <a href="/api/openapi.json">/api/openapi.json</a>. Send <code>Authorization: Bearer glr_…</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/api/openapi.json').then(r=>r.json()).then(spec=>{
  const root=document.getElementById('ops');root.textContent='';
  const byTag={};
  for(const [path,item] of Object.entries(spec.paths||{}))for(const [m,op] of Object.entries(item)){
    const t=(op.tags||['Other'])[0];(byTag[t]=byTag[t]||[]).push({m:m.toUpperCase(),path,op});}
  const resolve=s=>{if(s&&s.$ref){const n=s.$ref.split('/').pop();return spec.components.schemas[n];}return s;};
  for(const [tag,ops] of Object.entries(byTag)){
    const h=document.createElement('h2');h.textContent=tag;root.appendChild(h);
    for(const {m,path,op} of ops){
      const d=document.createElement('details');const s=document.createElement('summary');
      const mm=document.createElement('span');mm.className='m '+m;mm.textContent=m;s.appendChild(mm);
      const p=document.createElement('code');p.textContent=path;s.appendChild(p);
      s.appendChild(document.createTextNode(' '+(op.summary||'')));d.appendChild(s);
      const desc=document.createElement('p');desc.textContent=op.description||'';d.appendChild(desc);
      if(op.parameters){const pre=document.createElement('pre');pre.textContent='Parameters:\n'+op.parameters.map(x=>'  '+x.in+' '+x.name+(x.required?' (required)':'')+': '+JSON.stringify(x.schema)).join('\n');d.appendChild(pre);}
      if(op.requestBody){const pre=document.createElement('pre');const c=op.requestBody.content;const ct=Object.keys(c)[0];pre.textContent='Request body ('+ct+'):\n'+JSON.stringify(resolve(c[ct].schema),null,2);d.appendChild(pre);}
      for(const [st,resp] of Object.entries(op.responses||{})){const pre=document.createElement('pre');const c=resp.content||{};const ct=Object.keys(c)[0];
        pre.textContent=st+' '+(resp.description||'')+(ct?' ('+ct+')\n'+JSON.stringify(resolve(c[ct].schema)||{},null,2):'');d.appendChild(pre);}
      root.appendChild(d);}}
}).catch(e=>{document.getElementById('ops').textContent='Could not load the document: '+e;});
</script></body></html>`

func (s *Server) serveAPIDocs(c echo.Context) error {
	c.Response().Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'")
	return c.HTML(http.StatusOK, apiDocsPage)
}
