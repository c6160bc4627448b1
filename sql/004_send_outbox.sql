-- zaphubd schema, version 4: the messages table becomes the send queue.
-- The messages table is the send queue: each session's lane reads its pending sends from
-- here, oldest first, a few dozen at a time, so a backlog of any size stays in Postgres and
-- never in the daemon's memory. send_seq is the order of acceptance.
CREATE SEQUENCE messages_send_seq AS BIGINT;
ALTER TABLE messages ADD COLUMN send_seq BIGINT;

-- Sends already waiting when this migration runs keep the order they were accepted in.
UPDATE messages m SET send_seq = o.seq
FROM (
    SELECT id, nextval('messages_send_seq') AS seq
    FROM (
        SELECT id FROM messages
        WHERE direction = 'outbound' AND status IN ('queued', 'processing', 'failed')
        ORDER BY queued_at NULLS FIRST, created_at, id
    ) AS ordered
) AS o
WHERE m.id = o.id;

-- Only pending sends are in this index: a finished message leaves it, so reading a
-- session's head stays cheap whatever its history.
CREATE INDEX messages_send_queue_idx ON messages (session_id, send_seq)
    WHERE direction = 'outbound' AND status IN ('queued', 'processing', 'failed');

-- The outbox sweeper's index: the lanes read the queue themselves now.
DROP INDEX messages_outbox_idx;
