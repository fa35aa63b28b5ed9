// The events list: create, archive, restore, delete.
import { api, confirmDialog, toast } from './api.js';
import { eventBody } from './eventform.js';

const dlg = document.getElementById('event-dialog');
const form = document.getElementById('create-form');
const err = document.getElementById('create-error');

document.getElementById('new-event').addEventListener('click', () => {
  form.reset();
  err.textContent = '';
  dlg.showModal();
  form.elements.namedItem('name').focus();
});
document.getElementById('create-cancel').addEventListener('click', () => dlg.close());

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  err.textContent = '';
  const body = eventBody(form);
  if (!body.name) {
    err.textContent = 'Give the event a name.';
    form.elements.namedItem('name').focus();
    return;
  }
  try {
    const e = await api('POST', '/api/v1/events', body);
    location.href = `/admin/events/${e.id}`;
  } catch (e) {
    err.textContent = e.message;
  }
});

document.getElementById('events')?.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-act]');
  if (!b || b.dataset.act === 'copy') return;
  const card = b.closest('.event-card');
  const id = card.dataset.id;
  try {
    if (b.dataset.act === 'archive') {
      await api('POST', `/api/v1/events/${id}/archive`);
      toast('Event archived');
      card.remove();
    } else if (b.dataset.act === 'restore') {
      await api('POST', `/api/v1/events/${id}/restore`);
      toast('Event restored');
      card.remove();
    } else if (b.dataset.act === 'delete') {
      const ok = await confirmDialog(`Delete “${b.dataset.name}” with all its photos? This cannot be undone.`, 'Delete event');
      if (!ok) return;
      await api('DELETE', `/api/v1/events/${id}`);
      toast('Event deleted');
      card.remove();
    }
  } catch (e) {
    toast(e.message, 'error');
  }
});
