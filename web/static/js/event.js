// The event page: upload, the photo grid (paged by cursor as you scroll), selection,
// bulk actions, drag to reorder, a lightbox with the EXIF details, and the connectors
// panel (eventconnectors.js).
import { api, confirmDialog, el, fmtBytes, pageData, toast } from './api.js';
import { initConnectors } from './eventconnectors.js';
import { Uploader, filesFromDrop, fromFileList, overallText } from './upload.js';

const { event, categories: initialCats } = pageData();
let categories = initialCats || [];
const grid = document.getElementById('grid');
const sentinel = document.getElementById('grid-sentinel');
const emptyEl = document.getElementById('grid-empty');
const selCount = document.getElementById('sel-count');
const bulk = document.getElementById('bulk');
const selectAll = document.getElementById('select-all');
const sortSel = document.getElementById('sort');
const filterSel = document.getElementById('filter');
const countEl = document.getElementById('photo-count');

const PAGE = 100;
let photos = []; // loaded PhotoResponses in grid order
let byId = new Map();
let cursor = null;
let more = true;
let loading = null;
let generation = 0;
const selected = new Set();
let anchor = null; // index of the last plain click, for shift-click ranges
let focusIdx = 0;

// ---------------------------------------------------------------- grid loading

function query() {
  const q = new URLSearchParams({ limit: PAGE, sort: sortSel.value });
  const f = filterSel.value;
  if (f === 'visible') q.set('is_hidden', 'false');
  else if (f === 'hidden') q.set('is_hidden', 'true');
  else if (f === 'image' || f === 'video') q.set('media_type', f);
  else if (f.startsWith('cat:')) q.set('category_id', f.slice(4));
  if (cursor) q.set('cursor', cursor);
  return q;
}

async function loadMore() {
  if (loading || !more) return loading;
  const gen = generation;
  loading = (async () => {
    try {
      const page = await api('GET', `/api/v1/events/${event.id}/photos?${query()}`);
      if (gen !== generation) return;
      cursor = page.next_cursor || null;
      more = Boolean(cursor);
      for (const p of page.items) addPhoto(p, false);
      emptyEl.hidden = photos.length > 0;
    } catch (e) {
      toast(e.message, 'error');
      more = false;
    } finally {
      loading = null;
    }
  })();
  await loading;
  // Keep filling while the sentinel is still on screen.
  if (more && gen === generation && sentinel.getBoundingClientRect().top < innerHeight + 600) loadMore();
}

function reload() {
  generation++;
  photos = [];
  byId = new Map();
  cursor = null;
  more = true;
  loading = null;
  selected.clear();
  anchor = null;
  focusIdx = 0;
  grid.replaceChildren();
  updateSelection();
  document.getElementById('reorder-hint').hidden = !canReorder();
  loadMore();
}

new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: '600px' }).observe(sentinel);

function tile(p) {
  const tags = [];
  if (p.is_hidden) tags.push('Hidden');
  if (p.media_type === 'video') tags.push(`▶ ${p.duration ? Math.round(p.duration) + ' s' : 'Video'}`);
  const cat = categories.find((c) => c.id === p.category_id);
  if (cat) tags.push(cat.name);
  const on = selected.has(p.id);
  const li = el('li', { 'data-id': p.id, draggable: canReorder() ? 'true' : 'false', class: `${p.is_hidden ? 'hidden' : ''}${on ? ' selected' : ''}`, title: p.filename },
    el('button', { type: 'button', class: 'sel', 'aria-pressed': String(on), tabindex: '-1',
      'aria-label': `${p.filename}${tags.length ? ` (${tags.join(', ')})` : ''}` },
    el('img', { src: p.thumbnail_url, alt: '', loading: 'lazy', decoding: 'async', width: 150, height: 150, draggable: 'false' }),
    el('span', { class: 'check', 'aria-hidden': 'true', text: '✓' }),
    tags.length ? el('span', { class: 'tag', 'aria-hidden': 'true', text: tags.join(' · ') }) : null),
    el('button', { type: 'button', class: 'zoom', 'aria-label': `Open ${p.filename}`, tabindex: '-1', text: '⤢' }));
  return li;
}

function addPhoto(p, atStart, animate = false) {
  if (byId.has(p.id)) return;
  const li = tile(p);
  if (animate) li.classList.add('new');
  byId.set(p.id, p);
  if (atStart) {
    photos.unshift(p);
    grid.prepend(li);
  } else {
    photos.push(p);
    grid.append(li);
  }
  if (photos.length === 1) li.querySelector('.sel').tabIndex = 0;
}

