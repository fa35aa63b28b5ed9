// Settings: upload limits, API tokens (shown once, revoke), webhooks (deliveries,
// redeliver), connectors (add, edit, replace credentials, test, delete).
import { api, confirmDialog, el, toast } from './api.js';
import { PLATFORMS, defaultEndpoint, destination, platformLabel } from './connectors.js';

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

const cCard = document.getElementById('connectors-card');
const cList = document.getElementById('connectors');
const cError = document.getElementById('connector-error');
const cDialog = document.getElementById('connector-dialog');
const cForm = document.getElementById('connector-form');
const cPlatform = document.getElementById('c-platform');
const cName = document.getElementById('c-name');
const cFields = document.getElementById('c-platform-fields');
const cFormError = document.getElementById('connector-form-error');
const cSubmit = document.getElementById('c-submit');
let connectors = [];
let editing = null; // the connector being edited, or null when adding one
const testResults = new Map(); // connector id → {ok, message}

async function loadConnectors() {
  let r;
  try {
    r = await api('GET', '/api/v1/connectors');
  } catch {
    return; // a server without connectors keeps the section hidden
  }
  cCard.hidden = false;
  connectors = r.items;
  if (!r.items.length) {
    cList.replaceChildren(el('p', { class: 'muted', text: 'No connectors yet.' }));
    return;
  }
  const focused = document.activeElement?.closest('#connectors [data-act]');
  const refocus = focused ? [focused.closest('tr')?.dataset.id, focused.dataset.act] : null;
  cList.replaceChildren(el('table', { class: 'table connectors' },
    el('caption', { class: 'visually-hidden', text: 'Connectors' }),
    el('thead', {}, el('tr', {}, ...['Name', 'Platform', 'Destination', 'Credentials', 'State'].map((h) => el('th', { scope: 'col', text: h })),
      el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: 'Actions' })))),
    el('tbody', {}, ...r.items.map(connectorRow))));
  if (refocus) cList.querySelector(`tr[data-id="${refocus[0]}"] [data-act="${refocus[1]}"]`)?.focus();
}

function connectorRow(c) {
  const hidden = (t) => el('span', { class: 'visually-hidden', text: ` ${t}` });
  const test = el('button', { type: 'button', class: 'btn small', 'data-act': 'test' }, 'Test', hidden(c.name));
  const edit = el('button', { type: 'button', class: 'btn small', 'data-act': 'edit' }, 'Edit', hidden(c.name));
  const del = el('button', { type: 'button', class: 'btn small danger', 'data-act': 'delete' }, 'Delete', hidden(c.name));
  test.addEventListener('click', () => testConnector(c, test));
  edit.addEventListener('click', () => openConnectorDialog(c));
  del.addEventListener('click', () => deleteConnector(c));
  const state = el('td', { class: 'state' },
    el('span', { class: `badge ${c.status === 'ok' ? 'ok' : 'bad'}`, text: c.status === 'ok' ? 'ok' : 'error' }));
  if (c.status !== 'ok' && c.last_error) state.append(el('p', { class: 'reason bad', text: c.last_error }));
  const tr = testResults.get(c.id);
  if (tr) {
    state.append(el('p', { class: `test-result ${tr.ok ? 'ok' : 'bad'}` },
      el('strong', { text: tr.ok ? 'Test: OK' : 'Test failed' }), ` — ${tr.message}`));
  }
  const creds = c.credentials_set.length ? c.credentials_set.join(', ') : 'none';
  return el('tr', { 'data-id': c.id },
    el('td', {}, el('strong', { text: c.name })),
    el('td', { text: platformLabel(c.platform) }),
    el('td', { class: 'dest', text: destination(c) }),
    el('td', {}, el('span', { class: 'muted', text: 'Stored: ' }), creds),
    state,
    el('td', {}, el('div', { class: 'row-actions' }, test, edit, del)));
}

async function testConnector(c, btn) {
  btn.disabled = true;
  btn.firstChild.textContent = 'Testing…';
  try {
    const t = await api('POST', `/api/v1/connectors/${c.id}/test`);
    testResults.set(c.id, { ok: t.ok, message: t.message });
    toast(`${c.name}: ${t.ok ? 'OK' : 'test failed'} — ${t.message}`, t.ok ? '' : 'error');
  } catch (e) {
    testResults.set(c.id, { ok: false, message: e.message });
    toast(`${c.name}: test failed — ${e.message}`, 'error');
  } finally {
    await loadConnectors();
  }
}

