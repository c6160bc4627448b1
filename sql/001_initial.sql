-- zaphubd schema, version 1: sessions, messages, events, calls, webhook deliveries.
-- Timestamps are TIMESTAMPTZ; status CHECKs follow API.md; the unique keys are the
-- idempotency keys of DESIGN.md; every list filter of the API has an index.

CREATE TABLE sessions (
    id               UUID PRIMARY KEY,
    label            TEXT NOT NULL CHECK (char_length(label) BETWEEN 1 AND 100),
    status           TEXT NOT NULL DEFAULT 'initializing' CHECK (status IN (
                         'initializing', 'qr_pending', 'connected', 'disconnected',
                         'reconnecting', 'failed', 'logged_out')),
    -- Set when a client stopped the session on purpose: recovery leaves it down.
    stopped          BOOLEAN NOT NULL DEFAULT FALSE,
    webhook_url      TEXT,
    webhook_secret   TEXT,
    config           JSONB NOT NULL DEFAULT '{}'::jsonb,
    phone_number     TEXT,
    push_name        TEXT,
    qr_code          TEXT,
    last_qr_at       TIMESTAMPTZ,
    qr_expires_at    TIMESTAMPTZ,
    retry_count      INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    error_message    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen        TIMESTAMPTZ,
    connected_at     TIMESTAMPTZ,
    disconnected_at  TIMESTAMPTZ
);

CREATE INDEX sessions_status_idx ON sessions (status);
CREATE INDEX sessions_created_at_idx ON sessions (created_at);
CREATE INDEX sessions_updated_at_idx ON sessions (updated_at);
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen);
CREATE INDEX sessions_label_idx ON sessions (label);

CREATE TABLE messages (
    id               UUID PRIMARY KEY,
    session_id       UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- The client's idempotency key for outbound; the WhatsApp id for inbound.
    message_id       TEXT NOT NULL CHECK (char_length(message_id) BETWEEN 1 AND 255),
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    type             TEXT NOT NULL CHECK (type IN (
                         'text', 'image', 'video', 'audio', 'document', 'sticker',
                         'location', 'contact', 'reaction', 'poll', 'edit', 'revoke',
                         'unknown')),
    to_jid           TEXT NOT NULL,
    from_jid         TEXT,
    chat_jid         TEXT,
    status           TEXT NOT NULL CHECK (status IN (
                         'queued', 'processing', 'sent', 'delivered', 'read', 'failed', 'dlq')),
    content          JSONB NOT NULL DEFAULT '{}'::jsonb,
    metadata         JSONB NOT NULL DEFAULT '{}'::jsonb,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    wa_message_id    TEXT,
    wa_timestamp     TIMESTAMPTZ,
    error_message    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    queued_at        TIMESTAMPTZ,
    processing_at    TIMESTAMPTZ,
    sent_at          TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    read_at          TIMESTAMPTZ,
    failed_at        TIMESTAMPTZ
);

CREATE UNIQUE INDEX messages_session_message_id_key ON messages (session_id, message_id);
-- Inbound dedupe and receipt lookups by the WhatsApp id.
CREATE UNIQUE INDEX messages_session_wa_id_key
    ON messages (session_id, wa_message_id, direction) WHERE wa_message_id IS NOT NULL;
CREATE INDEX messages_session_created_idx ON messages (session_id, created_at);
CREATE INDEX messages_session_status_idx ON messages (session_id, status, created_at);
CREATE INDEX messages_session_direction_idx ON messages (session_id, direction, created_at);
CREATE INDEX messages_session_type_idx ON messages (session_id, type, created_at);
-- The outbox sweeper scans queued outbound rows by age.
CREATE INDEX messages_outbox_idx ON messages (queued_at) WHERE status = 'queued';

CREATE TABLE events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       UUID REFERENCES sessions (id) ON DELETE CASCADE,
    event_type       TEXT NOT NULL,
    event_category   TEXT NOT NULL,
    payload          JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX events_session_created_idx ON events (session_id, created_at DESC);
CREATE INDEX events_session_category_idx ON events (session_id, event_category, created_at DESC);
CREATE INDEX events_session_type_idx ON events (session_id, event_type, created_at DESC);

CREATE TABLE calls (
    id               UUID PRIMARY KEY,
    session_id       UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    call_id          TEXT NOT NULL,
    from_jid         TEXT NOT NULL,
    is_video         BOOLEAN NOT NULL DEFAULT FALSE,
    is_group         BOOLEAN NOT NULL DEFAULT FALSE,
    status           TEXT NOT NULL CHECK (status IN (
                         'offer', 'ringing', 'accept', 'reject', 'terminate', 'timeout')),
    rejected_by_us   BOOLEAN NOT NULL DEFAULT FALSE,
    latency_ms       INTEGER,
    payload          JSONB NOT NULL DEFAULT '{}'::jsonb,
    offered_at       TIMESTAMPTZ,
    accepted_at      TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX calls_session_call_id_key ON calls (session_id, call_id);
CREATE INDEX calls_session_created_idx ON calls (session_id, created_at DESC);
CREATE INDEX calls_session_status_idx ON calls (session_id, status, created_at DESC);
CREATE INDEX calls_session_video_idx ON calls (session_id, is_video, created_at DESC);

CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    session_id       UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    url              TEXT NOT NULL,
    body             JSONB NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued' CHECK (status IN (
                         'queued', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status_code INTEGER,
    last_error       TEXT,
    last_latency_ms  INTEGER,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ,
    next_attempt_at  TIMESTAMPTZ
);

CREATE INDEX webhook_deliveries_session_created_idx
    ON webhook_deliveries (session_id, created_at DESC);
CREATE INDEX webhook_deliveries_session_status_idx
    ON webhook_deliveries (session_id, status, created_at DESC);
CREATE INDEX webhook_deliveries_session_event_idx
    ON webhook_deliveries (session_id, event, created_at DESC);
