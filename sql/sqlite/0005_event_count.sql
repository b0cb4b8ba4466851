-- svcd schema version 5 for SQLite: an event that repeats is kept as one
-- row with a count.

-- svc_event.event_count: how many times the same event (object, type,
-- reason and message) happened within the repeat window; first_time: when
-- the first of them happened. event_time stays the time of the newest.
ALTER TABLE svc_event ADD COLUMN event_count INTEGER NOT NULL DEFAULT 1
  CONSTRAINT ck_event_count CHECK (event_count >= 1);
ALTER TABLE svc_event ADD COLUMN first_time INTEGER NOT NULL DEFAULT 0;
UPDATE svc_event SET first_time = event_time WHERE first_time = 0;
