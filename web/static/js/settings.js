// Settings: upload limits, API tokens (shown once, revoke), webhooks (deliveries,
// redeliver).
import { api, confirmDialog, el, toast } from './api.js';

const when = (t) => (t ? new Date(t).toLocaleString() : '—');

// ---------------------------------------------------------------- upload settings

const sForm = document.getElementById('settings-form');
const sFields = document.getElementById('settings-fields');
const TYPES = ['jpg', 'jpeg', 'png', 'gif', 'webp', 'heic', 'heif', 'mp4', 'webm', 'mov', 'avi'];

async function loadSettings() {
  const s = await api('GET', '/api/v1/settings');
  const num = (id, label, v, max) => el('div', { class: 'field' },
    el('label', { for: id, text: label }), el('input', { id, name: id, type: 'number', min: 1, max, value: v, required: true }));
  const types = el('fieldset', { class: 'field span2 checks' }, el('legend', { text: 'Accepted file types' }),
    ...TYPES.map((t) => el('label', { class: 'check' },
      el('input', { type: 'checkbox', name: 'types', value: t, checked: s.general_allowed_file_types.includes(t) }), ` ${t}`)));
  sFields.replaceChildren(
    num('general_max_file_size_mb', 'Largest photo (MB)', s.general_max_file_size_mb, 10240),
    num('general_max_video_size_mb', 'Largest video (MB)', s.general_max_video_size_mb, 1048576),
    num('general_max_files_per_upload', 'Files per multipart request', s.general_max_files_per_upload, 2000),
    types);
}

sForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('settings-error');
  err.textContent = '';
  const f = sForm.elements;
  try {
    await api('PATCH', '/api/v1/settings', {
      general_max_file_size_mb: Number(f.general_max_file_size_mb.value),
      general_max_video_size_mb: Number(f.general_max_video_size_mb.value),
      general_max_files_per_upload: Number(f.general_max_files_per_upload.value),
      general_allowed_file_types: [...sForm.querySelectorAll('input[name=types]:checked')].map((i) => i.value),
    });
    toast('Upload settings saved');
  } catch (e) {
    err.textContent = e.message;
  }
});

// ---------------------------------------------------------------- tokens

const tBody = document.querySelector('#tokens tbody');
const tForm = document.getElementById('token-form');

async function loadTokens() {
  const r = await api('GET', '/api/v1/tokens');
  tBody.replaceChildren(...r.items.map((t) => {
    const now = Date.now();
    const state = t.revoked_at ? 'revoked' : t.expires_at && new Date(t.expires_at) <= now ? 'expired' : 'active';
    const revoke = state === 'active' ? el('button', { type: 'button', class: 'btn small danger', text: 'Revoke', 'aria-label': `Revoke ${t.name}` }) : null;
    revoke?.addEventListener('click', async () => {
      if (!(await confirmDialog(`Revoke the token “${t.name}”? Anything using it stops working at once.`, 'Revoke'))) return;
      await api('DELETE', `/api/v1/tokens/${t.id}`);
      toast('Token revoked');
      loadTokens();
    });
    return el('tr', {},
      el('td', { text: t.name }), el('td', {}, el('code', { text: `${t.prefix}…` })), el('td', { text: t.scopes.join(', ') }),
      el('td', { text: when(t.last_used_at) }),
      el('td', {}, el('span', { class: `badge ${state === 'active' ? 'ok' : 'bad'}`, text: state })), el('td', {}, revoke));
  }));
  if (!r.items.length) tBody.append(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No tokens yet.' })));
}

tForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('token-error');
  err.textContent = '';
  const scopes = [...tForm.querySelectorAll('input[name=scopes]:checked')].map((i) => i.value);
  const body = { name: tForm.elements.namedItem('name').value.trim(), scopes };
  const exp = tForm.elements.expires_at.value;
  if (exp) body.expires_at = new Date(`${exp}T23:59:59Z`).toISOString();
  if (!body.name || !scopes.length) {
    err.textContent = 'Give the token a name and at least one scope.';
    return;
  }
  try {
    const t = await api('POST', '/api/v1/tokens', body);
    const box = document.getElementById('new-token');
    box.hidden = false;
    box.replaceChildren(el('span', { text: 'Copy this token now; it is not shown again:' }), el('code', { id: 'token-secret', text: t.token }));
    tForm.reset();
    loadTokens();
  } catch (e) {
    err.textContent = e.message;
  }
});

// ---------------------------------------------------------------- webhooks

const wList = document.getElementById('webhooks');
const wForm = document.getElementById('webhook-form');

