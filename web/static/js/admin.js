// Loaded on every admin page: sign out and copy-link buttons.
import { api, copyText, toast } from './api.js';

document.getElementById('logout')?.addEventListener('click', async () => {
  try {
    await api('DELETE', '/api/v1/session');
  } finally {
    location.href = '/login';
  }
});

document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('[data-act="copy"]');
  if (!b) return;
  await copyText(b.dataset.url);
  toast('Guest link copied');
});