async function deleteConnector(c) {
  cError.textContent = '';
  if (!(await confirmDialog(`Delete the connector “${c.name}”? Its stored credentials are erased. Photos already on ${platformLabel(c.platform)} stay there.`, 'Delete'))) return;
  try {
    await api('DELETE', `/api/v1/connectors/${c.id}`);
    testResults.delete(c.id);
    toast('Connector deleted');
  } catch (e) {
    if (e.code === 'connector_in_use') {
      cError.textContent = `“${c.name}” is still linked to events, so it cannot be deleted. Open each event that uses it and, under Connectors, archive or unlink it; then delete the connector.`;
    } else {
      cError.textContent = e.message;
    }
  }
  loadConnectors();
}

// The form: one platform's fields at a time. Credentials are write-only: never filled in,
// only sent when typed.

function fieldEl(f, group, value, hint) {
  const id = `c-${f.key}`;
  const hintId = hint ? `${id}-hint` : undefined;
  const hintEl = hint ? el('p', { class: 'muted hint', id: hintId, text: hint }) : null;
  const data = { 'data-key': f.key, 'data-group': group };
  if (f.checkbox) {
    return el('div', { class: 'field span2 checks' },
      el('label', { class: 'check' }, el('input', { type: 'checkbox', id, ...data, checked: Boolean(value) }), ` ${f.label}`));
  }
  let control;
  if (f.options) {
    control = el('select', { id, ...data, 'aria-describedby': hintId },
      ...f.options.map(([v, label]) => el('option', { value: v, text: label, selected: (value || f.options[0][0]) === v })));
  } else {
    control = el('input', {
      id, ...data, 'aria-describedby': hintId,
      type: f.secret ? 'password' : f.number ? 'number' : f.type || 'text',
      inputmode: f.digits ? 'numeric' : undefined, min: f.min, max: f.max,
      autocomplete: f.secret ? 'new-password' : 'off', spellcheck: 'false', autocapitalize: 'off',
      placeholder: f.placeholder, value: value ?? '', 'aria-required': f.required && (group !== 'credentials' || !editing) ? 'true' : undefined,
    });
  }
  return el('div', { class: `field${f.span ? ' span2' : ''}` }, el('label', { for: id, text: f.label }), control, hintEl);
}

function renderPlatformFields(platform, c) {
  const spec = PLATFORMS[platform];
  const cfg = c ? c.config : {};
  const set = new Set(c ? c.credentials_set : []);
  document.getElementById('c-help').textContent = spec.help;
  // Endpoints equal to the server's defaults stay empty, so that they follow a changed
  // environment or site.
  const adv = {};
  let custom = false;
  for (const f of spec.advanced) {
    let v = cfg[f.key];
    if (f.key.endsWith('_url') && v === defaultEndpoint(platform, f.key, cfg)) v = '';
    if (f.key === 'source_app' && v === 'gallerist') v = '';
    if (f.key === 'requests_per_minute' && v === 100) v = '';
    if (v) custom = true;
    adv[f.key] = v;
  }
  const credNote = c
    ? `Stored encrypted and never shown. Set now: ${c.credentials_set.length ? c.credentials_set.join(', ') : 'none'}. Fill in a field only to replace it.`
    : 'Stored encrypted on this server and never shown again, not even here.';
  const advanced = el('details', { class: 'advanced', open: custom },
    el('summary', { text: 'Advanced' }),
    el('p', { class: 'muted hint', text: 'For a sandbox or a proxy. Leave empty for the platform’s own hosts.' }),
    el('div', { class: 'fields' }, ...spec.advanced.map((f) => fieldEl(f, 'config', adv[f.key]))));
  cFields.replaceChildren(
    el('fieldset', { class: 'group' }, el('legend', { text: 'Destination' }),
      el('div', { class: 'fields' }, ...spec.config.map((f) => fieldEl(f, 'config', cfg[f.key], f.hint)))),
    el('fieldset', { class: 'group' }, el('legend', { text: 'Credentials' }),
      el('p', { class: 'muted hint', id: 'c-cred-note', text: credNote }),
      el('div', { class: 'fields' }, ...spec.credentials.map((f) => fieldEl(f, 'credentials', '',
        c ? (set.has(f.key) ? 'Stored. Leave empty to keep it.' : 'Not set.') + (f.hint ? ` ${f.hint}` : '') : f.hint)))),
    advanced);
  updatePlaceholders();
}

