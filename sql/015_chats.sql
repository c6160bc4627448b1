-- Chats: one row per chat a session has stored messages for, kept by triggers on messages,
-- and each chat's archive / pin / mute state.
--
-- A chat is COALESCE(chat_jid, to_jid): inbound rows and rows sent from the phone carry
-- chat_jid, API sends only to_jid. status@broadcast is not a chat. A message's place in its
-- chat is (at, created_at, id), where `at` is WhatsApp's time of the message for what
-- arrived with one (received, sent from the phone, history: a history sync keeps its real
-- order), and for a send through the API (send_seq set) the time zaphubd accepted it, which
-- never changes: WhatsApp's timestamp comes later, when it is sent, and moving the row then
-- would cost a chats update per send and could move a row across a client's cursor.
-- created_at then id break ties within a second.
--
-- Listing chats from messages alone costs one probe per chat the session ever had, on every
-- page; the `chats` table makes a page one short index scan (chats_recent_idx), whatever the
-- number of chats or messages. The triggers keep it exact: each inserting statement offers,
-- per chat, its newest message as the chat's last one (kept only when newer); an update that
-- moves a message (a LID learned: it changes chat) recomputes the chats it touched from
-- messages_chat_order_idx (one index probe each), and so does deleting a chat's last message.
-- Marking a send sent fires nothing.
--
-- Building the index and filling `chats` reads the whole messages table once, inside this
-- migration's transaction (writes to messages wait for it).

CREATE INDEX messages_chat_order_idx ON messages (
    session_id,
    (COALESCE(chat_jid, to_jid)),
    (COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at)),
    created_at,
    id
);

CREATE TABLE chats (
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid         text NOT NULL,
    last_message_id  uuid NOT NULL,
    last_at          timestamptz NOT NULL,
    last_created_at  timestamptz NOT NULL,
    -- The contact's push name from its latest inbound message (one-to-one chats only).
    name             text,
    PRIMARY KEY (session_id, chat_jid)
);
-- Newest first, read backwards: (last_at, chat_jid) is the list's keyset cursor.
CREATE INDEX chats_recent_idx ON chats (session_id, last_at, chat_jid);

CREATE TABLE chat_settings (
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid     text NOT NULL,
    archived     boolean NOT NULL DEFAULT false,
    pinned       boolean NOT NULL DEFAULT false,
    muted        boolean NOT NULL DEFAULT false,
    -- While muted: when the mute ends; NULL is "forever".
    muted_until  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, chat_jid)
);

-- The push name a message gives its chat: the contact's, in a one-to-one chat.
CREATE FUNCTION chats_name_of(direction text, chat_jid text, metadata jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN direction = 'inbound' AND chat_jid NOT LIKE '%@g.us'
                THEN NULLIF(metadata ->> 'pushName', '') END
$$;

-- One statement for every message a statement inserted (a batch of sends is one): per chat,
-- its newest message of the batch is offered, and kept when newer than the one recorded.
-- Rows go in (session, chat) order, so concurrent batches lock chats in the same order.
CREATE FUNCTION chats_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO chats AS c (session_id, chat_jid, last_message_id, last_at, last_created_at, name)
    SELECT n.session_id, n.chat, n.id, n.at, n.created_at, named.name
    FROM (
        SELECT DISTINCT ON (session_id, COALESCE(chat_jid, to_jid))
               session_id, COALESCE(chat_jid, to_jid) AS chat, id,
               COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at) AS at, created_at
        FROM inserted
        WHERE COALESCE(chat_jid, to_jid) <> 'status@broadcast'
        ORDER BY session_id, COALESCE(chat_jid, to_jid),
                 COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at) DESC, created_at DESC, id DESC
    ) n
    LEFT JOIN (
        SELECT DISTINCT ON (session_id, chat_jid) session_id, chat_jid,
               chats_name_of(direction, chat_jid, metadata) AS name
        FROM inserted
        WHERE chats_name_of(direction, chat_jid, metadata) IS NOT NULL
        ORDER BY session_id, chat_jid, COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at) DESC
    ) named ON named.session_id = n.session_id AND named.chat_jid = n.chat
    ORDER BY n.session_id, n.chat
    ON CONFLICT (session_id, chat_jid) DO UPDATE SET
        last_message_id = CASE WHEN (EXCLUDED.last_at, EXCLUDED.last_created_at,
            EXCLUDED.last_message_id) > (c.last_at, c.last_created_at, c.last_message_id)
            THEN EXCLUDED.last_message_id ELSE c.last_message_id END,
        last_created_at = CASE WHEN (EXCLUDED.last_at, EXCLUDED.last_created_at,
            EXCLUDED.last_message_id) > (c.last_at, c.last_created_at, c.last_message_id)
            THEN EXCLUDED.last_created_at ELSE c.last_created_at END,
        last_at = GREATEST(c.last_at, EXCLUDED.last_at),
        name = COALESCE(EXCLUDED.name, c.name)
    WHERE (EXCLUDED.last_at, EXCLUDED.last_created_at, EXCLUDED.last_message_id)
            > (c.last_at, c.last_created_at, c.last_message_id)
       OR (EXCLUDED.name IS NOT NULL AND EXCLUDED.name IS DISTINCT FROM c.name);
    RETURN NULL;
