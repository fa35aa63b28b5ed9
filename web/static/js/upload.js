// The upload manager: every file goes through the chunked upload API
// (POST /api/v1/events/{id}/uploads, PUT chunks, POST complete), a few files at a time
// with a few chunks each in parallel. A failed chunk is retried by itself with backoff;
// pausing aborts the chunks in flight and resuming sends them again. Upload ids are kept
// in localStorage, so after a reload the same files pick up where they stopped.
import { api, APIError, csrfToken, el, fmtBytes, fmtDuration } from './api.js';

const FILES_AT_ONCE = 3;
const CHUNKS_AT_ONCE = 3;
const MAX_BACKOFF_MS = 5000;

// Codes after which sending the file again cannot help: the server's reason is shown.
const REFUSED = new Set(['file_too_large', 'file_type_not_allowed', 'unreadable_media', 'image_too_large',
  'photo_cap_exceeded', 'event_archived', 'duplicate']);
const REASONS = {
  duplicate: 'Already in this event',
  file_type_not_allowed: 'Not a photo or video this server accepts',
  file_too_large: 'Too large',
  unreadable_media: 'Damaged or unreadable file',
  image_too_large: 'Too many pixels',
  photo_cap_exceeded: 'The event is full (photo limit)',
  event_archived: 'The event is archived',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt) => Math.min(MAX_BACKOFF_MS, 400 * 2 ** attempt) * (0.75 + Math.random() / 2);

/**
 * Key of a file in the resume store: its name (without the folder: a folder dropped before
 * a reload may be chosen again as files), size and modification time.
 */
const fileKey = (f) => `${f.path.split('/').pop()}|${f.file.size}|${f.file.lastModified}`;

/** Whether an error means the web session ended (signed out, expired, another tab). */
const sessionLost = (e) => e instanceof APIError && (e.status === 401 || e.code === 'csrf_failed');

/** Uploads files to one event and shows them in a list. */
export class Uploader extends EventTarget {
  constructor({ eventId, listEl, onPhoto, onChange }) {
    super();
    this.eventId = eventId;
    this.listEl = listEl;
    this.onPhoto = onPhoto;
    this.onChange = onChange;
    this.items = [];
    this.paused = false;
    this.resumeWaiters = [];
    this.active = 0;
    this.samples = [];
    this.sentTotal = 0; // bytes acknowledged or in flight, for the speed
    this.storeKey = `gallerist.uploads.${eventId}`;
    this.renderQueued = false;
    setInterval(() => this.sample(), 1000);
  }

  /** The unfinished uploads a previous visit left: {key: {id, name, size}}. */
  stored() {
    try {
      return JSON.parse(localStorage.getItem(this.storeKey)) || {};
    } catch {
      return {};
    }
  }

  remember(item) {
    const s = this.stored();
    s[item.key] = { id: item.uploadId, name: item.path, size: item.file.size, at: Date.now() };
    localStorage.setItem(this.storeKey, JSON.stringify(s));
  }

  forget(key) {
    const s = this.stored();
    delete s[key];
    if (Object.keys(s).length) localStorage.setItem(this.storeKey, JSON.stringify(s));
    else localStorage.removeItem(this.storeKey);
  }

  /** Drops every remembered upload and aborts them on the server. */
  async forgetAll() {
    const s = this.stored();
    localStorage.removeItem(this.storeKey);
    await Promise.allSettled(Object.values(s).map((u) => api('DELETE', `/api/v1/uploads/${u.id}`)));
  }

