-- The live zaphubd nodes of a deployment: each one writes its row every few seconds (the
-- database's clock is the only clock compared) and deletes it when it stops cleanly. A row
-- whose heartbeat is older than the session lease TTL belongs to a node that died.
CREATE TABLE nodes (
    node_id       text PRIMARY KEY,
    version       text NOT NULL,
    capacity      integer NOT NULL CHECK (capacity >= 0),
    sessions      integer NOT NULL DEFAULT 0 CHECK (sessions >= 0),
    draining      boolean NOT NULL DEFAULT false,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);