function replaceTile(p) {
  const old = grid.querySelector(`li[data-id="${p.id}"]`);
  if (!old) return;
  const i = photos.findIndex((x) => x.id === p.id);
  photos[i] = p;
  byId.set(p.id, p);
  const li = tile(p);
  li.querySelector('.sel').tabIndex = old.querySelector('.sel').tabIndex;
  const hadFocus = old.contains(document.activeElement);
  old.replaceWith(li);
  if (hadFocus) li.querySelector('.sel').focus();
}

function removePhotos(ids) {
  const set = new Set(ids);
  const sizeEl = document.getElementById('total-size');
  const freed = ids.reduce((n, id) => n + (byId.get(id)?.size || 0), 0);
  sizeEl.dataset.bytes = Math.max(0, Number(sizeEl.dataset.bytes) - freed);
  sizeEl.textContent = fmtBytes(Number(sizeEl.dataset.bytes));
  for (const id of set) {
    grid.querySelector(`li[data-id="${id}"]`)?.remove();
    byId.delete(id);
    selected.delete(id);
  }
  photos = photos.filter((p) => !set.has(p.id));
  countEl.textContent = Math.max(0, Number(countEl.textContent) - set.size);
  emptyEl.hidden = photos.length > 0;
  updateSelection();
}

// ---------------------------------------------------------------- selection

function indexOfLi(li) { return photos.findIndex((p) => p.id === Number(li.dataset.id)); }

function setSelected(id, on) {
  if (on) selected.add(id); else selected.delete(id);
  const li = grid.querySelector(`li[data-id="${id}"]`);
  if (!li) return;
  li.classList.toggle('selected', on);
  li.querySelector('.sel').setAttribute('aria-pressed', String(on));
}

function updateSelection() {
  const n = selected.size;
  selCount.textContent = n ? `${n} selected` : '';
  bulk.hidden = n === 0;
  selectAll.checked = n > 0 && n === photos.length;
  selectAll.indeterminate = n > 0 && n < photos.length;
}

function focusTile(i) {
  const lis = grid.children;
  if (!lis.length) return;
  i = Math.max(0, Math.min(lis.length - 1, i));
  lis[focusIdx]?.querySelector('.sel').setAttribute('tabindex', '-1');
  focusIdx = i;
  const b = lis[i].querySelector('.sel');
  b.tabIndex = 0;
  b.focus();
}

grid.addEventListener('click', (ev) => {
  const li = ev.target.closest('li');
  if (!li) return;
  const i = indexOfLi(li);
  if (ev.target.closest('.zoom')) {
    openLightbox(i);
    return;
  }
  if (ev.shiftKey && anchor !== null) {
    const [a, b] = anchor < i ? [anchor, i] : [i, anchor];
    for (let k = a; k <= b; k++) setSelected(photos[k].id, true);
  } else {
    setSelected(photos[i].id, !selected.has(photos[i].id));
    anchor = i;
  }
  focusIdx = i;
  updateSelection();
});

grid.addEventListener('dblclick', (ev) => {
  const li = ev.target.closest('li');
  if (li) openLightbox(indexOfLi(li));
});

grid.addEventListener('keydown', (ev) => {
  const li = ev.target.closest('li');
  if (!li) return;
  const i = indexOfLi(li);
  const cols = Math.max(1, Math.round(grid.clientWidth / li.offsetWidth));
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols };
  if (ev.key in moves && ev.altKey && canReorder() && (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft')) {
    ev.preventDefault();
    const j = i + moves[ev.key];
    if (j < 0 || j >= photos.length) return;
    const [p] = photos.splice(i, 1);
    photos.splice(j, 0, p);
    if (j > i) grid.children[j].after(li); else grid.children[j].before(li);
    li.querySelector('.sel').focus();
    focusIdx = j;
    saveOrder();
  } else if (ev.key in moves) {
    ev.preventDefault();
    focusTile(i + moves[ev.key]);
  } else if (ev.key === 'Enter' && !ev.target.closest('.zoom')) {
    ev.preventDefault();
    openLightbox(i);
  } else if (ev.key === 'a' && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    selectAll.click();
  }
});