  /** Queues files: [{file, path}]. */
  add(entries) {
    const seen = new Set(this.items.filter((i) => !['done', 'skipped', 'failed'].includes(i.status)).map((i) => i.key));
    for (const e of entries) {
      const key = fileKey(e);
      if (seen.has(key)) continue;
      // A file that failed may be chosen again: its old row makes way for the new try.
      for (const old of this.items.filter((i) => i.key === key && i.status === 'failed')) old.li.remove();
      this.items = this.items.filter((i) => !(i.key === key && i.status === 'failed'));
      seen.add(key);
      const item = { file: e.file, path: e.path, key, status: 'queued', received: new Set(), inflight: new Map(),
        uploadId: null, chunkSize: 0, chunkCount: 0, message: '', resumed: false };
      item.li = el('li', { class: 'queued', 'data-name': e.path },
        el('span', { class: 'name', title: e.path, text: e.path }),
        el('span', { class: 'state', text: 'Waiting' }),
        el('progress', { max: 100, value: 0, 'aria-label': `Progress of ${e.path}` }));
      this.listEl.append(item.li);
      this.items.push(item);
    }
    this.pump();
    this.render();
  }

  /** Stops sending until resume() because the session ended; nothing is forgotten. */
  pauseForSignIn(item) {
    item.message = 'Signed out: sign in again (in another tab), then press Resume';
    this.pause();
  }

  pause() {
    this.paused = true;
    for (const it of this.items) for (const xhr of it.inflight.values()) xhr.abort();
    this.render();
  }

  resume() {
    this.paused = false;
    const w = this.resumeWaiters;
    this.resumeWaiters = [];
    w.forEach((f) => f());
    this.pump();
    this.render();
  }

  waitResume() {
    return this.paused ? new Promise((r) => this.resumeWaiters.push(r)) : Promise.resolve();
  }

  clearFinished() {
    this.items = this.items.filter((i) => {
      if (i.status === 'done') i.li.remove();
      return i.status !== 'done';
    });
    this.render();
  }

  pump() {
    while (!this.paused && this.active < FILES_AT_ONCE) {
      const next = this.items.find((i) => i.status === 'queued');
      if (!next) break;
      this.active++;
      next.status = 'uploading';
      this.run(next).finally(() => {
        this.active--;
        this.pump();
        this.render();
      });
    }
  }

  async run(item) {
    try {
      await this.open(item);
      if (item.status !== 'uploading') return;
      await this.sendChunks(item);
      await this.complete(item);
    } catch (e) {
      this.finish(item, 'failed', e.message || String(e));
    }
  }

  /** Opens the upload session, or finds the one a previous visit started. */
  async open(item) {
    const saved = this.stored()[item.key];
    if (saved && !item.uploadId) {
      try {
        const u = await this.getRetrying(`/api/v1/uploads/${saved.id}`);
        if (u.status === 'completed' || u.status === 'duplicate') {
          this.forget(item.key);
          if (u.status === 'duplicate') this.finish(item, 'skipped', REASONS.duplicate);
          else {
            const photo = await this.getRetrying(`/api/v1/photos/${u.photo_id}`);
            this.finish(item, 'done', 'Uploaded');
            this.onPhoto?.(photo);
          }
          return;
        }
        if (u.status === 'open') {
          this.useSession(item, u);
          item.resumed = true;
          return;
        }
      } catch (e) {
        if (!(e instanceof APIError)) throw e;
      }
      this.forget(item.key);
    }
    if (item.uploadId) return;
    for (let attempt = 0; ; attempt++) {
      try {
        const u = await api('POST', `/api/v1/events/${this.eventId}/uploads`,
          { filename: item.path.split('/').pop(), size: item.file.size, mime_type: item.file.type || undefined });
        this.useSession(item, u);
        this.remember(item);
        return;
      } catch (e) {
        if (e instanceof APIError && e.status < 500 && e.status !== 429) {
          if (REFUSED.has(e.code) || e.status === 400 || e.status === 413) {
            this.finish(item, 'skipped', reason(e));
            return;
          }
          throw e;
        }
        await this.retryWait(attempt);
      }
    }
  }

  useSession(item, u) {
    item.uploadId = u.upload_id;
    item.chunkSize = u.chunk_size;
    item.chunkCount = u.chunk_count;
    item.received = new Set(u.received);
  }

  chunkBounds(item, i) {
    const start = i * item.chunkSize;
    return [start, Math.min(item.file.size, start + item.chunkSize)];
  }