async function loadWebhooks() {
  let r;
  try {
    r = await api('GET', '/api/v1/webhooks');
  } catch (e) {
    wList.replaceChildren(el('p', { class: 'muted', text: e.message }));
    return;
  }
  if (!r.items.length) {
    wList.replaceChildren(el('p', { class: 'muted', text: 'No webhooks yet.' }));
    return;
  }
  wList.replaceChildren(...r.items.map((w) => {
    const box = el('div', { class: 'card' });
    const deliveries = el('div');
    const show = el('button', { type: 'button', class: 'btn small', text: 'Deliveries', 'aria-expanded': 'false' });
    const test = el('button', { type: 'button', class: 'btn small', text: 'Send test' });
    const del = el('button', { type: 'button', class: 'btn small danger', text: 'Delete' });
    show.addEventListener('click', async () => {
      const open = show.getAttribute('aria-expanded') === 'true';
      show.setAttribute('aria-expanded', String(!open));
      if (open) { deliveries.replaceChildren(); return; }
      await loadDeliveries(w, deliveries);
    });
    test.addEventListener('click', async () => {
      try {
        await api('POST', `/api/v1/webhooks/${w.id}/test`);
        toast('Test announcement queued');
      } catch (e) { toast(e.message, 'error'); }
    });
    del.addEventListener('click', async () => {
      if (!(await confirmDialog(`Delete the webhook to ${w.url}?`, 'Delete'))) return;
      await api('DELETE', `/api/v1/webhooks/${w.id}`);
      loadWebhooks();
    });
    box.append(
      el('p', {}, el('strong', { text: w.url }), ' ',
        el('span', { class: `badge ${w.enabled ? 'ok' : 'bad'}`, text: w.enabled ? 'enabled' : `disabled${w.disabled_reason ? `: ${w.disabled_reason}` : ''}` })),
      el('p', { class: 'muted', text: w.events.join(', ') }),
      el('div', { class: 'actions' }, show, test, del), deliveries);
    return box;
  }));
}

async function loadDeliveries(w, box) {
  const r = await api('GET', `/api/v1/webhooks/${w.id}/deliveries?limit=20`);
  const rows = r.items.map((d) => {
    const again = el('button', { type: 'button', class: 'btn small', text: 'Redeliver' });
    again.addEventListener('click', async () => {
      try {
        await api('POST', `/api/v1/webhooks/${w.id}/deliveries/${d.id}/redeliver`);
        toast('Delivery queued again');
        loadDeliveries(w, box);
      } catch (e) { toast(e.message, 'error'); }
    });
    return el('tr', {}, el('td', { text: d.type }),
      el('td', {}, el('span', { class: `badge ${d.status === 'succeeded' ? 'ok' : d.status === 'failed' ? 'bad' : ''}`, text: d.status })),
      el('td', { text: `${d.attempts} tries${d.last_status_code ? `, HTTP ${d.last_status_code}` : ''}${d.last_error ? `, ${d.last_error}` : ''}` }),
      el('td', { text: when(d.created_at) }), el('td', {}, again));
  });
  box.replaceChildren(el('table', { class: 'table' },
    el('caption', { class: 'visually-hidden', text: `Deliveries to ${w.url}` }),
    el('thead', {}, el('tr', {}, ...['Type', 'Status', 'Attempts', 'Created'].map((h) => el('th', { scope: 'col', text: h })),
      el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Actions' })))),
    el('tbody', {}, ...rows)));
  if (!rows.length) box.replaceChildren(el('p', { class: 'muted', text: 'No deliveries yet.' }));
}

wForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('webhook-error');
  err.textContent = '';
  const events = [...wForm.querySelectorAll('input[name=events]:checked')].map((i) => i.value);
  try {
    const w = await api('POST', '/api/v1/webhooks', { url: wForm.elements.url.value.trim(), events });
    const box = document.getElementById('new-secret');
    box.hidden = false;
    box.replaceChildren(el('span', { text: 'Signing secret (shown once):' }), el('code', { text: w.secret }));
    wForm.reset();
    loadWebhooks();
  } catch (e) {
    err.textContent = e.message;
  }
});

// ---------------------------------------------------------------- connectors

async function loadConnectors() {
  let r;
  try {
    r = await api('GET', '/api/v1/connectors');
  } catch {
    return; // a server without connectors keeps the section hidden
  }
  document.getElementById('connectors-card').hidden = false;
  const box = document.getElementById('connectors');
  if (!r.items.length) {
    box.replaceChildren(el('p', { class: 'muted', text: 'No connectors yet.' }));
    return;
  }
  box.replaceChildren(el('table', { class: 'table' },
    el('caption', { class: 'visually-hidden', text: 'Connectors' }),
    el('thead', {}, el('tr', {}, ...['Name', 'Platform', 'State'].map((h) => el('th', { scope: 'col', text: h })),
      el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Actions' })))),
    el('tbody', {}, ...r.items.map((c) => {
      const check = el('button', { type: 'button', class: 'btn small', text: 'Check', 'aria-label': `Check ${c.name}` });
      check.addEventListener('click', async () => {
        try {
          const t = await api('POST', `/api/v1/connectors/${c.id}/test`);
          toast(t.ok ? `${c.name}: ${t.message || 'OK'}` : `${c.name}: ${t.message}`, t.ok ? '' : 'error');
        } catch (e) { toast(e.message, 'error'); }
      });
      return el('tr', {}, el('td', { text: c.name }), el('td', { text: c.platform.replace('_', ' ') }),
        el('td', {}, el('span', { class: `badge ${c.status === 'ok' ? 'ok' : 'bad'}`, text: c.status === 'ok' ? 'ok' : `error${c.last_error ? `: ${c.last_error}` : ''}` })),
        el('td', {}, check));
    }))));
}

loadSettings().catch((e) => toast(e.message, 'error'));
loadConnectors();
loadTokens().catch((e) => toast(e.message, 'error'));
loadWebhooks();
