-- zaphubd schema, version 5: each delivery's recent attempts, for the delivery history.
-- A bounded JSONB array on the delivery row rather than a table of attempts: the batched
-- outcome UPDATE appends to it in the same statement (no extra insert or index on the hot
-- path), the history reads it with the row (no join), and the daemon trims it to the retry
-- limit + 1 entries, so a row stays small however often it is re-delivered by hand.
-- Deliveries that existed before this migration start with an empty log.
ALTER TABLE webhook_deliveries ADD COLUMN attempt_log JSONB NOT NULL DEFAULT '[]';
