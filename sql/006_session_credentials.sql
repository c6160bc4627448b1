-- A session's transport credentials, shared by every node of a cluster (simnet's keys; the
-- neonize transport keeps its whatsmeow store in a schema of its own per session instead).
-- Deleting the session deletes them.
CREATE TABLE session_credentials (
    session_id  uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
    data        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