selectAll.addEventListener('change', () => {
  const on = selectAll.checked;
  for (const p of photos) setSelected(p.id, on);
  updateSelection();
});

// ---------------------------------------------------------------- bulk actions

async function eachSelected(fn) {
  const ids = [...selected];
  let failed = 0;
  for (let k = 0; k < ids.length; k += 6) {
    const rs = await Promise.allSettled(ids.slice(k, k + 6).map(fn));
    failed += rs.filter((r) => r.status === 'rejected').length;
  }
  if (failed) toast(`${failed} photos could not be changed`, 'error');
}

bulk.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-bulk]');
  if (!b) return;
  const act = b.dataset.bulk;
  if (act === 'hide' || act === 'unhide') {
    await eachSelected(async (id) => replaceTile(await api('PATCH', `/api/v1/photos/${id}`, { is_hidden: act === 'hide' })));
    toast(act === 'hide' ? 'Hidden from guests' : 'Visible to guests');
  } else if (act === 'delete') {
    const ids = [...selected];
    const ok = await confirmDialog(`Delete ${ids.length} ${ids.length === 1 ? 'photo' : 'photos'}? This cannot be undone.`, 'Delete');
    if (!ok) return;
    let deleted = [];
    for (let k = 0; k < ids.length; k += 2000) {
      const part = ids.slice(k, k + 2000);
      const r = await api('POST', '/api/v1/photos/bulk-delete', { photo_ids: part });
      const failedIds = new Set((r.errors || []).map((e) => e.photo_id));
      deleted = deleted.concat(part.filter((id) => !failedIds.has(id)));
    }
    removePhotos(deleted);
    toast(`${deleted.length} deleted`);
  }
  updateSelection();
});

document.getElementById('bulk-cat').addEventListener('change', async (ev) => {
  const sel = ev.target;
  let v = sel.value;
  sel.value = '';
  if (!v) return;
  if (v === 'new') {
    const name = prompt('Name of the new category');
    if (!name) return;
    try {
      const c = await api('POST', `/api/v1/events/${event.id}/categories`, { name });
      categories.push(c);
      sel.insertBefore(el('option', { value: c.id, text: c.name }), sel.querySelector('option[value="new"]'));
      filterSel.append(el('option', { value: `cat:${c.id}`, text: c.name }));
      v = String(c.id);
    } catch (e) {
      toast(e.message, 'error');
      return;
    }
  }
  const body = { category_id: v === 'none' ? null : Number(v) };
  await eachSelected(async (id) => replaceTile(await api('PATCH', `/api/v1/photos/${id}`, body)));
  toast('Category set');
});

sortSel.addEventListener('change', reload);
filterSel.addEventListener('change', reload);

// ---------------------------------------------------------------- reorder

function canReorder() { return sortSel.value === 'position_asc' && !filterSel.value; }

let dragIds = null;
grid.addEventListener('dragstart', (ev) => {
  const li = ev.target.closest('li');
  if (!li || !canReorder()) return;
  const id = Number(li.dataset.id);
  dragIds = selected.has(id) ? photos.filter((p) => selected.has(p.id)).map((p) => p.id) : [id];
  ev.dataTransfer.effectAllowed = 'move';
  ev.dataTransfer.setData('text/plain', dragIds.join(','));
  for (const d of dragIds) grid.querySelector(`li[data-id="${d}"]`)?.classList.add('dragging');
});
grid.addEventListener('dragover', (ev) => {
  if (!dragIds) return;
  ev.preventDefault();
  grid.querySelectorAll('.drop-before').forEach((x) => x.classList.remove('drop-before'));
  ev.target.closest('li')?.classList.add('drop-before');
});
grid.addEventListener('dragend', () => {
  grid.querySelectorAll('.dragging,.drop-before').forEach((x) => x.classList.remove('dragging', 'drop-before'));
  dragIds = null;
});
grid.addEventListener('drop', (ev) => {
  if (!dragIds) return;
  ev.preventDefault();
  const target = ev.target.closest('li');
  const moving = new Set(dragIds);
  const rest = photos.filter((p) => !moving.has(p.id));
  let at = target ? rest.findIndex((p) => p.id === Number(target.dataset.id)) : rest.length;
  if (at < 0) at = rest.length;
  const moved = dragIds.map((id) => byId.get(id));
  photos = [...rest.slice(0, at), ...moved, ...rest.slice(at)];
  for (const p of photos) grid.append(grid.querySelector(`li[data-id="${p.id}"]`));
  grid.querySelectorAll('.dragging,.drop-before').forEach((x) => x.classList.remove('dragging', 'drop-before'));
  dragIds = null;
  saveOrder();
});

