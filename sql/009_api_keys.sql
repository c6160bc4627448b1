-- Session API keys: each acts on one session only, with a set of scopes. The key itself is
-- shown once, when created; only its SHA-256 is kept (keys are 256 random bits, so a slow
-- hash would add nothing). Revoked keys stay listed, and are deleted with their session.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    session_id  uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    scopes      text[] NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    prefix      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_session_idx ON api_keys (session_id, created_at);