  async sendChunks(item) {
    const pending = [];
    for (let i = 0; i < item.chunkCount; i++) if (!item.received.has(i)) pending.push(i);
    const worker = async () => {
      while (pending.length) {
        const i = pending.shift();
        await this.sendChunk(item, i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CHUNKS_AT_ONCE, pending.length) }, worker));
  }

  /** Sends one chunk until it is stored; only this chunk is retried on failure. */
  async sendChunk(item, i) {
    const [start, end] = this.chunkBounds(item, i);
    for (let attempt = 0; ; attempt++) {
      await this.waitResume();
      try {
        await this.putChunk(item, i, item.file.slice(start, end));
        item.received.add(i);
        this.render();
        return;
      } catch (e) {
        if (this.paused) continue; // aborted by pause: wait, then send again
        if (sessionLost(e)) {
          this.pauseForSignIn(item);
          continue;
        }
        if (e instanceof APIError && e.status < 500 && e.status !== 429 && e.code !== 'upload_in_progress' && e.code !== 'client_closed_request') throw e;
        item.message = 'Connection lost, retrying…';
        this.render();
        await this.retryWait(attempt);
      }
    }
  }

  putChunk(item, i, blob) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      let last = 0;
      xhr.open('PUT', `/api/v1/uploads/${item.uploadId}/chunks/${i}`);
      xhr.setRequestHeader('X-CSRF-Token', csrfToken());
      xhr.upload.onprogress = (ev) => {
        this.sentTotal += ev.loaded - last;
        last = ev.loaded;
        item.progress = item.progress || new Map();
        item.progress.set(i, ev.loaded);
        this.render();
      };
      const done = () => {
        item.inflight.delete(i);
        item.progress?.delete(i);
      };
      xhr.onload = () => {
        done();
        if (xhr.status >= 200 && xhr.status < 300) {
          item.message = '';
          this.sentTotal += blob.size - last;
          resolve();
          return;
        }
        this.sentTotal -= last;
        let body = {};
        try { body = JSON.parse(xhr.responseText).error || {}; } catch { /* not JSON */ }
        reject(new APIError(xhr.status, body.code || `http_${xhr.status}`, body.message || `HTTP ${xhr.status}`, body.details));
      };
      xhr.onerror = xhr.onabort = () => {
        done();
        this.sentTotal -= last;
        reject(new Error('network'));
      };
      item.inflight.set(i, xhr);
      xhr.send(blob);
    });
  }

  async complete(item) {
    item.message = 'Processing…';
    this.render();
    for (let attempt = 0; ; attempt++) {
      await this.waitResume();
      try {
        const photo = await api('POST', `/api/v1/uploads/${item.uploadId}/complete`);
        this.forget(item.key);
        this.finish(item, 'done', 'Uploaded');
        this.onPhoto?.(photo);
        return;
      } catch (e) {
        if (sessionLost(e)) {
          this.pauseForSignIn(item);
          continue;
        }
        if (e instanceof APIError) {
          if (e.code === 'missing_chunks') {
            const u = await this.getRetrying(`/api/v1/uploads/${item.uploadId}`);
            item.received = new Set(u.received);
            await this.sendChunks(item);
            continue;
          }
          if (e.code === 'upload_closed' && e.details.photo_id && e.details.status === 'completed') {
            this.forget(item.key);
            this.finish(item, 'done', 'Uploaded');
            const photo = await this.getRetrying(`/api/v1/photos/${e.details.photo_id}`).catch(() => null);
            if (photo) this.onPhoto?.(photo);
            return;
          }
          if (REFUSED.has(e.code) || (e.status < 500 && e.status !== 429 && e.code !== 'upload_in_progress')) {
            this.forget(item.key);
            this.finish(item, 'skipped', reason(e));
            return;
          }
        }
        await this.retryWait(attempt);
      }
    }
  }

  /**
   * GETs path, trying again with backoff while the server cannot be reached or answers
   * 5xx or 429 (a restart must not fail a file); other answers are thrown.
   */
  async getRetrying(path) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await api('GET', path);
      } catch (e) {
        if (e instanceof APIError && e.status < 500 && e.status !== 429) throw e;
        await this.retryWait(attempt);
      }
    }
  }

  async retryWait(attempt) {
    await sleep(backoff(attempt));
    await this.waitResume();
  }

  finish(item, status, message) {
    if (item.status === 'done') return; // a stored photo never turns back into a failure
    item.status = status;
    item.message = message;
    item.received = status === 'done' ? new Set(Array.from({ length: item.chunkCount }, (_, i) => i)) : item.received;
    this.render();
    this.dispatchEvent(new CustomEvent('change'));
  }

  loaded(item) {
    if (item.status === 'done') return item.file.size;
    let n = 0;
    for (const i of item.received) {
      const [s, e] = this.chunkBounds(item, i);
      n += e - s;
    }
    if (item.progress) for (const v of item.progress.values()) n += v;
    return Math.min(n, item.file.size);
  }

  sample() {
    const now = performance.now();
    this.samples.push([now, this.sentTotal]);
    while (this.samples.length > 1 && now - this.samples[0][0] > 8000) this.samples.shift();
    this.render();
  }

  speed() {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? Math.max(0, ((b1 - b0) * 1000) / (t1 - t0)) : 0;
  }

  /** Totals for the overall bar: bytes, loaded, counts. */
  totals() {
    let size = 0, loaded = 0, done = 0, skipped = 0, failed = 0, open = 0;
    for (const it of this.items) {
      if (it.status === 'skipped') { skipped++; continue; }
      if (it.status === 'failed') { failed++; continue; }
      size += it.file.size;
      loaded += this.loaded(it);
      if (it.status === 'done') done++;
      else open++;
    }
    return { size, loaded, done, skipped, failed, open };
  }

  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      for (const it of this.items) {
        const pct = it.file.size ? Math.floor((this.loaded(it) * 100) / it.file.size) : 100;
        const bar = it.li.querySelector('progress');
        bar.value = it.status === 'done' ? 100 : pct;
        it.li.className = it.status;
        let state;
        if (it.status === 'queued') state = this.paused && it.uploadId ? `Paused at ${pct}%` : 'Waiting';
        else if (it.status === 'uploading') state = this.paused ? `Paused at ${pct}%` : it.message || `${pct}%${it.resumed ? ' (resumed)' : ''}`;
        else state = it.message;
        const st = it.li.querySelector('.state');
        if (st.textContent !== state) st.textContent = state;
      }
      this.onChange?.(this);
    });
  }
}

