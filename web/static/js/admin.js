// Loaded on every admin page: sign out and copy-link buttons.
import { api, copyText, toast } from './api.js';

document.getElementById('logout')?.addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/v1/session');
  } catch (e) {
    if (e.code !== 'csrf_failed') {
      toast(`Could not sign out: ${e.message}`);
      return; // stay: the session may still be open
    }
    // A tab older than the current session's token: sign out with the fresh one.
    try {
      const s = await api('GET', '/api/v1/session');
      await fetch('/api/v1/session', { method: 'DELETE', headers: { 'X-CSRF-Token': s.csrf_token } });
    } catch {
      // no session any more: nothing to end
    }
  }
  location.href = '/login';
});

document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('[data-act="copy"]');
  if (!b) return;
  await copyText(b.dataset.url);
  toast('Guest link copied');
});
