// Shared helpers of the browser UI: the JSON API client (with the session's CSRF
// token), formatting, toasts and a confirmation dialog.

const csrfMeta = document.querySelector('meta[name="csrf-token"]');

/** The CSRF token of the signed-in session ("" on guest pages). */
export const csrfToken = () => (csrfMeta ? csrfMeta.content : '');

/** An error answered by the API: status, stable code, message and details. */
export class APIError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

/** Calls the JSON API; body is sent as JSON. Resolves to the answer (null for 204). */
export async function api(method, path, body, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken()) headers['X-CSRF-Token'] = csrfToken();
  let data;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    data = JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: data, credentials: 'same-origin', signal });
  if (r.status === 204) return null;
  const j = await r.json().catch(() => null);
  if (!r.ok) {
    const e = (j && j.error) || {};
    throw new APIError(r.status, e.code || `http_${r.status}`, e.message || r.statusText, e.details);
  }
  return j;
}

/** The JSON the server put in the page, or {}. */
export function pageData() {
  const el = document.getElementById('page-data');
  return el ? JSON.parse(el.textContent) : {};
}

/** 1.5 MB */
export function fmtBytes(n) {
  if (n < 1000) return `${n} B`;
  const u = ['kB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
}

/** 1 h 2 min, 3 min 4 s, 12 s */
export function fmtDuration(sec) {
  if (!isFinite(sec) || sec < 0) return '';
  sec = Math.round(sec);
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}

/** Shows a short message in the page's live region. */
export function toast(msg, kind = '') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.textContent = msg;
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 7000 : 3500);
}

/** Asks for confirmation in the page's dialog; resolves true when confirmed. */
export function confirmDialog(text, okLabel = 'OK') {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.showModal();
    dlg.querySelector('button[value="cancel"]').focus();
  });
}

/** Copies text to the clipboard (with a fallback for plain-HTTP origins). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'visually-hidden';
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

/** Creates an element: el('li', {class: 'x', onclick: f}, child, 'text'). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