END
$$;

-- A chat's row again from its newest stored message (one probe of messages_chat_order_idx);
-- gone when none is left.
CREATE FUNCTION chats_recompute(p_session uuid, p_chat text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m record;
BEGIN
    SELECT id, COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at) AS at, created_at INTO m
    FROM messages
    WHERE session_id = p_session AND COALESCE(chat_jid, to_jid) = p_chat
    ORDER BY COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at) DESC, created_at DESC, id DESC
    LIMIT 1;
    IF NOT FOUND THEN
        DELETE FROM chats WHERE session_id = p_session AND chat_jid = p_chat;
    ELSE
        INSERT INTO chats (session_id, chat_jid, last_message_id, last_at, last_created_at)
        VALUES (p_session, p_chat, m.id, m.at, m.created_at)
        ON CONFLICT (session_id, chat_jid) DO UPDATE SET
            last_message_id = EXCLUDED.last_message_id,
            last_at = EXCLUDED.last_at,
            last_created_at = EXCLUDED.last_created_at;
    END IF;
END
$$;

-- A message that moved (a LID learned: another chat; its WhatsApp time corrected): the
-- chats it left and joined are recomputed.
CREATE FUNCTION chats_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_chat text := COALESCE(OLD.chat_jid, OLD.to_jid);
    new_chat text := COALESCE(NEW.chat_jid, NEW.to_jid);
BEGIN
    IF old_chat <> new_chat AND old_chat <> 'status@broadcast' THEN
        PERFORM chats_recompute(OLD.session_id, old_chat);
    END IF;
    IF new_chat <> 'status@broadcast' THEN
        PERFORM chats_recompute(NEW.session_id, new_chat);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_chats_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION chats_on_insert();
-- Receipts and status changes touch none of these columns and fire nothing.
-- Marking a send sent changes wa_timestamp but not its place (send_seq is set): nothing fires.
CREATE TRIGGER messages_chats_update AFTER UPDATE OF chat_jid, to_jid, wa_timestamp ON messages
    FOR EACH ROW
    WHEN (COALESCE(OLD.chat_jid, OLD.to_jid) IS DISTINCT FROM COALESCE(NEW.chat_jid, NEW.to_jid)
          OR COALESCE(CASE WHEN OLD.send_seq IS NULL THEN OLD.wa_timestamp END, OLD.created_at)
             IS DISTINCT FROM
             COALESCE(CASE WHEN NEW.send_seq IS NULL THEN NEW.wa_timestamp END, NEW.created_at))
    EXECUTE FUNCTION chats_on_update();

-- A deleted message (a "delete for me") that was its chat's last one: the chat's row again from
-- what is left, or gone with its last message. Chats whose last message stays are untouched.
CREATE FUNCTION chats_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chats_recompute(c.session_id, c.chat_jid)
    FROM (SELECT c.session_id, c.chat_jid FROM chats c JOIN deleted d ON d.id = c.last_message_id
          ORDER BY c.session_id, c.chat_jid) c;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_chats_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION chats_on_delete();

-- The chats of the messages stored before this migration.
INSERT INTO chats (session_id, chat_jid, last_message_id, last_at, last_created_at)
SELECT DISTINCT ON (session_id, COALESCE(chat_jid, to_jid))
       session_id, COALESCE(chat_jid, to_jid), id, COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at), created_at
FROM messages
WHERE COALESCE(chat_jid, to_jid) <> 'status@broadcast'
ORDER BY session_id, COALESCE(chat_jid, to_jid),
         COALESCE(CASE WHEN send_seq IS NULL THEN wa_timestamp END, created_at) DESC, created_at DESC, id DESC;

UPDATE chats c SET name = n.name
FROM (
    SELECT DISTINCT ON (session_id, chat_jid) session_id, chat_jid,
           NULLIF(metadata ->> 'pushName', '') AS name
    FROM messages
    WHERE direction = 'inbound' AND chat_jid NOT LIKE '%@g.us' AND metadata ? 'pushName'
    ORDER BY session_id, chat_jid, created_at DESC
) n
WHERE c.session_id = n.session_id AND c.chat_jid = n.chat_jid;
