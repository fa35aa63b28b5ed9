// The event edit page: settings, share link, archive, delete.
import { api, confirmDialog, pageData, toast } from './api.js';
import { eventBody } from './eventform.js';

const { event } = pageData();
const form = document.getElementById('edit-form');
const err = document.getElementById('edit-error');

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  err.textContent = '';
  const body = eventBody(form, { update: true });
  if (!body.name) {
    err.textContent = 'Give the event a name.';
    return;
  }
  try {
    await api('PATCH', `/api/v1/events/${event.id}`, body);
    toast('Saved');
    location.href = `/admin/events/${event.id}`;
  } catch (e) {
    err.textContent = e.message;
  }
});

document.getElementById('rotate').addEventListener('click', async () => {
  if (!(await confirmDialog('Make a new guest link? The old link stops working and every guest must open the new one.', 'New link'))) return;
  const r = await api('POST', `/api/v1/events/${event.id}/share-link/rotate`);
  document.getElementById('share-url').value = r.url;
  document.querySelector('[data-act="copy"]').dataset.url = r.url;
  toast('New guest link made');
});

document.getElementById('archive')?.addEventListener('click', async () => {
  await api('POST', `/api/v1/events/${event.id}/archive`);
  location.reload();
});
document.getElementById('restore')?.addEventListener('click', async () => {
  await api('POST', `/api/v1/events/${event.id}/restore`);
  location.reload();
});
document.getElementById('delete').addEventListener('click', async (ev) => {
  const ok = await confirmDialog(`Delete “${ev.target.dataset.name}” with all its ${event.photo_count} photos? This cannot be undone.`, 'Delete event');
  if (!ok) return;
  try {
    await api('DELETE', `/api/v1/events/${event.id}`);
    location.href = '/admin';
  } catch (e) {
    toast(e.message, 'error');
  }
});
