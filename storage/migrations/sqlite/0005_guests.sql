-- 0005_guests: share links, publication, guest feedback.

-- share_key is the secret part of a gallery's share link; guest_epoch is stamped into
-- guest tokens, so raising it (new password, new link) ends every earlier guest session.
ALTER TABLE events ADD COLUMN share_key TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN guest_epoch INTEGER NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN is_published INTEGER NOT NULL DEFAULT 1;
ALTER TABLE events ADD COLUMN feedback_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN watermark_text TEXT NOT NULL DEFAULT '';

-- Visible photos per event, for guests (hidden ones are never listed or counted).
CREATE INDEX photos_visible_by_upload ON photos (event_id, is_hidden, created_at, id);

CREATE TABLE photo_likes (
    photo_id   INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    guest_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (photo_id, guest_id)
);

CREATE TABLE photo_ratings (
    photo_id   INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    guest_id   TEXT NOT NULL,
    rating     INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (photo_id, guest_id)
);

CREATE TABLE photo_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    photo_id   INTEGER NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    guest_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX photo_comments_by_photo ON photo_comments (photo_id, id);

-- Events made before this migration get a share key now.
UPDATE events SET share_key = lower(hex(randomblob(16))) WHERE share_key = '';
