// Reads the event fields (templates/fields.html) into an API body.

/** Returns the create (full) or update (changed fields) body of an event form. */
export function eventBody(form, { update = false } = {}) {
  const f = form.elements;
  const b = {
    name: f.namedItem('name').value.trim(),
    allow_downloads: f.allow_downloads.checked,
    feedback_enabled: f.feedback_enabled.checked,
    is_published: f.is_published.checked,
    protection_level: f.protection_level.value,
    watermark_text: f.watermark_text.value.trim(),
  };
  const date = f.date.value;
  const exp = f.expires_at.value;
  const cap = f.photo_cap.value;
  if (update) {
    b.date = date || null;
    b.expires_at = exp ? new Date(`${exp}T23:59:59Z`).toISOString() : null;
    b.photo_cap = cap ? Number(cap) : null;
    if (f.clear_password && f.clear_password.checked) b.password = null;
    else if (f.password.value) b.password = f.password.value;
  } else {
    if (date) b.date = date;
    if (exp) b.expires_at = new Date(`${exp}T23:59:59Z`).toISOString();
    if (cap) b.photo_cap = Number(cap);
    if (f.password.value) b.password = f.password.value;
  }
  return b;
}
