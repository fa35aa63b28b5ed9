// The event page's Connectors panel: link the event to connectors, auto-sync, sync now,
// the recent syncs (refreshed every 2 s while one is queued or running), archive on the
// platform and unlink.
import { api, confirmDialog, el, toast } from './api.js';
import { PLATFORMS, platformLabel } from './connectors.js';

const BUSY = new Set(['queued', 'running']);
const POLL_MS = 2000;
const AUTO_POLL_MS = 30000;
const when = (t) => (t ? new Date(t).toLocaleString() : '—');
const hiddenText = (t) => el('span', { class: 'visually-hidden', text: ` ${t}` });
const STATUS_CLASS = { succeeded: 'ok', partial: 'warn', failed: 'bad', queued: '', running: '' };
const STATE_CLASS = { active: 'ok', error: 'bad', archiving: 'warn', archived: '' };

/**
 * Keeps parent's children in the order of items, one per key. A child whose signature
 * did not change is left in place (so focus and open <details> survive a refresh); a
 * changed one is replaced, and the focused control moves to its twin.
 */
const signatures = new WeakMap(); // element → the JSON it was drawn from

function keyed(parent, items, keyOf, sigOf, make) {
  const old = new Map([...parent.children].map((n) => [n.dataset.key, n]));
  const want = [];
  for (const it of items) {
    const k = String(keyOf(it));
    const sig = sigOf(it);
    let n = old.get(k);
    if (!n || signatures.get(n) !== sig) {
      const fresh = make(it);
      fresh.dataset.key = k;
      signatures.set(fresh, sig);
      if (n) {
        const act = n.contains(document.activeElement) ? document.activeElement.dataset.act : null;
        const opened = [...n.querySelectorAll('details')].map((d) => d.open);
        fresh.querySelectorAll('details').forEach((d, i) => { if (i < opened.length) d.open = opened[i]; });
        n.replaceWith(fresh);
        if (act) fresh.querySelector(`[data-act="${act}"]`)?.focus();
      }
      n = fresh;
    }
    want.push(n);
  }
  const keep = new Set(want);
  for (const n of [...parent.children]) if (!keep.has(n)) n.remove();
  want.forEach((n, i) => { if (parent.children[i] !== n) parent.insertBefore(n, parent.children[i] || null); });
}