async function saveOrder() {
  try {
    await api('POST', `/api/v1/events/${event.id}/photos/reorder`, { photo_ids: photos.map((p) => p.id) });
    toast('Order saved');
  } catch (e) {
    toast(e.message, 'error');
  }
}

// ---------------------------------------------------------------- lightbox

const lb = document.getElementById('lightbox');
const lbImg = document.getElementById('lb-img');
const lbVideo = document.getElementById('lb-video');
const lbInfo = document.getElementById('lb-info');
let lbIdx = -1;

async function openLightbox(i) {
  if (i < 0 || i >= photos.length) return;
  lbIdx = i;
  const p = photos[i];
  const display = `/api/gallery/${event.slug}/photo/${p.id}`;
  if (p.media_type === 'video') {
    lbImg.hidden = true;
    lbVideo.hidden = false;
    lbVideo.poster = p.thumbnail_url;
    lbVideo.src = display;
  } else {
    lbVideo.pause();
    lbVideo.removeAttribute('src');
    lbVideo.hidden = true;
    lbImg.hidden = false;
    lbImg.src = p.thumbnail_url;
    lbImg.alt = p.filename;
    const full = new Image();
    full.onload = () => { if (lbIdx === i) lbImg.src = display; };
    full.src = display;
  }
  lbInfo.replaceChildren(el('h2', { text: p.filename }), el('p', { class: 'muted', text: 'Loading details…' }));
  if (!lb.open) lb.showModal();
  try {
    renderInfo(await api('GET', `/api/v1/photos/${p.id}`));
  } catch (e) {
    lbInfo.lastChild.textContent = e.message;
  }
}

function renderInfo(p) {
  const x = p.exif || {};
  const rows = [
    ['Size', fmtBytes(p.size)],
    ['Dimensions', p.width ? `${p.width} × ${p.height}` : '—'],
    ['Captured', p.captured_at ? new Date(p.captured_at).toLocaleString() : '—'],
    ['Camera', [x.make, x.model].filter(Boolean).join(' ') || '—'],
    ['Lens', x.lens || '—'],
    ['Exposure', [x.exposure_time && `${x.exposure_time} s`, x.f_number && `f/${x.f_number}`, x.iso && `ISO ${x.iso}`, x.focal_length && `${x.focal_length} mm`].filter(Boolean).join(' · ') || '—'],
    ['Type', p.mime_type + (p.duration ? ` · ${p.duration.toFixed(1)} s` : '')],
    ['Uploaded', new Date(p.uploaded_at).toLocaleString()],
    ['Views', String(p.view_count)],
    ['Guests', p.is_hidden ? 'Hidden' : 'Visible'],
    ['Feedback', `${p.feedback.likes} likes · ${p.feedback.ratings} ratings · ${p.feedback.comments} comments`],
    ['Downloads', String(p.download_count)],
  ];
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', { text: k }), el('dd', { text: v }));
  const toggle = el('button', { type: 'button', class: 'btn small', text: p.is_hidden ? 'Unhide' : 'Hide' });
  toggle.addEventListener('click', async () => {
    const np = await api('PATCH', `/api/v1/photos/${p.id}`, { is_hidden: !p.is_hidden });
    replaceTile(np);
    renderInfo(np);
  });
  const dlA = el('a', { class: 'btn small', href: `/api/v1/photos/${p.id}/download`, download: p.filename, text: 'Download original' });
  lbInfo.replaceChildren(el('h2', { text: p.filename }), dl, el('div', { class: 'actions' }, toggle, dlA));
}

function step(d) { openLightbox(lbIdx + d); }
document.getElementById('lb-close').addEventListener('click', () => lb.close());
document.getElementById('lb-prev').addEventListener('click', () => step(-1));
document.getElementById('lb-next').addEventListener('click', () => step(1));
lb.addEventListener('keydown', (ev) => {
  if (ev.key === 'ArrowRight') step(1);
  else if (ev.key === 'ArrowLeft') step(-1);
});
lb.addEventListener('close', () => {
  lbVideo.pause();
  grid.querySelector(`li[data-id="${photos[lbIdx]?.id}"] .sel`)?.focus();
});

