// The sign-in and first-run setup forms.
import { api } from './api.js';

const form = document.getElementById('auth-form');
const err = document.getElementById('auth-error');
form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  err.textContent = '';
  const setup = form.dataset.mode === 'setup';
  const body = { email: form.email.value.trim(), password: form.password.value };
  if (!body.email || !body.password) {
    err.textContent = 'Enter your email and password.';
    return;
  }
  if (setup && body.password.length < 8) {
    err.textContent = 'The password needs at least 8 characters.';
    form.password.focus();
    return;
  }
  const btn = form.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    await api('POST', setup ? '/api/v1/setup' : '/api/v1/session', body);
    location.href = safeNext(new URLSearchParams(location.search).get('next'));
  } catch (e) {
    err.textContent = e.code === 'invalid_credentials' ? 'Wrong email or password.' : e.message;
    btn.disabled = false;
    form.password.select();
  }
});
form.email.focus();

/**
 * Where to go after signing in: a page of this site's admin area only. Anything else
 * (another origin, a scheme, "/\\host", encoded tricks) goes to /admin.
 */
function safeNext(next) {
  if (!next) return '/admin';
  try {
    const u = new URL(next, location.origin);
    if (u.origin === location.origin && (u.pathname === '/admin' || u.pathname.startsWith('/admin/'))) {
      return u.pathname + u.search + u.hash;
    }
  } catch {
    // not a URL: fall through
  }
  return '/admin';
}
