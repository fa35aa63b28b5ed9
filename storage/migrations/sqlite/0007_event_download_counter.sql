-- 0007_event_download_counter: the event's total downloads as a counter, kept in step with
-- the photos' download_count in the transactions that count downloads and delete photos,
-- so reading an event no longer sums over every photo it has.
ALTER TABLE events ADD COLUMN total_downloads INTEGER NOT NULL DEFAULT 0;

UPDATE events SET total_downloads =
    (SELECT COALESCE(SUM(p.download_count), 0) FROM photos p WHERE p.event_id = events.id);