// The endpoint fields show the default they stand for.
function updatePlaceholders() {
  const p = cPlatform.value;
  const cfg = readConfig(p);
  for (const key of ['api_url', 'login_url']) {
    const inp = cFields.querySelector(`[data-group="config"][data-key="${key}"]`);
    if (!inp) continue;
    const d = defaultEndpoint(p, key, cfg);
    inp.placeholder = d ? `Default: ${d}` : 'Default: <site URL>/api/v2';
  }
}
cFields.addEventListener('input', updatePlaceholders);
cFields.addEventListener('change', updatePlaceholders);

function readConfig(platform) {
  const spec = PLATFORMS[platform];
  const cfg = {};
  for (const f of [...spec.config, ...spec.advanced]) {
    const inp = cFields.querySelector(`[data-group="config"][data-key="${f.key}"]`);
    if (!inp) continue;
    if (f.checkbox) {
      if (inp.checked) cfg[f.key] = true;
      continue;
    }
    const v = inp.value.trim();
    if (v) cfg[f.key] = f.number ? Number(v) : v;
  }
  return cfg;
}

function readCredentials(platform) {
  const out = {};
  for (const f of PLATFORMS[platform].credentials) {
    const v = cFields.querySelector(`[data-group="credentials"][data-key="${f.key}"]`).value.trim();
    if (v) out[f.key] = v;
  }
  return out;
}

function openConnectorDialog(c) {
  editing = c || null;
  cForm.reset();
  cFormError.textContent = '';
  cError.textContent = '';
  cPlatform.value = c ? c.platform : 'buildpass';
  cPlatform.disabled = Boolean(c);
  cName.value = c ? c.name : '';
  document.getElementById('connector-dialog-title').textContent = c ? `Edit “${c.name}”` : 'Add a connector';
  cSubmit.textContent = c ? 'Save connector' : 'Add connector';
  renderPlatformFields(cPlatform.value, c);
  cDialog.showModal();
  (c ? cName : cPlatform).focus();
}

document.getElementById('add-connector').addEventListener('click', () => openConnectorDialog(null));
document.getElementById('c-cancel').addEventListener('click', () => cDialog.close());
cPlatform.addEventListener('change', () => renderPlatformFields(cPlatform.value, null));
// The secrets typed into the form do not outlive it.
cDialog.addEventListener('close', () => {
  for (const i of cFields.querySelectorAll('[data-group="credentials"]')) i.value = '';
});

cForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  cFormError.textContent = '';
  const platform = cPlatform.value;
  const spec = PLATFORMS[platform];
  const name = cName.value.trim();
  const config = readConfig(platform);
  const credentials = readCredentials(platform);
  const missing = [];
  if (!name) missing.push(['name', cName]);
  for (const f of spec.config) {
    const inp = cFields.querySelector(`[data-group="config"][data-key="${f.key}"]`);
    if (f.required && !config[f.key]) missing.push([f.label, inp]);
    else if (f.digits && config[f.key] && !/^[0-9]+$/.test(config[f.key])) {
      cFormError.textContent = `${f.label} must be digits.`;
      inp.focus();
      return;
    }
  }
  if (!editing) {
    for (const f of spec.credentials) {
      if (f.required && !credentials[f.key]) missing.push([f.label, cFields.querySelector(`[data-group="credentials"][data-key="${f.key}"]`)]);
    }
  }
  if (missing.length) {
    cFormError.textContent = `Fill in: ${missing.map(([l]) => (l === 'name' ? 'Name' : l)).join(', ')}.`;
    missing[0][1].focus();
    return;
  }
  cSubmit.disabled = true;
  try {
    if (editing) {
      const body = { name, config };
      if (Object.keys(credentials).length) body.credentials = credentials;
      await api('PATCH', `/api/v1/connectors/${editing.id}`, body);
      testResults.delete(editing.id);
      toast(`Connector “${name}” saved`);
    } else {
      await api('POST', '/api/v1/connectors', { platform, name, config, credentials });
      toast(`Connector “${name}” added. Test it to check its credentials.`);
    }
    cDialog.close();
    await loadConnectors();
  } catch (e) {
    cFormError.textContent = e.code === 'connector_key_missing'
      ? `${e.message}. Until then connectors cannot store credentials.`
      : e.message;
  } finally {
    cSubmit.disabled = false;
  }
});

loadSettings().catch((e) => toast(e.message, 'error'));
loadConnectors();
loadTokens().catch((e) => toast(e.message, 'error'));
loadWebhooks();