function reason(e) {
  const base = REASONS[e.code];
  return base ? `${base}${e.code === 'duplicate' ? '' : ` — ${e.message}`}` : e.message;
}

/** Formats the overall line: "12 of 40 · 35 MB of 120 MB · 8.1 MB/s · 10 s left". */
export function overallText(u) {
  const t = u.totals();
  const sp = u.speed();
  const parts = [`${t.done} of ${t.done + t.open} files`, `${fmtBytes(t.loaded)} of ${fmtBytes(t.size)}`];
  if (t.open && sp > 0 && !u.paused) {
    parts.push(`${fmtBytes(sp)}/s`);
    parts.push(`${fmtDuration((t.size - t.loaded) / sp)} left`);
  }
  if (t.skipped) parts.push(`${t.skipped} refused`);
  if (t.failed) parts.push(`${t.failed} failed`);
  return parts.join(' · ');
}

/** Collects the files of a drop, walking folders: [{file, path}]. */
export async function filesFromDrop(dt) {
  const entries = [];
  const roots = [];
  for (const item of dt.items || []) {
    const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (entry) roots.push(entry);
    else if (item.kind === 'file') entries.push({ file: item.getAsFile(), path: item.getAsFile().name });
  }
  if (!roots.length && dt.files) return fromFileList(dt.files);
  const walk = async (entry, prefix) => {
    if (entry.name.startsWith('.')) return;
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      entries.push({ file, path: prefix + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const r of roots) await walk(r, '');
  return entries;
}

/** Files of an <input type=file> (with folder paths when a folder was chosen). */
export function fromFileList(list) {
  return Array.from(list)
    .filter((f) => !f.name.startsWith('.'))
    .map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
}
