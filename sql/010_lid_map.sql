-- What each session has learned of its contacts' LIDs (WhatsApp's privacy addressing: a
-- contact may write from <digits>@lid, and its phone number becomes known later, or never).
-- Learned from inbound events that carry both; deleted with the session.
CREATE TABLE lid_map (
    session_id  uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    lid         text NOT NULL,
    phone_jid   text NOT NULL,
    learned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, lid)
);
