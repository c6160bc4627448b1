-- zaphubd schema, version 2: what the webhook delivery sweeper needs.
-- A queued delivery whose next attempt is long overdue lost its queue entry (the publish
-- failed, or Redis lost it); the sweeper finds those by due time.

CREATE INDEX webhook_deliveries_due_idx
    ON webhook_deliveries (next_attempt_at) WHERE status = 'queued';
