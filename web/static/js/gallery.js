// The guest gallery: password page, justified grid with real aspect ratios (no layout
// shift), categories as tabs, infinite scroll, a full-screen lightbox with swipe and
// keyboard, video playback, downloads and feedback.
import { api, el, pageData, toast } from './api.js';

// ---------------------------------------------------------------- password page

const authForm = document.getElementById('g-auth');
if (authForm) {
  const err = document.getElementById('g-error');
  authForm.password.focus();
  authForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const btn = authForm.querySelector('button');
    btn.disabled = true;
    try {
      await api('POST', `/api/gallery/${encodeURIComponent(authForm.dataset.slug)}/auth`, { password: authForm.password.value });
      location.reload();
    } catch (e) {
      err.textContent = e.code === 'invalid_password' ? 'That password is not right. Check it and try again.' : e.message;
      btn.disabled = false;
      authForm.password.select();
    }
  });
}

// ---------------------------------------------------------------- gallery

const data = pageData();
const g = data.gallery;
const gridEl = document.getElementById('g-grid');
if (g && gridEl) initGallery();

function initGallery() {
  const base = `/api/gallery/${encodeURIComponent(g.slug)}`;
  const sentinel = document.getElementById('g-sentinel');
  const status = document.getElementById('g-status');
  let photos = [];
  let cursor = null;
  let more = true;
  let loading = false;
  let category = '';
  let generation = 0;
  const picked = new Set();
  let selecting = false;

  const ratioOf = (p) => (p.width && p.height ? p.width / p.height : 1.5);

  // Justified rows: each row is as wide as the grid, every photo keeps its aspect ratio,
  // and every tile has its size before its image arrives.
  let laidOut = 0; // tiles in finished rows
  function layout(from = 0) {
    const lis = gridEl.children;
    const gap = 4;
    const width = gridEl.clientWidth - 8;
    const target = innerWidth <= 600 ? 120 : 220;
    let row = [];
    let sum = 0;
    const apply = (h) => {
      for (const k of row) {
        const w = Math.max(1, ratioOf(photos[k]) * h - 0.02);
        lis[k].style.width = `${w.toFixed(2)}px`;
        lis[k].style.height = `${h.toFixed(2)}px`;
        const img = lis[k].querySelector('img');
        if (img.srcset) img.sizes = `${Math.ceil(w)}px`;
      }
    };
    for (let k = from; k < lis.length; k++) {
      row.push(k);
      sum += ratioOf(photos[k]);
      if (sum * target + gap * (row.length - 1) >= width) {
        apply((width - gap * (row.length - 1)) / sum);
        laidOut = k + 1;
        row = [];
        sum = 0;
      }
    }
    if (row.length) apply(target);
  }
  let lastWidth = 0;
  new ResizeObserver(() => {
    if (gridEl.clientWidth !== lastWidth) {
      lastWidth = gridEl.clientWidth;
      laidOut = 0;
      layout(0);
    }
  }).observe(gridEl);

  function tile(p, i) {
    const ratio = ratioOf(p);
    const label = `Photo ${i + 1}${p.media_type === 'video' ? ' (video)' : ''}: ${p.filename}`;
    const img = el('img', { src: p.thumbnail_url, alt: label, loading: i < 12 ? 'eager' : 'lazy', decoding: 'async',
      width: Math.round(ratio * 400), height: 400 });
    if (p.media_type === 'image') {
      img.srcset = `${p.thumbnail_url} 400w, ${p.url} 2048w`;
      img.sizes = `${Math.ceil(ratio * 220)}px`;
    }
    const li = el('li', { 'data-id': p.id },
      el('button', { type: 'button', class: 'open', 'aria-label': `Open ${label}` }, img),
      p.media_type === 'video' ? el('span', { class: 'play', 'aria-hidden': 'true', text: '▶ Video' }) : null,
      g.allow_downloads ? el('button', { type: 'button', class: 'pick', 'aria-label': `Select photo ${i + 1}`, 'aria-pressed': 'false', text: '✓' }) : null);
    return li;
  }

  function addPage(page) {
    cursor = page.next_cursor || null;
    more = Boolean(cursor);
    for (const p of page.items) {
      gridEl.append(tile(p, photos.length));
      photos.push(p);
    }
    layout(laidOut);
    status.textContent = photos.length ? (more ? '' : `All ${photos.length} photos shown`) : 'No photos here yet.';
  }

  async function loadMore() {
    if (loading || !more) return;
    loading = true;
    const gen = generation;
    try {
      const q = new URLSearchParams({ limit: 60 });
      if (cursor) q.set('cursor', cursor);
      if (category) q.set('category_id', category);
      const page = await api('GET', `${base}/photos?${q}`);
      if (gen === generation) addPage(page);
    } catch (e) {
      status.textContent = e.message;
      more = false;
    } finally {
      loading = false;
    }
    if (more && sentinel.getBoundingClientRect().top < innerHeight + 800) loadMore();
  }

  new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) loadMore(); }, { rootMargin: '800px' }).observe(sentinel);
  addPage(data.photos);

  // Categories as tabs.
  document.getElementById('tabs').addEventListener('click', (ev) => {
    const b = ev.target.closest('.tab');
    if (!b) return;
    for (const t of document.querySelectorAll('.tab')) t.setAttribute('aria-pressed', String(t === b));
    category = b.dataset.cat;
    generation++;
    photos = [];
    cursor = null;
    more = true;
    loading = false;
    laidOut = 0;
    gridEl.replaceChildren();
    loadMore();
  });

  // Selection for a ZIP of some photos.
  const selBtn = document.getElementById('select-mode');
  const dlSel = document.getElementById('download-sel');
  function updatePicked() {
    if (!dlSel) return;
    dlSel.hidden = picked.size === 0;
    dlSel.textContent = `Download ${picked.size} selected`;
    dlSel.href = `${base}/download?ids=${[...picked].join(',')}`;
  }
  selBtn?.addEventListener('click', () => {
    selecting = !selecting;
    selBtn.setAttribute('aria-pressed', String(selecting));
    selBtn.textContent = selecting ? 'Done' : 'Select';
    document.body.classList.toggle('selecting', selecting);
    if (!selecting) {
      picked.clear();
      gridEl.querySelectorAll('.picked').forEach((li) => { li.classList.remove('picked'); li.querySelector('.pick').setAttribute('aria-pressed', 'false'); });
    }
    updatePicked();
  });

  gridEl.addEventListener('click', (ev) => {
    const li = ev.target.closest('li');
    if (!li) return;
    const id = Number(li.dataset.id);
    if (selecting || ev.target.closest('.pick')) {
      const on = !picked.has(id);
      if (on) picked.add(id); else picked.delete(id);
      li.classList.toggle('picked', on);
      li.querySelector('.pick')?.setAttribute('aria-pressed', String(on));
      updatePicked();
      return;
    }
    open(photos.findIndex((p) => p.id === id));
  });

  // ---------------------------------------------------------------- lightbox
  const lb = document.getElementById('g-lightbox');
  const img = document.getElementById('g-img');
  const video = document.getElementById('g-video');
  const pos = document.getElementById('g-pos');
  const dl = document.getElementById('g-download');
  const like = document.getElementById('g-like');
  const stars = document.getElementById('g-stars');
  const commentsBox = document.getElementById('g-comments');
  let idx = -1;
  let opener = null;

  async function open(i) {
    if (i < 0) return;
    if (i >= photos.length) {
      if (!more) return;
      await loadMore();
      if (i >= photos.length) return;
    }
    idx = i;
    const p = photos[i];
    if (p.media_type === 'video') {
      img.hidden = true;
      video.hidden = false;
      video.poster = p.thumbnail_url;
      video.src = p.url;
    } else {
      video.pause();
      video.removeAttribute('src');
      video.load();
      video.hidden = true;
      img.hidden = false;
      img.src = p.thumbnail_url;
      img.alt = `Photo ${i + 1}: ${p.filename}`;
      const full = new Image();
      full.onload = () => { if (idx === i) img.src = p.url; };
      full.src = p.url;
      // Warm the next one.
      if (photos[i + 1]?.media_type === 'image') new Image().src = photos[i + 1].url;
    }
    pos.textContent = `${i + 1} / ${g.photo_count}`;
    if (dl) {
      dl.hidden = !p.download_url;
      if (p.download_url) { dl.href = p.download_url; dl.setAttribute('download', p.filename); }
    }
    if (like) renderFeedback(p, null);
    if (commentsBox && !commentsBox.hidden) loadComments();
    if (!lb.open) {
      opener = document.activeElement;
      lb.showModal();
      document.getElementById('g-close').focus();
    }
    if (i >= photos.length - 3) loadMore();
  }

  const step = (d) => open(idx + d);
  document.getElementById('g-close').addEventListener('click', () => lb.close());
  document.getElementById('g-prev').addEventListener('click', () => step(-1));
  document.getElementById('g-next').addEventListener('click', () => step(1));
  lb.addEventListener('keydown', (ev) => {
    if (ev.target.closest('form')) return;
    if (ev.key === 'ArrowRight') { ev.preventDefault(); step(1); }
    else if (ev.key === 'ArrowLeft') { ev.preventDefault(); step(-1); }
  });
  lb.addEventListener('close', () => {
    video.pause();
    const li = gridEl.querySelector(`li[data-id="${photos[idx]?.id}"] button.open`);
    (li || opener)?.focus();
    li?.scrollIntoView({ block: 'nearest' });
  });
  // Swipe left and right on touch screens.
  let sx = null;
  let sy = null;
  const stage = document.getElementById('g-stage');
  stage.addEventListener('pointerdown', (ev) => { if (ev.pointerType !== 'mouse') { sx = ev.clientX; sy = ev.clientY; } });
  stage.addEventListener('pointerup', (ev) => {
    if (sx === null) return;
    const dx = ev.clientX - sx;
    const dy = ev.clientY - sy;
    sx = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(dy)) step(dx < 0 ? 1 : -1);
    else if (dy > 120) lb.close();
  });
  stage.addEventListener('pointercancel', () => { sx = null; });

  // ---------------------------------------------------------------- feedback
  function renderFeedback(p, mine) {
    const f = p.feedback || { likes: 0 };
    like.textContent = `${mine?.liked ? '♥' : '♡'} ${f.likes || ''}`.trim();
    like.setAttribute('aria-pressed', String(Boolean(mine?.liked)));
    like.setAttribute('aria-label', `Like (${f.likes} likes)`);
    for (const b of stars.querySelectorAll('.star')) {
      const on = mine ? Number(b.dataset.rate) <= mine.my_rating : false;
      b.textContent = on ? '★' : '☆';
      b.setAttribute('aria-pressed', String(on));
    }
    p.mine = mine || p.mine;
  }

  async function feedback(method, path, body) {
    const p = photos[idx];
    try {
      const r = await api(method, `${base}/photos/${p.id}/${path}`, body);
      p.feedback = { likes: r.likes, average_rating: r.average_rating, ratings: r.ratings, comments: r.comments };
      renderFeedback(p, r);
    } catch (e) {
      toast(e.code === 'guest_session_required' ? 'Open the gallery from its link to leave feedback.' : e.message, 'error');
    }
  }
  like?.addEventListener('click', () => {
    const p = photos[idx];
    feedback(p.mine?.liked ? 'DELETE' : 'PUT', 'like');
  });
  stars?.addEventListener('click', (ev) => {
    const b = ev.target.closest('.star');
    if (b) feedback('PUT', 'rating', { rating: Number(b.dataset.rate) });
  });
  const commentsBtn = document.getElementById('g-comments-btn');
  commentsBtn?.addEventListener('click', () => {
    commentsBox.hidden = !commentsBox.hidden;
    commentsBtn.setAttribute('aria-expanded', String(!commentsBox.hidden));
    if (!commentsBox.hidden) loadComments();
  });
  async function loadComments() {
    const list = document.getElementById('g-comment-list');
    const r = await api('GET', `${base}/photos/${photos[idx].id}/comments`);
    list.replaceChildren(...r.items.map((c) => el('li', {}, el('strong', { text: c.name }), ' ', c.text)));
    if (!r.items.length) list.append(el('li', { class: 'muted', text: 'No comments yet.' }));
  }
  document.getElementById('g-comment-form')?.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const name = f.elements.namedItem('name');
      const text = f.elements.namedItem('text');
      await api('POST', `${base}/photos/${photos[idx].id}/comments`, { name: name.value.trim(), text: text.value.trim() });
      text.value = '';
      loadComments();
    } catch (e) {
      toast(e.message, 'error');
    }
  });
}