/** Starts the panel; photoName(id) gives a photo's file name when the grid knows it. */
export function initConnectors({ event, photoName = () => '' }) {
  const panel = document.getElementById('connectors-panel');
  if (!panel) return;
  const toggle = document.getElementById('conn-toggle');
  const body = document.getElementById('conn-body');
  const summary = document.getElementById('conn-summary');
  const linksEl = document.getElementById('conn-links');
  const form = document.getElementById('link-form');
  const select = document.getElementById('link-connector');
  const auto = document.getElementById('link-auto');
  const none = document.getElementById('link-none');
  const err = document.getElementById('link-error');
  const syncsEl = document.getElementById('conn-syncs');

  let connectors = new Map();
  let links = [];
  let syncs = [];
  let timer = null;
  let polling = false;
  const seen = new Map(); // sync id → the status last shown

  const setOpen = (open) => {
    toggle.setAttribute('aria-expanded', String(open));
    body.hidden = !open;
  };
  toggle.addEventListener('click', () => setOpen(toggle.getAttribute('aria-expanded') !== 'true'));

  const busy = () => syncs.some((s) => BUSY.has(s.status)) || links.some((l) => l.state === 'archiving');
  const linkOf = (id) => links.find((l) => l.id === id);
  const nameOf = (l) => (l && connectors.get(l.connector_id)?.name) || (l ? `Connector ${l.connector_id}` : 'Removed link');

  async function loadConnectors() {
    const r = await api('GET', '/api/v1/connectors');
    connectors = new Map(r.items.map((c) => [c.id, c]));
  }

  // Every 2 s while a sync is queued or running; every 30 s while a link syncs by itself
  // after uploads, to notice the syncs it starts.
  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (polling) timer = setTimeout(() => refresh(true), POLL_MS);
    else if (links.some((l) => l.auto_sync && l.state !== 'archived')) timer = setTimeout(() => refresh(true), AUTO_POLL_MS);
  }

  async function refresh(quiet = false) {
    clearTimeout(timer);
    timer = null;
    try {
      const [ls, ss] = await Promise.all([
        api('GET', `/api/v1/events/${event.id}/connectors`),
        api('GET', `/api/v1/events/${event.id}/syncs?limit=10`),
      ]);
      links = ls.items;
      syncs = ss.items;
    } catch (e) {
      if (!quiet) toast(e.message, 'error');
      schedule(); // keep trying while a sync runs
      return;
    }
    announce();
    render();
    polling = busy();
    schedule();
  }

  // A toast (the page's live region) when a sync this page watched comes to an end.
  function announce() {
    for (const s of syncs) {
      const before = seen.get(s.id);
      if (before && BUSY.has(before) && !BUSY.has(s.status)) {
        const what = s.kind === 'archive' ? 'Archive' : 'Sync';
        const c = s.counts;
        toast(`${what} to ${nameOf(linkOf(s.link_id))} ${s.status}: ${c.added} added, ${c.skipped} skipped, ${c.failed} failed, ${c.removed} removed`,
          s.status === 'failed' ? 'error' : '');
      }
      seen.set(s.id, s.status);
    }
  }

  function render() {
    const errors = links.filter((l) => l.state === 'error').length;
    const live = links.filter((l) => l.state !== 'archived').length;
    summary.textContent = links.length
      ? `· ${live} linked${busy() ? ' · syncing…' : ''}${errors ? ' · needs attention' : ''}`
      : connectors.size ? '· not linked' : '· none set up';
    keyed(linksEl, links, (l) => l.id, (l) => JSON.stringify([l, nameOf(l)]), linkItem);
    linksEl.hidden = links.length === 0;
    renderForm();
    renderSyncs();
  }

  function renderForm() {
    const linked = new Set(links.map((l) => l.connector_id));
    const free = [...connectors.values()].filter((c) => !linked.has(c.id));
    let msg = '';
    if (event.is_archived) msg = 'The event is archived: restore it to link or sync it.';
    else if (!connectors.size) msg = 'No connectors yet.';
    else if (!free.length) msg = '';
    form.hidden = Boolean(msg) || !free.length;
    none.hidden = !msg;
    if (msg) {
      none.replaceChildren(msg, ' ', connectors.size ? '' : el('a', { href: '/admin/settings', text: 'Add one in Settings' }));
    }
    const sig = free.map((c) => `${c.id}:${c.name}`).join('|');
    if (select.dataset.sig !== sig) {
      const keepValue = select.value;
      select.replaceChildren(...free.map((c) => el('option', { value: c.id, text: `${c.name} (${platformLabel(c.platform)})` })));
      if (free.some((c) => String(c.id) === keepValue)) select.value = keepValue;
      select.dataset.sig = sig;
    }
  }

  function linkItem(l) {
    const name = nameOf(l);
    const platform = platformLabel(l.platform);
    const container = PLATFORMS[l.platform]?.container || 'Container';
    const li = el('li', { class: `link-item state-${l.state}`, 'data-id': l.id },
      el('div', { class: 'link-head' },
        el('strong', { text: name }), ' ', el('span', { class: 'muted', text: platform }), ' ',
        el('span', { class: `badge ${STATE_CLASS[l.state] || ''}`, text: l.state })),
      el('p', { class: 'muted meta-line' }, `${container}: `, el('span', { class: 'container-name', text: l.container_name }),
        l.last_synced_at ? ` · last synced ${when(l.last_synced_at)}` : ' · not synced yet'));
    if (l.state === 'error') {
      li.append(el('p', { class: 'banner bad' }, el('strong', { text: 'Syncing stopped:' }), ' ',
        el('span', { class: 'last-error', text: l.last_error || 'the platform refused the last sync' })));
    }
    const actions = el('div', { class: 'actions start' });
    if (l.state === 'active' || l.state === 'error') {
      const box = el('input', { type: 'checkbox', 'data-act': 'auto', checked: l.auto_sync });
      box.addEventListener('change', () => setAuto(l, box));
      const syncBtn = el('button', { type: 'button', class: 'btn small primary', 'data-act': 'sync' }, 'Sync now', hiddenText(`to ${name}`));
      syncBtn.addEventListener('click', () => syncNow(l, syncBtn));
      const archive = el('button', { type: 'button', class: 'btn small danger', 'data-act': 'archive' }, `Archive on ${platform}`, hiddenText(`(${name})`));
      archive.addEventListener('click', () => archiveLink(l));
      const unlink = el('button', { type: 'button', class: 'btn small', 'data-act': 'unlink' }, 'Unlink', hiddenText(name));
      unlink.addEventListener('click', () => unlinkLink(l));
      actions.append(el('label', { class: 'check' }, box, ' Sync by itself after uploads', hiddenText(`to ${name}`)), syncBtn, archive, unlink);
    } else if (l.state === 'archiving') {
      actions.append(el('p', { class: 'muted', text: `Removing this link's photos from ${platform}…` }));
    } else {
      li.append(el('p', { class: 'muted', text: `Archived: what this link made on ${platform} was removed.` }));
      const unlink = el('button', { type: 'button', class: 'btn small', 'data-act': 'unlink' }, 'Unlink', hiddenText(name));
      unlink.addEventListener('click', () => unlinkLink(l));
      actions.append(unlink);
    }
    li.append(actions);
    return li;
  }

  function renderSyncs() {
    if (!syncs.length) {
      syncsEl.replaceChildren(el('p', { class: 'muted', text: 'No syncs yet.' }));
      return;
    }
    let tbody = syncsEl.querySelector('tbody');
    if (!tbody) {
      tbody = el('tbody');
      syncsEl.replaceChildren(el('table', { class: 'table syncs', id: 'syncs' },
        el('caption', { class: 'visually-hidden', text: 'Recent syncs' }),
        el('thead', {}, el('tr', {}, ...['When', 'Connector', 'Status', 'Photos', 'Details'].map((h) => el('th', { scope: 'col', text: h })))),
        tbody));
    }
    keyed(tbody, syncs, (s) => s.id, (s) => JSON.stringify([s, nameOf(linkOf(s.link_id))]), syncRow);
  }

  function syncRow(s) {
    const c = s.counts;
    const count = (k) => el('span', { class: 'count' }, el('span', { 'data-count': k, text: String(c[k]) }), ` ${k}`);
    const status = s.status === 'running' ? 'running…' : s.status;
    const what = s.kind === 'archive' ? 'Archive' : s.trigger === 'auto' ? 'Automatic sync' : 'Sync';
    const details = el('td', { class: 'details' });
    if (s.error) details.append(el('p', { class: 'reason bad', text: s.error }));
    if (s.failures.length) {
      const n = s.failures.length;
      details.append(el('details', { class: 'failures', open: n <= 5 },
        el('summary', { text: `${n} ${n === 1 ? 'photo' : 'photos'} failed` }),
        el('ul', {}, ...s.failures.map((f) => {
          const file = photoName(f.photo_id);
          return el('li', { 'data-photo-id': f.photo_id },
            el('strong', { text: `Photo ${f.photo_id}${file ? ` (${file})` : ''}:` }), ` ${f.error}`);
        }))));
    }
    if (s.warnings.length) {
      details.append(el('ul', { class: 'warnings' }, ...s.warnings.map((w) => el('li', {}, el('strong', { text: 'Warning:' }), ` ${w}`))));
    }
    if (!details.childNodes.length) details.append(el('span', { class: 'muted', text: BUSY.has(s.status) ? '' : '—' }));
    return el('tr', { 'data-id': s.id, 'data-status': s.status, 'data-link': s.link_id },
      el('td', { text: when(s.finished_at || s.started_at || s.created_at) }),
      el('td', {}, el('span', { text: nameOf(linkOf(s.link_id)) }), el('br'), el('span', { class: 'muted', text: what })),
      el('td', {}, el('span', { class: `badge ${STATUS_CLASS[s.status] || ''}`, text: status })),
      el('td', { class: 'counts' }, count('added'), ' · ', count('skipped'), ' · ', count('failed'), ' · ', count('removed')),
      details);
  }

  // ---------------------------------------------------------------- actions

  async function setAuto(l, box) {
    try {
      await api('PATCH', `/api/v1/events/${event.id}/connectors/${l.id}`, { auto_sync: box.checked });
      toast(box.checked ? `${nameOf(l)}: syncs by itself after uploads` : `${nameOf(l)}: syncs only when you ask`);
    } catch (e) {
      box.checked = !box.checked;
      toast(e.message, 'error');
    }
    refresh();
  }

  async function syncNow(l, btn) {
    btn.disabled = true;
    try {
      const r = await api('POST', `/api/v1/events/${event.id}/syncs`, { link_id: l.id });
      for (const s of r.items) if (!seen.has(s.id) || BUSY.has(s.status)) seen.set(s.id, s.status);
      toast(`Sync to ${nameOf(l)} started`);
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      btn.disabled = false;
    }
    await refresh();
  }

  async function archiveLink(l) {
    const platform = platformLabel(l.platform);
    const container = (PLATFORMS[l.platform]?.container || 'container').toLowerCase();
    const ok = await confirmDialog(`Remove from ${platform} everything this event put there through “${nameOf(l)}”: the ${container} “${l.container_name}” and its photos. The photos stay in Gallerist. This cannot be undone.`,
      `Archive on ${platform}`);
    if (!ok) return;
    try {
      const s = await api('POST', `/api/v1/events/${event.id}/connectors/${l.id}/archive`);
      seen.set(s.id, s.status);
      toast(`Removing the photos from ${platform}`);
    } catch (e) {
      toast(e.message, 'error');
    }
    await refresh();
  }

  async function unlinkLink(l) {
    const platform = platformLabel(l.platform);
    const archived = l.state === 'archived';
    const ok = await confirmDialog(archived
      ? `Unlink “${nameOf(l)}”? Its photos were already removed from ${platform}.`
      : `Unlink “${nameOf(l)}”? The photos already on ${platform} stay there, and Gallerist forgets them: it will not update or remove them later.`,
    'Unlink');
    if (!ok) return;
    try {
      await api('DELETE', `/api/v1/events/${event.id}/connectors/${l.id}${archived ? '' : '?keep_remote=true'}`);
      toast(`Unlinked from ${nameOf(l)}`);
    } catch (e) {
      toast(e.message, 'error');
    }
    await refresh();
    if (!document.activeElement || document.activeElement === document.body) toggle.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const id = Number(select.value);
    if (!id) {
      err.textContent = 'Choose a connector.';
      return;
    }
    let link = null;
    try {
      link = await api('POST', `/api/v1/events/${event.id}/connectors`, { connector_id: id, auto_sync: auto.checked });
      auto.checked = false;
      toast(`Linked to ${connectors.get(id)?.name || 'the connector'}. Sync now sends the photos.`);
    } catch (e) {
      err.textContent = e.message;
    }
    await refresh();
    if (link) linksEl.querySelector(`li[data-id="${link.id}"] [data-act="sync"]`)?.focus();
  });

  (async () => {
    try {
      await loadConnectors();
    } catch {
      return; // no connectors on this server: the panel stays hidden
    }
    await refresh();
    panel.hidden = false;
    setOpen(links.length > 0);
  })();
}
