-- zaphubd schema, version 13: several webhooks per session.
-- The session's own webhook (webhook_url, webhook_secret, config.webhookEvents) stays on the
-- sessions row: it is the session's first webhook and that row is its only record, so the
-- session API keeps its contract and nothing is copied. The others are rows of `webhooks`.
-- A delivery names its webhook; NULL is the session's first webhook (every delivery written
-- before this migration went there), so no existing row needs rewriting.

-- The first webhook's enabled flag (the others have theirs in `webhooks`).
ALTER TABLE sessions ADD COLUMN webhook_enabled BOOLEAN NOT NULL DEFAULT TRUE;

-- Removing the webhook_url removes the first webhook, its disabled flag with it: a URL set
-- later is a new webhook, enabled (version 3's trigger, extended).
CREATE OR REPLACE FUNCTION sessions_webhook_url_set_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.webhook_url IS DISTINCT FROM OLD.webhook_url THEN
        NEW.webhook_url_set_at := now();
    END IF;
    IF NEW.webhook_url IS NULL THEN
        NEW.webhook_enabled := TRUE;
    END IF;
    RETURN NEW;
END
$$;

CREATE TABLE webhooks (
    id           UUID PRIMARY KEY,
    session_id   UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    url          TEXT NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    secret       TEXT,
    -- NULL: every event; else exact names and `category.*` wildcards, as webhookEvents.
    events       JSONB CHECK (events IS NULL OR jsonb_typeof(events) = 'array'),
    enabled      BOOLEAN NOT NULL DEFAULT TRUE,
    -- Events from before this moment are not owed to the webhook (the catch-up's bound): set
    -- when it is created, when its URL changes and when it is enabled again.
    active_since TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_session_idx ON webhooks (session_id, created_at);

-- No foreign key: a deleted webhook's history stays readable, and the global webhook (from
-- the configuration) has no row.
ALTER TABLE webhook_deliveries ADD COLUMN webhook_id UUID;
CREATE INDEX webhook_deliveries_session_webhook_idx
    ON webhook_deliveries (session_id, webhook_id, created_at DESC);
