-- zaphubd schema, version 3: when each session's webhook URL was last set.
-- The webhook catch-up delivers a session's missed events only from that moment on: a URL
-- set now must not receive what happened before it (the listener never would have either).

ALTER TABLE sessions ADD COLUMN webhook_url_set_at TIMESTAMPTZ NOT NULL DEFAULT now();

CREATE FUNCTION sessions_webhook_url_set_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.webhook_url IS DISTINCT FROM OLD.webhook_url THEN
        NEW.webhook_url_set_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER sessions_webhook_url_set_at BEFORE UPDATE OF webhook_url ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_webhook_url_set_at();