// ---------------------------------------------------------------- upload

const panel = document.getElementById('upload-panel');
const summary = document.getElementById('up-summary');
const stats = document.getElementById('up-stats');
const bar = document.getElementById('up-progress');
const pauseBtn = document.getElementById('up-pause');
const clearBtn = document.getElementById('up-clear');

const uploader = new Uploader({
  eventId: event.id,
  listEl: document.getElementById('up-files'),
  onPhoto: (p) => {
    countEl.textContent = Number(countEl.textContent) + 1;
    const sizeEl = document.getElementById('total-size');
    sizeEl.dataset.bytes = Number(sizeEl.dataset.bytes) + p.size;
    sizeEl.textContent = fmtBytes(Number(sizeEl.dataset.bytes));
    if (sortSel.value === 'upload_date_desc' && !filterSel.value) addPhoto(p, true, true);
    else if (canReorder() && !more) addPhoto(p, false, true);
    emptyEl.hidden = photos.length > 0;
  },
  onChange: (u) => {
    const t = u.totals();
    const pct = t.size ? Math.floor((t.loaded * 100) / t.size) : 100;
    bar.value = t.open ? Math.min(pct, 99) : 100;
    bar.setAttribute('aria-valuetext', `${bar.value}%`);
    summary.textContent = u.paused ? 'Paused' : t.open ? `Uploading ${bar.value}%` : 'Upload finished — 100%';
    stats.textContent = overallText(u);
    pauseBtn.hidden = !t.open;
    clearBtn.hidden = t.done === 0;
  },
});
uploader.addEventListener('change', () => { if (!uploader.totals().open) checkResume(); });

function addFiles(entries) {
  if (!entries.length) return;
  panel.hidden = false;
  uploader.add(entries);
  checkResume();
}

pauseBtn.addEventListener('click', () => {
  if (uploader.paused) uploader.resume(); else uploader.pause();
  pauseBtn.textContent = uploader.paused ? 'Resume' : 'Pause';
});
clearBtn.addEventListener('click', () => uploader.clearFinished());

const drop = document.getElementById('drop');
const fileInput = document.getElementById('file-input');
const folderInput = document.getElementById('folder-input');
document.getElementById('pick-files').addEventListener('click', () => fileInput.click());
document.getElementById('pick-folder').addEventListener('click', () => folderInput.click());
for (const input of [fileInput, folderInput]) {
  input.addEventListener('change', () => {
    addFiles(fromFileList(input.files));
    input.value = '';
  });
}
['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (ev) => {
  if (dragIds) return;
  ev.preventDefault();
  drop.classList.add('over');
}));
['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, () => drop.classList.remove('over')));
drop.addEventListener('drop', async (ev) => {
  if (dragIds) return;
  ev.preventDefault();
  addFiles(await filesFromDrop(ev.dataTransfer));
});
// A file dropped next to the drop zone should not navigate away.
window.addEventListener('dragover', (ev) => { if (!dragIds) ev.preventDefault(); });
window.addEventListener('drop', (ev) => { if (!dragIds) ev.preventDefault(); });

// Unfinished uploads of an earlier visit: choose the same files again to resume them.
const banner = document.getElementById('resume-banner');
function checkResume() {
  const stored = uploader.stored();
  const inQueue = new Set(uploader.items.map((i) => i.key));
  const waiting = Object.entries(stored).filter(([k]) => !inQueue.has(k));
  banner.hidden = waiting.length === 0;
  if (!waiting.length) return;
  const names = waiting.slice(0, 3).map(([, v]) => v.name).join(', ') + (waiting.length > 3 ? ` and ${waiting.length - 3} more` : '');
  const forget = el('button', { type: 'button', class: 'btn small', text: 'Forget them' });
  forget.addEventListener('click', async () => { await uploader.forgetAll(); checkResume(); });
  const choose = el('button', { type: 'button', class: 'btn small primary', text: 'Choose files', onclick: () => fileInput.click() });
  banner.replaceChildren(el('span', { text: `${waiting.length} unfinished ${waiting.length === 1 ? 'upload' : 'uploads'} (${names}). Choose the same files again to resume where they stopped.` }), choose, forget);
}
checkResume();
window.addEventListener('beforeunload', (ev) => {
  if (uploader.totals().open) ev.preventDefault();
});

reload();
initConnectors({ event, photoName: (id) => byId.get(id)?.filename || '' });
