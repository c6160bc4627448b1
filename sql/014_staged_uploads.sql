-- zaphubd schema, version 14: find the sends that still need an uploaded file.
-- The upload sweeper asks which staged keys pending sends name (db/stored_media.py
-- staged_in_use); without this index that reads every outbound row. Only rows of multipart
-- sends are indexed, so the index stays as small as the uploads waiting.
CREATE INDEX messages_staged_upload_idx ON messages ((content->'_upload'->>'key'))
    WHERE content ? '_upload';
