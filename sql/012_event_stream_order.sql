-- The event stream's order. Identity ids are handed out when a row is inserted, not when it
-- commits, so a reader that resumes "after id N" can miss a row with a smaller id that
-- committed later. Every row now records its transaction id: the rows of transactions older
-- than the oldest one still running (pg_snapshot_xmin) are final, and read in (tx, id) order
-- they never gain a row behind a position already read. Rows from before this migration
-- keep tx NULL: no stream position can point before them (the stream is new).
ALTER TABLE events ADD COLUMN tx xid8;
ALTER TABLE events ALTER COLUMN tx SET DEFAULT pg_current_xact_id();
CREATE INDEX events_tx_order_idx ON events (tx, id) WHERE tx IS NOT NULL;
