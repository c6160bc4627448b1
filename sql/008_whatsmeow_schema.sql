-- The schema of whatsmeow's own tables (the neonize transport's session store, shared by
-- every node when ZAPHUB_CREDENTIALS_STORE=postgres). whatsmeow creates and migrates its
-- tables here itself on first use; zaphubd only reads which devices exist and deletes a
-- session's rows with the session. session_credentials records each session's device JID.
CREATE SCHEMA IF NOT EXISTS whatsmeow;
